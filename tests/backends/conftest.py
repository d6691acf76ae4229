"""What the backend tests share: a Gemini backend pointed at the loopback stand-in."""

from __future__ import annotations

import pytest

from podpipe.backends.gemini import GeminiBackend


@pytest.fixture
def backend(gemini_server):
    """A ``GeminiBackend`` (the real google-genai client) talking to the stand-in, closed after the test."""
    b = GeminiBackend(timeout=10)
    yield b
    b.close()
