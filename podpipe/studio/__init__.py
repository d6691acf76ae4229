"""podpipe studio: listen to an episode, compare takes and fix lines, with every decision saved to the spec.

A feature on top of ``commands/``: nothing in the pipeline imports it. Its modules split by job:
``edits`` writes each decision into the YAML as a minimal round-trip edit, ``view`` gathers what the page
shows (lines, takes, statuses, waveforms), ``actions`` renders one more take or rebuilds an episode. The web
server and the page (``app``, ``server``, ``static/``) stand on these and are the only parts that import the
web stack. Its third-party packages are the optional ``studio`` extra; ``require`` imports one of them or says
how to install it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from podpipe.errors import UsageError

EXTRA = "podpipe[studio]"


def require(module: str) -> ModuleType:
    """Import ``module`` (a package of the studio extra) or raise a ``UsageError`` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(f"podpipe studio needs {module.split('.')[0]}, part of the studio extra: "
                         f"pip install '{EXTRA}' ({exc})") from exc


__all__ = ["EXTRA", "require"]
