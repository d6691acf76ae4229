"""One mix, start to finish: stitch the pieces, run the post-stitch steps, export, write the sidecars and
the manifest. Each of those jobs lives in its own module; this one only runs them in order, so that the
output and everything recorded about it either all change or none does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from podpipe.audio_types import Audio
from podpipe.cache import Store
from podpipe.compile import CompiledEpisode
from podpipe.files import atomic_path, write_atomic
from podpipe.formats import output_format
from podpipe.mix import export
from podpipe.mix.context import MixResult, MixStep
from podpipe.mix.freshness import episode_tags, inputs_digest
from podpipe.mix.manifest import manifest_json, manifest_path
from podpipe.mix.steps import DEFAULT_STEPS
from podpipe.mix.stitch import stitch


def mix_episode(compiled: CompiledEpisode, audio_for: Callable[[str], Audio],
                steps: Sequence[MixStep] = DEFAULT_STEPS, analyses: Store | None = None) -> MixResult:
    """Stitch, export and write the manifest. ``audio_for(key)`` returns a speech piece's cached render;
    whatever it raises (e.g. ``LookupError`` for a damaged entry) propagates and nothing is written.
    ``analyses`` (the render cache) keeps each render's loudness figures, so they are computed once."""
    output_format(compiled.rundown.format, compiled.episode.path)  # before any work: an unknown format fails fast
    digest = inputs_digest(compiled, steps)  # and so does a missing sound
    wants_figures = compiled.episode.output.loudness is not None and any(step.needs_figures for step in steps)
    ctx = stitch(compiled, audio_for, render_figures(analyses) if wants_figures else None)
    for step in steps:
        step.process(ctx)

    output = Path(compiled.rundown.output)
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
    reviews = take_reviews(compiled, analyses)
    write_atomic(man_path, manifest_json(compiled, ctx, output, digest, sha256, written, reviews))
    return MixResult(output, man_path, ctx.seconds, ctx.out_rate, ctx.pieces, digest, tuple(written), tuple(ctx.notes))


def take_reviews(compiled: CompiledEpisode, store: Store | None) -> dict[str, Any]:
    """Per speech render key, what take review says of the take the episode uses (records only)."""
    if store is None:
        return {}
    from podpipe.compile import SpeechPiece
    from podpipe.cache.takes import take_status

    return {p.key: take_status(store.meta(p.key), p.accept) for p in compiled.rundown.pieces
            if isinstance(p, SpeechPiece)}


def render_figures(analyses: Store | None) -> Callable[[str, Audio], Any]:
    """``figures_for(key, audio)`` for the stitch: a render's loudness figures as stored beside its cache
    entry, else computed from its audio and stored there (a missing, damaged, foreign or outdated record
    is computed again, never trusted)."""
    from podpipe.mix.loudness.figures import analyze, from_record, to_record

    def figures_for(key: str, audio: Audio) -> Any:
        record = analyses.analysis(key) if analyses is not None else None
        found = from_record(record, audio.rate, audio.frames) if record is not None else None
        if found is None:
            found = analyze(audio)
            if analyses is not None:
                analyses.put_analysis(key, to_record(found))
        return found

    return figures_for
