"""Plain PCM audio as every stage passes it around: no pydub, no numpy, so importing it is free."""

from __future__ import annotations

from dataclasses import dataclass

SAMPLE_WIDTH = 2  # bytes: every backend and the cache speak signed 16-bit little-endian PCM


@dataclass(frozen=True)
class Audio:
    pcm: bytes  # signed 16-bit little-endian, interleaved when channels > 1
    rate: int  # samples per second
    channels: int = 1

    @property
    def frames(self) -> int:
        return len(self.pcm) // (SAMPLE_WIDTH * self.channels)

    @property
    def seconds(self) -> float:
        return self.frames / self.rate if self.rate else 0.0
