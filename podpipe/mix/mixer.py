"""One mix, start to finish: stitch the pieces, run the post-stitch steps, export, write the sidecars and
the manifest. Each of those jobs lives in its own module; this one only runs them in order, so that the
output and everything recorded about it either all change or none does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from podpipe.audio_types import Audio
from podpipe.cache import atomic_path, write_atomic
from podpipe.compile import CompiledEpisode
from podpipe.mix import export
from podpipe.mix.context import MixResult, MixStep
from podpipe.mix.formats import output_format
from podpipe.mix.inputs import episode_tags, inputs_digest
from podpipe.mix.manifest import manifest_json, manifest_path
from podpipe.mix.steps import DEFAULT_STEPS
from podpipe.mix.stitch import stitch


def mix_episode(compiled: CompiledEpisode, audio_for: Callable[[str], Audio],
                steps: Sequence[MixStep] = DEFAULT_STEPS) -> MixResult:
    """Stitch, export and write the manifest. ``audio_for(key)`` returns a speech piece's cached render;
    whatever it raises (e.g. ``LookupError`` for a damaged entry) propagates and nothing is written."""
    output_format(compiled.plan.format, compiled.episode.path)  # before any work: an unknown format fails fast
    digest = inputs_digest(compiled, steps)  # and so does a missing sound
    ctx = stitch(compiled, audio_for)
    for step in steps:
        step.process(ctx)

    output = Path(compiled.plan.output)
    with atomic_path(output) as tmp:
        sha256 = export.export(ctx, tmp, episode_tags(compiled))
        for step in steps:
            if type(step).edit_output is not MixStep.edit_output:
                step.edit_output(ctx, tmp)
                sha256 = None  # the exporter's hash no longer describes the file
    written: list[Path] = []
    for step in steps:
        written += step.sidecars(ctx, output)

    man_path = manifest_path(output)
    write_atomic(man_path, manifest_json(compiled, ctx, output, digest, sha256, written))
    return MixResult(output, man_path, ctx.seconds, ctx.rate, ctx.pieces, digest, tuple(written), tuple(ctx.notes))
