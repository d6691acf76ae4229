"""Synthesize jingle.wav, the Podpipe Weekly sting: a rising major arpeggio that lands on a held chord.

Standard library only, so anyone can regenerate it: `python episodes/assets/make_jingle.py`.
Each note is a soft electric-piano tone (a sine with a few decaying harmonics) under an
attack/decay/release envelope, plus a quiet echo; output is 44.1 kHz mono 16-bit, about two seconds.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 44_100
LENGTH = 2.1  # seconds
PEAK = 0.8  # of full scale, to leave headroom


def midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def tone(buffer: list[float], start: float, note: int, length: float, level: float) -> None:
    """Add one note to ``buffer``: fast attack, exponential decay, short release at the end."""
    freq = midi_hz(note)
    first = int(start * RATE)
    count = min(int(length * RATE), len(buffer) - first)
    # harmonic number -> (relative level, decay rate per second): upper partials die away faster
    partials = ((1, 1.0, 2.5), (2, 0.45, 5.0), (3, 0.18, 8.0), (4, 0.08, 12.0))
    attack, release = 0.008, 0.12
    for i in range(count):
        t = i / RATE
        env = min(1.0, t / attack) * min(1.0, (length - t) / release)
        value = sum(a * math.exp(-d * t) * math.sin(2 * math.pi * freq * h * t) for h, a, d in partials)
        buffer[first + i] += level * env * value


def jingle() -> list[float]:
    buffer = [0.0] * int(LENGTH * RATE)
    # C major: C5 E5 G5 C6 up, then a C-E-G-C chord held under a high E6 sparkle
    for k, note in enumerate((72, 76, 79, 84)):
        tone(buffer, 0.12 * k, note, 0.35, 0.5)
    for note in (60, 67, 72, 76):
        tone(buffer, 0.55, note, 1.45, 0.28)
    tone(buffer, 0.62, 88, 0.9, 0.18)
    echo = int(0.18 * RATE)  # one quiet slap-back echo gives it some room
    for i in range(len(buffer) - 1, echo - 1, -1):
        buffer[i] += 0.25 * buffer[i - echo]
    peak = max(abs(v) for v in buffer)
    fade = int(0.05 * RATE)  # make sure the very end is silent: no click when the next segment starts
    for i in range(fade):
        buffer[-1 - i] *= i / fade
    return [v * PEAK / peak for v in buffer]


def save_wav(path: Path, samples, rate: int) -> None:
    """Samples in [-1, 1] as a mono 16-bit WAV (shared with make_bed.py)."""
    frames = b"".join(struct.pack("<h", round(v * 32767)) for v in samples)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


def write(path: Path) -> None:
    save_wav(path, jingle(), RATE)


if __name__ == "__main__":
    target = Path(__file__).with_name("jingle.wav")
    write(target)
    print(f"wrote {target.name}: {LENGTH} s, {RATE} Hz, mono, 16-bit")
