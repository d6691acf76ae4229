"""A scripted backend for scheduler and lock tests: the scheduler only sees the Backend interface, so a
stand-in that can fail on cue, take its time and count what it was asked is all those tests need."""

from __future__ import annotations

import threading
import time

import pytest

from podpipe.audio_types import Audio
from podpipe.backends.base import Backend, Rendered, Usage, VoiceInfo
from podpipe.compile import RenderRequest, Target, compile_episode
from podpipe.errors import BackendError
from podpipe.render import RateLimiter
from tests.support.episodes import episode, line


class ScriptedBackend(Backend):
    """Fails each request per ``script[text]`` (BackendErrors, consumed in order), then succeeds with 0.1 s of
    audio after ``latency`` seconds. ``calls`` holds (start time, text), ``keys`` the keys, in call order;
    ``max_active`` the most renders that ran at once."""

    name = "scripted"

    def __init__(self, script=None, latency: float = 0.0):
        super().__init__()
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.latency = latency
        self.calls: list[tuple[float, str]] = []
        self.keys: list[str] = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def render(self, request: RenderRequest) -> Rendered:
        text = request.turns[0].text
        with self.lock:
            self.calls.append((time.monotonic(), text))
            self.keys.append(request.key)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            failure = self.script.get(text, []).pop(0) if self.script.get(text) else None
        try:
            time.sleep(self.latency)
            if failure is not None:
                raise failure
            return Rendered(Audio(b"\x01\x00" * 2400, 24000), Usage(10, 20, 30))
        finally:
            with self.lock:
                self.active -= 1

    @classmethod
    def voices(cls):
        return [VoiceInfo("Zephyr", "test")]


def scripted_requests(n: int, text: str = "Line number {i}.") -> list[RenderRequest]:
    """``n`` distinct one-line requests for the scripted backend."""
    ep = episode(*(line(i, "host", text.format(i=i)) for i in range(n)))
    return list(compile_episode(ep, Target("scripted", "m")).requests)


class RecordingLimiter(RateLimiter):
    """A ``RateLimiter`` that records, in ``grants``, the clock reading on which it granted each slot: what the
    limiter decided, exactly, however late a thread then got to run. A test holds the limit on these, and the
    arrivals it observes to them (the k-th arrival can come no earlier than the k-th grant), never on how
    soon a busy machine ran the thread."""

    def __init__(self, rpm: float | None, *, window: float = 60.0, clock=time.monotonic):
        self._reading = threading.local()

        def read() -> float:
            self._reading.now = clock()
            return self._reading.now

        super().__init__(rpm, window=window, clock=read)
        self.grants: list[float] = []

    def delay(self) -> float:
        wait = super().delay()
        if wait <= 0 and self.limit:
            with self._lock:
                self.grants.append(self._reading.now)
        return wait

    def assert_at_most(self, limit: int, window: float) -> None:
        """No ``limit + 1`` grants within any ``window`` seconds."""
        grants = sorted(self.grants)
        spans = [later - first for first, later in zip(grants, grants[limit:])]
        assert all(span >= window for span in spans), (window, spans)

    def assert_none_before_its_grant(self, arrivals) -> None:
        """Each arrival follows its own grant, so the k-th earliest arrival follows the k-th earliest grant."""
        arrivals, grants = sorted(arrivals), sorted(self.grants)
        assert len(arrivals) == len(grants)  # every attempt took a slot, none went round the limiter
        assert all(a >= g for a, g in zip(arrivals, grants)), list(zip(arrivals, grants))


def render_error(backend: Backend, request: RenderRequest) -> BackendError:
    """The ``BackendError`` one attempt at ``request`` raises (the test fails if it renders)."""
    with pytest.raises(BackendError) as info:
        backend.render(request)
    return info.value
