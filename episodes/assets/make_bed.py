"""Synthesize bed.wav, the Podpipe Weekly music bed: a soft, slowly breathing A-minor pad that loops
seamlessly (every partial completes a whole number of cycles in the loop, and the swell is one cycle).

Standard library only, so anyone can regenerate it: `python episodes/assets/make_bed.py`.
Output is 22.05 kHz mono 16-bit, four seconds; podpipe loops it under the segments a `music:` bed names.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

RATE = 22_050
LENGTH = 4  # seconds; every frequency below is a multiple of 1/LENGTH Hz, so the loop has no seam
PEAK = 0.7


def pad() -> list[float]:
    # A2, E3, A3, C4, E4 rounded to the loop's 0.25 Hz grid, with a quiet octave shimmer on each
    notes = (110.0, 164.75, 220.0, 261.5, 329.75)
    n = LENGTH * RATE
    out = []
    for i in range(n):
        t = i / RATE
        swell = 0.75 + 0.25 * math.sin(2 * math.pi * t / LENGTH)  # one slow breath per loop
        value = sum(math.sin(2 * math.pi * f * t) + 0.2 * math.sin(2 * math.pi * 2 * f * t) for f in notes)
        out.append(swell * value)
    peak = max(abs(v) for v in out)
    return [v * PEAK / peak for v in out]


def write(path: Path) -> None:
    # The jingle script beside this one owns the WAV writer; load it by path so this works from anywhere.
    spec = importlib.util.spec_from_file_location("make_jingle", Path(__file__).with_name("make_jingle.py"))
    jingle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(jingle)
    jingle.save_wav(path, pad(), RATE)


if __name__ == "__main__":
    target = Path(__file__).with_name("bed.wav")
    write(target)
    print(f"wrote {target.name}: {LENGTH} s, {RATE} Hz, mono, 16-bit")
