"""Leveling, normalizing and limiting solved from the episode's figures (``figures``), without touching audio;
loudness per ITU-R BS.1770-4 (``block_powers`` then ``gated``), mono measured as mono, as ffmpeg's ``ebur128`` does.

``Model`` holds the episode as 10 ms windows (K-weighted energy, true peak, which speaker) and predicts,
for an overall gain and per-speaker gains, what the look-ahead limiter will do and how loud the result is:
a window's peak times its gain over the ceiling is what the limiter must take off there, held for
``HOLD_WINDOWS`` after and ramped in ``AHEAD_WINDOWS`` before; the window's energy is scaled by the mean
square of that gain ramp. ``solve`` searches the gains as the old audio-reading solver did, pass after pass,
each pass now a few array operations instead of a pass over the episode. ``blocks.GainCurve`` then applies the
result to the samples, with exactly the limiter gains the model assumed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from podpipe.mix.loudness.figures import WINDOWS_PER_SECOND, first_window, window_edges

HOLD_WINDOWS = 6  # 60 ms: the gain stays down after a peak, so it does not pump between words
AHEAD_WINDOWS = 1  # 10 ms: and ramps down before it
STEP_WINDOWS = WINDOWS_PER_SECOND // 10  # BS.1770's 100 ms step; its 400 ms block is four steps

# Leveling aims each speaker this close to the episode (the promise is 1 LU), within at most PASSES passes.
GROUP_AIM = 0.25
PASSES = 12
STEP_DB = 6.0  # largest change of any gain from one pass to the next, after the first
SPREAD_DB = 12.0  # largest correction of a speaker's leveling gain
MAX_SLOPE = 1.5
HELD = 0.1  # a speaker raised by 1 dB that gains less than this many LU on the others is held by its peaks


class Model:
    """The episode's windows (``energy``, ``peak`` per 10 ms at ``rate``/``frames``), the frame ranges of
    each leveling group (speaker), the limiter's ceiling (dBTP) and the output's channel count (mono speech
    duplicated into two channels measures 3 LU louder)."""

    def __init__(self, energy: Any, peak: Any, rate: int, frames: int,
                 groups: Sequence[Sequence[tuple[int, int]]], ceiling_db: float, channels: int = 1):
        import numpy as np

        self.energy, self.peak, self.rate, self.frames = energy, peak, rate, frames
        self.ceiling = 10 ** (ceiling_db / 20)
        self.channels = channels
        self.count = len(groups)
        edges = window_edges(rate, frames)
        n = len(edges) - 1
        mids = (edges[:-1] + edges[1:]) // 2
        label = np.full(n, -1, dtype=np.int64)
        covered = np.zeros(n, dtype=np.int64)
        touch_w, touch_g = [], []
        for g, ranges in enumerate(groups):
            for a, b in ranges:
                if b <= a:
                    continue
                ws = np.arange(first_window(a, rate), min(n, first_window(b - 1, rate) + 1))
                m = mids[ws]
                label[ws[(m >= a) & (m < b)]] = g
                covered[ws] += np.minimum(b, edges[ws + 1]) - np.maximum(a, edges[ws])
                touch_w.append(ws)
                touch_g.append(np.full(len(ws), g))
        self.label = label
        # a window with any frame outside every group is also scaled by the overall gain alone
        self.outside = np.where(covered < np.diff(edges), 1.0, 0.0)
        self.touch_w = np.concatenate(touch_w) if touch_w else np.zeros(0, dtype=np.int64)
        self.touch_g = np.concatenate(touch_g) if touch_g else np.zeros(0, dtype=np.int64)
        # the groups' blocks: those whose 400 ms lie wholly in one group (BS.1770 measures blocks, not frames)
        usable = n // STEP_WINDOWS * STEP_WINDOWS
        steps = label[:usable].reshape(-1, STEP_WINDOWS)
        step_label = np.where((steps == steps[:, :1]).all(axis=1), steps[:, 0], -1)
        if len(step_label) >= 4:
            same = (step_label[:-3] == step_label[1:-2]) & (step_label[1:-2] == step_label[2:-1]) \
                & (step_label[2:-1] == step_label[3:])
            self.block_label = np.where(same, step_label[:-3], -1)
        else:
            self.block_label = np.zeros(0, dtype=np.int64)

    def limiter(self, gain: float, factors: Any) -> Any:
        """The limiter's gain at the start of every window (its knots), for overall ``gain`` and per-group
        ``factors`` (linear): at most what the window and its neighbours within the hold allow."""
        import numpy as np
        from numpy.lib.stride_tricks import sliding_window_view

        scale = self.outside.copy()
        if len(self.touch_w):
            np.maximum.at(scale, self.touch_w, factors[self.touch_g])
        with np.errstate(divide="ignore"):
            need = np.minimum(1.0, self.ceiling / np.maximum(self.peak * scale * gain, 1e-12))
        padded = np.concatenate([np.ones(HOLD_WINDOWS), need, np.ones(AHEAD_WINDOWS)])
        return sliding_window_view(padded, HOLD_WINDOWS + AHEAD_WINDOWS + 1).min(axis=1)

    def evaluate(self, gain_db: float, gains_db: Sequence[float]) -> tuple[float, list[float], list[float], Any]:
        """(loudness of the whole, of each group, each group's share of the groups' energy, the limiter's
        knots) for overall and group gains in dB."""
        import numpy as np

        factors = 10 ** (np.asarray(list(gains_db) or [0.0], dtype=np.float64) / 20)
        gain = 10 ** (gain_db / 20)
        knots = self.limiter(gain, factors)
        after = np.append(knots[1:], knots[-1:])
        ramp = (knots * knots + knots * after + after * after) / 3  # mean square of a linear ramp
        static = np.where(self.label >= 0, factors[np.maximum(self.label, 0)], 1.0) * gain
        energy = self.energy * static * static * ramp * self.channels
        powers = block_powers(energy)
        share = [float(powers[self.block_label == g].sum()) for g in range(self.count)]
        total = sum(share) or 1.0
        return (gated(powers), [gated(powers[self.block_label == g]) for g in range(self.count)],
                [s / total for s in share], knots)

    def input_levels(self) -> tuple[float, list[float]]:
        """Loudness of the whole and of each group as stitched (no gain, no limiter)."""
        powers = block_powers(self.energy * self.channels)
        return gated(powers), [gated(powers[self.block_label == g]) for g in range(self.count)]


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


def block_powers(energy: Any) -> Any:
    """BS.1770's 400 ms block powers every 100 ms from 10 ms window energies (mean square × seconds)."""
    usable = len(energy) // STEP_WINDOWS * STEP_WINDOWS
    steps = energy[:usable].reshape(-1, STEP_WINDOWS).sum(axis=1)
    if len(steps) < 4:
        return steps[:0]
    return (steps[:-3] + steps[1:-2] + steps[2:-1] + steps[3:]) / (4 * STEP_WINDOWS / WINDOWS_PER_SECOND)


