"""The solved loudness applied to the samples, block by block on their way to the file: the overall gain,
each speaker's leveling gain over its frame ranges, and the limiter's gain ramped linearly between its
knots (one per 10 ms window, ``model.Model.limiter``).

A ramp between two knots never exceeds either, and each knot is at most what its own window and the next
one need (the hold covers the window before), so no window's true peak passes the ceiling. The episode is
read as its stitched 16-bit pieces and written as 16-bit blocks: nothing full-length is allocated here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from podpipe.audio_types import Audio
from podpipe.mix.steps.loudness.blocks import BLOCK, PcmSource
from podpipe.mix.steps.loudness.figures import first_window, window_edges


@dataclass(frozen=True, eq=False)
class GainPlan:
    rate: int
    frames: int
    gain: float  # overall, linear
    factors: tuple[tuple[int, int, float], ...]  # (first frame, end frame, linear gain) of each speaker's range
    knots: Any  # the limiter's gain at the start of each 10 ms window

    @property
    def deepest(self) -> float:
        return float(self.knots.min(initial=1.0))


def apply(plan: GainPlan, pieces: Sequence[Audio]) -> Iterator[bytes]:
    """The episode's PCM (its stitched ``pieces``) with ``plan`` applied, as 16-bit blocks."""
    import numpy as np

    source = PcmSource(pieces, plan.gain, plan.factors)
    edges = window_edges(plan.rate, plan.frames)
    knots = np.append(plan.knots, plan.knots[-1:])  # the last window holds its gain to the end
    for lo in range(0, plan.frames, BLOCK):
        hi = min(plan.frames, lo + BLOCK)
        y = source.read(lo, hi)
        a, b = first_window(lo, plan.rate), first_window(hi - 1, plan.rate) + 1
        if knots[a:b + 1].min() < 1.0:
            ramp = np.interp(np.arange(lo, hi), edges[a:b + 1], knots[a:b + 1]).astype(np.float32)
            y = y * ramp[:, None]
        y = np.rint(y * 32768)
        np.clip(y, -32768, 32767, out=y)
        yield y.astype("<i2").tobytes()
