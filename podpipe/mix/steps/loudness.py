"""The loudness step: speaker leveling, loudness normalization and true-peak limiting of the stitched episode,
solved by the loudness engine (``podpipe.mix.loudness``) and applied by the exporter on the way to the file.

Imports nothing heavy: the freshness check of every no-op build reads ``LoudnessStep.settings``.
"""

from __future__ import annotations

from typing import Any

from podpipe.compile import CompiledEpisode
from podpipe.mix.context import MixContext, MixStep
from podpipe.formats import FORMATS
from podpipe.mix.loudness import LOUDNESS_VERSION, headroom


class LoudnessStep(MixStep):
    """Speaker leveling, loudness normalization and true-peak limiting of the stitched episode."""

    name = "loudness"
    needs_figures = True

    def settings(self, compiled: CompiledEpisode) -> Any:
        out = compiled.episode.output
        if out.loudness is None:
            return None
        return {"version": LOUDNESS_VERSION, "target": out.loudness, "true_peak": out.true_peak,
                "headroom": headroom(compiled.rundown.format)}

    def process(self, ctx: MixContext) -> None:
        out = ctx.compiled.episode.output
        if out.loudness is None:
            return
        from podpipe.mix.loudness.episode import level, speaker_ranges

        fmt = FORMATS.get(ctx.compiled.rundown.format)
        ctx.leveling = level(ctx, speaker_ranges(ctx), out.loudness, out.true_peak,
                             headroom(ctx.compiled.rundown.format), fmt.encoder_shift if fmt else 0.0)
        ctx.step_records[self.name] = ctx.leveling.record  # the exporter completes it once the file is metered
