"""Backends by name, found through the ``podpipe.backends`` entry-point group.

Each entry point names a ``Backend`` subclass (``name = "package.module:Class"``); podpipe's own are
declared in its pyproject, and a third party ships one from its own package the same way. Reading the
entry points imports nothing; a backend's module is imported only when that backend is chosen or asked
something (and a backend module imports its SDK only when it renders).

Which backend answers what:

- ``backend_class(name)``: the one a user chose with ``--backend``;
- ``default_backend_name()``: the configured backend of highest priority (e.g. a paid service when its
  API key is set, else the offline draft voice);
- ``model_owner(model)``: the backend whose model a spec names, which judges the spec's voices and model
  settings whatever backend renders it (a draft backend renders stand-ins for it); a spec without a model
  means ``spec_default_model()``, the default model of the highest-priority backend that owns models.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from importlib import metadata
from typing import TYPE_CHECKING

from podpipe.errors import UsageError

if TYPE_CHECKING:
    from podpipe.backends.base import Backend

GROUP = "podpipe.backends"


@functools.cache
def _entry_points() -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=GROUP):
        found.setdefault(ep.name, ep)  # the first on sys.path wins, as for imports
    return found


def names() -> list[str]:
    """Every registered backend name, sorted."""
    return sorted(_entry_points())


@functools.cache
def backend_class(name: str) -> type[Backend]:
    """The backend registered as ``name``; a UsageError naming the choices, or the broken entry point."""
    from podpipe.backends.base import Backend

    try:
        ep = _entry_points()[name]
    except KeyError:
        known = ", ".join(names()) or "none (is podpipe installed? `pip install -e .` registers its own)"
        raise UsageError(f"unknown backend {name!r}: choose one of {known}") from None
    where = f"backend {name!r} (entry point {ep.value!r} in group {GROUP!r}"
    dist = getattr(ep, "dist", None)
    where += f", from {dist.name} {dist.version})" if dist is not None else ")"
    try:
        cls = ep.load()
    except Exception as exc:  # noqa: BLE001 - a third party's broken module must not look like podpipe's bug
        raise UsageError(f"cannot load {where}: {type(exc).__name__}: {exc}; reinstall or remove the package "
                         "that registers it") from None
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise UsageError(f"{where} is not a podpipe.backends.base.Backend subclass")
    if cls.name != name:
        raise UsageError(f"{where} calls itself {cls.name!r}: the entry point's name and the class's `name` "
                         "must agree (the name is part of every cache key)")
    return cls


def _by_priority() -> list[type[Backend]]:
    return sorted((backend_class(n) for n in names()), key=lambda c: (-c.priority, c.name))


def default_backend_name(environ: Mapping[str, str] | None = None) -> str:
    """The configured backend of highest priority (``Backend.configured``, ``Backend.priority``)."""
    env = os.environ if environ is None else environ
    for cls in _by_priority():
        if cls.configured(env):
            return cls.name
    if not names():
        raise UsageError(f"no backends are registered in the entry-point group {GROUP!r}: install podpipe "
                         "(`pip install -e .` in a checkout), which registers its own")
    raise UsageError(f"no backend is configured: choose one with --backend ({', '.join(names())})")


def _owners() -> list[type[Backend]]:
    return [c for c in _by_priority() if not c.drafts and c.default_model]


def model_owner(model: str | None) -> type[Backend] | None:
    """The backend that owns ``model`` (None: the spec's default), or None when no backend claims it."""
    owners = _owners()
    if model is None:
        return owners[0] if owners else None
    return next((c for c in owners if c.owns_model(model)), None)


def spec_judge(model: str | None) -> type[Backend] | None:
    """The backend that judges a spec naming ``model``: its owner, else the default family (the model is
    passed on as is, so its voices are checked as that family's best guess for an unknown model)."""
    return model_owner(model) or model_owner(None)


def spec_default_model() -> str | None:
    """What a spec without ``model:`` means: the default model of the highest-priority owning backend."""
    owner = model_owner(None)
    return owner.default_model if owner else None


def known_models() -> list[str]:
    """Every model name the owning backends know, highest priority first."""
    return [m for c in _owners() for m in c.models()]
