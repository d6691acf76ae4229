"""Resource faults: a read-only or full cache, a full or blocked output directory, ffmpeg missing or failing.

Each ends in a clear one-line message, the documented exit code and nothing corrupted (``cache verify``
clean, no half-written output, no temp file). "Full" and "read-only" are real where we can make them real:
as root a tiny tmpfs is mounted (``-o size=...``, ``-o remount,ro``); otherwise a read-only directory is
chmod 555 and a full disk is simulated by making ``os.fsync`` fail with ENOSPC in the child (the cache
fsyncs every temp file before the rename that commits it, so that is where a full disk surfaces).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from tests.support.hardening import assert_cache_clean, assert_outputs_whole, child_env, run_podpipe, write_specs


def _can_mount() -> bool:
    if os.environ.get("PODPIPE_TEST_NO_MOUNT") == "1":  # exercise the fallbacks on a machine that can mount
        return False
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    probe = Path(tempfile.gettempdir()) / f".podpipe-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(probe)],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", str(probe)], check=True)
        return ok
    finally:
        probe.rmdir()


MOUNT = _can_mount()


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _remount_ro(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


_ENOSPC_FSYNC = textwrap.dedent("""
    import errno, os, sys
    marker = sys.argv[1]
    sys.argv = ["podpipe", *sys.argv[2:]]
    real = os.fsync
    def fsync(fd):
        if marker in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)
    os.fsync = fsync
    from podpipe.cli import main
    main()
