"""Token and price estimates for Gemini TTS requests, before anything is rendered (``podpipe plan``).

Estimates, not bills: the service reports real counts in ``usageMetadata`` after each render.

- Input: text tokens ≈ characters sent / ``CHARS_PER_TOKEN``, counting everything the request sends:
  spoken text, styles, speaker labels and the 2.5/3.1 preambles (``wire.prompt_chars``).
- Output: audio tokens ≈ ``AUDIO_TOKENS_PER_SECOND`` × estimated seconds of speech, at
  ``SPEECH_CHARS_PER_SECOND`` characters of spoken text per second.
- Prices: the model table in ``catalog`` (other ``gemini-*`` names get a guess: override it with
  ``PODPIPE_PRICES``, see ``podpipe.commands.cost``; names that are no Gemini model cost nothing).
"""

from __future__ import annotations

import math

from podpipe.backends.gemini.catalog import (AUDIO_TOKENS_PER_SECOND, CHARS_PER_TOKEN, KNOWN_MODELS,
                                             SPEECH_CHARS_PER_SECOND, model_info)
from podpipe.backends.gemini.wire import prompt_chars
from podpipe.compile.types import RenderRequest


def estimate_seconds(request: RenderRequest) -> float:
    """Seconds of speech the request will produce, from its spoken characters."""
    return request.characters / SPEECH_CHARS_PER_SECOND


def estimate_tokens(request: RenderRequest) -> tuple[int, int]:
    """(input text tokens, output audio tokens) one render of ``request`` will use, estimated."""
    prompt = math.ceil(prompt_chars(request) / CHARS_PER_TOKEN)
    output = math.ceil(estimate_seconds(request) * AUDIO_TOKENS_PER_SECOND)
    return prompt, output


def prices(model: str) -> tuple[float, float]:
    """(input, output) USD per 1M tokens: the model table (a guess for an unknown ``gemini*`` name), else 0."""
    if model in KNOWN_MODELS or model.startswith("gemini"):
        info = model_info(model)
        return info.price_input_per_m, info.price_output_per_m
    return 0.0, 0.0
