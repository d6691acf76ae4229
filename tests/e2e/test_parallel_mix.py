"""Episodes mixed in parallel worker processes (``--mix-jobs``), overlapping the renders still in flight:
real builds with the offline voice, real worker processes and the real mixer."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podpipe import backends
from podpipe.backends.espeak import EspeakBackend
from podpipe.commands import BuildOptions, build
from podpipe.commands.build import prepare
from podpipe.commands.mixing import Mixer
from podpipe.errors import BackendError
from tests.support import REPO
from tests.support.cli import run

SPEC = """\
title: Parallel {n}
author: The Test Show
speakers:
  host: {{voice: Zephyr, name: Alex}}
  guest: {{voice: Puck, name: Sam}}
segments:
  - chapter: Start
    host: Welcome to episode {n}, mixed beside its siblings.
  - dialogue:
      - host: Does the order of the workers change a single byte?
      - guest: Not one byte of episode {n}.
  - pause: 0.3
{extra}  - host: That was episode {n}.
output: {{format: {fmt}}}
"""


def write(project: Path, name: str, n: int, fmt: str = "wav", lines: int = 0) -> str:
    extra = "".join(f"  - guest: Line {i} of episode {n}, said to make it longer.\n" for i in range(lines))
    (project / name).write_text(SPEC.format(n=n, fmt=fmt, extra=extra), encoding="utf-8")
    return name


def outputs(project: Path) -> dict[str, object]:
    """Every file a build wrote, by name; manifests without the output's mtime (a rewrite changes only it)."""
    files: dict[str, object] = {}
    for path in sorted((project / "build").iterdir()):
        files[path.name] = path.read_bytes()
        if path.name.endswith(".manifest.json"):
            files[path.name] = manifest = json.loads(files[path.name])
            del manifest["output"]["mtime_ns"]
    return files


def test_parallel_mixes_are_byte_identical_to_sequential_ones(workdir):
    specs = [write(workdir, "a.yaml", 1), write(workdir, "b.yaml", 2, "mp3"), write(workdir, "c.yaml", 3, "flac")]
    sequential = build(specs, BuildOptions(mix_jobs=1))
    assert [e.state for e in sequential.episodes] == ["built"] * 3
    before = outputs(workdir)
    assert len(before) == 3 * 5  # output, manifest, vtt, srt, chapters

    parallel = build(specs, BuildOptions(mix_jobs=2, force=True))
    assert [(e.name, e.state) for e in parallel.episodes] == [("a", "built"), ("b", "built"), ("c", "built")]
    assert outputs(workdir) == before
    assert [e.duration for e in parallel.episodes] == [e.duration for e in sequential.episodes]
    assert parallel.summary() == "0 segments rendered, 9 cached, 0 failed; 3 episodes built, 0 up to date"


def test_an_episode_whose_renders_are_cached_is_mixed_while_another_renders(workdir, monkeypatch):
    ready, late = write(workdir, "ready.yaml", 1), write(workdir, "late.yaml", 2)
    build([ready], BuildOptions(mix_jobs=1))
    ready_output = workdir / "build" / "ready.wav"
    ready_output.unlink()  # stale again, with every render cached
    waited: list[float] = []

    class WaitsForTheOtherMix(EspeakBackend):
        """Renders only once the cached episode's output exists: a build that mixes after its renders
        times out here and fails the late episode."""

        def render(self, request):
            start = time.monotonic()
            while not ready_output.exists():
                if time.monotonic() - start > 120:
                    raise BackendError("ready.wav was not mixed while this render waited", retryable=False)
                time.sleep(0.02)
            waited.append(time.monotonic() - start)
            return super().render(request)

    monkeypatch.setattr(backends, "backend_class", lambda name: WaitsForTheOtherMix)
    result = build([ready, late], BuildOptions(backend="espeak", mix_jobs=2, jobs=1))
    assert [(e.name, e.state) for e in result.episodes] == [("ready", "built"), ("late", "built")]
    assert len(result.render.rendered) == 3 and len(waited) == 3
    assert waited[0] > 0  # the first render really was held until the other episode's mix was done


