"""Shared fixtures. The Gemini stand-in fixture lives here so every test module (backend, scheduler, CLI,
benchmarks' smoke tests) can point the real google-genai client at a loopback server."""

from __future__ import annotations

import os

import pytest

from tests.support.standin import StandIn


def pytest_collection_modifyitems(config, items):
    """Tests marked ``ci`` (slow, e.g. building a venv with pip) run in CI (CI set) or with PODPIPE_CI_TESTS=1."""
    if os.environ.get("CI") or os.environ.get("PODPIPE_CI_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="a CI-only test (set PODPIPE_CI_TESTS=1 to run it here)")
    for item in items:
        if item.get_closest_marker("ci"):
            item.add_marker(skip)


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


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1 for the whole session (``tests/support/s3.py``); stopped at the end."""
    from tests.support.s3 import S3Server

    with S3Server() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server, monkeypatch: pytest.MonkeyPatch):
    """A fresh bucket on ``s3_server``, with ``AWS_ENDPOINT_URL`` and fake credentials set for botocore.

    Yields a ``tests.support.s3.Bucket``: ``bucket.url(prefix)`` is its ``s3://`` URL, ``bucket.objects()``
    its contents, ``bucket.server.requests`` what reached the server, ``bucket.server.fault`` injects faults.
    """
    from tests.support.s3 import Bucket, point_at

    point_at(monkeypatch, s3_server.endpoint)
    s3_server.fault, s3_server.ignore_conditions = None, False
    yield Bucket(s3_server, s3_server.create_bucket())
    s3_server.fault, s3_server.ignore_conditions = None, False


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project directory, made the working directory, with no cache directory set (API keys, such
    as the stand-in's, are left as they are)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PODPIPE_CACHE_DIR", raising=False)
    return tmp_path


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty project directory, made the working directory; the offline voice is the default backend."""
    monkeypatch.chdir(tmp_path)
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "PODPIPE_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def redis_server(tmp_path_factory):
    """A redis-server on 127.0.0.1 for this test alone (``.url``, ``.kill()``), killed when it ends."""
    from tests.support.redis import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.kill()
