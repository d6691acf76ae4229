"""Atomic writes, shared by the cache and the mix: the old file or the whole new one, never a half; temp
files of live writers are left alone and those of dead writers are removed by the next write."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from podpipe.files import atomic_path, write_atomic
from podpipe.files.atomic import is_temp_name, remove_dead_temps, written_temp


def _temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if is_temp_name(p.name))


def test_write_atomic_creates_directories_and_honours_the_umask(tmp_path: Path, umask: int) -> None:
    out = tmp_path / "deep" / "er" / "a.json"
    write_atomic(out, b"{}")
    assert out.read_bytes() == b"{}"
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    write_atomic(out, b"[]", mode=0o600)
    assert out.read_bytes() == b"[]" and out.stat().st_mode & 0o777 == 0o600
    assert _temps(out.parent) == []


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failed_block_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, failure: BaseException) -> None:
    out = tmp_path / "ep.wav"
    out.write_bytes(b"old")
    with pytest.raises(type(failure)):
        with atomic_path(out) as tmp:
            tmp.write_bytes(b"half of the new")
            raise failure
    assert out.read_bytes() == b"old"
    assert _temps(tmp_path) == []


def test_the_block_may_write_the_path_by_name_from_another_process(tmp_path: Path) -> None:
    out = tmp_path / "ep.wav"
    with atomic_path(out) as tmp:
        assert tmp.parent == tmp_path and is_temp_name(tmp.name) and tmp.name.startswith(".ep.wav.")
        subprocess.run([sys.executable, "-c", f"open({str(tmp)!r}, 'wb').write(b'by ffmpeg')"], check=True)
        assert not out.exists()
    assert out.read_bytes() == b"by ffmpeg"


def test_dead_writers_temps_go_and_live_writers_temps_stay(tmp_path: Path) -> None:
    out = tmp_path / "a.wav"
    dead = tmp_path / f".a.wav.{os.getpid()}.0badf00d.tmp"  # the earlier naming: still recognised
    dead.write_bytes(b"RIFF half an episode")
    other = tmp_path / ".b.wav.1-2.0badf00d.tmp"  # another target's: not judged by a write of a.wav
    other.write_bytes(b"RIFF")
    with written_temp(out, b"being written") as live:
        assert remove_dead_temps(out) == 1
        write_atomic(out, b"meanwhile, another writer")
        assert live.exists() and live.read_bytes() == b"being written"
        os.replace(live, out)
    assert not dead.exists() and other.exists()
    assert out.read_bytes() == b"being written"
    assert _temps(tmp_path) == [other.name]


def test_written_temps_are_removed_unless_renamed_and_names_never_collide(tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    names: list[str] = []

    def write() -> None:
        for _ in range(20):
            with written_temp(out, b"x") as tmp:
                names.append(tmp.name)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 80
    assert _temps(tmp_path) == [] and not out.exists()
