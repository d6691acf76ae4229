"""The ``podpipe`` command: a thin click layer over ``podpipe.commands``.

Every error a user can act on is a ``PodpipeError`` and leaves with its ``ExitCode`` (``podpipe.errors``);
anything else is a bug (exit 70), with a traceback only behind ``--debug``. ``group`` holds the group, the
error mapping and the shared options; ``pipeline``, ``cache``, ``feed``, ``publish``, ``review`` and ``studio`` register
their commands on it when imported; ``progress`` draws a build's progress.
"""

import importlib

from podpipe.cli.group import cli, main

for _module in ("pipeline", "cache", "feed", "publish", "review", "studio"):
    importlib.import_module(f"podpipe.cli.{_module}")

__all__ = ["cli", "main"]
