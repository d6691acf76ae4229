"""The scheduler: parallelism, retries with backoff, pool-wide RetryInfo pauses, the shared rate limit, caching.

A scripted backend stands in for a TTS service here (the scheduler only sees the Backend interface); the real
Gemini client against the loopback stand-in is exercised in test_gemini_*.
"""

from __future__ import annotations

import threading
import time

import pytest

from podpipe.cache import FileStore
from podpipe.errors import BackendError
from podpipe.render import RateLimiter, RenderOptions, Scheduler
from podpipe.render.limiter import PauseGate
from tests.support.backends import RecordingLimiter, ScriptedBackend, scripted_requests


FAST = dict(backoff_base=0.01, backoff_max=0.05, rpm=0)


def test_all_rendered_and_cached_in_parallel(tmp_path):
    store = FileStore(tmp_path)
    backend = ScriptedBackend(latency=0.05)
    result = Scheduler(backend, store, RenderOptions(jobs=4, **FAST)).run(scripted_requests(12))
    assert len(result.rendered) == 12 and not result.failed
    assert backend.max_active == 4
    for outcome in result.outcomes:
        assert store.get(outcome.request.key) is not None
        meta = store.meta(outcome.request.key)
        assert meta["request"]["turns"][0]["text"] == outcome.request.turns[0].text
        assert meta["usage"]["total_tokens"] == 30


def test_transient_failures_are_retried_and_counted(tmp_path):
    requests = scripted_requests(3)
    script = {"Line number 1.": [BackendError("HTTP 500", retryable=True, status=500)] * 2}
    backend = ScriptedBackend(script)
    result = Scheduler(backend, FileStore(tmp_path), RenderOptions(jobs=2, **FAST)).run(requests)
    by_text = {o.request.turns[0].text: o for o in result.outcomes}
    assert not result.failed
    assert by_text["Line number 1."].attempts == 3
    assert by_text["Line number 1."].failures == ("HTTP 500", "HTTP 500")
    assert by_text["Line number 0."].attempts == 1
    assert len(backend.calls) == 5


def test_persistent_failure_stops_at_the_attempt_limit_and_caches_nothing(tmp_path):
    requests = scripted_requests(2)
    script = {"Line number 0.": [BackendError("no audio (finishReason OTHER)", retryable=True)] * 10}
    store = FileStore(tmp_path)
    result = Scheduler(ScriptedBackend(script), store, RenderOptions(jobs=2, attempts=3, **FAST)).run(requests)
    [failed] = result.failed
    assert failed.attempts == 3 and "finishReason OTHER" in failed.error
    assert store.get(failed.request.key) is None and not store.has(failed.request.key)
    assert len(result.rendered) == 1  # the other request is unaffected and cached
    assert store.has(result.rendered[0].request.key)


def test_permanent_failure_is_not_retried(tmp_path):
    script = {"Line number 0.": [BackendError("API key invalid", retryable=False, status=400)]}
    backend = ScriptedBackend(script)
    result = Scheduler(backend, FileStore(tmp_path), RenderOptions(jobs=1, **FAST)).run(scripted_requests(1))
    assert result.failed[0].attempts == 1 and len(backend.calls) == 1


def test_unexpected_backend_exception_is_a_failed_request_not_a_crash(tmp_path):
    script = {"Line number 0.": [ZeroDivisionError("boom")]}
    result = Scheduler(ScriptedBackend(script), FileStore(tmp_path), RenderOptions(jobs=2, **FAST)).run(scripted_requests(2))
    assert len(result.failed) == 1 and "ZeroDivisionError" in result.failed[0].error
    assert len(result.rendered) == 1


def test_retry_after_pauses_the_whole_pool(tmp_path):
    """A 429 with RetryInfo on one request holds back every worker's next start, not only its own."""
    requests = scripted_requests(6)
    script = {"Line number 0.": [BackendError("429", retryable=True, retry_after=0.6, status=429)]}
    paused = threading.Event()

    class Gate(PauseGate):
        def hold(self, seconds: float) -> None:
            super().hold(seconds)
            paused.set()

    class HeldUntilThePause(ScriptedBackend):
        """Lines 3 and 4 finish only once the 429's pause is set: line 5, which needs one of their workers,
        then cannot start before the pause however the machine schedules the threads (an event, not a race)."""

        def render(self, request):
            if request.turns[0].text in ("Line number 3.", "Line number 4."):
                assert paused.wait(120), "the 429 never paused the pool"  # the timeout is a safety net
            return super().render(request)

    backend = HeldUntilThePause(script, latency=0.05)
    scheduler = Scheduler(backend, FileStore(tmp_path), RenderOptions(jobs=3, **FAST))
    scheduler.gate = Gate(time.monotonic)
    result = scheduler.run(requests)
    assert not result.failed
    starts = {}
    for t, text in backend.calls:
        starts.setdefault(text, t)
    first_429 = starts["Line number 0."]
    # Lines 1 and 2 start with line 0; their workers take lines 3 and 4, held until the 429 has paused the
    # pool. Line 5 waits for a free worker, and then for the pause: without a pool-wide pause it would start
    # as soon as line 3 or 4 ended.
    assert starts["Line number 5."] >= first_429 + 0.6
    retried = [t for t, text in backend.calls if text == "Line number 0."]
    assert retried[1] - retried[0] >= 0.6


