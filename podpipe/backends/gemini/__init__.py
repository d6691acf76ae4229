"""Gemini text-to-speech through google-genai (``backend``), its wire format as pure functions (``wire``),
failure classification (``failures``), where the service is and the API key (``settings``), its models,
voices, prices and rates (``catalog``), and the voices a spec may name and the stored voice list
(``voices``)."""

from podpipe.backends.gemini.backend import GeminiBackend
from podpipe.backends.gemini.failures import parse_retry_delay
from podpipe.backends.gemini.settings import api_key
from podpipe.backends.gemini.wire import (check_audio, decode_audio, metadata_parts, prompt_chars, speaker_voices,
                                          transcript_text)

__all__ = ["GeminiBackend", "api_key", "check_audio", "decode_audio", "metadata_parts", "parse_retry_delay",
           "prompt_chars", "speaker_voices", "transcript_text"]
