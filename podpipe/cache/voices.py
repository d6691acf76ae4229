"""The Extended Voice Library list as `podpipe voices --backend gemini` last fetched it, kept in the cache
directory so that `validate` can check library names without a key or the network."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from podpipe.files.atomic import write_atomic

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
