"""Post-stitch steps (``context.MixStep``), in the order a mix runs them: the output's rate and channels
(``export.FormatStep``: what the exporter writes), music beds, loudness, then what is written into and
beside the exported file (chapters, tags, transcripts).

Every step module imports its audio libraries inside its methods: the freshness check of a no-op build
imports them all to read their settings.
"""

from podpipe.mix.context import MixStep
from podpipe.mix.export import FormatStep
from podpipe.mix.steps.chapters import ChaptersStep
from podpipe.mix.steps.loudness import LoudnessStep
from podpipe.mix.steps.music import MusicStep
from podpipe.mix.steps.tags import TagsStep
from podpipe.mix.steps.transcript import TranscriptStep

DEFAULT_STEPS: tuple[MixStep, ...] = (FormatStep(), MusicStep(), LoudnessStep(), ChaptersStep(), TagsStep(),
                                      TranscriptStep())

__all__ = ["DEFAULT_STEPS", "ChaptersStep", "FormatStep", "LoudnessStep", "MusicStep", "TagsStep", "TranscriptStep"]
