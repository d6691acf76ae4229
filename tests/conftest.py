"""Shared fixtures. The Gemini stand-in fixture lives here so every test module (backend, scheduler, CLI,
benchmarks' smoke tests) can point the real google-genai client at a loopback server."""

from __future__ import annotations

import pytest

from tests.support.standin import StandIn

# Environment the SDK or podpipe reads that must not leak in from the developer's shell.
_GEMINI_ENV = ("GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE",
               "GOOGLE_GENAI_API_VERSION", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION",
               "GOOGLE_GENAI_HTTP_CLIENT")


@pytest.fixture
def gemini_server(monkeypatch: pytest.MonkeyPatch):
    """A running Gemini stand-in on 127.0.0.1 with GOOGLE_GEMINI_BASE_URL and a fake GEMINI_API_KEY set.

    Yields the ``standin.StandIn``: script faults with ``server.script([...])``, set ``server.latency``,
    read ``server.requests``. It is stopped (and any hanging answer released) when the test ends.
    """
    for name in _GEMINI_ENV:
        monkeypatch.delenv(name, raising=False)
    with StandIn() as server:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        monkeypatch.setenv("GEMINI_API_KEY", server.api_key)
        yield server
