"""Known Gemini TTS models: request dialect, per-request limits, tier-1 rate defaults and prices.

Unknown model names are allowed (new models ship often): names containing ``3.8`` or later use the
``speech_metadata`` dialect, everything else the older "Name: line" dialect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIALECT_METADATA = "metadata"  # 3.8+: one part per turn with speech_metadata {speaker, style}, text verbatim
DIALECT_TRANSCRIPT = "transcript"  # 2.5 / 3.1: style preamble, "Name: line" lines, multi_speaker_voice_config


@dataclass(frozen=True)
class ModelInfo:
    name: str
    dialect: str
    max_speakers: int = 2
    default_rpm: float = 10.0  # tier-1 quota seen for TTS models
    price_input_per_m: float = 0.50  # USD per 1M text input tokens
    price_output_per_m: float = 10.0  # USD per 1M audio output tokens
    low_temperature_fails: bool = False  # temperature <= 0.4 is known to fail with finishReason OTHER
    status: str = "ga"


KNOWN_MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    ModelInfo("gemini-3.8-flash-tts", DIALECT_METADATA, price_output_per_m=9.0),
    ModelInfo("gemini-3.8-flash-lite-tts", DIALECT_METADATA, price_output_per_m=6.0),
    ModelInfo("gemini-3.1-flash-tts-preview", DIALECT_TRANSCRIPT, price_input_per_m=1.0,
              price_output_per_m=20.0, status="preview"),
    ModelInfo("gemini-2.5-flash-preview-tts", DIALECT_TRANSCRIPT, price_output_per_m=10.0,
              low_temperature_fails=True, status="preview"),
    ModelInfo("gemini-2.5-pro-preview-tts", DIALECT_TRANSCRIPT, price_input_per_m=1.0,
              price_output_per_m=20.0, low_temperature_fails=True, status="preview"),
)}

_VERSION = re.compile(r"gemini-(\d+)\.(\d+)")


def model_info(name: str) -> ModelInfo:
    """The table entry, or a best guess for an unknown name (newer than 3.8 → metadata dialect)."""
    if name in KNOWN_MODELS:
        return KNOWN_MODELS[name]
    m = _VERSION.search(name)
    newer = bool(m) and (int(m.group(1)), int(m.group(2))) >= (3, 8)
    return ModelInfo(name, DIALECT_METADATA if newer else DIALECT_TRANSCRIPT,
                     low_temperature_fails=bool(m) and m.group(1) == "2", status="unknown")
