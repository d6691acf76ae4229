"""Concurrent builds sharing one cache: everyone succeeds, outputs are identical, no key is paid for twice.

Real processes (``python -m podpipe build``) against one Gemini stand-in with latency, so renders overlap;
the stand-in counts every body it was sent, which is exactly "API calls paid for".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from podpipe.cache import FileStore, prune
from podpipe.render import RenderOptions, Scheduler
from tests.support.backends import ScriptedBackend, scripted_requests
from tests.support.hardening import (assert_cache_clean, assert_outputs_whole, body_counts, child_env, record_figure,
                                     spawn_podpipe, write_specs)
from tests.support.standin import StandIn


@pytest.mark.parametrize("processes", [3])
def test_concurrent_builds_render_each_key_once_and_agree(tmp_path, processes):
    cache = tmp_path / "cache"
    projects = [tmp_path / f"p{i}" for i in range(processes)]
    with StandIn(latency=0.3) as server:
        env = child_env(server)
        specs = [write_specs(p) for p in projects]
        procs = [spawn_podpipe(p, "build", "--rpm", "0", "-j", "2", "--cache-dir", str(cache), *s, env=env)
                 for p, s in zip(projects, specs)]
        results = [(p.wait(timeout=90), *p.communicate()) for p in procs]
        counts = body_counts(server)
    for code, out, err in results:
        assert code == 0, out + err
    distinct = len(counts)
    assert distinct == 6  # A: 3 lines + 1 dialogue request; B adds 2 lines (its other 2 are shared with A)
    duplicated = sum(n - 1 for n in counts.values())
    assert duplicated == 0, {b[:80]: n for b, n in counts.items() if n > 1}
    # every process accounts for every key: rendered by itself or taken from the cache
    rendered = cached = 0
    for _code, out, _err in results:
        summary = [ln for ln in out.splitlines() if "rendered" in ln][-1]
        r, c = (int(summary.split(" segment")[0]), int(summary.split(", ")[1].split(" cached")[0]))
        assert r + c == distinct, summary
        rendered, cached = rendered + r, cached + c
    assert rendered == distinct
    outputs = [sorted((f.name, f.read_bytes()) for f in assert_outputs_whole(p)) for p in projects]
    assert len(outputs[0]) == 2 and all(o == outputs[0] for o in outputs)
    assert assert_cache_clean(cache) == distinct
    record_figure("concurrent_builds", processes)
    record_figure("renders_duplicated", duplicated)
    record_figure("renders_needed_by_concurrent_builds", distinct)


def test_concurrent_builds_in_one_project_write_whole_outputs(tmp_path):
    """Two builds of the same project at once (same outputs, same manifests): both succeed, nothing torn."""
    cache = tmp_path / ".podpipe-cache"
    specs = write_specs(tmp_path)
    with StandIn(latency=0.2) as server:
        env = child_env(server)
        procs = [spawn_podpipe(tmp_path, "build", "--rpm", "0", "-j", "3", *specs, env=env) for _ in range(2)]
        results = [(p.wait(timeout=90), *p.communicate()) for p in procs]
        counts = body_counts(server)
    assert all(code == 0 for code, _o, _e in results), results
    assert max(counts.values()) == 1
    record_figure("concurrent_builds", 2)
    assert len(assert_outputs_whole(tmp_path)) == 2
    assert not [p for p in (tmp_path / "build").iterdir() if p.name.endswith(".tmp")]
    assert_cache_clean(cache)


# -- the lock itself, in-process and across processes --------------------------------------------------------


def test_two_schedulers_on_one_store_render_each_key_once(tmp_path):
    requests = scripted_requests(8)
    backends = [ScriptedBackend(latency=0.05), ScriptedBackend(latency=0.05)]
    results = [None, None]

    def go(i):
        results[i] = Scheduler(backends[i], FileStore(tmp_path), RenderOptions(jobs=4, rpm=0)).run(requests)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    calls = backends[0].keys + backends[1].keys
    assert sorted(calls) == sorted(r.key for r in requests)  # each key exactly once in total
    for res in results:
        assert len(res.outcomes) + len(res.skipped) == 8 and not res.failed
    assert sum(len(r.skipped) for r in results) == 8


_HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from podpipe.cache import FileStore
    store = FileStore(Path(sys.argv[1]))
    with store.lock(sys.argv[2]):
        print("locked", flush=True)
        time.sleep(float(sys.argv[3]))
        if sys.argv[4] == "put":
            from podpipe.audio_types import Audio
            store.put(sys.argv[2], Audio(b"\\x02\\x00" * 2400, 24000), {"by": "holder"})
""")


