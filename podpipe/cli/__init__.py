"""The ``podpipe`` command: a thin click layer over ``podpipe.commands``.

Every error a user can act on is a ``PodpipeError`` and leaves with its ``ExitCode`` (``podpipe.errors``);
anything else is a bug (exit 70), with a traceback only behind ``--debug``. ``group`` holds the group, the
error mapping and the shared options; ``commands``, ``cache``, ``feed``, ``publish`` and ``review`` register their commands on it when imported.
"""

import importlib

from podpipe.cli.group import cli, main

for _module in ("commands", "cache", "feed", "publish", "review"):
    importlib.import_module(f"podpipe.cli.{_module}")

__all__ = ["cli", "main"]
