"""Gemini's voices: the 30 prebuilt ones (every model and backend knows them), custom voice ids, and the
Extended Voice Library list kept in the cache directory."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

GEMINI_VOICES: dict[str, str] = {
    "Zephyr": "bright", "Puck": "upbeat", "Charon": "informative", "Kore": "firm", "Fenrir": "excitable",
    "Leda": "youthful", "Orus": "firm", "Aoede": "breezy", "Callirrhoe": "easy-going", "Autonoe": "bright",
    "Enceladus": "breathy", "Iapetus": "clear", "Umbriel": "easy-going", "Algieba": "smooth",
    "Despina": "smooth", "Erinome": "clear", "Algenib": "gravelly", "Rasalgethi": "informative",
    "Laomedeia": "upbeat", "Achernar": "soft", "Alnilam": "firm", "Schedar": "even", "Gacrux": "mature",
    "Pulcherrima": "forward", "Achird": "friendly", "Zubenelgenubi": "casual", "Vindemiatrix": "gentle",
    "Sadachbia": "lively", "Sadaltager": "knowledgeable", "Sulafat": "warm",
}

# Perceived voice register, used by the offline backend to pick a matching espeak variant.
FEMININE = frozenset({
    "Zephyr", "Kore", "Leda", "Aoede", "Callirrhoe", "Autonoe", "Despina", "Erinome", "Laomedeia",
    "Achernar", "Gacrux", "Pulcherrima", "Vindemiatrix", "Sulafat",
})

# Designed voices (voice_…) and replication keys (voicekey_…): 3.8 models take them in voice_config.voice.
CUSTOM_VOICE = re.compile(r"voice(?:key)?_[A-Za-z0-9][A-Za-z0-9_-]*")
# The Extended Voice Library as `podpipe voices --backend gemini` last fetched it, in the cache directory, so
# that `validate` can check library names without a key or the network.
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


def is_custom(voice: str) -> bool:
    return CUSTOM_VOICE.fullmatch(voice) is not None


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
    from .atomic import write_atomic

    path = cache_root / LIBRARY_FILE
    data = {"format": LIBRARY_FORMAT, "fetched": library.fetched, "voices": [asdict(v) for v in library.voices]}
    write_atomic(path, json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8"))
    return path
