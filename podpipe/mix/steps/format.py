"""The output's sample rate and channel count, set on the stitched audio before anything measures it, so
the loudness and true peak reported are those of the file written.

The rate comes from the spec, else from the format's row in ``formats.FORMATS`` (44.1 kHz for MP3, 48 kHz
for Opus, …), else the speech's. Resampling uses ffmpeg's filtered resampler (linear interpolation would
leave audible images at 44.1 kHz). Speech alone is converted by the exporter's ffmpeg on the way to the file:
every pass before it then runs at the speech's rate, on half the frames, and no converted copy of the
episode is ever held. An episode with music beds is converted here, before the beds are mixed in, so they
keep what they have above the speech's Nyquist frequency.
"""

from __future__ import annotations

from typing import Any

from podpipe.compile import CompiledEpisode
from podpipe.formats import FORMATS
from podpipe.mix.context import MixContext, MixStep


def output_rate(compiled: CompiledEpisode) -> int | None:
    """The sample rate the output is written at; None keeps the stitch rate (the speech's)."""
    fmt = FORMATS.get(compiled.plan.format)
    return compiled.episode.output.sample_rate or (fmt.rate if fmt else None)


class FormatStep(MixStep):
    name = "format"

    def settings(self, compiled: CompiledEpisode) -> Any:
        out = compiled.episode.output
        settings = {"rate": output_rate(compiled), "channels": out.channels, "bitrate": out.bitrate}
        if out.crossfade:
            settings["crossfade"] = out.crossfade
        return settings

    def process(self, ctx: MixContext) -> None:
        from podpipe import audio as pcm

        rate = output_rate(ctx.compiled) or ctx.rate
        channels = ctx.compiled.episode.output.channels
        if (rate, channels) == (ctx.rate, ctx.channels):
            return
        if ctx.compiled.episode.music:
            ctx.audio = pcm.ffmpeg_convert(ctx.audio, rate, channels)
        else:
            ctx.output_rate, ctx.output_channels = rate, channels
