"""What the CLI runs: ``build`` (also the library API), ``plan``, ``say``, with their cost estimates,
reports and progress output."""

from podpipe.commands.build import BuildOptions, build
from podpipe.commands.results import BuildResult

__all__ = ["BuildOptions", "BuildResult", "build"]
