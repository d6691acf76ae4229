"""Gemini's facts in one place: its TTS models (request dialect, what each accepts, per-request
limits, rate defaults, prices) and its voices (the 30 prebuilt ones, the form of custom voice ids).

The model table is the one place that says which models take sampling settings, which tag form they read
and which voices they accept. Unknown model names are allowed (new models ship often): names containing ``3.8``
or later behave like the 3.8 models, everything else like the older previews.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from podpipe.compile.compiler import MAX_SPEAKERS, SPEECH_CHARS_PER_SECOND
from podpipe.spec.text import TAGS_ANGLE, TAGS_SQUARE

DIALECT_METADATA = "metadata"  # 3.8+: one part per turn with speech_metadata {speaker, style}, text verbatim
DIALECT_TRANSCRIPT = "transcript"  # 2.5 / 3.1: style preamble, "Name: line" lines, multi_speaker_voice_config

# Tag forms: TAGS_ANGLE (<laughs>) is what 3.8 reads, TAGS_SQUARE ([laughs]) what 2.5 / 3.1 read.
SAMPLING_FIELDS = ("temperature", "topP", "topK")
# MAX_SPEAKERS (2): voices per request, every TTS model so far; the compiler splits dialogues to fit it.
# Rules of thumb for estimates (plan): speech runs at ~SPEECH_CHARS_PER_SECOND (14) characters a second,
# text is ~4 characters a token, audio ~25 tokens a second.
CHARS_PER_TOKEN = 4.0
AUDIO_TOKENS_PER_SECOND = 25.0
LOW_TEMPERATURE = 0.4  # at or below this the 2.5 models answer without audio (seen in the wild)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    dialect: str
    sampling: bool  # accepts temperature/topP/topK (3.8 rejects them with 400 INVALID_ARGUMENT)
    tags: str  # the inline vocal tag form the model reads: TAGS_ANGLE or TAGS_SQUARE
    voice_ids: bool  # voice_config.voice: Extended Voice Library names and custom ids (voice_…, voicekey_…)
    max_speakers: int = MAX_SPEAKERS
    default_rpm: float = 10.0  # tier-1 quota seen for TTS models
    price_input_per_m: float = 0.50  # USD per 1M text input tokens
    price_output_per_m: float = 10.0  # USD per 1M audio output tokens
    low_temperature_fails: bool = False  # temperature <= LOW_TEMPERATURE answers finishReason OTHER, no audio
    status: str = "ga"

    def fails_at(self, temperature: float | None) -> bool:
        """Whether this temperature is known to make the model answer without audio."""
        return self.low_temperature_fails and temperature is not None and temperature <= LOW_TEMPERATURE


def _current(name: str, **kw) -> ModelInfo:
    return ModelInfo(name, DIALECT_METADATA, sampling=False, tags=TAGS_ANGLE, voice_ids=True, **kw)


def _legacy(name: str, **kw) -> ModelInfo:
    return ModelInfo(name, DIALECT_TRANSCRIPT, sampling=True, tags=TAGS_SQUARE, voice_ids=False, **kw)


KNOWN_MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    _current("gemini-3.8-flash-tts", price_output_per_m=9.0),
    _current("gemini-3.8-flash-lite-tts", price_output_per_m=6.0),
    _legacy("gemini-3.1-flash-tts-preview", price_input_per_m=1.0, price_output_per_m=20.0, status="preview"),
    _legacy("gemini-2.5-flash-preview-tts", price_output_per_m=10.0, low_temperature_fails=True,
            status="preview"),
    _legacy("gemini-2.5-pro-preview-tts", price_input_per_m=1.0, price_output_per_m=20.0,
            low_temperature_fails=True, status="preview"),
)}
DEFAULT_MODEL = "gemini-3.8-flash-tts"

_VERSION = re.compile(r"gemini-(\d+)\.(\d+)")
_TTS_MODEL_NAME = re.compile(r"gemini-[0-9][\w.-]*-tts(-[\w.-]+)?")


def looks_like_tts_model(name: str) -> bool:
    """Whether ``name`` is spelled like a Gemini TTS model (a newer one podpipe does not know yet)."""
    return _TTS_MODEL_NAME.fullmatch(name) is not None


def model_info(name: str) -> ModelInfo:
    """The table entry, or a best guess for an unknown name (3.8 or newer → the 3.8 contract)."""
    if name in KNOWN_MODELS:
        return KNOWN_MODELS[name]
    m = _VERSION.search(name)
    if m and (int(m.group(1)), int(m.group(2))) >= (3, 8):
        return _current(name, status="unknown")
    return _legacy(name, low_temperature_fails=bool(m) and m.group(1) == "2", status="unknown")


# Characters a second Gemini voices speak, by language (the primary subtag): take review's prior for a
# take's length until it has learned the voice from accepted takes. Scripts differ a lot: Chinese and
# Japanese carry more per character (field notes, "Languages": English ~14-15/s, CJK ~4-7/s).
SPEAKING_RATES: dict[str, float] = {"zh": 5.5, "ja": 6.5, "ko": 7.0, "th": 11.0, "hi": 12.0, "ar": 12.0}
DEFAULT_SPEAKING_RATE = float(SPEECH_CHARS_PER_SECOND)


def speaking_rate(language: str | None) -> float:
    """Characters a second for ``language`` (a BCP 47 tag; None: the default)."""
    primary = (language or "").split("-")[0].lower()
    return SPEAKING_RATES.get(primary, DEFAULT_SPEAKING_RATE)


def prices(model: str) -> tuple[float, float]:
    """(input, output) USD per 1M tokens: the table (a guess for an unknown ``gemini*`` name), else 0
    (``PODPIPE_PRICES`` overrides either, see ``podpipe.commands.cost``)."""
    if model in KNOWN_MODELS or model.startswith("gemini"):
        info = model_info(model)
        return info.price_input_per_m, info.price_output_per_m
    return 0.0, 0.0


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
