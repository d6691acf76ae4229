"""Builders shared by the spec tests: a file writer and the smallest valid spec, to write variants of."""

from __future__ import annotations

from pathlib import Path

import pytest

_MINIMAL = "title: T\nspeakers:\n  host: {voice: Zephyr}\nsegments:\n  - host: Hello.\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def write():
    """``write(path, text) -> path``: the file written as UTF-8, its folders created."""
    return _write


@pytest.fixture
def minimal() -> str:
    """The least a spec needs (one speaker, one line, every default); tests append segments or fields."""
    return _MINIMAL