def _hold(tmp_path, key, seconds, then):
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path), key, str(seconds), then],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_waits_for_another_process_then_takes_its_render(tmp_path):
    request = scripted_requests(1)[0]
    holder = _hold(tmp_path, request.key, 0.5, "put")
    backend = ScriptedBackend(latency=0.05)
    result = Scheduler(backend, FileStore(tmp_path), RenderOptions(jobs=1, rpm=0)).run([request])
    assert holder.wait(timeout=10) == 0
    assert backend.keys == [] and result.skipped == (request,) and result.outcomes == ()
    assert FileStore(tmp_path).meta(request.key)["by"] == "holder"


def test_stale_lock_of_a_killed_process_is_recovered_at_once(tmp_path):
    request = scripted_requests(1)[0]
    holder = _hold(tmp_path, request.key, 60, "none")
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    assert FileStore(tmp_path).lock_path(request.key).exists()  # the file stays; the flock died with it
    backend = ScriptedBackend(latency=0.05)
    # a lock that outlived its process would block this run for good (pytest-timeout): returning is the proof
    result = Scheduler(backend, FileStore(tmp_path), RenderOptions(jobs=1, rpm=0)).run([request])
    assert backend.keys == [request.key] and len(result.rendered) == 1


def test_interrupt_while_waiting_for_a_lock_does_not_hang(tmp_path):
    request = scripted_requests(1)[0]
    holder = _hold(tmp_path, request.key, 30, "none")
    try:
        scheduler = Scheduler(ScriptedBackend(latency=0.05), FileStore(tmp_path), RenderOptions(jobs=1, rpm=0))
        timer = threading.Timer(0.3, scheduler._stop.set)
        timer.start()
        result = scheduler.run([request])
        # had it waited for the holder (30 s) it would have rendered: nothing done proves the stop was heeded
        assert result.outcomes == () and result.skipped == ()
    finally:
        holder.kill()
        holder.wait()


def test_prune_removes_free_lock_files_but_never_a_held_one(tmp_path):
    store = FileStore(tmp_path)
    held_req, free_req = scripted_requests(2)
    with store.lock(free_req.key):
        pass
    holder = _hold(tmp_path, held_req.key, 30, "none")
    try:
        prune(store, older_than=0)
        assert not store.lock_path(free_req.key).exists()
        assert store.lock_path(held_req.key).exists()
        # the holder still owns the key: nobody else may take it
        import fcntl
        fd = os.open(store.lock_path(held_req.key), os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)
    finally:
        holder.kill()
        holder.wait()
    assert_cache_clean(tmp_path)


def test_lock_file_deleted_while_waiting_is_not_a_second_lock(tmp_path):
    """A waiter that locked a file prune has since unlinked must notice and lock the new file instead."""
    store = FileStore(tmp_path)
    key = scripted_requests(1)[0].key
    inside = threading.Event()
    overlap = []
    active = [0]
    guard = threading.Lock()

    def worker():
        with FileStore(tmp_path).lock(key):
            with guard:
                active[0] += 1
                overlap.append(active[0])
            inside.set()
            time.sleep(0.05)
            with guard:
                active[0] -= 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(20):
        prune(store, older_than=0)
        time.sleep(0.01)
    for t in threads:
        t.join(timeout=10)
    assert inside.is_set() and max(overlap) == 1
