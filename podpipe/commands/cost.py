"""Token and cost estimates for Gemini TTS requests, before anything is rendered (``podpipe plan``).

Estimates, not bills: the service reports real counts in ``usageMetadata`` after each render.

- Input: text tokens ≈ characters sent / ``CHARS_PER_TOKEN``, counting everything the request sends:
  spoken text, styles, speaker labels and the 2.5/3.1 preambles (``gemini.prompt_chars``).
- Output: audio tokens ≈ ``AUDIO_TOKENS_PER_SECOND`` × estimated seconds of speech, at
  ``SPEECH_CHARS_PER_SECOND`` characters of spoken text per second.
- Prices: the model table in ``podpipe.catalog`` (other ``gemini-*`` names get a guess: override it;
  offline models cost nothing).

  Override with ``prices={"model": {"input": x, "output": y}}`` (per 1M tokens; either key may be left
  out to keep the table's value), or without code: point ``PODPIPE_PRICES`` at a JSON file of that shape
  (used by ``plan``, ``build``'s summary and ``--report`` when Google changes prices).
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Mapping

from podpipe.catalog import AUDIO_TOKENS_PER_SECOND, CHARS_PER_TOKEN, KNOWN_MODELS, SPEECH_CHARS_PER_SECOND, model_info
from podpipe.compile import RenderRequest

Prices = Mapping[str, Mapping[str, float]]


def estimate_seconds(request: RenderRequest) -> float:
    """Seconds of speech the request will produce, from its spoken characters."""
    return request.characters / SPEECH_CHARS_PER_SECOND


def estimate_tokens(request: RenderRequest) -> tuple[int, int]:
    """(input text tokens, output audio tokens) one render of ``request`` will use, estimated."""
    from podpipe.backends.gemini import prompt_chars  # pure functions; google-genai is not imported

    prompt = math.ceil(prompt_chars(request) / CHARS_PER_TOKEN)
    output = math.ceil(estimate_seconds(request) * AUDIO_TOKENS_PER_SECOND)
    return prompt, output


PRICES_VARIABLE = "PODPIPE_PRICES"


@functools.lru_cache(maxsize=4)
def file_prices(path: str) -> Prices:
    """The price overrides in ``path`` (read once per process)."""
    from podpipe.errors import UsageError

    try:
        data = json.loads(open(path, encoding="utf-8").read())
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ValueError('expected {"model": {"input": USD, "output": USD}, ...}')
        return {m: {k: float(v) for k, v in p.items() if k in ("input", "output")} for m, p in data.items()}
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"{PRICES_VARIABLE}={path}: cannot use this price file: {exc}") from None


def prices_for(model: str, prices: Prices | None = None) -> tuple[float, float]:
    """(input, output) USD per 1M tokens: the override, else the model table, else 0 for non-Gemini models."""
    if prices is None and os.environ.get(PRICES_VARIABLE):
        prices = file_prices(os.environ[PRICES_VARIABLE])
    if model in KNOWN_MODELS or model.startswith("gemini"):
        info = model_info(model)
        base = (info.price_input_per_m, info.price_output_per_m)
    else:
        base = (0.0, 0.0)
    override = (prices or {}).get(model) or {}
    return float(override.get("input", base[0])), float(override.get("output", base[1]))


def cost_usd(model: str, prompt_tokens: int, output_tokens: int, prices: Prices | None = None) -> float:
    """Cost in USD of the given token counts on ``model``."""
    price_in, price_out = prices_for(model, prices)
    return (prompt_tokens * price_in + output_tokens * price_out) / 1_000_000

