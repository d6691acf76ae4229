"""Broadcast loudness: level the speakers to each other, normalize the episode to an integrated target and
keep true peaks under a ceiling.

The work is split by job: ``filters`` (K-weighting and 4× oversampling in numpy), ``figures`` (audio reduced
to K-weighted energy and true peak per 10 ms, kept with each render in the cache), ``meter`` (BS.1770-4
gating), ``model`` (leveling, normalizing and the look-ahead limiter solved on figures alone), ``gains``
(the solution applied to the samples on their way to the file), ``blocks`` (the stitched pieces read as
float blocks, never joined) and ``episode`` (one episode's figures, solution and correction after the
encode). This package's own module holds only the settings and the step, and imports nothing heavy: the
freshness check of every no-op build reads ``LoudnessStep.settings``. numpy is imported by the submodules,
only when a mix runs.
"""

from __future__ import annotations

from typing import Any

from podpipe.compile import CompiledEpisode, SpeechPiece
from podpipe.formats import FORMATS
from podpipe.mix.context import MixContext, MixStep

LOUDNESS_VERSION = 4  # bump when the same settings would give different audio


def headroom(fmt: str) -> float:
    """dB the limiter stays under the ceiling for format ``fmt`` (see ``formats.Format.headroom``)."""
    found = FORMATS.get(fmt)
    return found.headroom if found else 0.0


class LoudnessStep(MixStep):
    """Speaker leveling, loudness normalization and true-peak limiting of the stitched episode."""

    name = "loudness"
    needs_figures = True

    def settings(self, compiled: CompiledEpisode) -> Any:
        out = compiled.episode.output
        if out.loudness is None:
            return None
        return {"version": LOUDNESS_VERSION, "target": out.loudness, "true_peak": out.true_peak,
                "headroom": headroom(compiled.plan.format)}

    def process(self, ctx: MixContext) -> None:
        out = ctx.compiled.episode.output
        if out.loudness is None:
            return
        from podpipe.mix.steps.loudness.episode import level

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
        fmt = FORMATS.get(ctx.compiled.plan.format)
        ctx.leveling = level(ctx, groups, out.loudness, out.true_peak, headroom(ctx.compiled.plan.format),
                             fmt.encoder_shift if fmt else 0.0)
        ctx.report[self.name] = ctx.leveling.report


def held_notes(ctx: MixContext) -> list[str]:
    """What to tell the author about speakers the limiter held at their peaks, once the file is measured."""
    report = ctx.report.get(LoudnessStep.name) or {}
    episode = report.get("integrated_lufs")
    notes = []
    for name, figures in report.get("speakers", {}).items():
        under = None if episode is None or figures["integrated_lufs"] is None \
            else episode - figures["integrated_lufs"]
        if figures.get("held_by_peaks") and under is not None and under > 1.0:
            notes.append(
                f"{ctx.compiled.episode.path.name}: speaker {name} ends {under:.1f} LU under the episode: "
                "the peaks of the voice stand too far above its loudness for the limiter to bring it up "
                "(see steps.loudness in the manifest); compress it before podpipe or choose another voice")
    return notes
