"""Backends by name. Only the chosen backend's module is imported, and it imports its heavy parts lazily."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

from podpipe.backends.base import Backend
from podpipe.errors import UsageError

_REGISTRY = {
    "espeak": "podpipe.backends.espeak:EspeakBackend",
    "gemini": "podpipe.backends.gemini:GeminiBackend",
}
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")


def names() -> list[str]:
    return list(_REGISTRY)


def backend_class(name: str) -> type[Backend]:
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown backend {name!r}: choose one of {', '.join(_REGISTRY)}") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def default_backend_name(environ: Mapping[str, str] | None = None) -> str:
    """``gemini`` when an API key is set, else the offline ``espeak`` voice."""
    env = os.environ if environ is None else environ
    return "gemini" if any(env.get(v) for v in KEY_VARIABLES) else "espeak"
