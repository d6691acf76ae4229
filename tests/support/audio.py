"""Test audio and the rundown pieces that carry it: the one ``tone()``, ``voice()`` and ``speech()`` of the
suite. Plain functions (fixtures wrap them), so modules can build test audio at import time."""

from __future__ import annotations

import math
from array import array

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


def tone(freq: float = 440.0, seconds: float = 0.05, rate: int = RATE, amp: float = 0.5, channels: int = 1) -> Audio:
    """A sine of ``amp`` × full scale, so two takes differ audibly and levels and pitch are predictable; in stereo
    the tone is on the left and the right is silent, so channel mix-ups show."""
    n = round(seconds * rate)
    samples = array("h", (int(amp * 32767 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))
    if channels == 2:
        stereo = array("h", bytes(4 * n))
        stereo[0::2] = samples
        samples = stereo
    return Audio(samples.tobytes(), rate, channels)


def speech(key: str = "a" * 64, index: int = 0, speaker: str = "Alex", *, text: str | None = None,
           speakers: tuple[str, ...] | None = None, chapter: str | None = None) -> SpeechPiece:
    """A speech piece of segment ``s{index + 1}``: ``speaker`` (or each of ``speakers``, whose turns then name
    them: "line 1 (Sam)") says ``text``, by default "line {index}"."""
    names = speakers or (speaker,)
    said = text if text is not None else f"line {index}"
    turns = tuple(RequestTurn(s, "Zephyr", f"{said} ({s})" if speakers else said) for s in names)
    return SpeechPiece(key, f"s{index + 1}", index, names, turns, chapter)
