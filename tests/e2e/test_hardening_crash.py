"""kill -9 at chosen and at random points of a build; the next build always completes and nothing is damaged.

Chosen points are hit exactly by a wrapper that SIGKILLs its own process at the n-th call of ``os.replace`` or
``os.fsync`` of a given kind of file (a cache commit, a cache temp write, the output export, the manifest);
random points come from killing a build against a stand-in with latency after a random delay. After every
kill: no cache entry serves wrong audio, every output present is a whole WAV. After the rerun: exit 0,
``cache verify`` clean, every output matches its manifest, no temp file left in the cache.

``PODPIPE_SOAK_KILLS=N`` raises the number of random kills (default 2) for a longer soak.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from podpipe.cache import FileStore, verify
from podpipe.cache.maintenance import scan
from podpipe.cli import cli
from tests.support.hardening import (assert_cache_clean, assert_outputs_whole, child_env, podpipe_cmd, record_figure,
                                     run_podpipe, write_specs)
from tests.support.standin import StandIn

SOAK_KILLS = int(os.environ.get("PODPIPE_SOAK_KILLS", "2"))

_KILLER = textwrap.dedent("""
    import os, signal, sys
    point, nth = sys.argv[1], int(sys.argv[2])
    sys.argv = ["podpipe", *sys.argv[3:]]
    seen = [0]
    real_replace, real_fsync = os.replace, os.fsync

    def hit():
        seen[0] += 1
        if seen[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)

    def replace(src, dst):
        d = os.fspath(dst)
        if point == "cache-commit" and d.endswith(".json") and os.sep + "v1" + os.sep in d:
            hit()  # the audio is in place, its record is not: the worst moment of a put
        elif point == "export" and d.endswith(".wav") and os.sep + "build" + os.sep in d:
            hit()  # the episode is fully written to its temp file, not yet renamed
        elif point == "manifest" and d.endswith(".manifest.json"):
            hit()  # the new episode is in place, its manifest is still the old one (or none)
        return real_replace(src, dst)

    def fsync(fd):
        if point == "cache-temp":
            hit()  # a cache temp file is written but not yet synced or renamed
        return real_fsync(fd)

    os.replace, os.fsync = replace, fsync
    from podpipe.cli import main
    main()
""")


def _killed_build(project: Path, point: str, nth: int, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _KILLER, point, str(nth), "build", "--rpm", "0", "-j", "2",
                             "a.yaml", "b.yaml"], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _check_after_kill(project: Path) -> None:
    """Right after a kill: whatever the cache serves is intact, whatever output exists is a whole WAV."""
    store = FileStore(project / ".podpipe-cache")
    for key in store.keys():
        store.get(key)  # never raises; a damaged entry is a miss (verify below says which are incomplete)
    for _key, reason in verify(store).problems:
        assert "interrupted" in reason or "stale temp" in reason or "without" in reason, reason
    build = project / "build"
    for out in build.glob("*.wav") if build.exists() else []:
        with wave.open(str(out), "rb") as w:
            frames = w.getnframes()
            assert len(w.readframes(frames)) == frames * w.getsampwidth() * w.getnchannels(), out


def _check_rerun(project: Path, env, entries: int = 6) -> None:
    done = run_podpipe(project, "build", "--rpm", "0", "a.yaml", "b.yaml", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    verify_cli = CliRunner().invoke(cli, ["cache", "verify", "--cache-dir", str(project / ".podpipe-cache")])
    assert verify_cli.exit_code == 0 and "0 problems" in verify_cli.output, verify_cli.output
    assert assert_cache_clean(project / ".podpipe-cache") == entries
    assert len(assert_outputs_whole(project)) == 2
    assert scan(FileStore(project / ".podpipe-cache")).temps == []  # the rerun cleaned what the kill left


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A project built once (cache + outputs), copied by the tests that kill a rebuild."""
    project = tmp_path_factory.mktemp("built")
    write_specs(project)
    with StandIn() as server:
        done = run_podpipe(project, "build", "--rpm", "0", "a.yaml", "b.yaml", env=child_env(server))
    assert done.returncode == 0, done.stdout + done.stderr
    return project


@pytest.mark.parametrize("point,nth", [("cache-temp", 3), ("cache-commit", 2), ("export", 1), ("manifest", 1)])
def test_kill_at_a_chosen_point_then_rebuild(tmp_path, built, point, nth):
    import shutil

    write_specs(tmp_path)
    with StandIn() as server:
        env = child_env(server)
        if point in ("export", "manifest"):  # from a complete build, so the kill replaces existing outputs
            shutil.copytree(built, tmp_path, dirs_exist_ok=True)
            spec = tmp_path / "a.yaml"
            spec.write_text(spec.read_text().replace("all for today", "all for this week"))
        proc = _killed_build(tmp_path, point, nth, env)
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, f"{point} #{nth} was never reached"
        _check_after_kill(tmp_path)
        _check_rerun(tmp_path, env, 7 if point in ("export", "manifest") else 6)  # the edit added a key
    record_figure("kills_survived", 1)


def test_random_kills_during_a_slow_build(tmp_path):
    """Kill a build at random moments while renders are in flight, SOAK_KILLS times, then finish it."""
    write_specs(tmp_path)
    rng = random.Random(int(os.environ.get("PODPIPE_SOAK_SEED", "5")))
    survived = 0
    with StandIn(latency=0.25) as server:
        env = child_env(server)
        for _ in range(SOAK_KILLS):
            proc = subprocess.Popen(podpipe_cmd("build", "--rpm", "0", "-j", "2", "a.yaml", "b.yaml"), cwd=tmp_path,
                                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.5, 1.8))  # interpreter start is ~1 s: some kills land before any render
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            _check_after_kill(tmp_path)
            survived += 1
        _check_rerun(tmp_path, env)
    record_figure("kills_survived", survived)


def test_output_temp_files_of_a_killed_export_are_cleaned_by_the_next_build(tmp_path, built, monkeypatch,
                                                                          gemini_server):
    """The debris a kill during export leaves (test_kill_at_a_chosen_point_then_rebuild[export] makes it for
    real) is a temp file whose writer is gone; the next build that writes that output must remove it."""
    import shutil

    shutil.copytree(built, tmp_path, dirs_exist_ok=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    debris = tmp_path / "build" / f".a.wav.{dead.stdout.strip()}.0badf00d.tmp"  # atomic_path's naming
    debris.write_bytes(b"RIFF half an episode")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["build", "--force", "a.yaml", "b.yaml"])  # all cached: no render
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "build").iterdir() if p.name.endswith(".tmp")] == []


def test_dead_writer_temp_files_are_removed_by_the_next_put_of_the_key(tmp_path):
    """The cache half of the cleanup, in-process: an unlocked temp file of a key is a dead writer's."""
    from podpipe.audio_types import Audio

    store = FileStore(tmp_path)
    key = "ab" * 32
    store.put(key, Audio(b"\x01\x00" * 100, 24000), {})
    fan = store.entry_paths(key)[0].parent
    dead = fan / f".{key}.wav.999-1.xyz.tmp"
    dead.write_bytes(b"RIFF half")
    other = fan / f".{'ab' + 'c' * 62}.wav.999-1.xyz.tmp"  # another key's: not ours to judge now
    other.write_bytes(b"RIFF")
    store.put(key, Audio(b"\x02\x00" * 100, 24000), {})
    assert not dead.exists() and other.exists()
    assert store.get(key) == Audio(b"\x02\x00" * 100, 24000)
