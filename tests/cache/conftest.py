"""Builders shared by the cache tests, as fixtures: a store in a temp directory, keys, test audio, metadata,
and the few file-level edits that make an entry look like a crash, a rival writer or bit rot left it."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from podpipe.audio_types import Audio
from podpipe.cache import FileStore
from tests.support import audio

# What the render stage records, trimmed: a request summary and token usage (usage is not a secret).
_META = {"backend": "espeak", "model": "espeak-ng", "request": {"speakers": ["Alex"], "text": "Hello there."},
         "usage": {"prompt_tokens": 0, "output_tokens": 0, "total_tokens": 0}}


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "cache")


@pytest.fixture
def render_meta() -> dict:
    return json.loads(json.dumps(_META))  # a deep copy: a test may change it


@pytest.fixture
def key() -> Callable[[object], str]:
    """``key(n)``: a valid cache key (a sha256) made from anything, the same for the same ``n``."""
    return lambda n: hashlib.sha256(repr(n).encode()).hexdigest()


@pytest.fixture
def tone() -> Callable[..., Audio]:
    """``tests.support.audio.tone`` (``tone(freq=440.0, seconds=0.05, ...)``): a sine, so two takes differ
    audibly."""
    return audio.tone


@pytest.fixture
def stored(store: FileStore, key, tone, render_meta) -> str:
    """The key of an intact entry in ``store``: ``tone()`` put with ``render_meta`` under ``key(1)``."""
    k = key(1)
    store.put(k, tone(), render_meta)
    return k


@pytest.fixture
def umask() -> int:
    """The process's umask, which files created with a default mode honour."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.fixture
def files_under() -> Callable[[Path], list[str]]:
    """``files_under(root)``: every file below ``root``, as sorted relative POSIX paths."""
    return _files_under


@pytest.fixture
def temp_files() -> Callable[[Path], list[str]]:
    """``temp_files(root)``: the temp files (``.<name>….tmp``) below ``root``."""
    return lambda root: [f for f in _files_under(root) if f.rsplit("/", 1)[-1].startswith(".") and f.endswith(".tmp")]


@pytest.fixture
def edit_record() -> Callable[..., None]:
    """``edit_record(store, key, **fields)``: change fields of an entry's record behind the store's back."""
    return _edit_record


@pytest.fixture
def match_record_to_wav() -> Callable[[FileStore, str], None]:
    """``match_record_to_wav(store, key)``: make the record agree with whatever the WAV now holds, as a buggy
    writer would have, so that only the checks of the audio itself can find the damage."""
    def match(store: FileStore, key: str) -> None:
        data = store.entry_paths(key)[0].read_bytes()
        _edit_record(store, key, bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    return match


@pytest.fixture
def age_file() -> Callable[[Path, float], None]:
    """``age_file(path, seconds)``: set the modification time ``seconds`` into the past."""
    def age(path: Path, seconds: float) -> None:
        t = time.time() - seconds
        os.utime(path, (t, t))
    return age


def _files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _edit_record(store: FileStore, k: str, /, **changes) -> None:
    record = store.entry_paths(k)[1]
    data = json.loads(record.read_text())
    data.update(changes)
    record.write_text(json.dumps(data))
