"""What renders cost in USD: each backend's own dated prices and token estimates (``Backend.prices``,
``Backend.price_basis``, ``Backend.tokens``, ``Backend.estimate``, ``Backend.cost``), with the user's price
overrides on top, used by ``plan``, ``build``'s summary and ``--report`` when a vendor changes prices.

Override without code, per model, in USD per 1M tokens (either key may be left out to keep the value below):
``prices:`` in a spec or its show file (``{"model": {"input": x, "output": y}}``), and on top of that a
JSON file of the same shape named by ``PODPIPE_PRICES`` (the operator's, for one run).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from podpipe import backends
from podpipe.backends.base import Estimate, Prices
from podpipe.compile import RenderRequest

if TYPE_CHECKING:
    from podpipe.spec import Episode

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


def spec_prices(episodes: Iterable[Episode]) -> Prices:
    """The ``prices:`` of these specs (show files included) as one override table."""
    table: dict[str, dict[str, float]] = {}
    for episode in episodes:
        for price in episode.prices:
            entry = table.setdefault(price.model, {})
            entry.update({k: v for k, v in (("input", price.input), ("output", price.output)) if v is not None})
    return table


def overrides(prices: Prices | None = None) -> Prices | None:
    """``prices`` (the specs') with the ``PODPIPE_PRICES`` file's on top, per model and key; None when
    neither overrides anything (the backends' own prices)."""
    env = file_prices(os.environ[PRICES_VARIABLE]) if os.environ.get(PRICES_VARIABLE) else {}
    if not env:
        return prices or None
    merged = {model: dict(p) for model, p in (prices or {}).items()}
    for model, p in env.items():
        merged.setdefault(model, {}).update(p)
    return merged


def estimate(request: RenderRequest, prices: Prices | None = None) -> Estimate:
    """Tokens and USD one render of ``request`` will take, estimated by the backend that renders it."""
    return backends.backend_class(request.backend).estimate([request], overrides(prices))


def cost_usd(request: RenderRequest, prompt_tokens: int, output_tokens: int, prices: Prices | None = None) -> float:
    """USD for the token counts a render of ``request`` reported."""
    cls = backends.backend_class(request.backend)
    return cls.cost(request.model, prompt_tokens, output_tokens, overrides(prices))


def price_basis(backend: str, model: str, prices: Prices | None = None) -> str:
    """Which price a cost of ``model`` is computed with, in words: the user's override (``PODPIPE_PRICES``
    or the specs' ``prices:``) or the backend's dated price and its source (``Backend.price_basis``)."""
    cls = backends.backend_class(backend)
    override = (overrides(prices) or {}).get(model)
    if override:
        base_in, base_out = cls.prices(model)
        price_in, price_out = override.get("input", base_in), override.get("output", base_out)
        env = (file_prices(os.environ[PRICES_VARIABLE]) if os.environ.get(PRICES_VARIABLE) else {}).get(model)
        source = f"{PRICES_VARIABLE}={os.environ.get(PRICES_VARIABLE, '')}" if env else "prices: in the spec"
        return f"{model}: ${price_in:g} in / ${price_out:g} out per 1M tokens (from {source})"
    return cls.price_basis(model)
