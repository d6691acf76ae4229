"""Which voices a Gemini spec may name, and the Extended Voice Library list as `podpipe voices --backend
gemini` last fetched it, kept in the cache directory (``voices/gemini.json``) so that `validate` can check
library names without a key or the network.

The 30 prebuilt voices work with every model; on models that take voice ids (3.8 and later) also custom
ids (``voice_…``, ``voicekey_…``) and the library names in the stored list.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from podpipe.backends.gemini.catalog import GEMINI_VOICES, KNOWN_MODELS, is_custom, model_info
from podpipe.files import write_atomic
from podpipe.errors import suggest

_PREBUILT = len(GEMINI_VOICES)
# What to suggest when a voice needs a model that takes voice ids: the first such model in the catalog.
_VOICE_ID_MODEL = next(m.name for m in KNOWN_MODELS.values() if m.voice_ids)

LIBRARY_FILE = Path("voices") / "gemini.json"
LIBRARY_FORMAT = 1


@dataclass(frozen=True)
class LibraryVoice:
    id: str  # what a spec's voice: names (the catalog name, or voice_… for a custom voice)
    type: str  # "prebuilt" (catalog), "prompted" (designed) or "replicated"
    description: str = ""
    language: str = ""
    gender: str = ""
    accent: str = ""


@dataclass(frozen=True)
class VoiceLibrary:
    voices: tuple[LibraryVoice, ...]
    fetched: str  # ISO time of the fetch

    @property
    def names(self) -> frozenset[str]:
        return frozenset(v.id for v in self.voices)


def load_library(cache_root: Path) -> VoiceLibrary | None:
    """The stored list, or None when there is none or it is damaged (a damaged list is as good as none)."""
    try:
        data = json.loads((cache_root / LIBRARY_FILE).read_text("utf-8"))
        if data.get("format") != LIBRARY_FORMAT:
            return None
        return VoiceLibrary(tuple(LibraryVoice(**v) for v in data["voices"]), str(data["fetched"]))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def save_library(cache_root: Path, library: VoiceLibrary) -> Path:
    path = cache_root / LIBRARY_FILE
    data = {"format": LIBRARY_FORMAT, "fetched": library.fetched, "voices": [asdict(v) for v in library.voices]}
    write_atomic(path, json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8"))
    return path


def check_voice(voice: str, model: str, cache_root: Path | None) -> str | None:
    """None when ``voice`` works with ``model``, else the problem and its fix. The stored list in
    ``cache_root`` is read only for a name that is neither prebuilt nor a custom id."""
    if voice in GEMINI_VOICES:
        return None
    library = None if is_custom(voice) or cache_root is None else load_library(cache_root)
    if is_custom(voice) or (library and voice in library.names):
        if not model_info(model).voice_ids:
            what = "custom voice ids" if is_custom(voice) else "Extended Voice Library voices"
            return (f"{model} cannot use {what} (only the 3.8 models and later take them); use one of the "
                    f"{_PREBUILT} prebuilt voices (`podpipe voices`), or model: {_VOICE_ID_MODEL}")
        return None
    known = set(GEMINI_VOICES) | (library.names if library else set())
    suggestion = suggest(voice, known)
    if suggestion and suggestion.lower() == voice.lower():
        hint = f"; did you mean {suggestion!r}? (voice names are case-sensitive)"
    elif suggestion:
        hint = f"; did you mean {suggestion!r}?"
    elif library:
        hint = "; `podpipe voices --backend gemini` lists the voices"
    else:
        hint = (f"; `podpipe voices` lists the {_PREBUILT} prebuilt voices (to use Extended Voice Library voices, "
                "fetch their list once with `podpipe voices --backend gemini --refresh` and a key)")
    return f"unknown voice {voice!r}{hint}"
