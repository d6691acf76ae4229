"""Threads and processes sharing one cache: concurrent puts of one key, the commit lock, the per-key lock."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from podpipe.audio_types import Audio
from podpipe.cache import FileStore, verify
from podpipe.cache.maintenance import VerifyResult

REPO = Path(__file__).resolve().parents[2]


def test_concurrent_puts_of_one_key_end_in_a_valid_entry(store: FileStore, key, tone, render_meta, temp_files) -> None:
    k = key("shared")
    # Non-deterministic TTS: every writer has different audio for the same key.
    takes = [tone(seconds=0.02 + 0.01 * i, freq=200 + 50 * i) for i in range(6)]
    start = threading.Barrier(len(takes) + 2)
    seen: list[Audio | None] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(audio: Audio) -> None:
        try:
            start.wait()
            for _ in range(25):
                store.put(k, audio, render_meta)
        except BaseException as e:  # surfaced below
            errors.append(e)

    def reader() -> None:
        start.wait()
        while not stop.is_set():
            seen.append(store.get(k))

    threads = [threading.Thread(target=writer, args=(a,)) for a in takes]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads + readers:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    for t in readers:
        t.join()

    assert errors == []
    assert store.get(k) in takes
    assert store.meta(k)["sha256"] == hashlib.sha256(store.entry_paths(k)[0].read_bytes()).hexdigest()
    assert verify(store) == VerifyResult(ok=1)
    assert temp_files(store.root) == []
    assert all(a is None or a in takes for a in seen)  # a reader never gets a mix of two takes


def test_concurrent_puts_with_slow_renames_never_mix_takes(store: FileStore, monkeypatch, key, tone,
                                                           render_meta) -> None:
    """A slow disk widens the window between the two renames that commit an entry; writers of one key must
    still never leave one take's audio under another take's record."""
    k = key("slow disk")
    takes = [tone(seconds=0.02, freq=200 + 100 * i) for i in range(4)]
    real_replace = os.replace
    renames: list[str] = []

    def slow_replace(src, dst):
        real_replace(src, dst)
        if str(dst).endswith(".wav"):
            # The earlier a writer's audio lands, the later its record would: the worst order for a race.
            renames.append(dst)
            time.sleep(0.004 * (len(takes) + 1 - len(renames)))

    monkeypatch.setattr(os, "replace", slow_replace)
    for _round in range(5):
        renames.clear()
        start = threading.Barrier(len(takes))
        errors: list[BaseException] = []

        def writer(audio: Audio) -> None:
            try:
                start.wait()
                store.put(k, audio, render_meta)
            except BaseException as e:  # surfaced below
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(a,)) for a in takes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.get(k) in takes, f"round {_round}: entry damaged"
    monkeypatch.undo()
    assert verify(store) == VerifyResult(ok=1)


WRITER = """
import math, os, struct, sys, time
from pathlib import Path
from podpipe.audio_types import Audio
from podpipe.cache import FileStore
store, key, freq = FileStore(Path(sys.argv[1])), sys.argv[2], float(sys.argv[3])
real_replace = os.replace
def slow_replace(src, dst):  # a slow disk: a wide window between the two renames of a commit
    real_replace(src, dst)
    if str(dst).endswith(".wav"):
        time.sleep(0.002)
os.replace = slow_replace
n = 480 + int(freq)
pcm = struct.pack(f"<{n}h", *(int(9000 * math.sin(2 * math.pi * freq * i / 24000)) for i in range(n)))
for _ in range(40):
    store.put(key, Audio(pcm, 24000), {"backend": "espeak", "writer": freq})
"""


def test_concurrent_puts_from_processes_end_in_a_valid_entry(store: FileStore, key, tone, render_meta,
                                                             temp_files) -> None:
    k = key("across processes")
    store.put(k, tone(), render_meta)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(store.root), k, str(f)], env=env)
             for f in (300, 410, 520)]
    # Whoever holds the commit lock must always find the entry whole: no other process is mid-commit.
    checks = 0
    while any(p.poll() is None for p in procs):
        with store.commit_lock():
            assert store.problem(k) is None
        checks += 1
        time.sleep(0.001)
    assert [p.wait() for p in procs] == [0, 0, 0]
    assert checks > 0
    assert store.get(k) is not None
    assert store.meta(k)["writer"] in (300.0, 410.0, 520.0)
    assert verify(store) == VerifyResult(ok=1)
    assert temp_files(store.root) == []


def test_the_key_lock_may_be_released_on_another_thread(store: FileStore, key) -> None:
    k = key("render")
    held = store.lock(k)
    held.__enter__()  # a render worker takes it; the scheduler's writer releases it once the entry is stored
    releaser = threading.Thread(target=held.__exit__, args=(None, None, None))
    releaser.start()
    releaser.join()
    with store.lock(k, poll=lambda s: pytest.fail("the lock should be free")):
        pass


def test_a_waiter_that_gives_up_holds_nothing(store: FileStore, key) -> None:
    k, polls = key("busy"), []

    def give_up(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 3:
            raise KeyboardInterrupt

    with store.lock(k):
        waiter_error: list[BaseException] = []

        def wait() -> None:
            try:
                with store.lock(k, poll=give_up):
                    pass
            except BaseException as e:  # surfaced below
                waiter_error.append(e)

        t = threading.Thread(target=wait)
        t.start()
        t.join()
    assert [type(e) for e in waiter_error] == [KeyboardInterrupt] and len(polls) == 3
    assert all(0 < s <= 0.1 for s in polls)
    with store.lock(k, poll=lambda s: pytest.fail("the lock should be free")):
        pass
