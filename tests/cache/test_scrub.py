"""Credentials never reach a cache record: by field name, by value from the environment, at any depth."""

from __future__ import annotations

import logging

from podpipe.cache import FileStore
from podpipe.secrets import without_secrets

CANARY = "AIza" "Canary-0123456789abcdef"  # split: a key-shaped literal trips secret scanners


def test_secrets_never_reach_the_metadata(store: FileStore, monkeypatch, key, tone) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", CANARY)
    monkeypatch.setenv("SHORT_TOKEN", "1")  # too short to treat as a secret
    store.put(key(1), tone(), {
        "backend": "gemini",
        "error": f"401 for key {CANARY}",
        "request": {"url": f"https://example.invalid/v1?key={CANARY}", "text": "1 of 1"},
        "headers": ["Accept: audio/wav", f"x-goog-api-key: {CANARY}"],
        "api_key": "anything", "Authorization": "Bearer xyz", CANARY: "as a field name",
        "usage": {"prompt_tokens": 5, "output_tokens": 7, "total_tokens": 12},
    })
    text = store.entry_paths(key(1))[1].read_text()
    assert CANARY not in text
    meta = store.meta(key(1))
    assert "api_key" not in meta and "Authorization" not in meta and "error" not in meta
    assert meta["request"] == {"text": "1 of 1"}
    assert meta["headers"] == ["Accept: audio/wav"]
    assert meta["usage"] == {"prompt_tokens": 5, "output_tokens": 7, "total_tokens": 12}
    assert meta["backend"] == "gemini"


def test_values_are_matched_by_containment_at_any_depth_and_lists_lose_only_the_offending_items(caplog) -> None:
    env = {"MY_SERVICE_TOKEN": CANARY, "PATH": "/usr/bin:/bin", "SHORT_SECRET": "1234567"}
    meta = {"deep": {"deeper": [{"note": f"Bearer {CANARY}"}, "kept", ("x", f"?key={CANARY}")]},
            "path": "/usr/bin:/bin", "short": "1234567 is too short to be treated as a secret",
            "prompt_tokens": 3, "client-secret": "by name", "Token": "by name, any case"}
    with caplog.at_level(logging.WARNING):
        clean = without_secrets(meta, env)
    assert clean == {"deep": {"deeper": [{}, "kept", ["x"]]}, "path": "/usr/bin:/bin",
                     "short": "1234567 is too short to be treated as a secret", "prompt_tokens": 3}
    assert meta["deep"]["deeper"][0] == {"note": f"Bearer {CANARY}"}  # the caller's dict is left alone
    assert [r.getMessage() for r in caplog.records] == [
        "cache metadata: dropped 4 value(s) that looked like credentials"]


def test_nothing_to_drop_logs_nothing(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert without_secrets({"a": [1, "b"], "c": None}, {"GEMINI_API_KEY": CANARY}) == {"a": [1, "b"], "c": None}
    assert caplog.records == []
