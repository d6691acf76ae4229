"""Loudness and true peak of whole signals, per ITU-R BS.1770-4, for tests that hold audio: the mix itself
works from figures (``podpipe.mix.loudness``), and these read the same filters and gating, so a test can
check a mixed file against the engine and the engine against pyloudnorm and scipy.

Mono is measured as mono (it reads 3 LU lower than the same signal as dual mono), exactly as ffmpeg's
``ebur128`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from podpipe.audio_types import Audio
from podpipe.mix.loudness.figures import analyze_array
from podpipe.mix.loudness.filters import frame_peaks
from podpipe.mix.loudness.model import block_powers, gated


def integrated(x: Any, rate: int | None = None, ranges: Sequence[tuple[int, int]] | None = None) -> float:
    """Integrated loudness in LUFS of ``x`` (16-bit ``Audio``, or float frames × channels at ``rate``), or of
    its frame ``ranges`` taken together, as if joined; -inf for audio that is silent or shorter than one
    400 ms block."""
    x, rate, scale = frames_of(x, rate)
    parts = [(0, len(x))] if ranges is None else ranges
    powers = [block_powers(analyze_array(x[a:b], rate, scale).energy)
              for a, b in parts if b - a >= round(0.4 * rate)]
    return gated(np.concatenate(powers)) if powers else -math.inf


def true_peak(x: Any) -> float:
    """True peak in dBTP (4× oversampling) of ``x`` (``Audio`` or float frames × channels); -inf for silence."""
    x, _, scale = frames_of(x, 1)
    peak = max((float(frame_peaks(x[:, ch] * scale).max(initial=0.0)) for ch in range(x.shape[1])), default=0.0)
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def frames_of(x: Any, rate: int | None) -> tuple[Any, int, float]:
    """(frames × channels array, rate, scale to full scale ±1) of ``Audio`` or of an array at ``rate``."""
    if isinstance(x, Audio):
        return np.frombuffer(x.pcm, dtype="<i2").reshape(-1, x.channels), x.rate, 1 / 32768
    x = np.asarray(x)
    return (x[:, None] if x.ndim == 1 else x), rate or 0, 1.0
