"""Fixtures for whole builds: a project directory as the working directory, with nothing of the developer's
environment (keys, cache location) leaking in."""

from __future__ import annotations

import pytest


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty project directory, made the working directory; the offline voice is the default backend."""
    monkeypatch.chdir(tmp_path)
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "PODPIPE_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path
