"""What renders cost in USD: each backend's own prices and token estimates (``Backend.prices``,
``Backend.tokens``, ``Backend.estimate``, ``Backend.cost``), with the user's price overrides on top.

Override without code: point ``PODPIPE_PRICES`` at a JSON file of the shape
``{"model": {"input": x, "output": y}}`` (USD per 1M tokens; either key may be left out to keep the
backend's value), used by ``plan``, ``build``'s summary and ``--report`` when a vendor changes prices.
"""

from __future__ import annotations

import functools
import json
import os

from podpipe import backends
from podpipe.backends.base import Estimate, Prices
from podpipe.compile import RenderRequest

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


def overrides(prices: Prices | None = None) -> Prices | None:
    """``prices`` when given, else the ``PODPIPE_PRICES`` file's, else None (the backends' own prices)."""
    if prices is None and os.environ.get(PRICES_VARIABLE):
        return file_prices(os.environ[PRICES_VARIABLE])
    return prices


def estimate(request: RenderRequest, prices: Prices | None = None) -> Estimate:
    """Tokens and USD one render of ``request`` will take, estimated by the backend that renders it."""
    return backends.backend_class(request.backend).estimate([request], overrides(prices))


def cost_usd(request: RenderRequest, prompt_tokens: int, output_tokens: int, prices: Prices | None = None) -> float:
    """USD for the token counts a render of ``request`` reported."""
    cls = backends.backend_class(request.backend)
    return cls.cost(request.model, prompt_tokens, output_tokens, overrides(prices))


def price_basis(backend: str, model: str, prices: Prices | None = None) -> str:
    """Which price a cost of ``model`` is computed with, in words: the user's override (``PODPIPE_PRICES``)
    or the backend's dated price and its source (``Backend.price_basis``)."""
    cls = backends.backend_class(backend)
    override = (overrides(prices) or {}).get(model)
    if override:
        base_in, base_out = cls.prices(model)
        price_in, price_out = override.get("input", base_in), override.get("output", base_out)
        return (f"{model}: ${price_in:g} in / ${price_out:g} out per 1M tokens (from "
                f"{PRICES_VARIABLE}={os.environ.get(PRICES_VARIABLE, '')})")
    return cls.price_basis(model)