def test_rate_limit_never_exceeded_in_any_window(tmp_path):
    window = 0.5
    backend = ScriptedBackend()
    options = RenderOptions(jobs=4, rpm=5, rate_window=window, backoff_base=0.01)
    scheduler = Scheduler(backend, FileStore(tmp_path), options)
    scheduler.limiter = limiter = RecordingLimiter(5, window=window)
    result = scheduler.run(scripted_requests(12))
    assert not result.failed
    # held on the limiter's own decisions and on the order of events, not on how soon threads ran
    limiter.assert_at_most(5, window)
    limiter.assert_none_before_its_grant([t for t, _ in backend.calls])
    # and no slower than the limit requires: 12 grants at 5 per window span just over 2 windows (the limiter
    # asks for no longer wait than the slot needs: test_rate_limiter_fractional_rpm, on a fake clock)
    grants = sorted(limiter.grants)
    assert grants[10] - grants[0] >= 2 * window


def test_rate_limiter_fractional_rpm():
    clock = [0.0]
    limiter = RateLimiter(0.5, clock=lambda: clock[0])  # one request per two minutes
    assert limiter.delay() == 0
    assert limiter.delay() == pytest.approx(122)  # 120 s plus the 1 s-per-minute arrival margin
    clock[0] = 121
    assert limiter.delay() > 0
    clock[0] = 122
    assert limiter.delay() == 0


def test_backoff_grows_and_is_jittered():
    import random

    s = Scheduler(ScriptedBackend(), store=None, options=RenderOptions(backoff_base=1, backoff_max=8),
                  rng=random.Random(1))
    waits = [s._backoff(n) for n in range(1, 7)]
    assert 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2 and 2 <= waits[2] <= 4
    assert all(4 <= w <= 8 for w in waits[3:])
    assert len({round(w, 6) for w in waits}) == len(waits)


def test_store_write_failure_is_reported_not_lost_silently(tmp_path):
    class FullStore(FileStore):
        def put(self, key, audio, meta):
            raise OSError(28, "No space left on device")

    result = Scheduler(ScriptedBackend(), FullStore(tmp_path), RenderOptions(jobs=1, **FAST)).run(scripted_requests(1))
    assert result.failed and "No space left on device" in result.failed[0].error


class _SlowStore(FileStore):
    """Records lock releases and puts; every put takes ``delay`` seconds (a slow fsync)."""

    def __init__(self, root, delay):
        super().__init__(root)
        self.delay, self.events, self.guard = delay, [], threading.Lock()

    def put(self, key, audio, meta):
        time.sleep(self.delay)
        super().put(key, audio, meta)
        with self.guard:
            self.events.append(("put", key, time.monotonic()))

    def lock(self, key, **kwargs):
        inner = super().lock(key, **kwargs)
        store = self

        class Tracked:
            def __enter__(self):
                return inner.__enter__()

            def __exit__(self, *exc):
                with store.guard:
                    store.events.append(("unlock", key, time.monotonic()))
                return inner.__exit__(*exc)

        return Tracked()


def test_key_lock_is_held_until_the_entry_is_committed(tmp_path):
    store = _SlowStore(tmp_path, delay=0.05)
    result = Scheduler(ScriptedBackend(), store, RenderOptions(jobs=3, **FAST)).run(scripted_requests(6))
    assert len(result.rendered) == 6
    for outcome in result.outcomes:
        key = outcome.request.key
        kinds = [kind for kind, k, _ in store.events if k == key]
        assert kinds == ["put", "unlock"], kinds  # another build never sees the key unlocked and absent
        assert store.has(key)


def test_workers_go_on_rendering_while_entries_are_stored(tmp_path):
    # One worker; the first put does not end before the second render has begun. A worker that waited for
    # each put could never begin it: the put would wait out its safety net and the test fail (events, no race).
    second_render = threading.Event()
    waited_in_vain = []

    class PutWaitsForTheNextRender(FileStore):
        def put(self, key, audio, meta):
            if not second_render.wait(120):
                waited_in_vain.append(key)
            super().put(key, audio, meta)

    class Signalling(ScriptedBackend):
        def render(self, request):
            if self.calls:
                second_render.set()
            return super().render(request)

    backend = Signalling()
    result = Scheduler(backend, PutWaitsForTheNextRender(tmp_path), RenderOptions(jobs=1, **FAST)).run(
        scripted_requests(4))
    assert len(result.rendered) == 4 and waited_in_vain == []


def test_a_write_failure_after_render_releases_the_lock_and_caches_nothing(tmp_path):
    class Broken(_SlowStore):
        def put(self, key, audio, meta):
            with self.guard:
                self.events.append(("put", key, time.monotonic()))
            raise OSError(28, "No space left on device")

    store = Broken(tmp_path, delay=0)
    result = Scheduler(ScriptedBackend(), store, RenderOptions(jobs=2, **FAST)).run(scripted_requests(3))
    assert len(result.failed) == 3 and not result.rendered
    assert all("could not be written to the cache" in o.error for o in result.failed)
    for outcome in result.failed:
        assert [k for k, key, _ in store.events if key == outcome.request.key] == ["put", "unlock"]
        assert not store.has(outcome.request.key)
        with store.lock(outcome.request.key):  # released: taking it again does not block
            pass
