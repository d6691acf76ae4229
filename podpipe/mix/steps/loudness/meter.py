"""Loudness and true peak: ITU-R BS.1770-4 integrated loudness (K-weighting, 400 ms blocks, absolute and
relative gating, pyloudnorm's filter coefficients) and true peak on a 4× oversampled signal (Annex 2).

Mono is measured as mono (it reads 3 LU lower than the same signal as dual mono), exactly as ffmpeg's
``ebur128`` does. Everything reads a ``blocks.Source`` chunk by chunk with carried filter state, and the
true-peak estimate oversamples block by block (and only where a peak can matter), so neither the episode
as floats nor its oversampled copy ever exists in memory at once.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from podpipe.mix.steps.loudness import blocks
from podpipe.mix.steps.loudness.blocks import Source, as_source

OVERSAMPLE = 4
MEASURE_CHUNK = 1 << 20  # frames filtered at a time: the meter never copies the whole episode
MERGE = 4096  # frames: see frame_peaks
PAD = 64  # context on each side of a block, longer than the resampling filter's half length
# Inter-sample peaks of real audio overshoot the sample peak by well under 3 dB; a block whose sample peak is
# 6 dB (×2) below what matters cannot matter, so its (costly) oversampling is skipped.
SKIP_MARGIN = 2.0


@functools.lru_cache(maxsize=8)
def _k_weighting(rate: int) -> tuple[Any, float]:
    """BS.1770's K-weighting for ``rate`` as second-order sections and their overall passband gain
    (coefficients from pyloudnorm, which derives them for any rate)."""
    import numpy as np
    import pyloudnorm

    stages = list(pyloudnorm.Meter(rate)._filters.values())
    sos = np.array([np.r_[np.pad(f.b, (0, 3 - len(f.b))), np.pad(f.a, (0, 3 - len(f.a)))] for f in stages])
    return sos / sos[:, 3:4], float(np.prod([f.passband_gain for f in stages]))


def _step_frames(rate: int) -> int:
    return max(1, round(0.1 * rate))


def block_powers(x: Source, rate: int, start: int, stop: int):
    """Mean squares of the K-weighted signal in 400 ms blocks every 100 ms over frames [start, stop),
    channel-weighted and summed (BS.1770-4 eq. 1-4). Filtered chunk by chunk with carried filter state."""
    import numpy as np
    from scipy.signal import sosfilt

    step = _step_frames(rate)
    sos, gain = _k_weighting(rate)
    channels = x.channels
    weights = [1.0, 1.0, 1.0, 1.41, 1.41]
    sums = []
    states = [np.zeros((len(sos), 2)) for _ in range(channels)]
    usable = (stop - start) // step * step
    chunk = MEASURE_CHUNK // step * step or step
    for lo in range(start, start + usable, chunk):
        hi = min(start + usable, lo + chunk)
        total = np.zeros((hi - lo) // step)
        block = x.read(lo, hi)
        for ch in range(channels):
            y, states[ch] = sosfilt(sos, block[:, ch].astype(np.float64), zi=states[ch])
            total += weights[min(ch, 4)] * gain * gain * np.square(y).reshape(-1, step).sum(axis=1)
        sums.append(total)
    steps = np.concatenate(sums) if sums else np.zeros(0)
    if len(steps) < 4:
        return steps[:0]
    return (steps[:-3] + steps[1:-2] + steps[2:-1] + steps[3:]) / (4 * step)


def block_labels(frames: int, rate: int, groups: Sequence[Sequence[tuple[int, int]]]):
    """For each block ``block_powers(x, rate, 0, frames)`` yields, the index of the group whose ranges hold
    all of it, else -1: one pass over the episode then measures every group too (on the episode's block
    grid rather than from each range's own start: a few blocks at the edges of each range differ)."""
    import numpy as np

    step = _step_frames(rate)
    labels = np.full(frames // step, -1, dtype=np.int32)
    for g, ranges in enumerate(groups):
        for a, b in ranges:
            labels[-(-a // step):b // step] = g  # the steps lying wholly inside [a, b)
    if len(labels) < 4:
        return labels[:0]
    whole = (labels[:-3] == labels[1:-2]) & (labels[1:-2] == labels[2:-1]) & (labels[2:-1] == labels[3:])
    return np.where(whole, labels[:-3], -1)


def measure(x: Source, rate: int, labels=None, count: int = 0) -> tuple[float, list[float], list[float]]:
    """Integrated loudness of ``x`` and of each of ``count`` labelled groups (``block_labels``), and each
    group's share of the energy of all groups, in one pass."""
    powers = block_powers(x, rate, 0, len(x))
    energy = [float(powers[labels == g].sum()) for g in range(count)]
    total = sum(energy) or 1.0
    return gated(powers), [gated(powers[labels == g]) for g in range(count)], [e / total for e in energy]


def gated(powers) -> float:
    """BS.1770-4 gating (absolute −70 LUFS, relative −10 LU) over block powers; -inf when nothing passes."""
    import numpy as np

    if not len(powers):
        return -math.inf
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(powers)
    kept = powers[loud >= -70.0]
    if not len(kept):
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(kept.mean())) - 10.0
    kept = powers[(loud > relative) & (loud > -70.0)]
    return -0.691 + 10 * math.log10(float(kept.mean())) if len(kept) else -math.inf


def range_powers(x: Source, rate: int, ranges: Sequence[tuple[int, int]]):
    """Block powers of the frame ``ranges`` of ``x`` taken together (a range shorter than a block has none)."""
    import numpy as np

    powers = [block_powers(x, rate, a, b) for a, b in ranges if b - a >= round(0.4 * rate)]
    return np.concatenate(powers) if powers else np.zeros(0)


def integrated(x, rate: int, ranges: Sequence[tuple[int, int]] | None = None) -> float:
    """BS.1770-4 integrated loudness in LUFS of ``x`` (or of the frame ``ranges`` of it taken together, as if
    joined); -inf for audio that is silent or shorter than one 400 ms block. ``x``: an array or a source."""
    x = as_source(x)
    return gated(range_powers(x, rate, [(0, len(x))] if ranges is None else ranges))


@functools.lru_cache(maxsize=4)
def _oversampling_filter(dtype: str):
    """resample_poly's own low-pass for 4× (designed once instead of on every call)."""
    from scipy.signal import firwin

    half_len = 10 * OVERSAMPLE
    return firwin(2 * half_len + 1, 1 / OVERSAMPLE, window=("kaiser", 5.0)).astype(dtype)


def _oversampled_peaks(x):
    """Per frame n, the highest absolute value of the 4× oversampled ``x`` in [n, n + 1)."""
    import numpy as np
    from scipy.signal import resample_poly

    up = _magnitude(resample_poly(x, OVERSAMPLE, 1, axis=0, window=_oversampling_filter(x.dtype.str)))
    # strided maxima: ~20× faster than reshape(-1, OVERSAMPLE).max(axis=1), which reduces along a short axis
    out = up[0::OVERSAMPLE].copy()
    for phase in range(1, OVERSAMPLE):
        np.maximum(out, up[phase::OVERSAMPLE], out=out)
    return out


def _magnitude(x):
    """Per frame, the largest absolute sample over the channels (1-D; reducing a (n, 1) array along its
    channel axis is several times slower than this)."""
    import numpy as np

    out = np.abs(x[:, 0])
    for ch in range(1, x.shape[1]):
        np.maximum(out, np.abs(x[:, ch]), out=out)
    return out


def frame_peaks(x, floor: float = 0.0):
    """Per frame, the highest absolute value of the 4× oversampled signal around it (and the sample itself).

    Only frames at or above ``floor`` (and their neighbours) are oversampled: an inter-sample peak overshoots
    the samples around it by well under ``SKIP_MARGIN``, so elsewhere the sample value is the answer to
    every question asked (is it over a ceiling at least ``floor × SKIP_MARGIN``? can it beat a peak that
    high?). With ``floor`` 0 every frame is oversampled.
    """
    import numpy as np

    n = len(x)
    peaks = _magnitude(x)
    hot = np.flatnonzero(peaks >= floor) if floor > 0 else np.arange(n)
    if not len(hot):
        return peaks
    # hot frames less than MERGE apart are oversampled in one call (a call costs as much as a few thousand
    # frames), in pieces of at most blocks.BLOCK
    breaks = np.flatnonzero(np.diff(hot) > MERGE)
    firsts, lasts = hot[np.r_[0, breaks + 1]], hot[np.r_[breaks, len(hot) - 1]]
    for first, last in zip(firsts.tolist(), lasts.tolist()):
        for start in range(max(0, first - 2), min(n, last + 3), blocks.BLOCK):
            stop = min(n, last + 3, start + blocks.BLOCK)
            lo, hi = max(0, start - PAD), min(n, stop + PAD)
            up = _oversampled_peaks(x[lo:hi])[start - lo:stop - lo]
            # an inter-sample peak lies between this frame and the next: both must come down for it
            np.maximum(peaks[start:stop], up, out=peaks[start:stop])
            nxt = peaks[start + 1:stop + 1]
            np.maximum(nxt, up[:len(nxt)], out=nxt)
    return peaks


def true_peak(x) -> float:
    """True peak in dBTP (4× oversampling) of an array or a source; -inf for silence."""
    import numpy as np

    x = as_source(x)
    n, peak = len(x), 0.0
    for start in range(0, n, blocks.BLOCK):
        stop = min(n, start + blocks.BLOCK)
        a, b = max(0, start - PAD), min(n, stop + PAD)
        y = x.read(a, b)
        loudest = float(np.abs(y).max(initial=0.0))
        if loudest * SKIP_MARGIN <= peak:
            continue  # no inter-sample peak here can beat the one found
        peak = max(peak, loudest)
        peak = max(peak, float(frame_peaks(y, peak / SKIP_MARGIN)[start - a:stop - a].max(initial=0.0)))
    return 20 * math.log10(peak) if peak > 0 else -math.inf