""")


def _build(project: Path, *extra: str, env=None):
    return run_podpipe(project, "build", "--backend", "espeak", *extra, "a.yaml", "b.yaml", env=env)


def _one_line_error(result) -> str:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    project = tmp_path_factory.mktemp("faults")
    write_specs(project)
    done = _build(project)
    assert done.returncode == 0, done.stdout + done.stderr
    return project


def _copy(built: Path, dest: Path, *, cache: bool = True) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("a.yaml", "b.yaml"):
        shutil.copy(built / name, dest / name)
    if cache:
        shutil.copytree(built / ".podpipe-cache", dest / ".podpipe-cache", dirs_exist_ok=True)
    return dest


# -- the cache --------------------------------------------------------------------------------------------------


def test_full_cache_fails_the_renders_clearly_and_stores_nothing(tmp_path):
    write_specs(tmp_path)
    cache = tmp_path / ".podpipe-cache"
    if MOUNT:
        ctx = tmpfs(cache, "24k")  # room for the tag and a few entries, not for all six
        how = "tmpfs"
    else:
        ctx = contextlib.nullcontext()
        how = "fsync-enospc"
    with ctx:
        if MOUNT:
            result = _build(tmp_path)
        else:
            result = subprocess.run([sys.executable, "-c", _ENOSPC_FSYNC, ".podpipe-cache",
                                     "build", "--backend", "espeak", "a.yaml", "b.yaml"], cwd=tmp_path,
                                    env=child_env(), capture_output=True, text=True, timeout=60)
        text = _one_line_error(result)
        assert result.returncode == 1, (how, text)
        assert "No space left on device" in text and "could not be written to the cache" in text, text
        assert_cache_clean(cache)  # what fitted is whole; what did not left nothing behind
        assert not [p for p in cache.rglob("*.tmp")]
        assert not (tmp_path / "build" / "a.wav").exists()  # an episode with a missing render is not mixed


@pytest.mark.skipif(not MOUNT and os.geteuid() == 0, reason="root ignores chmod and mount is not permitted")
def test_read_only_cache_builds_from_it_and_refuses_to_render_into_it(tmp_path, built):
    project = _copy(built, tmp_path / "p", cache=False)
    cache = project / ".podpipe-cache"
    if MOUNT:
        ctx = tmpfs(cache, "4m")
    else:
        ctx = contextlib.nullcontext()
    with ctx:
        shutil.copytree(built / ".podpipe-cache", cache, dirs_exist_ok=True)
        before = sorted((p.relative_to(cache), p.stat().st_size) for p in cache.rglob("*") if p.is_file())
        if MOUNT:
            _remount_ro(cache)
        else:
            for d in [cache, *(p for p in cache.rglob("*") if p.is_dir())]:
                d.chmod(0o555)
        try:
            # everything cached: reading is all a build needs
            ok = _build(project)
            assert ok.returncode == 0, ok.stdout + ok.stderr
            assert "0 segments rendered, 6 cached" in ok.stdout
            # one line edited: the render is refused before any API call, with the reason
            spec = project / "a.yaml"
            spec.write_text(spec.read_text().replace("today", "tonight"))
            failed = _build(project)
            text = _one_line_error(failed)
            assert failed.returncode == 1, text
            assert "cannot lock its cache entry, so it was not rendered" in text or \
                   "could not be written to the cache" in text, text
            assert ("Read-only file system" in text) or ("Permission denied" in text), text
        finally:
            if not MOUNT:
                for d in [cache, *(p for p in cache.rglob("*") if p.is_dir())]:
                    d.chmod(0o755)
        after = sorted((p.relative_to(cache), p.stat().st_size) for p in cache.rglob("*") if p.is_file())
        assert after == before
        assert_cache_clean(cache)


# -- the output -------------------------------------------------------------------------------------------------


def test_missing_output_directory_is_created(tmp_path, built):
    project = _copy(built, tmp_path)
    spec = project / "a.yaml"
    spec.write_text(spec.read_text().replace("output: {format: wav}", "output: {path: out/deep/er/a.wav}"))
    result = _build(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "out" / "deep" / "er" / "a.wav").exists()


@pytest.mark.parametrize("fault", ["output-disk-full", "output-dir-is-a-file"])
def test_output_write_failure_is_a_clear_error_and_leaves_nothing(tmp_path, built, fault):
    project = _copy(built, tmp_path)
    build = project / "build"
    ctx = contextlib.nullcontext()
    if fault == "output-dir-is-a-file":
        build.write_text("not a directory")
    elif MOUNT:
        ctx = tmpfs(build, "64k")
    else:
        pytest.skip("needs a mount to fill a disk for real")
    with ctx:
        result = _build(project)
        text = result.stdout + result.stderr
        leftovers = [p.name for p in build.iterdir()] if build.is_dir() else []
    assert leftovers == []  # whatever happened, no half-written episode and no temp file
    assert_cache_clean(project / ".podpipe-cache")
    assert "internal error" not in text and result.returncode == 1, text
    assert "build" in text and ("No space left" in text or "Not a directory" in text or "exists" in text), text


# -- ffmpeg -------------------------------------------------------------------------------------------------------


def _mp3(project: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        spec = project / name
        spec.write_text(spec.read_text().replace("output: {format: wav}", "output: {format: mp3}"))


def test_failing_ffmpeg_is_a_clear_error_and_writes_no_output(tmp_path, built):
    project = _copy(built, tmp_path)
    _mp3(project)
    fake = tmp_path / "ffmpeg-broken"
    fake.write_text("#!/bin/sh\necho 'ffmpeg: simulated encoder crash' >&2\nexit 3\n")
    fake.chmod(0o755)
    env = child_env(PATH=os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                         if not (Path(p) / "ffmpeg").exists()),
                    IMAGEIO_FFMPEG_EXE=str(fake))
    result = _build(project, env=env)
    text = _one_line_error(result)
    assert result.returncode == 1, text  # a mix failure fails that episode; the others are still built
    assert "could not be mixed" in text and "simulated encoder crash" in text, text
    assert not list((project / "build").glob("*.mp3")) if (project / "build").exists() else True
    assert not [p for p in project.rglob("*.tmp")]
    assert_cache_clean(project / ".podpipe-cache")


def test_missing_ffmpeg_names_the_fix(tmp_path, built):
    project = _copy(built, tmp_path)
    _mp3(project)
    env = child_env(PATH=os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                         if not (Path(p) / "ffmpeg").exists()),
                    IMAGEIO_FFMPEG_EXE=str(tmp_path / "no-such-ffmpeg"))
    result = _build(project, env=env)
    text = _one_line_error(result)
    assert result.returncode == 1 and "could not be mixed" in text and "ffmpeg" in text, text
    assert not [p for p in project.rglob("*.tmp")]
    assert_outputs_whole(project)
