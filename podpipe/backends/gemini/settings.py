"""Where Gemini is and who we are to it: the API key (GEMINI_API_KEY, else GOOGLE_API_KEY, unlike the SDK,
which prefers GOOGLE_API_KEY), the base URL the SDK will use (GOOGLE_GEMINI_BASE_URL), the attempt timeout."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from podpipe.errors import BackendError

KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")  # in order of preference
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
BASE_URL_VARIABLE = "GOOGLE_GEMINI_BASE_URL"
# Seconds per attempt when none is given: a 4-minute request can take a couple of minutes to generate.
DEFAULT_TIMEOUT = 300.0


def api_key(environ: dict[str, str] | None = None) -> tuple[str, str]:
    """(key, variable it came from): GEMINI_API_KEY first, then GOOGLE_API_KEY."""
    env = os.environ if environ is None else environ
    for var in KEY_VARIABLES:
        value = (env.get(var) or "").strip()
        if value:
            return value, var
    raise BackendError("no Gemini API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), or render offline draft "
                       "audio with --backend espeak", retryable=False)


def base_url() -> str:
    """Where requests go (without any user:password part), for messages."""
    url = os.environ.get(BASE_URL_VARIABLE) or DEFAULT_BASE_URL
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
