"""Gemini's facts in one place: its TTS models (request dialect, what each accepts, per-request
limits, rate defaults, dated prices, the vocal tags each reads), speaking rates per language, and its voices
(the 30 prebuilt ones, the form of custom voice ids).

The model table is the one place that says which models take sampling settings, which tag form they read
and which voices they accept. Unknown model names are allowed (new models ship often): any ``gemini-N[.M]-…``
name of version 3.8 or later (``gemini-4-flash-tts``, ``gemini-5.1-pro-tts``) gets the newest known contract,
everything else that of the older previews.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from podpipe.compile.compiler import MAX_REQUEST_SECONDS, MAX_SPEAKERS, SPEECH_CHARS_PER_SECOND
from podpipe.spec.text import TAGS_ANGLE, TAGS_SQUARE

DIALECT_METADATA = "metadata"  # 3.8+: one part per turn with speech_metadata {speaker, style}, text verbatim
DIALECT_TRANSCRIPT = "transcript"  # 2.5 / 3.1: instruction preamble, "Name: line" lines, multi_speaker_voice_config

# Tag forms: TAGS_ANGLE (<laughs>) is what 3.8 reads, TAGS_SQUARE ([laughs]) what 2.5 / 3.1 read.
SAMPLING_FIELDS = ("temperature", "topP", "topK")
# MAX_SPEAKERS (2): voices per request, every TTS model so far; the compiler splits dialogues to fit it.
# Rules of thumb for estimates (plan): speech runs at ~SPEECH_CHARS_PER_SECOND (14) characters a second
# (``LANGUAGE_RATES`` for scripts that carry more per character), text is ~4 characters a token, audio ~25
# tokens a second.
CHARS_PER_TOKEN = 4.0
AUDIO_TOKENS_PER_SECOND = 25.0
LOW_TEMPERATURE = 0.4  # at or below this the 2.5 models answer without audio (seen in the wild)
MAX_OUTPUT_TOKENS = 16_384  # output cap per request, every TTS model so far (~11 minutes of audio)
# A request is sized to at most this share of the output cap, at the language's speaking rate, so a slow
# reader still ends well before the cap; and never longer than compile's MAX_REQUEST_SECONDS (long takes drift).
OUTPUT_MARGIN = 0.5

# Characters of text per second of speech, by language (the primary subtag of ``language:``); others
# speak at SPEECH_CHARS_PER_SECOND. Chinese and Japanese carry 2-3x more per character (field notes).
LANGUAGE_RATES: dict[str, float] = {"zh": 5.0, "yue": 5.0, "ja": 6.0, "ko": 7.0, "th": 11.0, "hi": 12.0, "ar": 12.0}


def chars_per_second(language: str | None) -> float:
    """Characters a second of speech in ``language`` (a BCP-47 code such as ``zh-CN``; None: English)."""
    primary = (language or "").split("-")[0].split("_")[0].lower()
    return LANGUAGE_RATES.get(primary, float(SPEECH_CHARS_PER_SECOND))


# The vocal tags Google's 3.8 prompting guide documents, with the -s form of each sound (the guide lists
# these "and more": an unknown tag is a warning, never an error). Sustained delivery (whispering, shouting)
# is a style, not a tag.
TAGS_38 = frozenset({"laugh", "laughs", "sigh", "sighs", "cough", "coughs", "breath", "short pause", "gasp",
                     "gasps"})


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens (text in, audio out) from ``start`` to ``end`` (ISO dates, inclusive; "" open)."""

    input_per_m: float
    output_per_m: float
    start: str = ""
    end: str = ""
    source: str = ""
    note: str = ""  # e.g. "launch price"

    def applies(self, day: dt.date) -> bool:
        iso = day.isoformat()
        return (not self.start or self.start <= iso) and (not self.end or iso <= self.end)


PRICE_SOURCE = "Google AI pricing page, read 2026-11"
LAUNCH_SOURCE = "Gemini 3.8 TTS launch pricing; launch price reported (third party) to run to 2026-12-31"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    dialect: str
    sampling: bool  # accepts temperature/topP/topK (3.8 rejects them with 400 INVALID_ARGUMENT)
    tags: str  # the inline vocal tag form the model reads: TAGS_ANGLE or TAGS_SQUARE
    voice_ids: bool  # voice_config.voice: Extended Voice Library names and custom ids (voice_…, voicekey_…)
    max_speakers: int = MAX_SPEAKERS
    default_rpm: float = 10.0  # tier-1 quota seen for TTS models
    prices: tuple[Price, ...] = (Price(0.50, 10.0, source=PRICE_SOURCE),)  # dated, oldest first
    low_temperature_fails: bool = False  # temperature <= LOW_TEMPERATURE answers finishReason OTHER, no audio
    status: str = "ga"
    tag_names: frozenset[str] | None = None  # the documented vocal tags (None: no list published)
    max_output_tokens: int = MAX_OUTPUT_TOKENS

    def price_on(self, day: dt.date) -> Price:
        """The price in effect on ``day``; after the last dated one ends, the last one known."""
        for price in reversed(self.prices):
            if price.applies(day):
                return price
        return self.prices[-1]

    def request_seconds(self) -> float:
        """Seconds of speech one request may hold: a share of the output cap, at most MAX_REQUEST_SECONDS."""
        return min(MAX_REQUEST_SECONDS, self.max_output_tokens / AUDIO_TOKENS_PER_SECOND * OUTPUT_MARGIN)

    def fails_at(self, temperature: float | None) -> bool:
        """Whether this temperature is known to make the model answer without audio."""
        return self.low_temperature_fails and temperature is not None and temperature <= LOW_TEMPERATURE


