"""The loudness of one episode: its figures assembled from its pieces, the gains solved on them
(``model``), and the correction when the written file misses the target (``Leveling.correct``).

A speech piece brings its render's stored figures (``MixContext.figures``); only what the stitch or a later
step changed (sounds, crossfades, music beds) and renders without figures are measured from the audio here.
A lossy encoder takes a little loudness away; the format's ``encoder_shift`` gives it back in advance, so
the file is written once. The exporter measures what it wrote (ffmpeg's own meter, on the decoded stream)
and encodes a second time only when that still misses the target by more than ``TOLERANCE`` or passes the
ceiling.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podpipe.audio_types import Audio
from podpipe.compile import SilencePiece, SpeechPiece
from podpipe.mix.context import MixContext
from podpipe.mix.loudness.blocks import GainCurve, PcmSource
from podpipe.mix.loudness.figures import analyze_range, place, window_edges
from podpipe.mix.loudness.model import Model, block_powers, gated, solve

TOLERANCE = 0.3  # LU: a written file further than this from the target is encoded once more
PEAK_MARGIN = 0.15  # dB more headroom for the second encode than the first one overshot by


def episode_figures(ctx: MixContext) -> tuple[Any, Any]:
    """(energy, peak) per 10 ms window of the episode as it stands in ``ctx`` (before any gain)."""
    import numpy as np

    rate, frames = ctx.rate, ctx.frames
    n = len(window_edges(rate, frames)) - 1
    energy, peak = np.zeros(n), np.zeros(n, dtype=np.float32)
    measure: list[tuple[int, int]] = []
    for placed in ctx.pieces:
        a, b = round(placed.start * rate), round(placed.end * rate)
        if b <= a or isinstance(placed.piece, SilencePiece):
            continue
        figures = ctx.figures.get(placed.piece.key) if isinstance(placed.piece, SpeechPiece) else None
        if figures is None or any(a < tb and ta < b for ta, tb in ctx.touched):
            measure.append((a, b))
        else:
            place(energy, peak, figures, placed.start)
    source = PcmSource([Audio(c, rate, ctx.channels) for c in ctx.chunks if c])
    for a, b in merged(measure + [(max(0, ta), min(frames, tb)) for ta, tb in ctx.touched]):
        place(energy, peak, analyze_range(lambda lo, hi, a=a: source.read(a + lo, a + hi), b - a, rate), a / rate)
    for more_energy, more_peak in ctx.layers:  # beds: energies add, peaks add at worst
        energy += more_energy
        peak += more_peak
    return energy, peak


def merged(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(r for r in ranges if r[1] > r[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


@dataclass
class Leveling:
    """Everything needed to solve the episode's gains again: the model, the target, what the encoder is
    expected to take, the starting leveling gains, and the latest solution (``curve``)."""

    model: Model
    names: list[str]
    groups: list[Sequence[tuple[int, int]]]
    target: float
    ceiling: float  # dBTP: the promise
    headroom: float  # dB the limiter stays under it for this format
    shift: float  # LU the encoder is expected to take away
    start_gains: list[float]
    record: dict[str, Any] = field(default_factory=dict)  # what the manifest says under steps.loudness
    curve: GainCurve | None = None
    held: list[int] = field(default_factory=list)
    gains: list[float] = field(default_factory=list)
    predicted: tuple[float, list[float]] = (-math.inf, [])

    def solve(self, aim: float) -> GainCurve:
        gains = list(self.start_gains)
        applied, held, knots = solve(self.model, aim, gains)
        level, levels, _, _ = self.model.evaluate(applied, gains)
        self.gains, self.held, self.predicted = gains, held, (level, levels)
        rate = self.model.rate
        factors = tuple((a, b, 10 ** (g / 20)) for ranges, g in zip(self.groups, gains) for a, b in ranges)
        self.curve = GainCurve(rate, self.model.frames, 10 ** (applied / 20), factors, knots)
        self.record |= {"gain_db": rounded(applied),
                        "limiter_max_reduction_db": round(-20 * math.log10(max(self.curve.deepest, 1e-9)), 2)}
        return self.curve

    def correct(self, lufs: float, peak: float) -> GainCurve | None:
        """Given the loudness and true peak of the file written with ``curve``, a corrected curve to write once
        more, or None when the file meets target and ceiling."""
        self.record["first_encode_lufs"], self.record["first_encode_true_peak_dbtp"] = rounded(lufs), rounded(peak)
        if not math.isfinite(lufs) or (abs(lufs - self.target) <= TOLERANCE and peak <= self.ceiling):
            return None
        # what the encoder really took: the model's loudness for what was fed against the file's
        fed = self.predicted[0]
        self.shift = fed - lufs if math.isfinite(fed) else self.shift + self.target - lufs
        over = max(0.0, peak - self.ceiling)
        self.model.ceiling *= 10 ** (-(over + PEAK_MARGIN if over else 0.0) / 20)
        curve = self.solve(self.target + self.shift)
        self.record["encoder_correction_db"] = rounded(self.target - lufs)
        return curve

    def finish(self, lufs: float, peak: float) -> dict[str, Any]:
        """The record, completed (in place) with the written file's figures."""
        self.record |= {"integrated_lufs": rounded(lufs), "true_peak_dbtp": rounded(peak)}
        level, levels = self.predicted
        if self.names:
            # the file is measured whole; each speaker's loudness is the model's, moved by the model's miss
            miss = lufs - level if math.isfinite(lufs) and math.isfinite(level) else 0.0
            speakers = self.record["speakers"]
            for i, name in enumerate(self.names):
                speakers[name] |= {"gain_db": rounded(self.gains[i]), "integrated_lufs": rounded(levels[i] + miss)}
                speakers[name].pop("held_by_peaks", None)
            for g in self.held:
                speakers[self.names[g]]["held_by_peaks"] = True
        return self.record


