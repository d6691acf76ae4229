"""A piece of audio reduced to what loudness needs of it: per 10 ms window, the K-weighted energy and the
true peak (``Figures``). Leveling, normalizing and the limiter are solved from these figures alone
(``model``); only the final pass over the episode reads samples (``gains``).

A render's figures are a property of the render: the mix computes them once, when it first meets the
render, and keeps them beside the cache entry (``to_record``/``from_record``, under ``ANALYSIS_VERSION``),
so a re-mix reads no render's audio for analysis. Figures are rate-free: energy is the mean square times
seconds, so pieces at different rates add up, and window ``i`` of a piece starting at ``t`` seconds lands
in the episode's window ``floor(100 t) + i``.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podpipe.audio_types import Audio

WINDOWS_PER_SECOND = 100
ANALYSIS_VERSION = 2  # bump when the same audio would give other figures
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # BS.1770-4: L, R, C, Ls, Rs
CHUNK_WINDOWS = 3000  # 30 s per pass over a long range: bounded temporaries
WARMUP = 0.2  # seconds the K-weighting runs before each pass (its response dies out within ~0.06 s)


def window_edges(rate: int, frames: int):
    """Frame edges of the 10 ms windows of ``frames`` frames at ``rate``: window w is [e[w], e[w + 1]); the
    last window may be short."""
    import numpy as np

    count = max(1, -(-frames * WINDOWS_PER_SECOND // rate))
    # window w starts at the first frame at or after w × 10 ms, so ``first_window`` (a floor) agrees at any rate
    edges = (np.arange(count + 1, dtype=np.int64) * rate + WINDOWS_PER_SECOND - 1) // WINDOWS_PER_SECOND
    while count > 1 and edges[count - 1] >= frames:  # rounding can leave the last window empty: none then
        count -= 1
    edges = edges[:count + 1]
    edges[-1] = frames
    return edges


@dataclass(frozen=True, eq=False)
class Figures:
    rate: int
    frames: int
    energy: Any  # float64 per window: channel-weighted sum of the K-weighted signal squared, / rate
    peak: Any  # float32 per window: the largest magnitude of the 4× oversampled signal

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def analyze(audio: Audio) -> Figures:
    """The figures of 16-bit ``audio``."""
    import numpy as np

    x = np.frombuffer(audio.pcm, dtype="<i2").reshape(-1, audio.channels)
    return analyze_array(x, audio.rate, 1 / 32768)


def analyze_array(x: Any, rate: int, scale: float = 1.0) -> Figures:
    """The figures of ``x`` (frames × channels, any numeric type), full scale at ``1 / scale``."""
    return analyze_range(lambda lo, hi: x[lo:hi], len(x), rate, scale)


def analyze_range(read: Callable[[int, int], Any], frames: int, rate: int, scale: float = 1.0) -> Figures:
    """The figures of ``frames`` frames that ``read(lo, hi)`` returns (frames × channels) in passes of
    ``CHUNK_WINDOWS`` windows, so a long range is never held whole as floats. Each pass also reads what the
    filters need before and after it, so the result does not depend on where the passes fall."""
    import numpy as np

    from podpipe.mix.loudness.filters import HALF_TAPS, frame_peaks, k_weight

    edges = window_edges(rate, frames)
    count = len(edges) - 1
    energy = np.zeros(count)
    peak = np.zeros(count, dtype=np.float32)
    warm = max(HALF_TAPS, round(WARMUP * rate))
    for w0 in range(0, count if frames else 0, CHUNK_WINDOWS):
        w1 = min(count, w0 + CHUNK_WINDOWS)
        lo, hi = int(edges[w0]), int(edges[w1])
        before, after = min(lo, warm), min(frames - hi, HALF_TAPS)
        x = read(lo - before, hi + after)
        starts = edges[w0:w1] - lo
        for ch in range(x.shape[1]):
            signal = x[:, ch].astype(np.float64) * scale
            y = k_weight(signal, rate)[before:before + hi - lo]
            energy[w0:w1] += CHANNEL_WEIGHTS[min(ch, 4)] * np.add.reduceat(y * y, starts) / rate
            peaks = frame_peaks(signal)[before:before + hi - lo]
            np.maximum(peak[w0:w1], np.maximum.reduceat(peaks, starts), out=peak[w0:w1])
    return Figures(rate, frames, energy, peak)


def to_record(figures: Figures) -> dict[str, Any]:
    return {"version": ANALYSIS_VERSION, "rate": figures.rate, "frames": figures.frames,
            "energy": base64.b64encode(figures.energy.astype("<f8").tobytes()).decode("ascii"),
            "peak": base64.b64encode(figures.peak.astype("<f4").tobytes()).decode("ascii")}


def from_record(record: Any, rate: int, frames: int) -> Figures | None:
    """The figures in ``record`` when it is a record of this version for audio of ``rate`` and ``frames``,
    else None (recompute: never trust what does not check out)."""
    import numpy as np

    try:
        if record.get("version") != ANALYSIS_VERSION or (record["rate"], record["frames"]) != (rate, frames):
            return None
        energy = np.frombuffer(base64.b64decode(record["energy"], validate=True), dtype="<f8")
        peak = np.frombuffer(base64.b64decode(record["peak"], validate=True), dtype="<f4")
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    count = len(window_edges(rate, frames)) - 1
    if len(energy) != count or len(peak) != count or not (np.isfinite(energy).all() and np.isfinite(peak).all()) \
            or (energy < 0).any() or (peak < 0).any():
        return None
    return Figures(rate, frames, energy, peak)


def first_window(frame: int, rate: int) -> int:
    """The episode window that holds ``frame`` (at ``rate``)."""
    return frame * WINDOWS_PER_SECOND // rate


def place(energy: Any, peak: Any, figures: Figures, start: float) -> None:
    """Add ``figures`` of a piece starting ``start`` seconds into the episode to the episode's ``energy``
    and ``peak`` arrays. A piece's window rarely lines up with the episode's: its energy goes to the window
    it starts in, its peak to both windows it overlaps (so the limiter never misses it)."""
    import numpy as np

    offset = start * WINDOWS_PER_SECOND
    index = np.floor(offset + np.arange(len(figures.energy))).astype(np.int64)
    index = np.minimum(index, len(energy) - 1)
    np.add.at(energy, index, figures.energy)
    np.maximum.at(peak, index, figures.peak)
    if not math.isclose(offset, round(offset), abs_tol=1e-9):
        np.maximum.at(peak, np.minimum(index + 1, len(peak) - 1), figures.peak)
