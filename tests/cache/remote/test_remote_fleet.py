"""The shared cache under real faults (issue 24), on file:// and a real S3 server: the entry stored between a
machine's look and its lease is found, not rendered again; a killed holder stalls the next machine for the
lease's life at most (seconds), not the old minute; a damaged finished output is repaired by a conditional
overwrite and accepted by the next machine; a store that never answers costs at most the deadline; refused
credentials and a missing bucket are found by one probe at the start."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from podpipe.cache import open_remote
from podpipe.cache.remote import RemoteCache
from podpipe.cache.remote.guard import FAULT, Guard
from tests.cache.remote.conftest import Shared
from tests.support.blackhole import Blackhole


class _Racing:
    """A store whose first lease create lets ``before`` run first (another machine, at the worst moment)."""

    def __init__(self, blobs, before) -> None:
        self._blobs, self._before = blobs, before

    def __getattr__(self, name: str):
        return getattr(self._blobs, name)

    def create(self, path: str, data: bytes):
        if path.startswith("leases/") and "/.probe-" not in path and self._before is not None:
            before, self._before = self._before, None
            before()
        return self._blobs.create(path, data)


def test_an_entry_stored_between_the_look_and_the_lease_is_found_not_rendered_again(
        shared: Shared, tmp_path, key, tone, render_meta) -> None:
    k = key("raced")
    other = shared.machine(tmp_path, "other")

    def other_machine_renders_uploads_and_releases() -> None:
        with other.lock(k):
            other.put(k, tone(), render_meta)

    late = RemoteCache(_Racing(shared.open().blobs, other_machine_renders_uploads_and_releases), "write",
                       on_warning=shared.warnings.append, poll_interval=0.02, lease_wait=5.0)
    with late.claim(k) as state:
        assert state == "found"  # re-checked after taking the lease: nothing to render
    assert late.stats().leases == 1 and other.remote.stats().uploads == 1
    assert f"leases/{k}.json" not in shared.objects()  # the late machine gave its lease back


def test_a_killed_holder_stalls_the_next_machine_for_the_lease_life_not_a_minute(shared: Shared, key) -> None:
    shared.open()  # the store's client, shared by the machines below
    now = [1_000_000.0]
    clock = lambda: now[0]  # noqa: E731 - one clock for both machines, moved only by the waiting one
    assert shared.open().leases.ttl <= 10  # the default: a crashed machine's lease dies within seconds
    killed = shared.open(lease_ttl=6.0, clock=clock)
    k = key("killed holder")
    state, _held = killed.leases.acquire(k)
    assert state == "held"
    killed.close()  # killed: no more renewals, never released

    waited: list[float] = []

    def poll(seconds: float) -> None:
        waited.append(seconds)
        now[0] += seconds

    survivor = shared.open(lease_ttl=6.0, clock=clock, poll_interval=0.5, lease_wait=600.0)
    with survivor.claim(k, poll=poll) as state:
        assert state == "held"  # taken over the moment it expired
    assert sum(waited) <= 6.0 + 0.5 + 1e-6  # the lease's life plus one look, never lease_wait
    assert survivor.stats().takeovers == 1 and survivor.stats().waits == 1


def _output(tmp_path: Path, size: int = 6000) -> Path:
    path = tmp_path / "ep.mp3"
    path.write_bytes(b"ID3" + bytes(range(256)) * (size // 256))
    return path


def test_a_damaged_finished_output_is_repaired_and_the_next_machine_accepts_it(shared: Shared, tmp_path,
                                                                               key) -> None:
    digest, mp3 = key("episode"), _output(tmp_path)
    assert shared.open().put_output(digest, {"ep.mp3": mp3})
    blob = next(p for p in shared.objects() if p.startswith("outputs/") and not p.endswith(".json"))
    shared.write(blob, bytes(len(shared.read(blob))))  # same-size garbage

    second = shared.open()
    assert second.get_output(digest, tmp_path / "second") is None  # rejected, warned
    state, held = second.claim_output(digest)
    assert state == "held" and held is not None  # a bad copy is no copy: this machine mixes and repairs
    assert second.put_output(digest, {"ep.mp3": mp3})
    second.release(held)
    assert shared.read(blob) == mp3.read_bytes()
    assert second.stats().repaired == 1 and second.stats().rejected == 1
    assert "1 repaired" in second.stats().summary()
    assert any("repaired" in w and digest[:12] in w for w in shared.warnings)

    third = shared.open()
    got = third.get_output(digest, tmp_path / "third")
    assert got is not None and got.files["ep.mp3"].read_bytes() == mp3.read_bytes()
    assert third.stats().rejected == 0
    assert third.claim_output(digest) == ("found", None)


def test_a_repair_never_overwrites_a_copy_repaired_meanwhile(shared: Shared, tmp_path, key) -> None:
    digest, mp3 = key("episode"), _output(tmp_path)
    assert shared.open().put_output(digest, {"ep.mp3": mp3})
    blob = next(p for p in shared.objects() if p.startswith("outputs/") and not p.endswith(".json"))
    shared.write(blob, bytes(len(shared.read(blob))))
    slow = shared.open()
    assert slow.get_output(digest, tmp_path / "slow") is None
    shared.write(blob, mp3.read_bytes())  # another machine repaired it first
    writes = len(shared.bucket.server.writes(shared.bucket.name)) if shared.kind == "s3" else 0
    assert slow.put_output(digest, {"ep.mp3": mp3})
    assert slow.stats().repaired == 0 and shared.read(blob) == mp3.read_bytes()
    if shared.kind == "s3":  # the good copy (and the good index) were read, judged good and left alone
        assert len(shared.bucket.server.writes(shared.bucket.name)) == writes


def test_an_operation_that_never_answers_costs_at_most_the_deadline_then_the_remote_is_off() -> None:
    warnings: list[str] = []
    guard = Guard("s3://hung/cache", on_warning=warnings.append, deadline=0.3, max_timeouts=2)
    gate = threading.Event()
    try:
        assert guard.call("read", "lookup", gate.wait) is FAULT  # no answer: abandoned at the deadline
        assert guard.stats().timeouts == 1 and guard.off  # the whole deadline went on it
        ran: list[int] = []
        assert guard.call("write", "upload", lambda: ran.append(1)) is FAULT and ran == []  # not even tried
        assert guard.stats().skipped == 1
    finally:
        gate.set()
    assert any("no answer within" in w and "--remote-cache-timeout" in w for w in warnings)
    assert any("switched off for the rest of this build" in w for w in warnings)


def test_repeated_timeouts_switch_the_remote_off_before_the_deadline_is_spent() -> None:
    warnings: list[str] = []
    guard = Guard("s3://hung/cache", on_warning=warnings.append, deadline=1000.0, op_timeout=0.05, max_timeouts=2)
    blocked = threading.Event()
    try:
        assert guard.call("read", "lookup", blocked.wait) is FAULT  # a small operation: op_timeout at most
        assert not guard.off
        assert guard.call("write", "lease", blocked.wait) is FAULT
    finally:
        blocked.set()
    assert guard.off and "2 operations got no answer" in guard.off and guard.stats().timeouts == 2
    assert guard.left() > 999  # the deadline was not what stopped it
    assert len([w for w in warnings if "no answer within" in w]) == 1  # warned once, then switched off


def test_lost_time_of_overlapping_failures_is_charged_once() -> None:
    guard = Guard("s3://slow/cache", deadline=10.0)
    guard._charge(0.0, 4.0)
    guard._charge(1.0, 5.0)  # overlaps the first: one more second lost, not four
    assert guard.left() == pytest.approx(5.0)
    guard._charge(6.0, 11.0)
    assert guard.off and "used up the 10 s" in guard.off


def test_answers_are_never_charged(shared: Shared, key) -> None:
    remote = shared.open(deadline=1000.0)
    for i in range(20):
        assert not remote.has(key(i))
    assert remote.guard.left() == 1000.0 and not remote.guard.off  # not a moment charged, however slow


def test_a_store_that_accepts_and_never_answers_is_bounded_and_reported(monkeypatch, tmp_path, key) -> None:
    from tests.support.s3 import point_at

    with Blackhole() as hole:
        point_at(monkeypatch, hole.url)
        warnings: list[str] = []
        remote = open_remote("s3://hung-bucket/cache", on_warning=warnings.append, deadline=1.0, attempts=1)
        assert remote.check() is None  # no answer is no misconfiguration: a timeout, warned
        assert remote.stats().timeouts == 1 and remote.guard.off
        # the abandoned call reaches the endpoint in its own time (on a busy machine, importing the store's
        # library alone can outlast the 1 s budget): wait for that event rather than assume it came first
        assert hole.first.wait(60)
        assert not remote.has(key("anything"))  # skipped at once: the remote is off
        with remote.claim(key("anything")) as state:
            assert state == "none"  # render without a lease
        assert any("no answer within" in w for w in warnings)
        remote.close()


def test_refused_credentials_are_found_at_the_start_with_the_fix(s3_shared: Shared, key) -> None:
    s3_shared.bucket.server.fault = lambda method, path: "403"
    remote = s3_shared.open()
    problem = remote.check()
    assert problem is not None and problem.kind == "denied" and problem.code == "AccessDenied"
    assert "refused these credentials" in problem.message and "AWS_ACCESS_KEY_ID" in problem.message
    assert "--remote-cache-mode read" in problem.message  # write mode: the read-only fix is named too
    assert s3_shared.warnings == [problem.message]  # said once, at once
    requests = len(s3_shared.bucket.server.requests)
    assert not remote.has(key("x")) and len(s3_shared.bucket.server.requests) == requests  # off: not asked
    read_only = s3_shared.open("read")
    assert "--remote-cache-mode read" not in read_only.check().message


def test_a_bucket_that_does_not_exist_is_found_at_the_start(s3_bucket, tmp_path) -> None:
    warnings: list[str] = []
    remote = open_remote("s3://podpipe-no-such-bucket/cache", "read", on_warning=warnings.append, attempts=1)
    problem = remote.check()
    assert problem is not None and problem.kind == "missing" and problem.code == "NoSuchBucket"
    assert "'podpipe-no-such-bucket' does not exist" in problem.message and "create the bucket" in problem.message
    assert warnings == [problem.message]


def test_a_healthy_store_has_no_problem(shared: Shared) -> None:
    remote = shared.open()
    assert remote.check() is None and not remote.guard.off and shared.warnings == []
