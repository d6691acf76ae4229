"""The ``mix`` stage: a compiled episode and its cached renders in, the finished output and its sidecars
(manifest, transcripts, chapters) out; ``is_up_to_date`` says when there is nothing to do."""

from podpipe.mix.mixer import (MIX_VERSION, MixContext, MixResult, MixStep, inputs_digest, is_up_to_date, manifest_path,
                               mix_episode)

__all__ = ["MIX_VERSION", "MixContext", "MixResult", "MixStep", "inputs_digest", "is_up_to_date", "manifest_path",
           "mix_episode"]