def test_a_mix_that_fails_in_a_worker_fails_that_episode_only(workdir):
    (workdir / "noise.wav").write_bytes(b"this is not audio at all" * 40)
    write(workdir, "a.yaml", 1)
    (workdir / "bad.yaml").write_text(SPEC.format(n=2, fmt="wav", extra="  - sound: noise.wav\n"))
    (workdir / "blocked.yaml").write_text(SPEC.format(n=3, fmt="wav", extra="").replace(
        "output: {format: wav}", "output: {path: blocked/out.wav}"))
    (workdir / "blocked").write_text("a file where the output directory should be")
    write(workdir, "d.yaml", 4)
    result = run("build", "--mix-jobs", "2", "a.yaml", "bad.yaml", "blocked.yaml", "d.yaml", code=1)
    lines = [line for line in result.output.splitlines() if line.startswith(("a:", "bad:", "blocked:", "d:"))]
    assert [line.split(" (")[0] for line in lines] == [
        "a: built build/a.wav", "bad: failed", "blocked: failed", "d: built build/d.wav"]
    assert "bad.yaml: could not be mixed" in result.output and "noise.wav" in result.output
    assert "blocked.yaml: could not be mixed: cannot write" in result.output
    assert (workdir / "build" / "a.wav").exists() and (workdir / "build" / "d.wav").exists()
    assert not (workdir / "build" / "bad.wav").exists()
    assert "2 episodes built" in result.output


def test_episodes_whose_renders_never_started_are_failed_not_waiting(workdir):
    specs = [write(workdir, "a.yaml", 1), write(workdir, "b.yaml", 2)]
    result = run("build", "--backend", "gemini", "--mix-jobs", "2", *specs, code=1)  # no key: nothing renders
    assert "a: failed (3 renders failed)" in result.output and "b: failed (3 renders failed)" in result.output
    assert "GEMINI_API_KEY" in result.output and not (workdir / "build").exists()


def test_a_bug_in_a_worker_is_raised_in_the_build_with_the_workers_traceback(workdir):
    prepared = prepare([write(workdir, "a.yaml", 1)])
    broken = dataclasses.replace(prepared.episodes[0], rundown=None)  # what no user input can cause: a bug
    with Mixer(2, prepared.local, prepared.store) as mixer:
        mixer.submit(broken)
        with pytest.raises(AttributeError) as caught:
            mixer.result(broken)
    assert "in mix_one" in str(caught.value.__cause__)  # the worker's own traceback comes along


def test_one_stale_episode_is_mixed_without_a_pool(workdir):
    write(workdir, "a.yaml", 1)
    code = ("import sys; from podpipe.commands import BuildOptions, build; "
            "r = build(['a.yaml'], BuildOptions(mix_jobs=4)); assert r.episodes[0].state == 'built'; "
            "print('concurrent.futures.process' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=workdir, env={**env, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups (POSIX)")
def test_ctrl_c_during_parallel_mixes_stops_them_all_and_leaves_no_partial_output(workdir):
    specs = [write(workdir, "a.yaml", 1, lines=4), write(workdir, "b.yaml", 2, lines=4),
             write(workdir, "c.yaml", 3, fmt="mp3", lines=4)]
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env.update(PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "podpipe", "build", "--mix-jobs", "2", *specs]
    subprocess.run([*cmd, "--mix-jobs", "1"], cwd=workdir, env=env, capture_output=True, check=True, timeout=300)
    build_dir = workdir / "build"
    for name in ("a.wav", "b.wav", "c.mp3"):
        (build_dir / name).unlink()
    # c's encoder waits on a pipe nobody writes to: c cannot be finished when Ctrl-C comes, however the
    # machine schedules the workers (an event, not a race with a longer episode)
    import imageio_ffmpeg

    gate = workdir / "c-gate"
    os.mkfifo(gate)
    wrapper = workdir / "ffmpeg-gated"
    wrapper.write_text(f'#!/bin/sh\ncase "$*" in *c.mp3*) read _ < "{gate}" ;; esac\n'
                       f'exec "{imageio_ffmpeg.get_ffmpeg_exe()}" "$@"\n')
    wrapper.chmod(0o755)
    gated = {**env, "IMAGEIO_FFMPEG_EXE": str(wrapper)}

    # Its own process group, as a shell gives a foreground job: Ctrl-C reaches the workers (and ffmpeg) too.
    proc = subprocess.Popen(cmd, cwd=workdir, env=gated, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 120  # a safety net only: the test waits for the first output
    while not any((build_dir / n).exists() for n in ("a.wav", "b.wav")) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert any((build_dir / n).exists() for n in ("a.wav", "b.wav")), "no episode was mixed"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err and "Traceback" not in err
    assert not (build_dir / "c.mp3").exists()  # held in its encoder, or not started
    assert not list(build_dir.glob(".*.tmp"))
    deadline = time.monotonic() + 60  # a safety net: the processes go at once
    while time.monotonic() < deadline:  # every worker and its ffmpeg have gone with the build
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("processes of the interrupted build are still running")

    rerun = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "c: built" in rerun.stdout and "0 segments rendered" in rerun.stdout
    finished = [n for n in "ab" if f"{n}: up to date" in rerun.stdout]
    assert finished  # what was mixed before Ctrl-C is complete: not mixed again
