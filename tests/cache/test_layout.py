"""Where the cache lives (``--cache-dir``, ``$PODPIPE_CACHE_DIR``, the default) and which names it owns."""

from __future__ import annotations

from pathlib import Path

import pytest

from podpipe.cache import resolve_cache_dir
from podpipe.cache.layout import is_fan, split_entry_name, validate_key
from podpipe.errors import UsageError


def test_resolve_cache_dir_precedence(tmp_path: Path, monkeypatch) -> None:
    env = {"PODPIPE_CACHE_DIR": str(tmp_path / "from-env")}
    assert resolve_cache_dir("opt", env, tmp_path) == tmp_path / "opt"
    assert resolve_cache_dir(tmp_path / "abs", env, tmp_path / "elsewhere") == tmp_path / "abs"
    assert resolve_cache_dir(None, env, tmp_path) == tmp_path / "from-env"
    assert resolve_cache_dir(None, {"PODPIPE_CACHE_DIR": "rel"}, tmp_path) == tmp_path / "rel"
    assert resolve_cache_dir(None, {}, tmp_path) == tmp_path / ".podpipe-cache"
    assert resolve_cache_dir("", {"PODPIPE_CACHE_DIR": ""}, tmp_path) == tmp_path / ".podpipe-cache"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_cache_dir(None, {"PODPIPE_CACHE_DIR": "~/c"}, tmp_path) == tmp_path / "home" / "c"
    monkeypatch.setenv("PODPIPE_CACHE_DIR", str(tmp_path / "real-env"))
    monkeypatch.chdir(tmp_path / "..")
    assert resolve_cache_dir() == tmp_path / "real-env"


def test_resolve_cache_dir_rejects_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UsageError, match="--cache-dir .*afile: exists but is not a directory"):
        resolve_cache_dir("afile", {}, tmp_path)
    with pytest.raises(UsageError, match="PODPIPE_CACHE_DIR"):
        resolve_cache_dir(None, {"PODPIPE_CACHE_DIR": "afile"}, tmp_path)


def test_names_the_cache_owns() -> None:
    k = "0a" * 32
    assert validate_key(k) == k
    assert split_entry_name(f"{k}.wav") == (k, "wav") and split_entry_name(f"{k}.lock") == (k, "lock")
    for other in (f"{k}", f"{k[:-1]}.wav", f"{k.upper()}.json", "notes.txt", f".{k}.wav.1-2.ab.tmp"):
        assert split_entry_name(other) == ("", "")
    assert is_fan("0a") and not is_fan("0A") and not is_fan("0ab") and not is_fan("zz")
