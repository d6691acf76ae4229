"""Broadcast loudness: level the speakers to each other, normalize the episode to an integrated target and
keep true peaks under a ceiling.

Loudness is measured per ITU-R BS.1770-4 (K-weighting, 400 ms blocks, absolute and relative gating) with
pyloudnorm's filter coefficients; mono is measured as mono (it reads 3 LU lower than the same signal as dual
mono), exactly as ffmpeg's ``ebur128`` does. True peak is estimated on a 4× oversampled copy (BS.1770 Annex
2), block by block so the oversampled episode never exists in memory at once.

The limiter is an offline look-ahead limiter: the gain each sample needs to stay under the ceiling is held
for ``HOLD`` seconds after a peak and ramped in over ``LOOKAHEAD`` seconds before it (a moving average of
the held minimum, which can never exceed what any sample needs), so the gain moves smoothly around peaks and
does not pump between words. numpy, scipy and pyloudnorm are imported only here, only when a mix runs.

Leveling and normalizing are solved together (``_solve``): each speaker starts at the gain that brings it to
the loudness of all speech, then every pass limits the episode, measures it and each speaker at once, and
corrects the overall gain and the speakers' gains, because the limiter takes more from a peaky voice than
from a smooth one. A voice that the limiter holds at its peaks is reported (``held_by_peaks``) instead of
being chased with ever more gain.

Memory: the episode is never copied whole as floats. ``normalize`` describes the processed episode as a chain
of sources (16-bit PCM → per-range speaker gains and the overall gain → limiter) whose frames are computed
block by block whenever a pass reads them, and writes the result once into a new 16-bit buffer: the input
and the output PCM are the only full-length arrays (2× the PCM, plus blocks).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from podpipe.audio_types import SAMPLE_WIDTH, Audio

DEFAULT_TARGET = -16.0  # LUFS: Apple Podcasts, AES TD1004
DEFAULT_CEILING = -1.0  # dBTP
LOUDNESS_VERSION = 3  # bump when the same settings would give different audio
LOOKAHEAD = 0.005  # seconds the gain ramps down before a peak
HOLD = 0.060  # seconds the gain stays down after a peak before it ramps back up
OVERSAMPLE = 4
# Leveling aims each speaker this close to the episode (the promise is 1 LU; lossy encoding and the exact
# per-range measurement in the report move speakers a little), within at most _PASSES measuring passes.
_GROUP_AIM = 0.25
_PASSES = 10
_STEP_DB = 6.0  # largest change of any gain from one pass to the next, after the first
_SPREAD_DB = 12.0  # largest correction of a speaker's leveling gain
_MAX_SLOPE = 1.5
_HELD = 0.1  # a speaker raised by 1 dB that gains less than this many LU on the others is held by its peaks
_BLOCK = 1 << 18  # samples per block of the true-peak estimate
_MERGE = 4096  # frames: see _frame_peaks
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


class _Source:
    """Frames of an episode as float32 (frames, channels), full scale ±1, computed on demand. ``read``'s
    result may be a view of shared data: callers never write to it."""

    frames = 0
    channels = 1

    def __len__(self) -> int:
        return self.frames

    def read(self, lo: int, hi: int):
        raise NotImplementedError


class _Array(_Source):
    def __init__(self, x):
        self.x, self.frames, self.channels = x, len(x), x.shape[1]

    def read(self, lo: int, hi: int):
        return self.x[lo:hi]


class _Pcm(_Source):
    """16-bit PCM, given as consecutive pieces (never joined), scaled by ``gain`` and, over frame ranges, by
    per-range factors (speaker leveling)."""

    def __init__(self, pieces: Audio | Sequence[Audio], gain: float = 1.0,
                 ranges: Sequence[tuple[int, int, float]] = ()):
        np = _np()
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
        import bisect

        np = _np()
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
        import bisect

        np = _np()
        y = self._int16(lo, hi).astype(np.float32)
        y *= np.float32(self.gain / 32768)
        i = max(0, bisect.bisect_right(self._starts, lo) - 1)
        while i < len(self.ranges) and self.ranges[i][0] < hi:
            a, b, factor = self.ranges[i]
            if b > lo:
                y[max(a, lo) - lo:min(b, hi) - lo] *= np.float32(factor)
            i += 1
        return y


def _source(x) -> _Source:
    return x if isinstance(x, _Source) else _Array(x)


@functools.lru_cache(maxsize=8)
def _k_weighting(rate: int) -> tuple[Any, float]:
    """BS.1770's K-weighting for ``rate`` as second-order sections and their overall passband gain
    (coefficients from pyloudnorm, which derives them for any rate)."""
    import pyloudnorm

    np = _np()
    stages = list(pyloudnorm.Meter(rate)._filters.values())
    sos = np.array([np.r_[np.pad(f.b, (0, 3 - len(f.b))), np.pad(f.a, (0, 3 - len(f.a)))] for f in stages])
    return sos / sos[:, 3:4], float(np.prod([f.passband_gain for f in stages]))


_MEASURE_CHUNK = 1 << 20  # frames filtered at a time: the meter never copies the whole episode


def _step_frames(rate: int) -> int:
    return max(1, round(0.1 * rate))


def _block_powers(x: _Source, rate: int, start: int, stop: int):
    """Mean squares of the K-weighted signal in 400 ms blocks every 100 ms over frames [start, stop),
    channel-weighted and summed (BS.1770-4 eq. 1-4). Filtered chunk by chunk with carried filter state."""
    from scipy.signal import sosfilt

    np = _np()
    step = _step_frames(rate)
    sos, gain = _k_weighting(rate)
    channels = x.channels
    weights = [1.0, 1.0, 1.0, 1.41, 1.41]
    sums = []
    states = [np.zeros((len(sos), 2)) for _ in range(channels)]
    usable = (stop - start) // step * step
    chunk = _MEASURE_CHUNK // step * step or step
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


def _block_labels(frames: int, rate: int, groups: Sequence[Sequence[tuple[int, int]]]):
    """For each block ``_block_powers(x, rate, 0, frames)`` yields, the index of the group whose ranges hold
    all of it, else -1: one pass over the episode then measures every group too (on the episode's block
    grid rather than from each range's own start: a few blocks at the edges of each range differ)."""
    np = _np()
    step = _step_frames(rate)
    labels = np.full(frames // step, -1, dtype=np.int32)
    for g, ranges in enumerate(groups):
        for a, b in ranges:
            labels[-(-a // step):b // step] = g  # the steps lying wholly inside [a, b)
    if len(labels) < 4:
        return labels[:0]
    whole = (labels[:-3] == labels[1:-2]) & (labels[1:-2] == labels[2:-1]) & (labels[2:-1] == labels[3:])
    return np.where(whole, labels[:-3], -1)


def _measure(x: _Source, rate: int, labels=None, count: int = 0) -> tuple[float, list[float], list[float]]:
    """Integrated loudness of ``x`` and of each of ``count`` labelled groups (``_block_labels``), and each
    group's share of the energy of all groups, in one pass."""
    powers = _block_powers(x, rate, 0, len(x))
    energy = [float(powers[labels == g].sum()) for g in range(count)]
    total = sum(energy) or 1.0
    return _gated(powers), [_gated(powers[labels == g]) for g in range(count)], [e / total for e in energy]


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


def _range_powers(x: _Source, rate: int, ranges: Sequence[tuple[int, int]]):
    """Block powers of the frame ``ranges`` of ``x`` taken together (a range shorter than a block has none)."""
    np = _np()
    powers = [_block_powers(x, rate, a, b) for a, b in ranges if b - a >= round(0.4 * rate)]
    return np.concatenate(powers) if powers else np.zeros(0)


def integrated(x, rate: int, ranges: Sequence[tuple[int, int]] | None = None) -> float:
    """BS.1770-4 integrated loudness in LUFS of ``x`` (or of the frame ``ranges`` of it taken together, as if
    joined); -inf for audio that is silent or shorter than one 400 ms block. ``x``: an array or a source."""
    x = _source(x)
    return _gated(_range_powers(x, rate, [(0, len(x))] if ranges is None else ranges))


@functools.lru_cache(maxsize=4)
def _oversampling_filter(dtype: str):
    """resample_poly's own low-pass for 4× (designed once instead of on every call)."""
    from scipy.signal import firwin

    half_len = 10 * OVERSAMPLE
    return firwin(2 * half_len + 1, 1 / OVERSAMPLE, window=("kaiser", 5.0)).astype(dtype)


def _oversampled_peaks(x):
    """Per frame n, the highest absolute value of the 4× oversampled ``x`` in [n, n + 1)."""
    from scipy.signal import resample_poly

    np = _np()
    up = _magnitude(resample_poly(x, OVERSAMPLE, 1, axis=0, window=_oversampling_filter(x.dtype.str)))
    # strided maxima: ~20× faster than reshape(-1, OVERSAMPLE).max(axis=1), which reduces along a short axis
    out = up[0::OVERSAMPLE].copy()
    for phase in range(1, OVERSAMPLE):
        np.maximum(out, up[phase::OVERSAMPLE], out=out)
    return out


def _magnitude(x):
    """Per frame, the largest absolute sample over the channels (1-D; reducing a (n, 1) array along its
    channel axis is several times slower than this)."""
    np = _np()
    out = np.abs(x[:, 0])
    for ch in range(1, x.shape[1]):
        np.maximum(out, np.abs(x[:, ch]), out=out)
    return out


def _frame_peaks(x, floor: float = 0.0):
    """Per frame, the highest absolute value of the 4× oversampled signal around it (and the sample itself).

    Only frames at or above ``floor`` (and their neighbours) are oversampled: an inter-sample peak overshoots
    the samples around it by well under ``_SKIP_MARGIN``, so elsewhere the sample value is the answer to
    every question asked (is it over a ceiling at least ``floor × _SKIP_MARGIN``? can it beat a peak that
    high?). With ``floor`` 0 every frame is oversampled.
    """
    np = _np()
    n = len(x)
    peaks = _magnitude(x)
    hot = np.flatnonzero(peaks >= floor) if floor > 0 else np.arange(n)
    if not len(hot):
        return peaks
    # hot frames less than _MERGE apart are oversampled in one call (a call costs as much as a few thousand
    # frames), in pieces of at most _BLOCK
    breaks = np.flatnonzero(np.diff(hot) > _MERGE)
    firsts, lasts = hot[np.r_[0, breaks + 1]], hot[np.r_[breaks, len(hot) - 1]]
    for first, last in zip(firsts.tolist(), lasts.tolist()):
        for start in range(max(0, first - 2), min(n, last + 3), _BLOCK):
            stop = min(n, last + 3, start + _BLOCK)
            lo, hi = max(0, start - _PAD), min(n, stop + _PAD)
            up = _oversampled_peaks(x[lo:hi])[start - lo:stop - lo]
            # an inter-sample peak lies between this frame and the next: both must come down for it
            np.maximum(peaks[start:stop], up, out=peaks[start:stop])
            nxt = peaks[start + 1:stop + 1]
            np.maximum(nxt, up[:len(nxt)], out=nxt)
    return peaks


def true_peak(x) -> float:
    """True peak in dBTP (4× oversampling) of an array or a source; -inf for silence."""
    np = _np()
    x = _source(x)
    n, peak = len(x), 0.0
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        a, b = max(0, start - _PAD), min(n, stop + _PAD)
        y = x.read(a, b)
        loudest = float(np.abs(y).max(initial=0.0))
        if loudest * _SKIP_MARGIN <= peak:
            continue  # no inter-sample peak here can beat the one found
        peak = max(peak, loudest)
        peak = max(peak, float(_frame_peaks(y, peak / _SKIP_MARGIN)[start - a:stop - a].max(initial=0.0)))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


class _Limited(_Source):
    """``pre`` through the look-ahead limiter: each block's gain is computed from ``pre`` around it, so any
    range can be read in any order and always gives the same frames."""

    def __init__(self, pre: _Source, rate: int, ceiling_db: float):
        self.pre, self.rate = pre, rate
        self.frames, self.channels = pre.frames, pre.channels
        self.ceiling = 10 ** (ceiling_db / 20)
        self.ahead, self.hold = max(1, round(LOOKAHEAD * rate)), max(1, round(HOLD * rate))
        self.lowest = 1.0  # deepest gain applied by any read so far

    def read(self, lo: int, hi: int):
        out = []
        for start in range(lo, hi, _BLOCK):  # bounded temporaries, whatever the caller asks for
            stop = min(hi, start + _BLOCK)
            y, gain = _block_gain(self.pre, start, stop, self.ceiling, self.ahead, self.hold)
            if gain is not None:
                self.lowest = min(self.lowest, float(gain.min()))
                y = y * gain[:, None]
            out.append(y)
        return out[0] if len(out) == 1 else _np().concatenate(out)

    @property
    def reduction_db(self) -> float:
        return 0.0 if self.lowest >= 1.0 else round(-20 * math.log10(self.lowest), 2)


def _block_gain(pre: _Source, start: int, stop: int, ceiling: float, ahead: int, hold: int):
    """(``pre``'s frames [start, stop), the limiter's gain for them or None when none is needed there)."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    np = _np()
    n = len(pre)
    lo, hi = max(0, start - hold - ahead), min(n, stop + ahead)
    a, b = max(0, lo - _PAD), min(n, hi + _PAD)
    y = pre.read(a, b)
    core = y[start - a:stop - a]
    # the padding counts too: a peak between the window's edge and its neighbour moves the gain at the edge
    if float(np.abs(y).max(initial=0.0)) * _SKIP_MARGIN < ceiling:
        return core, None  # far under the ceiling: no inter-sample peak can reach it, so skip the oversampling
    peaks = _frame_peaks(y, ceiling / _SKIP_MARGIN)[lo - a:hi - a]
    need = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-9)).astype(np.float32)
    if need.min() >= 1.0:
        return core, None
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
    return core, gain


def limit(x, rate: int, ceiling_db: float) -> float:
    """Limit the float array ``x`` in place so its true peak stays at or under ``ceiling_db``; returns the
    deepest gain reduction in dB (0.0 when nothing had to change). A block's gain is applied only after the
    next block's gain is known, since that one is computed from the unlimited signal too."""
    limited = _Limited(_Array(x), rate, ceiling_db)
    pending = None
    for start in range(0, len(x), _BLOCK):
        stop = min(len(x), start + _BLOCK)
        _, gain = _block_gain(limited.pre, start, stop, limited.ceiling, limited.ahead, limited.hold)
        if pending is not None:
            x[pending[0]:pending[0] + len(pending[1])] *= pending[1][:, None]
        pending = None if gain is None else (start, gain)
        if gain is not None:
            limited.lowest = min(limited.lowest, float(gain.min()))
    if pending is not None:
        x[pending[0]:pending[0] + len(pending[1])] *= pending[1][:, None]
    return limited.reduction_db


def _write(x: _Source, rate: int) -> Audio:
    """Render a source into new 16-bit PCM, rounded and clipped, block by block."""
    np = _np()
    buffer = bytearray(x.frames * x.channels * SAMPLE_WIDTH)  # handed over as is: no second full-size copy
    out = np.frombuffer(buffer, dtype="<i2").reshape(-1, x.channels)
    for lo in range(0, x.frames, _BLOCK):
        hi = min(x.frames, lo + _BLOCK)
        y = np.rint(x.read(lo, hi) * 32768)
        np.clip(y, -32768, 32767, out=y)
        out[lo:hi] = y
    del out
    return Audio(buffer, rate, x.channels)


def normalize(audio: Audio | list[Audio], groups: Mapping[str, Sequence[tuple[int, int]]], target: float,
              ceiling: float, headroom: float = 0.05) -> tuple[Audio, dict[str, Any]]:
    """Level each group of frame ranges (a speaker's pieces) to the loudness of all of them together, then
    bring the whole to ``target`` LUFS with true peaks limited to ``ceiling - headroom`` dBTP (``_solve``).

    ``audio`` may also be a list of consecutive pieces (same rate and channels), processed as one without
    ever being joined; the list is emptied, so the pieces are freed as soon as the result is written (the
    input and the output are then the only full-length buffers). Returns the new audio and a report.
    """
    if isinstance(audio, list):
        audio, pieces = list(audio), audio
        pieces.clear()
    else:
        audio = [audio]
    rate = audio[0].rate if audio else 24000
    source = _Pcm(audio)
    report: dict[str, Any] = {"target_lufs": target, "true_peak_ceiling_dbtp": ceiling,
                              "input_lufs": _figure(integrated(source, rate)),
                              "input_true_peak_dbtp": _figure(true_peak(source))}
    measured, powers = {}, []
    for name, ranges in groups.items():
        group_powers = _range_powers(source, rate, ranges)
        level = _gated(group_powers)
        if math.isfinite(level):
            measured[name] = level
            powers.append(group_powers)
    names = list(measured) if len(measured) > 1 else []
    reference = _gated(_np().concatenate(powers)) if names else 0.0  # all the speech, as if joined
    gains = [reference - measured[name] for name in names]
    applied, limited, held = _solve(_Pcm(audio), rate, target, ceiling - headroom, [groups[n] for n in names],
                                    gains)
    out = _write(limited, rate)
    del audio, source  # the input PCM goes once ``limited`` does
    final = _Pcm(out)
    report |= {"gain_db": _figure(applied), "limiter_max_reduction_db": limited.reduction_db,
               "integrated_lufs": _figure(integrated(final, rate)), "true_peak_dbtp": _figure(true_peak(final))}
    del limited
    if names:
        report["speakers"] = {name: {"input_lufs": _figure(measured[name]), "gain_db": _figure(gain),
                                     "integrated_lufs": _figure(integrated(final, rate, groups[name]))}
                              for name, gain in zip(names, gains)}
        for g in held:  # see _solve: only a compressor could bring it up further
            report["speakers"][names[g]]["held_by_peaks"] = True
    return out, report


def correct_encoded(fed: Audio, decoded: Audio, report: dict[str, Any], ceiling: float,
                    headroom: float) -> Audio | None:
    """Lossy encoders change loudness (−0.3…−0.6 LU seen with LAME on speech) and overshoot peaks by an
    amount that depends on the material. Given what was fed to the encoder and what its file decodes to,
    return corrected audio to encode once more, or None when the file already meets target and ceiling.
    Records the decoded figures in ``report``."""
    target = report["target_lufs"]
    heard = _Pcm(decoded)
    lufs, peak = integrated(heard, decoded.rate), true_peak(heard)
    del heard
    report["first_encode_lufs"], report["first_encode_true_peak_dbtp"] = _figure(lufs), _figure(peak)
    if not math.isfinite(lufs) or (abs(lufs - target) <= 0.2 and peak <= ceiling):
        return None
    source = _Pcm(fed)
    overshoot = max(0.0, peak - true_peak(source))
    loss = integrated(source, fed.rate) - lufs  # what the encoder takes away, given back in advance
    applied, limited, _ = _solve(source, fed.rate, target + loss, min(ceiling - headroom, ceiling - overshoot - 0.15))
    out = _write(limited, fed.rate)
    report["limiter_max_reduction_db"] = max(report.get("limiter_max_reduction_db", 0.0), limited.reduction_db)
    report["encoder_correction_db"] = _figure(applied)
    return out


def _solve(pre: _Pcm, rate: int, target: float, limiter_ceiling: float,
           groups: Sequence[Sequence[tuple[int, int]]] = (), gains: list[float] | None = None
           ) -> tuple[float, _Limited, list[int]]:
    """Set ``pre``'s gain so that it, limited to ``limiter_ceiling``, measures ``target`` LUFS, and each group
    of frame ranges (a speaker) is within ``_GROUP_AIM`` of the whole, starting from and updating the
    groups' gains in dB (``gains``, in place). Limiting lowers the loudness a little, and a peaky voice more
    than a smooth one, so a few corrections follow, each one pass over the episode that measures the whole
    and every group at once.

    A voice whose peaks stand far above its loudness stops getting louder once the limiter holds it at the
    ceiling: more gain only means deeper limiting. When a voice is found so ("held": its own and the overall
    gain rose and it hardly got louder, or its correction reached ``_SPREAD_DB``), the raise is taken back
    and leveling stops (bringing the others down to it would deepen the limiting of everything for the same
    loudness). Every step is bounded, so the search cannot run away; a group with no whole block on the
    episode's grid keeps its starting gain; the last passes only settle the whole on the target, and the
    pass closest to it is kept. Returns (overall gain dB, the limited source, the indexes of held groups)."""
    gains = [] if gains is None else gains
    first = list(gains)
    labels = _block_labels(len(pre), rate, groups) if groups else None

    def regroup() -> None:
        pre.set_factors([(a, b, 10 ** (g / 20)) for ranges, g in zip(groups, gains) for a, b in ranges])

    regroup()
    level = _measure(pre, rate)[0]
    applied = 0.0
    limited = _Limited(pre, rate, limiter_ceiling)  # reads ``pre`` as it is when read: gains set below apply
    held: list[int] = []
    if not math.isfinite(level):  # too short or silent to measure: the ceiling still holds
        return applied, limited, held
    slope = 1.0  # LU of loudness gained per dB of gain, once the limiter has taken its share
    best: tuple[float, float] | None = None  # (miss in LU, overall gain) of the best pass since the last regroup
    regrouped = False
    last: dict[int, tuple[float, float]] = {}  # per group: (total gain dB, loudness) in the last pass
    first_raise: dict[int, float] = {}  # per group: its gain before the first time it was raised
    for attempt in range(_PASSES):
        change = (target - level) / slope
        if attempt:
            change = max(-_STEP_DB, min(_STEP_DB, change))
        applied += change
        pre.gain = 10 ** (applied / 20)
        limited.lowest = 1.0
        new_level, levels, share = _measure(limited, rate, labels, len(groups))
        if not math.isfinite(new_level):
            break
        if best is None or abs(new_level - target) < best[0]:
            best = (abs(new_level - target), applied)
        # a group with no whole block on the episode's grid (only very short lines) cannot be measured here:
        # it keeps its starting gain. The whole also holds blocks across joins and pauses that no group has,
        # so every group can sit a little above it: voices are moved by how far each is from that common offset
        known = [g for g in range(len(groups)) if math.isfinite(levels[g])]
        off = {g: new_level - levels[g] for g in known}
        common = sum(share[g] * off[g] for g in known)
        dev = {g: off[g] - common for g in known}
        # a voice whose loudness hardly moved while its own gain and the overall gain together rose is held by
        # its peaks: the raise bought nothing but deeper limiting, so it is taken back
        undo = [g for g in known if g in last and g not in held and gains[g] + applied - last[g][0] > 0.5
                and levels[g] - last[g][1] < _HELD * (gains[g] + applied - last[g][0])
                and attempt < _PASSES - 3]
        last = {g: (gains[g] + applied, levels[g]) for g in known}
        if undo:
            held += undo
            for g in undo:
                gains[g] = first_raise.get(g, gains[g])
            regroup()
            level, regrouped, best = new_level, True, None
            continue
        # the last passes only settle the whole on the target: the target is a promise, the spread an aim
        moving = [g for g in known if abs(dev[g]) > _GROUP_AIM] if attempt < _PASSES - 3 and not held else []
        if (abs(new_level - target) <= 0.05 and not moving) or attempt == _PASSES - 1:
            break
        # Peaky speech (the offline voice above all) loses much of each added dB to the limiter; stepping
        # by the observed ratio converges in two or three passes instead of creeping up over eight. After a
        # regroup the change in level is partly the voices' doing: the ratio is not re-estimated from it.
        if change and not regrouped:
            slope = min(_MAX_SLOPE, max(0.2, (new_level - level) / change))
        level, regrouped = new_level, False
        if not moving:
            continue
        wanted = {g: max(-_STEP_DB, min(_STEP_DB, dev[g] / max(slope, 0.5))) for g in moving}
        new = {g: max(first[g] - _SPREAD_DB, min(first[g] + _SPREAD_DB, gains[g] + step))
               for g, step in wanted.items()}
        for g in moving:  # at the end of its range and still too quiet: as good as held by its peaks
            if new[g] == gains[g] and dev[g] > 0:
                held.append(g)
        if held:  # bringing the others down to it would only deepen the limiting of everything
            continue
        # moved together, the groups would also move the whole they are measured against (each by its
        # share): that part is taken out, so regrouping moves voices against each other and only the overall
        # gain moves the whole
        mean = sum(share[g] * (new[g] - gains[g]) for g in new)
        for g in new:
            if new[g] - mean > gains[g]:
                first_raise.setdefault(g, gains[g])
        for g in range(len(groups)):
            gains[g] = max(first[g] - _SPREAD_DB, min(first[g] + _SPREAD_DB, new.get(g, gains[g]) - mean))
        regroup()
        regrouped, best = True, None
    if best is not None and best[1] != applied:  # the last pass overshot one that was closer
        applied = best[1]
        pre.gain = 10 ** (applied / 20)
    limited.lowest = 1.0  # the next full read (the output) finds the deepest reduction again
    return applied, limited, held


def _figure(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


__all__ = ["DEFAULT_TARGET", "DEFAULT_CEILING", "ENCODER_HEADROOM", "integrated", "true_peak", "limit",
           "normalize", "correct_encoded", "to_float", "SAMPLE_WIDTH"]
