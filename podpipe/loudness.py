"""Broadcast loudness: level the speakers to each other, normalize the episode to an integrated target and
keep true peaks under a ceiling.

Loudness is measured per ITU-R BS.1770-4 (K-weighting, 400 ms blocks, absolute and relative gating) with
pyloudnorm; mono is measured as mono (it reads 3 LU lower than the same signal as dual mono), exactly as
ffmpeg's ``ebur128`` does. True peak is estimated on a 4× oversampled copy (BS.1770 Annex 2), block by block
so the oversampled episode never exists in memory at once.

The limiter is an offline look-ahead limiter: the gain each sample needs to stay under the ceiling is held
for ``HOLD`` seconds after a peak and ramped in over ``LOOKAHEAD`` seconds before it (a moving average of
the held minimum, which can never exceed what any sample needs), so the gain moves smoothly around peaks and
does not pump between words. numpy, scipy and pyloudnorm are imported only here, only when a mix runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .audio_types import SAMPLE_WIDTH, Audio

DEFAULT_TARGET = -16.0  # LUFS: Apple Podcasts, AES TD1004
DEFAULT_CEILING = -1.0  # dBTP
LOUDNESS_VERSION = 1  # bump when the same settings would give different audio
LOOKAHEAD = 0.005  # seconds the gain ramps down before a peak
HOLD = 0.060  # seconds the gain stays down after a peak before it ramps back up
OVERSAMPLE = 4
_BLOCK = 1 << 18  # samples per block of the true-peak estimate
_PAD = 64  # context on each side of a block, longer than the resampling filter's half length
# Inter-sample peaks of real audio overshoot the sample peak by well under 3 dB; a block whose sample peak is
# 6 dB (×2) below what matters cannot matter, so its (costly) oversampling is skipped.
_SKIP_MARGIN = 2.0
# Lossy encoders drop high frequencies and their output overshoots the peaks they were given (Gibbs ripple):
# the limiter aims this many dB under the ceiling so the decoded file still meets it (lossless formats get
# a little too: meters oversample with different filters and disagree by up to ~0.15 dB).
ENCODER_HEADROOM = {"wav": 0.2, "flac": 0.2, "mp3": 0.8, "m4a": 0.8, "ogg": 0.8}


def _np():
    import numpy

    return numpy


def to_float(audio: Audio):
    """PCM as a float32 array of shape (frames, channels), full scale ±1 (converted in chunks: no
    full-length temporaries)."""
    np = _np()
    src = np.frombuffer(audio.pcm, dtype="<i2")
    x = np.empty(len(src), dtype=np.float32)
    for lo in range(0, len(src), _BLOCK):
        np.multiply(src[lo:lo + _BLOCK], 1 / 32768, out=x[lo:lo + _BLOCK], casting="unsafe")
    return x.reshape(-1, audio.channels)


def to_pcm(x, rate: int) -> Audio:
    """Back to 16-bit PCM, rounded and clipped, in chunks."""
    np = _np()
    buffer = bytearray(x.size * 2)  # filled in place and handed over as is: no second full-size copy
    out = np.frombuffer(buffer, dtype="<i2")
    flat = x.reshape(-1)
    for lo in range(0, len(flat), _BLOCK):
        y = np.rint(flat[lo:lo + _BLOCK] * 32768)
        np.clip(y, -32768, 32767, out=y)
        out[lo:lo + _BLOCK] = y
    del out
    return Audio(buffer, rate, x.shape[1])


def _k_filters(rate: int) -> list[tuple[Any, Any, float]]:
    """BS.1770's K-weighting stages for ``rate`` (coefficients from pyloudnorm, which derives them for any
    rate): (b, a, passband gain) per stage."""
    import pyloudnorm

    meter = pyloudnorm.Meter(rate)
    return [(f.b, f.a, f.passband_gain) for f in meter._filters.values()]


_MEASURE_CHUNK = 1 << 20  # frames filtered at a time: the meter never copies the whole episode


def _block_powers(x, rate: int, start: int, stop: int):
    """Mean squares of the K-weighted signal in 400 ms blocks every 100 ms over frames [start, stop),
    channel-weighted and summed (BS.1770-4 eq. 1-4). Filtered chunk by chunk with carried filter state."""
    from scipy.signal import lfilter

    np = _np()
    step = max(1, round(0.1 * rate))
    filters = _k_filters(rate)
    channels = x.shape[1]
    weights = [1.0, 1.0, 1.0, 1.41, 1.41]
    sums = []
    states = [[np.zeros(max(len(a), len(b)) - 1) for b, a, _ in filters] for _ in range(channels)]
    usable = (stop - start) // step * step
    chunk = _MEASURE_CHUNK // step * step or step
    for lo in range(start, start + usable, chunk):
        hi = min(start + usable, lo + chunk)
        total = np.zeros((hi - lo) // step)
        for ch in range(channels):
            y = x[lo:hi, ch].astype(np.float64)
            for k, (b, a, g) in enumerate(filters):
                y, states[ch][k] = lfilter(b, a, y, zi=states[ch][k])
                y *= g
            total += weights[min(ch, 4)] * np.square(y).reshape(-1, step).sum(axis=1)
        sums.append(total)
    steps = np.concatenate(sums) if sums else np.zeros(0)
    if len(steps) < 4:
        return steps[:0]
    return (steps[:-3] + steps[1:-2] + steps[2:-1] + steps[3:]) / (4 * step)


def _gated(powers) -> float:
    """BS.1770-4 gating (absolute −70 LUFS, relative −10 LU) over block powers; -inf when nothing passes."""
    np = _np()
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


def integrated(x, rate: int, ranges: Sequence[tuple[int, int]] | None = None) -> float:
    """BS.1770-4 integrated loudness in LUFS of ``x`` (or of the frame ``ranges`` of it taken together, as if
    joined); -inf for audio that is silent or shorter than one 400 ms block."""
    np = _np()
    ranges = [(0, len(x))] if ranges is None else ranges
    powers = [_block_powers(x, rate, a, b) for a, b in ranges if b - a >= round(0.4 * rate)]
    return _gated(np.concatenate(powers)) if powers else -math.inf


def _frame_peaks(x):
    """Per frame, the highest absolute value of the 4× oversampled signal around it (and the sample itself)."""
    from scipy.signal import resample_poly

    np = _np()
    n = len(x)
    peaks = np.abs(x).max(axis=1)
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        lo, hi = max(0, start - _PAD), min(n, stop + _PAD)
        up = np.abs(resample_poly(x[lo:hi], OVERSAMPLE, 1, axis=0)).max(axis=1)
        up = up[(start - lo) * OVERSAMPLE:(stop - lo) * OVERSAMPLE].reshape(-1, OVERSAMPLE).max(axis=1)
        # an inter-sample peak lies between this frame and the next: both must come down for it
        np.maximum(peaks[start:stop], up, out=peaks[start:stop])
        np.maximum(peaks[start + 1:stop + 1], up[:len(peaks[start + 1:stop + 1])],
                   out=peaks[start + 1:stop + 1])
    return peaks


def _region_peaks(x, lo: int, hi: int):
    """``_frame_peaks`` for frames [lo, hi), computed with ``_PAD`` frames of context on each side."""
    a, b = max(0, lo - _PAD), min(len(x), hi + _PAD)
    return _frame_peaks(x[a:b])[lo - a:hi - a]


def true_peak(x) -> float:
    """True peak in dBTP (4× oversampling); -inf for silence."""
    np = _np()
    blocks = [(float(np.abs(x[lo:lo + _BLOCK]).max(initial=0.0)), lo) for lo in range(0, len(x), _BLOCK)]
    peak = 0.0
    for sample_peak, lo in sorted(blocks, reverse=True):
        if sample_peak * _SKIP_MARGIN <= peak:
            break  # the loudest blocks come first; a block this far under the peak found cannot beat it
        peak = max(peak, float(_region_peaks(x, lo, min(len(x), lo + _BLOCK)).max()))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def _block_gain(x, rate: int, start: int, stop: int, ceiling: float, ahead: int, hold: int):
    """The limiter's gain for frames [start, stop), or None when none is needed there."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    np = _np()
    n = len(x)
    lo, hi = max(0, start - hold - ahead), min(n, stop + ahead)
    if float(np.abs(x[lo:hi]).max(initial=0.0)) * _SKIP_MARGIN < ceiling:
        return None  # far under the ceiling: no inter-sample peak can reach it, so skip the oversampling
    need = np.minimum(1.0, ceiling / np.maximum(_region_peaks(x, lo, hi), 1e-9)).astype(np.float32)
    if need.min() >= 1.0:
        return None
    # held[m] = min(need[m - hold .. m + ahead]): every frame near a peak gets that peak's gain
    padded = np.concatenate([np.ones(hold + ahead - (start - lo), np.float32), need,
                             np.ones(ahead - (hi - stop), np.float32)])
    size = hold + ahead + 1
    held = minimum_filter1d(padded, size, origin=-(size // 2))[:len(padded) - size + 1]
    # held covers frames [start - ahead, stop) (frames before 0 count as needing nothing);
    # gain[n] = mean(held[n - ahead .. n]): each of those windows covers n, so gain[n] <= need[n]
    width = ahead + 1
    gain = uniform_filter1d(held, width, origin=-(width // 2))[:stop - start]
    # rounding in the running mean must never let a peak through
    np.minimum(gain, need[start - lo:stop - lo], out=gain)
    return gain


def limit(x, rate: int, ceiling_db: float) -> float:
    """Limit ``x`` in place so its true peak stays at or under ``ceiling_db``; returns the deepest gain
    reduction in dB (0.0 when nothing had to change). Works block by block; a block's gain is applied only
    after the next block's gain is known, since that one is computed from the unlimited signal too."""
    if not len(x):
        return 0.0
    ceiling = 10 ** (ceiling_db / 20)
    ahead, hold = max(1, round(LOOKAHEAD * rate)), max(1, round(HOLD * rate))
    lowest = 1.0
    pending = None
    for start in range(0, len(x), _BLOCK):
        stop = min(len(x), start + _BLOCK)
        gain = _block_gain(x, rate, start, stop, ceiling, ahead, hold)
        if pending is not None:
            x[pending[0]:pending[0] + len(pending[1])] *= pending[1][:, None]
        pending = None if gain is None else (start, gain)
        if gain is not None:
            lowest = min(lowest, float(gain.min()))
    if pending is not None:
        x[pending[0]:pending[0] + len(pending[1])] *= pending[1][:, None]
    return 0.0 if lowest >= 1.0 else round(-20 * math.log10(lowest), 2)


def normalize(audio: Audio | list[Audio], groups: Mapping[str, Sequence[tuple[int, int]]], target: float,
              ceiling: float, headroom: float = 0.05) -> tuple[Audio, dict[str, Any]]:
    """Level each group of frame ranges (a speaker's pieces) to the loudness of all of them together, then
    bring the whole to ``target`` LUFS with true peaks limited to ``ceiling - headroom`` dBTP.

    ``audio`` may be handed over in a one-element list, which is emptied: then the caller's PCM is freed as
    soon as its float copy exists. Returns the new audio and a report of the measured figures.
    """
    if isinstance(audio, list):
        audio = audio.pop()
    x = to_float(audio)
    rate = audio.rate
    del audio
    report: dict[str, Any] = {"target_lufs": target, "true_peak_ceiling_dbtp": ceiling,
                              "input_lufs": _figure(integrated(x, rate)), "input_true_peak_dbtp": None}
    report["input_true_peak_dbtp"] = _figure(true_peak(x))

    measured = {}
    for name, ranges in groups.items():
        level = integrated(x, rate, ranges)
        if math.isfinite(level):
            measured[name] = level
    speakers: dict[str, Any] = {}
    if len(measured) > 1:
        every = [r for name in measured for r in groups[name]]
        reference = integrated(x, rate, sorted(every))
        for name, level in measured.items():
            change = reference - level
            for a, b in groups[name]:
                x[a:b] *= 10 ** (change / 20)
            speakers[name] = {"input_lufs": _figure(level), "gain_db": _figure(change)}

    applied, limit_db = _reach(x, rate, target, ceiling - headroom)
    out = to_pcm(x, rate)
    del x
    final = to_float(out)
    report |= {"gain_db": _figure(applied), "limiter_max_reduction_db": limit_db,
               "integrated_lufs": _figure(integrated(final, rate)), "true_peak_dbtp": _figure(true_peak(final))}
    if speakers:
        for name in speakers:
            speakers[name]["integrated_lufs"] = _figure(integrated(final, rate, groups[name]))
        report["speakers"] = speakers
    return out, report


def correct_encoded(fed: Audio, decoded: Audio, report: dict[str, Any], ceiling: float,
                    headroom: float) -> Audio | None:
    """Lossy encoders change loudness (−0.3…−0.6 LU seen with LAME on speech) and overshoot peaks by an
    amount that depends on the material. Given what was fed to the encoder and what its file decodes to,
    return corrected audio to encode once more, or None when the file already meets target and ceiling.
    Records the decoded figures in ``report``."""
    target = report["target_lufs"]
    heard = to_float(decoded)
    lufs, peak = integrated(heard, decoded.rate), true_peak(heard)
    del heard
    report["first_encode_lufs"], report["first_encode_true_peak_dbtp"] = _figure(lufs), _figure(peak)
    if not math.isfinite(lufs) or (abs(lufs - target) <= 0.2 and peak <= ceiling):
        return None
    x = to_float(fed)
    overshoot = max(0.0, peak - true_peak(x))
    loss = integrated(x, fed.rate) - lufs  # what the encoder takes away, given back in advance
    applied, reduction = _reach(x, fed.rate, target + loss, min(ceiling - headroom, ceiling - overshoot - 0.15))
    report["limiter_max_reduction_db"] = max(report.get("limiter_max_reduction_db", 0.0), reduction)
    report["encoder_correction_db"] = _figure(applied)
    return to_pcm(x, fed.rate)


def _reach(x, rate: int, target: float, limiter_ceiling: float) -> tuple[float, float]:
    """Gain ``x`` (in place) to ``target`` LUFS with true peaks limited to ``limiter_ceiling``; limiting
    lowers the loudness a little, so a few small corrections follow. Returns (gain dB, deepest limiting dB)."""
    level = integrated(x, rate)
    applied = limit_db = 0.0
    if not math.isfinite(level):  # too short or silent to measure: the ceiling still holds
        return applied, limit(x, rate, limiter_ceiling)
    slope = 1.0  # LU of loudness gained per dB of gain, once the limiter has taken its share
    for _ in range(8):
        change = (target - level) / slope
        x *= 10 ** (change / 20)
        applied += change
        limit_db = max(limit_db, limit(x, rate, limiter_ceiling))
        new_level = integrated(x, rate)
        if abs(new_level - target) <= 0.05:
            break
        # Peaky speech (the offline voice above all) loses much of each added dB to the limiter; stepping
        # by the observed ratio converges in two or three passes instead of creeping up over eight.
        if change and math.isfinite(new_level):
            slope = min(1.0, max(0.2, (new_level - level) / change))
        level = new_level
    return applied, limit_db


def _figure(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


__all__ = ["DEFAULT_TARGET", "DEFAULT_CEILING", "ENCODER_HEADROOM", "integrated", "true_peak", "limit",
           "normalize", "correct_encoded", "to_float", "to_pcm", "SAMPLE_WIDTH"]