def solve(model: Model, target: float, gains: list[float]) -> tuple[float, list[int], Any]:
    """Set the overall gain so the limited episode measures ``target`` LUFS and move each group's gain in dB
    (``gains``, in place) until it is within ``GROUP_AIM`` of the whole. Returns (overall gain dB, the
    indexes of groups held by their peaks, the limiter's knots).

    Limiting lowers the loudness a little, and a peaky voice more than a smooth one, so corrections follow.
    A voice whose peaks stand far above its loudness stops getting louder once the limiter holds it at the
    ceiling: when a voice is found so ("held": its own and the overall gain rose and it hardly got louder,
    or its correction reached ``SPREAD_DB``), the raise is taken back and leveling stops (bringing the
    others down to it would deepen the limiting of everything for the same loudness). Every step is
    bounded, so the search cannot run away; a group with no whole block keeps its starting gain; the last
    passes only settle the whole on the target, and the pass closest to it is kept."""
    first = list(gains)
    count = model.count
    held: list[int] = []
    level = model.evaluate(0.0, gains)[0]
    applied = 0.0
    if not math.isfinite(level):  # too short or silent to measure: the ceiling still holds
        return applied, held, model.evaluate(applied, gains)[3]
    slope = 1.0  # LU of loudness gained per dB of gain, once the limiter has taken its share
    best: tuple[float, float, list[float]] | None = None  # (miss in LU, overall gain, group gains)
    regrouped = False
    last: dict[int, tuple[float, float]] = {}
    first_raise: dict[int, float] = {}
    for attempt in range(PASSES):
        change = (target - level) / slope
        if attempt:
            change = max(-STEP_DB, min(STEP_DB, change))
        applied += change
        new_level, levels, share, _ = model.evaluate(applied, gains)
        if not math.isfinite(new_level):
            break
        if best is None or abs(new_level - target) < best[0]:
            best = (abs(new_level - target), applied, list(gains))
        known = [g for g in range(count) if math.isfinite(levels[g])]
        off = {g: new_level - levels[g] for g in known}
        common = sum(share[g] * off[g] for g in known)
        dev = {g: off[g] - common for g in known}
        undo = [g for g in known if g in last and g not in held and gains[g] + applied - last[g][0] > 0.5
                and levels[g] - last[g][1] < HELD * (gains[g] + applied - last[g][0])
                and attempt < PASSES - 3]
        last = {g: (gains[g] + applied, levels[g]) for g in known}
        if undo:
            held += undo
            for g in undo:
                gains[g] = first_raise.get(g, gains[g])
            level, regrouped, best = new_level, True, None
            continue
        moving = [g for g in known if abs(dev[g]) > GROUP_AIM] if attempt < PASSES - 3 and not held else []
        if (abs(new_level - target) <= 0.02 and not moving) or attempt == PASSES - 1:
            break
        if change and not regrouped:
            slope = min(MAX_SLOPE, max(0.2, (new_level - level) / change))
        level, regrouped = new_level, False
        if not moving:
            continue
        wanted = {g: max(-STEP_DB, min(STEP_DB, dev[g] / max(slope, 0.5))) for g in moving}
        new = {g: max(first[g] - SPREAD_DB, min(first[g] + SPREAD_DB, gains[g] + step))
               for g, step in wanted.items()}
        for g in moving:  # at the end of its range and still too quiet: as good as held by its peaks
            if new[g] == gains[g] and dev[g] > 0:
                held.append(g)
        if held:
            continue
        # moved together, the groups would also move the whole they are measured against (each by its
        # share): that part is taken out, so regrouping moves voices against each other
        mean = sum(share[g] * (new[g] - gains[g]) for g in new)
        for g in new:
            if new[g] - mean > gains[g]:
                first_raise.setdefault(g, gains[g])
        for g in range(count):
            gains[g] = max(first[g] - SPREAD_DB, min(first[g] + SPREAD_DB, new.get(g, gains[g]) - mean))
        regrouped, best = True, None
    if best is not None and best[1] != applied:  # the last pass overshot one that was closer
        applied = best[1]
        gains[:] = best[2]
    return applied, held, model.evaluate(applied, gains)[3]
