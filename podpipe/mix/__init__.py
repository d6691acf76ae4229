"""The ``mix`` stage: a compiled episode and its cached renders in, the finished output and its sidecars
(manifest, transcripts, chapters) out; ``is_up_to_date`` says when there is nothing to do.

Importing this package (and checking freshness) loads no audio library: those are imported by the work
itself, only when a mix runs.
"""

from podpipe.mix.context import MixContext, MixResult, MixStep, PlacedPiece
from podpipe.mix.freshness import is_up_to_date
from podpipe.mix.inputs import MIX_VERSION, episode_tags, inputs_digest
from podpipe.mix.manifest import manifest_path
from podpipe.mix.mixer import mix_episode

__all__ = ["MIX_VERSION", "MixContext", "MixResult", "MixStep", "PlacedPiece", "episode_tags", "inputs_digest",
           "is_up_to_date", "manifest_path", "mix_episode"]
