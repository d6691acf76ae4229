"""Test audio and the rundown pieces that carry it."""

from __future__ import annotations

import numpy as np

from podpipe.audio_types import Audio
from podpipe.compile import RequestTurn, SpeechPiece

RATE = 24000


def voice(seed: int, seconds: float, level: float, rate: int = RATE, clicks: bool = False) -> Audio:
    """Speech-like test audio: a harmonic-rich buzz in syllable-sized bursts, optionally with sharp clicks
    (the transients that push true peaks over the ceiling)."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    f0 = 110 + 40 * seed
    buzz = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 3.5 * t + rng.uniform(0, 6)), 0, None) ** 0.5
    x = buzz * envelope
    x = x / np.abs(x).max() * level
    if clicks:
        for at in rng.integers(0, len(x) - 10, 12):
            x[at:at + 3] = [0.99, -0.99, 0.99]
    return Audio((x * 32767).astype("<i2").tobytes(), rate)


def speech(key: str, index: int, name: str) -> SpeechPiece:
    return SpeechPiece(key, f"s{index + 1}", index, (name,), (RequestTurn(name, "Zephyr", f"line {index}"),))
