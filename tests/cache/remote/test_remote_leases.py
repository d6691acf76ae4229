"""Leases: each key rendered once across machines sharing a remote (file:// and a real S3 server). Racing
machines get exactly one holder; a crashed holder's lease expires and is taken over; a live one is renewed;
a waiter gets the holder's entry instead of rendering; waiting is bounded and interruptible; the render
stage of two machines renders every key once between them."""

from __future__ import annotations

import json
import threading
import time

import pytest

from podpipe.audio_types import Audio
from podpipe.backends.base import Backend, Rendered, Usage, VoiceInfo
from podpipe.compile import Target, compile_episode
from podpipe.render import RenderOptions, Scheduler
from tests.cache.remote.conftest import Shared
from tests.support.episodes import episode, line


def _lease_path(key: str) -> str:
    return f"leases/{key}.json"


def _foreign_lease(*, age: float, ttl: float = 60.0) -> bytes:
    created = time.time() - age
    return json.dumps({"format": 1, "holder": "crashed-runner pid 1", "token": "f" * 32, "created": created,
                       "expires": created + ttl, "ttl": ttl}).encode()


def test_machines_racing_for_a_key_exactly_one_holds_its_lease(shared: Shared, key) -> None:
    machines = [shared.open() for _ in range(6)]
    k = key("contended")
    start, tried = threading.Barrier(len(machines)), threading.Barrier(len(machines))
    held: list[bool] = []

    def race(remote) -> None:
        start.wait()
        with remote.lease(k) as mine:
            held.append(mine)
            tried.wait()  # nobody releases before everybody tried

    threads = [threading.Thread(target=race, args=(m,)) for m in machines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(held) == [False] * 5 + [True]
    assert sum(m.stats().leases for m in machines) == 1
    assert _lease_path(k) not in shared.objects()  # released by its holder
    with machines[0].lease(k) as mine:  # and free again
        assert mine


def test_a_crashed_holders_expired_lease_is_taken_over_a_live_one_is_not(shared: Shared, key) -> None:
    dead, live, garbage = key("dead holder"), key("live holder"), key("garbage")
    shared.write(_lease_path(dead), _foreign_lease(age=120, ttl=60))
    shared.write(_lease_path(live), _foreign_lease(age=1, ttl=60))
    shared.write(_lease_path(garbage), b"{not json")
    remote = shared.open()

    with remote.lease(dead) as mine:
        assert mine
        lease = json.loads(shared.read(_lease_path(dead)))
        assert lease["holder"] != "crashed-runner pid 1" and lease["expires"] > time.time()
        with shared.open().lease(dead) as theirs:  # ours now, and live
            assert not theirs
    with remote.lease(live) as mine:
        assert not mine
    assert json.loads(shared.read(_lease_path(live)))["holder"] == "crashed-runner pid 1"  # untouched
    with remote.lease(garbage) as mine:
        assert mine
    stats = remote.stats()
    assert (stats.leases, stats.takeovers) == (2, 2)


def test_a_held_lease_is_renewed_past_its_ttl_and_a_lost_one_is_left_alone(shared: Shared, key) -> None:
    remote, other = shared.open(lease_ttl=1.0), shared.open()
    k, lost = key("long render"), key("lost")
    for machine in (remote, other):  # connected and probed beforehand: the timing below is the lease's
        with machine.lease(key("warm-up")):
            pass
    with remote.lease(k) as mine:
        assert mine
        first = json.loads(shared.read(_lease_path(k)))["expires"]
        # the renewer keeps it alive longer than the TTL: wait for a renewal past it (the event; the
        # deadline is only a safety net)
        assert _until(lambda: json.loads(shared.read(_lease_path(k)))["expires"] > first + 1.0)
        with other.lease(k) as theirs:
            assert not theirs

    with remote.lease(lost) as mine:
        assert mine
        shared.write(_lease_path(lost), _foreign_lease(age=0))  # someone took it over (we were too slow)
        time.sleep(0.4)  # a renewal notices: the lease is no longer ours, so it is not overwritten
        assert json.loads(shared.read(_lease_path(lost)))["holder"] == "crashed-runner pid 1"
    assert json.loads(shared.read(_lease_path(lost)))["holder"] == "crashed-runner pid 1"  # nor deleted


def _until(condition, safety_net: float = 120.0) -> bool:
    """Poll ``condition`` until it holds (True); False only when the safety net runs out."""
    deadline = time.monotonic() + safety_net
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _holding(machine, key: str, then) -> threading.Thread:
    """A thread that takes ``machine.lock(key)`` and runs ``then()`` under it; returned once it holds it."""
    held = threading.Event()

    def run() -> None:
        with machine.lock(key):
            held.set()
            then()

    thread = threading.Thread(target=run)
    thread.start()
    assert held.wait(10)
    return thread


def test_a_waiting_machine_gets_the_holders_entry_instead_of_rendering(shared: Shared, tmp_path, key, tone,
                                                                       render_meta) -> None:
    holder, waiter = shared.machine(tmp_path, "holder"), shared.machine(tmp_path, "waiter")
    k = key("rendered once")
    waited_thrice = threading.Event()
    polls: list[float] = []

    def render_slowly() -> None:
        assert not holder.has(k)
        assert waited_thrice.wait(120)  # the other machine has looked three times: it is waiting for us
        holder.put(k, tone(), render_meta)

    def poll(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) >= 3:
            waited_thrice.set()
        time.sleep(seconds)

    thread = _holding(holder, k, render_slowly)
    with waiter.lock(k, poll=poll):
        assert waiter.has(k)  # the render stage's re-check: nothing to render
    thread.join(10)
    assert len(polls) >= 3 and max(polls) <= 0.02 + 1e-9  # the caller's poll paced the wait
    assert waiter.get(k) == tone()
    assert waiter.remote.stats().waits == 1 and waiter.remote.stats().leases == 0


def test_when_the_holder_gives_up_a_waiter_takes_the_lease(shared: Shared, tmp_path, key) -> None:
    holder, waiter = shared.machine(tmp_path, "holder"), shared.machine(tmp_path, "waiter")
    k = key("failed render")
    release = threading.Event()
    thread = _holding(holder, k, lambda: release.wait(10))  # the render fails: nothing stored, lease released
    threading.Timer(0.2, release.set).start()
    with waiter.lock(k):
        assert not waiter.has(k)  # so the waiter renders it, holding the lease now
        assert waiter.remote.stats().leases == 1
    thread.join(10)


def test_waiting_is_bounded_and_interruptible(shared: Shared, tmp_path, key) -> None:
    k = key("stuck")
    shared.write(_lease_path(k), _foreign_lease(age=0, ttl=3600))  # a holder that never finishes
    machine = shared.machine(tmp_path, "m", lease_wait=0.3)
    t0 = time.monotonic()
    with machine.lock(k):
        assert not machine.has(k)  # gave up waiting: renders it here, without a lease
    assert time.monotonic() - t0 > 0.25  # waited (no upper bound: a loaded machine may be slow to give up)
    assert any("waited 0.3 s for another machine to render" in w for w in shared.warnings)

    class Interrupted(Exception):
        pass

    def interrupt(_seconds: float) -> None:
        raise Interrupted

    # a machine that waits long enough to poll at all, however slow its first look on a busy machine
    patient = shared.machine(tmp_path, "patient")
    with pytest.raises(Interrupted):
        with patient.lock(key("stuck"), poll=interrupt):
            pass
    with patient.local.lock(k, poll=interrupt):  # the local lock was released on the way out
        pass


class Counting(Backend):
    """Renders a short tone per request after ``latency`` seconds and counts the renders."""

    name = "counting"

    def __init__(self, latency: float = 0.1):
        super().__init__()
        self.latency = latency
        self.rendered: list[str] = []
        self.lock = threading.Lock()

    def render(self, request):
        time.sleep(self.latency)
        with self.lock:
            self.rendered.append(request.key)
        return Rendered(Audio(b"\x01\x00" * 2400, 24000), Usage(1, 2, 3))

    @classmethod
    def voices(cls):
        return [VoiceInfo("Zephyr", "test")]


def test_two_machines_building_the_same_episode_render_each_key_once(shared: Shared, tmp_path) -> None:
    requests = list(compile_episode(episode(*(line(i, "host", f"Line {i}.") for i in range(6))),
                                    Target("counting", "m")).requests)
    machines = [shared.machine(tmp_path, f"ci-{n}") for n in range(2)]
    backends = [Counting(), Counting()]
    results = [None, None]

    def build(n: int) -> None:
        results[n] = Scheduler(backends[n], machines[n], RenderOptions(jobs=3, rpm=0)).run(requests)

    threads = [threading.Thread(target=build, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    rendered = backends[0].rendered + backends[1].rendered
    assert sorted(rendered) == sorted(r.key for r in requests)  # every key once, across both machines
    assert not results[0].failed and not results[1].failed
    for machine in machines:
        assert all(machine.has(r.key) and machine.get(r.key) is not None for r in requests)
        assert all(machine.local.has(r.key) for r in requests)
    assert not any(p.startswith("leases/") for p in shared.objects())
    assert not shared.warnings


def test_a_store_that_ignores_conditional_writes_gets_no_leases(s3_shared: Shared, tmp_path, key) -> None:
    s3_shared.bucket.server.ignore_conditions = True  # an S3-compatible server without If-None-Match
    machine = s3_shared.machine(tmp_path, "m")
    with machine.remote.lease(key(1)) as held:
        assert not held
    with machine.lock(key(2)):
        assert not machine.has(key(2))  # rendered without a lease
    assert machine.remote.stats().leases == 0 and machine.remote.stats().errors == 0
    assert len(s3_shared.warnings) == 1
    assert "no conditional writes" in s3_shared.warnings[0] and "ignores If-None-Match" in s3_shared.warnings[0]
    assert not any(p.startswith("leases/") for p in s3_shared.objects())


def test_an_entry_stored_between_the_look_and_the_lease_is_taken_not_rendered_again(shared: Shared, tmp_path, key,
                                                                                    tone, render_meta) -> None:
    """The other machine finishes (stores, lets go of its lease) right after we looked and found nothing:
    the lease we then get is no licence to render, the entry is there. (Seen under load: two machines paid
    for the same render.)"""
    holder, waiter = shared.machine(tmp_path, "holder"), shared.machine(tmp_path, "waiter")
    k = key("just finished")
    real_exists = waiter.remote._exists
    looks: list[bool] = []

    def the_holder_finishes_after_the_first_look(key_: str) -> bool:
        found = real_exists(key_)
        if not looks:  # that interleaving, made to happen rather than waited for
            with holder.lock(k):
                holder.put(k, tone(), render_meta)
        looks.append(found)
        return found

    waiter.remote._exists = the_holder_finishes_after_the_first_look
    with waiter.lock(k):
        assert waiter.has(k)  # the render stage's re-check: nothing to render
    assert looks[0] is False and waiter.get(k) == tone()
    assert waiter.remote.stats().leases == 1  # it did take the lease, and gave it back unused
