"""podpipe studio: listen to an episode, compare takes and fix lines, with every decision saved to the spec.

A feature on top of ``commands/``: nothing in the pipeline imports it. Its modules split by job:
``edits`` writes each decision into the YAML as a minimal round-trip edit, ``view`` gathers what the page
shows (lines, takes, statuses, waveforms), ``actions`` renders one more take or rebuilds an episode. The web
server and the page (``app``, ``server``, ``static/``) stand on these and are the only parts that import the
web stack. Its third-party packages are the optional ``studio`` extra; ``require`` imports one of them or says
how to install it.

The core's API is exported here and loaded on first use (PEP 562): ``apply_edit`` and the edits (``SetText``,
``SetStyle``, ``SetPronunciation``, ``MoveChapter``, ``PickTake``; ``Saved``, ``EditRefused``,
``EditConflict``), ``episode_view``, ``take_audio``, ``take_wave``, ``estimate_take``, ``render_take``,
``build_episode``.
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


_LAZY = {name: "podpipe.studio.edits" for name in (
    "EditConflict", "EditRefused", "MoveChapter", "PickTake", "Saved", "SetPronunciation", "SetStyle", "SetText",
    "apply_edit")}
_LAZY |= {name: "podpipe.studio.view" for name in ("episode_view", "take_audio", "take_wave")}
_LAZY |= {name: "podpipe.studio.actions" for name in ("build_episode", "estimate_take", "render_take")}

__all__ = ["EXTRA", "require", *sorted(_LAZY)]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
