"""A request's cache key: the sha256 of the canonical JSON of every input that changes its audio, plus a
format version, and nothing else. The material is built here once; the key is its hash, and the same material
is recorded with the cache entry, so ``plan`` can say which input changed.

Not in the material, because they cannot change the audio: a turn's written form (transcripts show it),
temperature for models that take none (compile leaves it out), anything about mixing or metadata.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from podpipe.compile.types import RenderRequest, RequestTurn

# Bump when anything about how requests are rendered changes, so old cache entries stop matching.
CACHE_FORMAT_VERSION = 1


def key_material(backend: str, model: str, turns: Iterable[RequestTurn], temperature: float | None,
                 language: str | None, take: int) -> dict[str, Any]:
    """Every input of one render that changes its audio, as JSON-able data."""
    return {
        "backend": backend,
        "model": model,
        "turns": [{"speaker": t.speaker, "voice": t.voice, "text": t.text, "style": t.style} for t in turns],
        "temperature": None if temperature is None else float(temperature),
        "language": language,
        "take": take,
    }


def request_material(request: RenderRequest) -> dict[str, Any]:
    """The material behind ``request.key``, as recorded in the cache entry's metadata."""
    return key_material(request.backend, request.model, request.turns, request.temperature, request.language,
                        request.take)


def cache_key(material: dict[str, Any]) -> str:
    """sha256 hex of the canonical JSON of ``material`` and the format version. Turns are hashed as
    [speaker, voice, text, style] rows: the form keys have had since the first cache, kept so that
    existing entries keep matching."""
    hashed = {**material, "v": CACHE_FORMAT_VERSION,
              "turns": [[t["speaker"], t["voice"], t["text"], t["style"]] for t in material["turns"]]}
    canonical = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
