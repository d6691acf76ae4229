"""Renders paid for once per team: whole builds on two "machines" (two projects, two local caches) sharing
one remote cache on a real S3 API server (moto on 127.0.0.1, through s3fs), with the real google-genai client
against the Gemini stand-in counting what is paid for."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import REPO
from tests.support.cli import run

PANEL = """\
title: Remote {n}
speakers:
  host: {{voice: Zephyr, name: Alex}}
  guest: {{voice: Puck, name: Sam}}
segments:
  - host: Welcome to episode {n} of the shared show.
  - dialogue:
      - host: Did anybody pay twice for this line?
      - guest: Not with a remote cache, they did not.
  - host: See you next time, from episode {n}.
output: {{format: mp3}}
"""


def machine(root: Path, name: str, episodes: int = 2) -> Path:
    project = root / name
    project.mkdir()
    for n in range(1, episodes + 1):
        (project / f"ep{n}.yaml").write_text(PANEL.format(n=n), encoding="utf-8")
    return project


def build(project: Path, *args: str, code: int = 0):
    old = os.getcwd()
    os.chdir(project)
    try:
        return run("build", "--rpm", "0", *args, *sorted(p.name for p in project.glob("ep*.yaml")), code=code)
    finally:
        os.chdir(old)


@pytest.fixture
def shared(gemini_server, s3_bucket, monkeypatch, tmp_path):
    monkeypatch.delenv("PODPIPE_CACHE_DIR", raising=False)
    monkeypatch.setenv("PODPIPE_REMOTE_CACHE", s3_bucket.url("team"))
    return gemini_server, s3_bucket, tmp_path


def test_a_second_machine_pays_for_nothing_and_gets_identical_outputs(shared):
    gemini, bucket, root = shared
    first = build(machine(root, "a"), "-j", "2")
    assert len(gemini.generate_requests()) == 5  # 2 intros + 2 outros + 1 shared dialogue
    assert "remote cache: 0 hits, 5 misses, 0 errors, 5 uploaded" in first.output
    gemini.reset()
    second_project = machine(root, "b")
    second = build(second_project)
    assert gemini.generate_requests() == []
    assert "0 segments rendered" in second.output and "from the remote cache" in second.output
    for name in ("ep1.mp3", "ep1.vtt", "ep2.mp3", "ep2.manifest.json"):
        assert (root / "a" / "build" / name).read_bytes() == (second_project / "build" / name).read_bytes()
    assert "up to date" in build(second_project).output  # what was downloaded counts as built here
    # the local cache was not filled with renders: finished outputs came down whole, nothing was mixed
    assert not list((second_project / ".podpipe-cache").glob("v1/*/*.wav"))


def test_renders_come_down_when_only_the_mix_differs(shared):
    gemini, bucket, root = shared
    build(machine(root, "a"))
    gemini.reset()
    other = machine(root, "b")
    for spec in other.glob("ep*.yaml"):  # another format: another mix, the same renders
        spec.write_text(spec.read_text(encoding="utf-8").replace("format: mp3", "format: wav"), encoding="utf-8")
    result = build(other)
    assert gemini.generate_requests() == [] and "2 episodes built" in result.output
    assert len(list((other / ".podpipe-cache").glob("v1/*/*.wav"))) == 5  # remote hits are kept locally


@pytest.mark.parametrize("store", ["s3", "file"])
def test_concurrent_machines_render_each_key_once(shared, store):
    """Three machines build the same episodes at once: each key is paid for once in the fleet, each finished
    episode uploaded once (the lease is re-checked after it is taken; outputs go under the same protocol)."""
    gemini, bucket, root = shared
    env = {k: v for k, v in os.environ.items()}
    env["PYTHONPATH"] = str(REPO)
    if store == "file":
        env["PODPIPE_REMOTE_CACHE"] = (root / "team-cache").as_uri()
    gemini.latency = 0.3
    projects = [machine(root, name) for name in ("a", "b", "c")]
    procs = [subprocess.Popen([sys.executable, "-m", "podpipe", "build", "--rpm", "0", "-j", "3", "ep1.yaml",
                               "ep2.yaml"], cwd=p, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for p in projects]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    bodies = [str(r.body) for r in gemini.generate_requests() if r.status == 200]
    assert len(bodies) == 5 and len(set(bodies)) == 5, outputs  # every key paid for once in the fleet
    uploaded = [int(m.group(1)) for out in outputs for m in re.finditer(r"(\d+) episodes? uploaded", out)]
    assert sum(uploaded) == 2, outputs  # one upload per finished episode
    if store == "s3":
        indexes = [r for r in bucket.server.writes(bucket.name) if "/outputs/" in r.path and r.path.endswith(".json")]
        assert len(indexes) == 2
    for project in projects:
        for name in ("ep1.mp3", "ep2.mp3"):
            assert (project / "build" / name).stat().st_size > 1000


def test_a_hung_store_costs_a_build_its_deadline_and_says_so(gemini_server, monkeypatch, tmp_path):
    """An endpoint that accepts connections and never answers: the build finishes (exit 0) within the
    deadline plus its normal time, with the warning, instead of hanging for many minutes."""
    from tests.support.blackhole import Blackhole
    from tests.support.s3 import point_at

    monkeypatch.delenv("PODPIPE_CACHE_DIR", raising=False)
    with Blackhole() as hole:
        point_at(monkeypatch, hole.url)
        monkeypatch.setenv("PODPIPE_REMOTE_CACHE", "s3://hung-bucket/team")
        t0 = time.monotonic()
        result = build(machine(tmp_path, "a"), "--remote-cache-timeout", "3")
        elapsed = time.monotonic() - t0
        assert hole.first.is_set()  # it was asked, and never answered
    assert "2 episodes built" in result.output and len(gemini_server.generate_requests()) == 5
    assert "no answer within 3 s" in result.output and "switched off for the rest of this build" in result.output
    assert result.output.index("no answer within") < result.output.index("ep1: built")  # said when it happened
    assert elapsed < 3 + 120  # the deadline plus a normal build (a generous bound: it used to take 20+ minutes)


def test_refused_credentials_are_said_at_the_start_and_fail_a_strict_build(shared):
    gemini, bucket, root = shared
    bucket.server.fault = lambda method, path: "403"
    project = machine(root, "a")
    strict = build(project, "--strict", code=5)
    assert "refused these credentials (AccessDenied)" in strict.output and "AWS_ACCESS_KEY_ID" in strict.output
    assert "--strict: stopping before anything is rendered" in strict.output
    assert gemini.generate_requests() == [] and not (project / "build").exists()
    lenient = build(project)  # without --strict: said once, at the start, then built without the remote
    assert lenient.output.count("refused these credentials") == 1 and "2 episodes built" in lenient.output
    assert lenient.output.index("refused these credentials") < lenient.output.index("ep1: built")


def test_a_bucket_that_does_not_exist_is_not_an_empty_cache(shared, monkeypatch):
    gemini, bucket, root = shared
    monkeypatch.setenv("PODPIPE_REMOTE_CACHE", "s3://podpipe-no-such-bucket/team")
    monkeypatch.chdir(machine(root, "a"))
    plan = run("plan", "--frozen", "--remote-cache-mode", "read", "ep1.yaml", "ep2.yaml", code=3)
    assert "'podpipe-no-such-bucket' does not exist (NoSuchBucket)" in plan.output and "create the bucket" in plan.output
    strict = run("plan", "--strict", "--remote-cache-mode", "read", "ep1.yaml", "ep2.yaml", code=5)
    assert strict.output.count("does not exist") == 1
    pull = run("cache", "pull", "ep1.yaml", "ep2.yaml", code=5)
    assert "does not exist" in pull.output and "pulled" not in pull.output
    assert gemini.generate_requests() == []


def test_a_corrupted_remote_entry_is_rendered_again_and_reported(shared):
    gemini, bucket, root = shared
    build(machine(root, "a"), "--remote-cache-mode", "write")
    wavs = [key for key in bucket.objects() if key.endswith(".wav")]
    bucket.put(wavs[0], bucket.objects()[wavs[0]][:-200] + bytes(200))
    gemini.reset()
    other = machine(root, "b")
    for spec in other.glob("ep*.yaml"):  # a different mix, so the renders themselves are needed
        spec.write_text(spec.read_text(encoding="utf-8").replace("format: mp3", "format: wav"), encoding="utf-8")
    result = build(other)
    assert len(gemini.generate_requests()) == 1, result.output  # just the damaged one
    assert "rejected" in result.output and "1 segment rendered" in result.output


def test_a_damaged_finished_episode_is_repaired_by_the_next_machine_and_accepted_by_the_one_after(shared):
    gemini, bucket, root = shared
    build(machine(root, "a"))
    damaged = sorted(k for k, v in bucket.objects().items() if "/outputs/" in k and v[:3] == b"ID3")[0]  # an MP3
    bucket.put(damaged, bytes(len(bucket.objects()[damaged])))  # same-size garbage
    second = build(machine(root, "b"))
    assert "failed verification" in second.output and "repaired" in second.output
    assert "1 repaired" in second.output and "1 episode uploaded" in second.output
    assert bucket.objects()[damaged][:3] == b"ID3"
    gemini.reset()
    third = build(machine(root, "c"))
    assert "failed verification" not in third.output and "rejected" not in third.output
    assert third.output.count("from the remote cache") == 2 and gemini.generate_requests() == []


def test_read_mode_never_writes(shared):
    gemini, bucket, root = shared
    before = len(bucket.server.writes(bucket.name))
    result = build(machine(root, "a"), "--remote-cache-mode", "read")
    assert "5 segments rendered" in result.output
    assert len(bucket.server.writes(bucket.name)) == before
    assert not bucket.objects()


def test_a_remote_that_goes_away_never_fails_the_build(shared):
    gemini, bucket, root = shared
    # Every request refused at once: the build's side of a remote that fails. (That botocore retries a 503
    # SlowDown with backoff is proven in tests/cache/remote/test_remote_faults.py; here it would only cost
    # a dozen seconds of backoff.)
    bucket.server.fault = lambda method, path: "403"
    result = build(machine(root, "a"))
    assert "5 segments rendered" in result.output and "2 episodes built" in result.output
    assert "remote cache" in result.output and "errors" in result.output


def test_the_remote_cache_url_is_checked_before_anything_happens(shared, monkeypatch):
    gemini, bucket, root = shared
    monkeypatch.setenv("PODPIPE_REMOTE_CACHE", "ftp://example.invalid/cache")
    result = build(machine(root, "a"), code=2)
    assert "ftp://" in result.output and gemini.generate_requests() == []


def test_no_remote_no_remote_code(tmp_path, monkeypatch):
    """A build without a remote cache imports none of its code (a no-op build stays fast)."""
    monkeypatch.delenv("PODPIPE_REMOTE_CACHE", raising=False)
    project = machine(tmp_path, "a", episodes=1)
    code = ("import sys, os; os.chdir(sys.argv[1]); from podpipe.commands import build; from podpipe.commands.build "
            "import BuildOptions; build(['ep1.yaml'], BuildOptions(backend='espeak')); "
            "assert 'podpipe.cache.remote' not in sys.modules and 'fsspec' not in sys.modules")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PODPIPE_REMOTE_CACHE", None)
    subprocess.run([sys.executable, "-c", code, str(project)], check=True, env=env, timeout=120)


def test_push_pull_and_info(gemini_server, tmp_path, monkeypatch):
    monkeypatch.delenv("PODPIPE_REMOTE_CACHE", raising=False)
    monkeypatch.delenv("PODPIPE_CACHE_DIR", raising=False)
    remote = (tmp_path / "team-cache").as_uri()
    a, b = machine(tmp_path, "a"), machine(tmp_path, "b")
    build(a)  # no remote: everything stays on machine a
    monkeypatch.chdir(a)
    assert "pushed 5 entries" in run("cache", "push", "--remote-cache", remote).output
    assert "pushed 0 entries" in run("cache", "push", "--remote-cache", remote).output.replace("5 already", "")
    info = run("cache", "info", "--remote-cache", remote).output
    assert f"remote:  {remote} (write)" in info and "entries: 5 (" in info
    monkeypatch.chdir(b)
    gemini_server.reset()
    assert "pulled 5 entries" in run("cache", "pull", "--remote-cache", remote, "ep1.yaml", "ep2.yaml").output
    result = build(b)
    assert gemini_server.generate_requests() == [] and "5 cached" in result.output
    assert run("cache", "push", code=2).output.count("no remote cache") == 1
