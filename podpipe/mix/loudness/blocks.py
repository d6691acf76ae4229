"""The episode as loudness sees it: float32 frames, full scale ±1, computed block by block on demand, and the
solved gains applied to it on the way to the file.

A ``Source`` is read in ranges; ``PcmSource`` reads 16-bit PCM given as consecutive pieces (never joined)
and applies the overall gain and per-range speaker gains as it goes (``apply`` streams it to the encoder,
``episode`` measures ranges of it), so the episode is never copied whole as floats. numpy is imported
inside the functions, only when a mix runs.

``GainCurve`` is the solved loudness (``episode.Leveling``): the overall gain, each speaker's leveling gain
over its frame ranges, and the limiter's gain ramped linearly between its knots (one per 10 ms window,
``model.Model.limiter``). A ramp between two knots never exceeds either, and each knot is at most what its
own window and the next one need (the hold covers the window before), so no window's true peak passes the
ceiling. ``apply`` reads the stitched 16-bit pieces and writes 16-bit blocks: nothing full-length is
allocated.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from podpipe.audio_types import Audio
from podpipe.mix.loudness.figures import first_window, window_edges

BLOCK = 1 << 18  # frames per block of every blockwise pass (conversion, output)


def to_float(audio: Audio):
    """PCM as a float32 array of shape (frames, channels), full scale ±1 (converted in chunks: no
    full-length temporaries)."""
    import numpy as np

    src = np.frombuffer(audio.pcm, dtype="<i2")
    x = np.empty(len(src), dtype=np.float32)
    for lo in range(0, len(src), BLOCK):
        np.multiply(src[lo:lo + BLOCK], 1 / 32768, out=x[lo:lo + BLOCK], casting="unsafe")
    return x.reshape(-1, audio.channels)


class Source:
    """Frames of an episode as float32 (frames, channels), full scale ±1, computed on demand. ``read``'s
    result may be a view of shared data: callers never write to it."""

    frames = 0
    channels = 1

    def __len__(self) -> int:
        return self.frames

    def read(self, lo: int, hi: int):
        raise NotImplementedError


class PcmSource(Source):
    """16-bit PCM, given as consecutive pieces (never joined), scaled by ``gain`` and, over frame ranges, by
    per-range factors (speaker leveling)."""

    def __init__(self, pieces: Audio | Sequence[Audio], gain: float = 1.0,
                 ranges: Sequence[tuple[int, int, float]] = ()):
        import numpy as np

        pieces = [pieces] if isinstance(pieces, Audio) else list(pieces)
        self.channels = pieces[0].channels if pieces else 1
        self.arrays = [np.frombuffer(a.pcm, dtype="<i2").reshape(-1, self.channels) for a in pieces if a.pcm]
        self.offsets = [0]
        for array in self.arrays:
            self.offsets.append(self.offsets[-1] + len(array))
        self.frames = self.offsets[-1]
        self.gain = gain
        self.set_factors(ranges)

    def set_factors(self, ranges: Sequence[tuple[int, int, float]]) -> None:
        # ranges may overlap (a crossfade overlaps two pieces): cut them into disjoint segments, each with the
        # product of the factors covering it, so a read gives the same frames wherever it starts
        edges = sorted({x for a, b, f in ranges if b > a and f != 1.0 for x in (a, b)})
        scale = [1.0] * max(0, len(edges) - 1)
        index = {x: i for i, x in enumerate(edges)}
        for a, b, f in ranges:
            if b > a and f != 1.0:
                for i in range(index[a], index[b]):
                    scale[i] *= f
        self.ranges = [(a, b, f) for a, b, f in zip(edges, edges[1:], scale) if f != 1.0]
        self._starts = [a for a, _, _ in self.ranges]

    def _int16(self, lo: int, hi: int):
        import numpy as np

        i = max(0, bisect.bisect_right(self.offsets, lo) - 1)
        parts = []
        while i < len(self.arrays) and self.offsets[i] < hi:
            base = self.offsets[i]
            parts.append(self.arrays[i][max(0, lo - base):hi - base])
            i += 1
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.zeros((0, self.channels), dtype="<i2")

    def read(self, lo: int, hi: int):
        import numpy as np

        y = self._int16(lo, hi).astype(np.float32)
        y *= np.float32(self.gain / 32768)
        i = max(0, bisect.bisect_right(self._starts, lo) - 1)
        while i < len(self.ranges) and self.ranges[i][0] < hi:
            a, b, factor = self.ranges[i]
            if b > lo:
                y[max(a, lo) - lo:min(b, hi) - lo] *= np.float32(factor)
            i += 1
        return y


@dataclass(frozen=True, eq=False)
class GainCurve:
    rate: int
    frames: int
    gain: float  # overall, linear
    factors: tuple[tuple[int, int, float], ...]  # (first frame, end frame, linear gain) of each speaker's range
    knots: Any  # the limiter's gain at the start of each 10 ms window

    @property
    def deepest(self) -> float:
        return float(self.knots.min(initial=1.0))


def apply(curve: GainCurve, pieces: Sequence[Audio]) -> Iterator[bytes]:
    """The episode's PCM (its stitched ``pieces``) with ``curve`` applied, as 16-bit blocks."""
    import numpy as np

    source = PcmSource(pieces, curve.gain, curve.factors)
    edges = window_edges(curve.rate, curve.frames)
    knots = np.append(curve.knots, curve.knots[-1:])  # the last window holds its gain to the end
    for lo in range(0, curve.frames, BLOCK):
        hi = min(curve.frames, lo + BLOCK)
        y = source.read(lo, hi)
        a, b = first_window(lo, curve.rate), first_window(hi - 1, curve.rate) + 1
        if knots[a:b + 1].min() < 1.0:
            ramp = np.interp(np.arange(lo, hi), edges[a:b + 1], knots[a:b + 1]).astype(np.float32)
            y = y * ramp[:, None]
        y = np.rint(y * 32768)
        np.clip(y, -32768, 32767, out=y)
        yield y.astype("<i2").tobytes()