def _current(name: str, **kw) -> ModelInfo:
    kw.setdefault("tag_names", TAGS_38)
    return ModelInfo(name, DIALECT_METADATA, sampling=False, tags=TAGS_ANGLE, voice_ids=True, **kw)


def _legacy(name: str, **kw) -> ModelInfo:
    return ModelInfo(name, DIALECT_TRANSCRIPT, sampling=True, tags=TAGS_SQUARE, voice_ids=False, **kw)


def _price(price_in: float, price_out: float, **kw) -> tuple[Price, ...]:
    return (Price(price_in, price_out, source=PRICE_SOURCE, **kw),)


KNOWN_MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    _current("gemini-3.8-flash-tts",
             prices=(Price(0.50, 9.0, end="2026-12-31", source=LAUNCH_SOURCE, note="launch price"),)),
    _current("gemini-3.8-flash-lite-tts", prices=_price(0.50, 6.0)),
    _legacy("gemini-3.1-flash-tts-preview", prices=_price(1.0, 20.0), status="preview"),
    _legacy("gemini-2.5-flash-preview-tts", prices=_price(0.50, 10.0), low_temperature_fails=True,
            status="preview"),
    _legacy("gemini-2.5-pro-preview-tts", prices=_price(1.0, 20.0), low_temperature_fails=True,
            status="preview"),
)}
DEFAULT_MODEL = "gemini-3.8-flash-tts"
NEWEST_MODEL = "gemini-3.8-flash-tts"  # whose contract (and prices) an unknown newer model gets

# gemini-2.5-…, gemini-3.8-…, gemini-4-… (no minor version), gemini-5.1-…
_VERSION = re.compile(r"gemini-(\d+)(?:\.(\d+))?(?=-)")
_TTS_MODEL_NAME = re.compile(r"gemini-[0-9][\w.-]*-tts(-[\w.-]+)?")


def version(name: str) -> tuple[int, int] | None:
    """(major, minor) of a ``gemini-N[.M]-…`` model name (minor 0 when left out), else None."""
    m = _VERSION.match(name)
    return (int(m.group(1)), int(m.group(2) or 0)) if m else None


def looks_like_tts_model(name: str) -> bool:
    """Whether ``name`` is spelled like a Gemini TTS model (a newer one podpipe does not know yet)."""
    return _TTS_MODEL_NAME.fullmatch(name) is not None


def model_info(name: str) -> ModelInfo:
    """The table entry, or a best guess for an unknown name (3.8 or newer → the newest known contract)."""
    if name in KNOWN_MODELS:
        return KNOWN_MODELS[name]
    v = version(name)
    if v is not None and v >= (3, 8):
        newest = KNOWN_MODELS[NEWEST_MODEL]
        return _current(name, prices=newest.prices, status="unknown")
    return _legacy(name, low_temperature_fails=v is not None and v[0] == 2, status="unknown")


def price(model: str, day: dt.date | None = None) -> Price | None:
    """The catalog's price for ``model`` on ``day`` (default today); a guess for an unknown ``gemini*`` name,
    None for other names (``PODPIPE_PRICES`` or the show file override either, see ``podpipe.commands.cost``)."""
    if model in KNOWN_MODELS or model.startswith("gemini"):
        return model_info(model).price_on(day or dt.date.today())
    return None


def prices(model: str, day: dt.date | None = None) -> tuple[float, float]:
    """(input, output) USD per 1M tokens on ``day`` (default today); 0 for names that are not Gemini's."""
    found = price(model, day)
    return (found.input_per_m, found.output_per_m) if found else (0.0, 0.0)


def price_basis(model: str, day: dt.date | None = None) -> str:
    """Which price ``prices`` used, in words: the dates it runs, what it is and where it was read."""
    day = day or dt.date.today()
    found = price(model, day)
    if found is None:
        return ""
    span = (f"{found.start or 'launch'} to {found.end}" if found.end else
            f"since {found.start}" if found.start else "current")
    what = f"{found.note}, " if found.note else ""
    ended = (f"; it ended {found.end} and no later price is known: set PODPIPE_PRICES or prices: in the show "
             "file" if found.end and found.end < day.isoformat() else "")
    return (f"{model}: ${found.input_per_m:g} in / ${found.output_per_m:g} out per 1M tokens ({what}{span}; "
            f"{found.source}){ended}")


# -- voices ------------------------------------------------------------------------------------------------

# Gemini's 30 prebuilt voices and their documented character: every model and backend knows these names.
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


def is_custom(voice: str) -> bool:
    return CUSTOM_VOICE.fullmatch(voice) is not None
