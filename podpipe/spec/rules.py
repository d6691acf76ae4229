"""What the spec stage asks about a spec's model, its voices and its tags, as protocols: the backends answer
(``podpipe.backends`` is a ``ModelRules``, each ``Backend`` class a ``Judge``), and the commands hand them to
``load_episodes``, so the spec stage stands below the backends and imports none of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class Judge(Protocol):
    """What the backend that owns a model says about a spec for it (a ``podpipe.backends.base.Backend``
    class answers this)."""

    def model_for(self, spec_model: str | None) -> str: ...
    def check_voice(self, voice: str, model: str, cache_root: Path | None = None) -> str | None: ...
    def target(self, spec_model: str | None) -> Any: ...  # its ``.sampling``: temperature reaches the audio
    def sampling_note(self, model: str) -> str: ...
    def temperature_warning(self, model: str, temperature: float, shown: str) -> str | None: ...
    def tag_names(self, model: str) -> frozenset[str] | None: ...  # None: no documented tag list


class ModelRules(Protocol):
    """Who judges a spec's model and voices. The spec stage stands below the backends and imports none of
    them: the commands hand it the registry (the ``podpipe.backends`` module answers this). Without rules,
    models and voices are left unjudged."""

    def spec_judge(self, model: str | None) -> Judge | None: ...
    def model_owner(self, model: str) -> object | None: ...
    def known_models(self) -> list[str]: ...
