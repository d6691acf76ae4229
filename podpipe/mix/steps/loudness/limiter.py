"""The offline look-ahead true-peak limiter.

The gain each sample needs to stay under the ceiling is held for ``HOLD`` seconds after a peak and ramped
in over ``LOOKAHEAD`` seconds before it (a moving average of the held minimum, which can never exceed what
any sample needs), so the gain moves smoothly around peaks and does not pump between words. Each block's
gain is computed from the unlimited signal around it, so any range reads the same frames in any order.
"""

from __future__ import annotations

import math

from podpipe.mix.steps.loudness import blocks
from podpipe.mix.steps.loudness.blocks import ArraySource, Source
from podpipe.mix.steps.loudness.meter import PAD, SKIP_MARGIN, frame_peaks

LOOKAHEAD = 0.005  # seconds the gain ramps down before a peak
HOLD = 0.060  # seconds the gain stays down after a peak before it ramps back up


class Limited(Source):
    """``pre`` through the look-ahead limiter: each block's gain is computed from ``pre`` around it, so any
    range can be read in any order and always gives the same frames."""

    def __init__(self, pre: Source, rate: int, ceiling_db: float):
        self.pre, self.rate = pre, rate
        self.frames, self.channels = pre.frames, pre.channels
        self.ceiling = 10 ** (ceiling_db / 20)
        self.ahead, self.hold = max(1, round(LOOKAHEAD * rate)), max(1, round(HOLD * rate))
        self.lowest = 1.0  # deepest gain applied by any read so far

    def read(self, lo: int, hi: int):
        import numpy as np

        out = []
        for start in range(lo, hi, blocks.BLOCK):  # bounded temporaries, whatever the caller asks for
            stop = min(hi, start + blocks.BLOCK)
            y, gain = block_gain(self.pre, start, stop, self.ceiling, self.ahead, self.hold)
            if gain is not None:
                self.lowest = min(self.lowest, float(gain.min()))
                y = y * gain[:, None]
            out.append(y)
        return out[0] if len(out) == 1 else np.concatenate(out)

    @property
    def reduction_db(self) -> float:
        return 0.0 if self.lowest >= 1.0 else round(-20 * math.log10(self.lowest), 2)


def block_gain(pre: Source, start: int, stop: int, ceiling: float, ahead: int, hold: int):
    """(``pre``'s frames [start, stop), the limiter's gain for them or None when none is needed there)."""
    import numpy as np
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    n = len(pre)
    lo, hi = max(0, start - hold - ahead), min(n, stop + ahead)
    a, b = max(0, lo - PAD), min(n, hi + PAD)
    y = pre.read(a, b)
    core = y[start - a:stop - a]
    # the padding counts too: a peak between the window's edge and its neighbour moves the gain at the edge
    if float(np.abs(y).max(initial=0.0)) * SKIP_MARGIN < ceiling:
        return core, None  # far under the ceiling: no inter-sample peak can reach it, so skip the oversampling
    peaks = frame_peaks(y, ceiling / SKIP_MARGIN)[lo - a:hi - a]
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
    limited = Limited(ArraySource(x), rate, ceiling_db)
    pending = None
    for start in range(0, len(x), blocks.BLOCK):
        stop = min(len(x), start + blocks.BLOCK)
        _, gain = block_gain(limited.pre, start, stop, limited.ceiling, limited.ahead, limited.hold)
        if pending is not None:
            x[pending[0]:pending[0] + len(pending[1])] *= pending[1][:, None]
        pending = None if gain is None else (start, gain)
        if gain is not None:
            limited.lowest = min(limited.lowest, float(gain.min()))
    if pending is not None:
        x[pending[0]:pending[0] + len(pending[1])] *= pending[1][:, None]
    return limited.reduction_db

