"""The ``mix`` stage: a compiled episode and its cached renders in, the finished output and its sidecars
(manifest, transcripts, chapters) out; ``freshness.freshness`` says whether there is anything to do, and why.

Importing this package (and checking freshness) loads no audio library: those are imported by the work
itself, only when a mix runs.
"""

from podpipe.mix.context import MixContext, MixResult, MixStep, PlacedPiece
from podpipe.mix.freshness import Freshness, episode_tags, inputs_digest, is_up_to_date
from podpipe.mix.manifest import MIX_VERSION, ManifestError, manifest_path, read_manifest
from podpipe.mix.mixer import mix_episode

__all__ = ["MIX_VERSION", "Freshness", "ManifestError", "MixContext", "MixResult", "MixStep", "PlacedPiece",
           "episode_tags", "inputs_digest", "is_up_to_date", "manifest_path", "mix_episode", "read_manifest"]