def level(ctx: MixContext, groups: Mapping[str, Sequence[tuple[int, int]]], target: float, ceiling: float,
          headroom: float, shift: float) -> Leveling:
    """Solve the loudness of the episode in ``ctx``: speakers (``groups`` of frame ranges) leveled to each
    other, the whole at ``target`` LUFS, true peaks ``headroom`` dB under ``ceiling``."""
    energy, peak = episode_figures(ctx)
    names = list(groups)
    everyone = Model(energy, peak, ctx.rate, ctx.frames, [groups[n] for n in names], ceiling - headroom,
                     ctx.out_channels)
    whole, levels = everyone.input_levels()
    measured = {n: lv for n, lv in zip(names, levels) if math.isfinite(lv)}
    names = [n for n in names if n in measured] if len(measured) > 1 else []
    model = Model(energy, peak, ctx.rate, ctx.frames, [groups[n] for n in names], ceiling - headroom,
                  ctx.out_channels) if names != list(groups) else everyone
    powers = block_powers(energy * ctx.out_channels)
    reference = gated(powers[model.block_label >= 0]) if names else 0.0  # all the speech, as if joined
    leveling = Leveling(model, names, [groups[n] for n in names], target, ceiling, headroom, shift,
                        [reference - measured[n] for n in names])
    top = float(peak.max(initial=0.0))
    leveling.record = {"target_lufs": target, "true_peak_ceiling_dbtp": ceiling, "input_lufs": rounded(whole),
                       "input_true_peak_dbtp": rounded(20 * math.log10(top) if top > 0 else -math.inf)}
    if names:
        leveling.record["speakers"] = {n: {"input_lufs": rounded(measured[n])} for n in names}
    leveling.solve(target + shift)
    return leveling


def speaker_ranges(ctx: MixContext) -> dict[str, list[tuple[int, int]]]:
    """Frame ranges (at the stitch rate) of each speaker: what leveling levels to each other."""
    groups: dict[str, list[tuple[int, int]]] = {}
    rate = ctx.rate  # pieces were placed at the stitch rate; the audio may have been resampled since
    for placed in ctx.pieces:
        p = placed.piece
        if not isinstance(p, SpeechPiece):
            continue
        if placed.bounds_method == "text":  # turns not found in the audio: level the render as a whole
            groups.setdefault(" & ".join(p.speakers), []).append(
                (round(placed.start * rate), round(placed.end * rate)))
            continue
        # each turn of a dialogue render goes to its speaker: voices come out of one render at
        # different levels too (the pause between two turns is split between them, and gated out)
        for a, b, turn in placed.turn_spans():
            groups.setdefault(turn.speaker, []).append((round(a * rate), round(b * rate)))
    return groups


def held_notes(record: Mapping[str, Any], where: str) -> list[str]:
    """What to tell the author about speakers the limiter held at their peaks, from the finished ``record``
    of episode ``where`` (its file name)."""
    episode = record.get("integrated_lufs")
    notes = []
    for name, speaker in record.get("speakers", {}).items():
        under = None if episode is None or speaker["integrated_lufs"] is None \
            else episode - speaker["integrated_lufs"]
        if speaker.get("held_by_peaks") and under is not None and under > 1.0:
            notes.append(
                f"{where}: speaker {name} ends {under:.1f} LU under the episode: "
                "the peaks of the voice stand too far above its loudness for the limiter to bring it up "
                "(see steps.loudness in the manifest); compress it before podpipe or choose another voice")
    return notes


def rounded(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None
