"""What the CLI runs: ``build`` (also the library API), ``plan``, ``say``, with their cost estimates
and reports; progress is reported through ``Progress`` (``commands.build``), which ``cli.progress`` renders."""

from podpipe.commands.build import BuildOptions, build
from podpipe.commands.results import BuildResult

__all__ = ["BuildOptions", "BuildResult", "build"]
