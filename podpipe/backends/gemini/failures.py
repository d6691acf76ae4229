"""What went wrong with one Gemini call, in words a user can act on: each failure classified as retryable or
not (with the server's RetryInfo delay on 429), its cause and its fix, with every text that came from the
SDK or the server passed through ``scrub`` so a key can never reach a message.

Finish reasons (google-genai 3.6.1 ``types.FinishReason``) by what they mean:

- *final* (``REFUSALS``): the model refuses the text; the same request is refused the same way every time and
  each attempt is billed, so the line fails after one attempt, with the reason in plain words and its fix;
- *cut off* (``CUT_OFF``: MAX_TOKENS, CONTINUATION): the take hit the output cap; never used, the scheduler
  splits the request at sentence ends and renders the parts;
- anything else (OTHER, no candidates, text instead of audio) and 5xx: retried. A 500 for a request with a
  non-English ``language:`` that comes back identical twice is final (``final_if_repeated``): services answer
  a language they do not speak with the same 500 every time.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

from podpipe.backends.gemini.settings import BASE_URL_VARIABLE, DEFAULT_TIMEOUT, base_url
from podpipe.backends.gemini.catalog import KNOWN_MODELS
from podpipe.errors import BackendError

Scrub = Callable[[str], str]
RETRYABLE_STATUS = frozenset({408, 429, 499, 500, 502, 503, 504})
KEY_LIKE = re.compile(r"AIza[0-9A-Za-z_\-]{8,}")
KEY_PARAM = re.compile(r"(?i)(key=)[^&\s'\"]+")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*s?\s*$")


# finish reason / block reason -> (what happened, in plain words; what to do)
REFUSALS: dict[str, tuple[str, str]] = {
    "SAFETY": ("the model refused this line for safety", "rephrase it"),
    "PROHIBITED_CONTENT": ("the model refused this line as prohibited content", "rephrase or remove it"),
    "BLOCKLIST": ("this line contains a term on a blocklist", "reword or remove that term"),
    "SPII": ("this line looks like sensitive personal information (an ID, a card or phone number)",
             "remove it or write it out differently"),
    "RECITATION": ("the model took this line for a recitation of published text", "paraphrase it"),
    "LANGUAGE": ("the model does not take this line's language", "check `language:` or translate the line"),
    "IMAGE_SAFETY": ("the model refused this line for safety", "rephrase it"),
    "IMAGE_PROHIBITED_CONTENT": ("the model refused this line as prohibited content", "rephrase or remove it"),
    "IMAGE_RECITATION": ("the model took this line for a recitation of published text", "paraphrase it"),
    "ESCALATION": ("the service filtered this line by an escalation rule", "rephrase it"),
    "MODEL_ARMOR": ("the service's content filter (Model Armor) blocked this line", "rephrase it"),
    "JAILBREAK": ("the model took this line for an attempt to get around its rules", "rephrase it"),
    "PUP_LIMITED_DISABLED": ("the account is limited or disabled for a Prohibited Use Policy violation",
                             "check the account in Google AI Studio"),
}
CUT_OFF = frozenset({"MAX_TOKENS", "CONTINUATION"})


def refusal(reason: str, model: str, billed: Any = None) -> BackendError:
    """A final refusal (finish or block reason) as a BackendError that is never retried."""
    what, fix = REFUSALS.get(reason, (f"the model refused this line ({reason})", "rephrase it"))
    return BackendError(f"{what} ({reason}, {model}): {fix}", retryable=False, billed=billed)


def _dicts(node: Any):
    """Every dict nested anywhere in a decoded JSON error body."""
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def parse_retry_delay(details: Any) -> float | None:
    """``RetryInfo.retryDelay`` ("53s", "1.5s" or {"seconds", "nanos"}) anywhere in an error body."""
    for node in _dicts(details):
        if str(node.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = node.get("retryDelay", node.get("retry_delay"))
            if isinstance(delay, dict):
                return float(delay.get("seconds", 0)) + float(delay.get("nanos", 0)) / 1e9
            m = _DURATION.match(str(delay)) if delay is not None else None
            if m:
                return float(m.group(1))
    return None


def _quota_ids(details: Any) -> list[str]:
    return [str(n["quotaId"]) for n in _dicts(details) if "quotaId" in n]


def classify(exc: Exception, model: str, *, scrub: Scrub, timeout: float | None, key_var: str) -> BackendError:
    """One failed ``generate_content`` call as a BackendError: retryable or not, the cause and the fix."""
    from google.genai import errors

    if isinstance(exc, errors.APIError):
        return classify_api_error(exc, model, scrub=scrub, key_var=key_var)
    names = {(c.__module__.split(".")[0], c.__name__) for c in type(exc).__mro__}
    httpx = {n for m, n in names if m in ("httpx", "httpx2", "httpcore")}
    where = base_url()
    if "TimeoutException" in httpx or "TimeoutError" in {n for _, n in names}:
        seconds = DEFAULT_TIMEOUT if timeout is None else timeout
        return BackendError(f"no answer from Gemini ({model}) within {seconds:g}s ({type(exc).__name__}); "
                            "long requests can take minutes: raise the request timeout if this persists",
                            retryable=True)
    if "UnsupportedProtocol" in httpx:
        return BackendError(f"cannot reach Gemini at {where}: {scrub(str(exc))}; check "
                            f"{BASE_URL_VARIABLE}", retryable=False)
    if "TransportError" in httpx or isinstance(exc, ConnectionError):
        fix = f" (set by {BASE_URL_VARIABLE})" if os.environ.get(BASE_URL_VARIABLE) else ""
        return BackendError(f"connection to Gemini at {where}{fix} failed: {type(exc).__name__}: "
                            f"{scrub(str(exc))}", retryable=True)
    bad_response = (isinstance(exc, (errors.UnknownApiResponseError, json.JSONDecodeError))
                    or (("pydantic_core", "ValidationError") in names
                        and getattr(exc, "title", "") == "GenerateContentResponse"))
    if bad_response:
        first = str(exc).splitlines()
        detail = scrub(" ".join(first[:3]))
        return BackendError(f"{model} sent a response podpipe cannot decode (truncated or garbled data): "
                            f"{detail}", retryable=True)
    return BackendError(f"unexpected {type(exc).__name__} from google-genai: {scrub(str(exc))}",
                        retryable=False)


def classify_api_error(exc: Any, model: str, *, scrub: Scrub, key_var: str) -> BackendError:
    """An HTTP error answer (``google.genai.errors.APIError``) as a BackendError."""
    code = int(exc.code or 0)
    status = exc.status or ""
    message = scrub(str(exc.message or "").strip()) or "(no message)"
    what = f"{code} {status}".strip()
    if code == 429:
        delay = parse_retry_delay(exc.details)
        if delay is None:
            delay = _retry_after_header(exc)
        daily = [q for q in _quota_ids(exc.details) if "PerDay" in q]
        if daily:
            return BackendError(f"Gemini daily quota exhausted for {model} ({what}: {message}); wait for the "
                                "quota to reset or raise your tier", retryable=False, status=code)
        wait = f"; the server asks to wait {delay:g}s" if delay is not None else ""
        return BackendError(f"Gemini rate limit hit for {model} ({what}: {message}){wait}; lower --rpm or -j "
                            "if this keeps happening", retryable=True, retry_after=delay, status=code)
    if code in RETRYABLE_STATUS or code >= 500:
        return BackendError(f"Gemini server error for {model} ({what}: {message})", retryable=True,
                            status=code, final_if_repeated=code == 500)
    key_problem = code in (401, 403) or "API_KEY" in repr(exc.details) or "api key" in message.lower()
    if key_problem:
        fix = f"check {key_var}" + (" (or GOOGLE_API_KEY)" if key_var == "GEMINI_API_KEY" else "")
        access = f" and that the key may use {model}" if code == 403 else ""
        return BackendError(f"Gemini rejected the API key ({what}: {message}): {fix}{access}",
                            retryable=False, status=code)
    if code == 404:
        known = ", ".join(KNOWN_MODELS)
        proxy = (f"; or {BASE_URL_VARIABLE}={base_url()} does not serve the Gemini API"
                 if os.environ.get(BASE_URL_VARIABLE) else "")
        return BackendError(f"unknown model {model!r} ({what}: {message}): use one of the known TTS "
                            f"models: {known}{proxy}", retryable=False, status=code)
    return BackendError(f"Gemini rejected the request for {model} ({what}: {message})", retryable=False,
                        status=code)


def _retry_after_header(exc: Any) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
