"""When a worker may send: the shared sliding-window rate limit, the pool-wide pause a server asks for, and
the backoff between attempts. Pure timing, no I/O, so the scheduler's policy can be tested on a fake clock."""

from __future__ import annotations

import collections
import random
import threading
import time
from collections.abc import Callable

WINDOW = 60.0  # seconds a requests-per-minute limit is counted over


class RateLimiter:
    """At most ``rpm`` acquisitions in any ``window``-second span, shared by all workers."""

    def __init__(self, rpm: float | None, *, window: float = WINDOW, clock: Callable[[], float] = time.monotonic):
        self.limit = int(rpm) if rpm else 0
        if rpm and self.limit < 1:
            # A fractional rpm below 1 still means "some": one request per 60/rpm seconds.
            self.limit, window = 1, window / rpm
        # A request reaches the server a few ms after we count its start; a 1-second-per-minute margin
        # keeps a burst that begins exactly one window later from landing inside the server's window.
        self.window = window * (1 + 1 / 60)
        self._clock = clock
        self._starts: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def delay(self) -> float:
        """Reserve a slot if one is free now (returns 0), else return how long to wait before asking again."""
        if not self.limit:
            return 0.0
        with self._lock:
            now = self._clock()
            while self._starts and now - self._starts[0] >= self.window:
                self._starts.popleft()
            if len(self._starts) < self.limit:
                self._starts.append(now)
                return 0.0
            return self._starts[0] + self.window - now


class PauseGate:
    """A pool-wide "nobody starts before T" set by server back-pressure (429 + RetryInfo)."""

    def __init__(self, clock: Callable[[], float]):
        self._until = 0.0
        self._clock = clock
        self._lock = threading.Lock()

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)

    def remaining(self) -> float:
        with self._lock:
            return max(0.0, self._until - self._clock())


def backoff(attempt: int, base: float, ceiling: float, rng: random.Random) -> float:
    """Seconds to wait after failed attempt ``attempt``: exponential from ``base``, capped at ``ceiling``,
    drawn between half and all of it so workers that failed together do not retry in lockstep."""
    top = min(ceiling, base * 2 ** (attempt - 1))
    return rng.uniform(top / 2, top)
