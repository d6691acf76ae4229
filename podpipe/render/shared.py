"""The shared limit: one rate per project and model, kept in Redis and obeyed by every machine and CI job that
renders with the same key (``--rate-limit-url redis://host:port/db``, or ``PODPIPE_RATE_LIMIT_URL``).

It is the moving window of the ``limits`` library over its Redis storage (a sorted list per limit, updated
by its Lua scripts, so the check and the take are one atomic step on the server): at most ``amount``
attempt starts in any ``window`` seconds, counted across every process. The limit's name is
``podpipe/<scope>/<model>``, where the scope is what the backend says identifies the quota (Gemini: a hash
of the API key, never the key itself).

Redis is a help, never a dependency of a build: when it cannot be reached, or fails mid-build, the limit
switches itself off with one warning and the scheduler goes on with its local adaptive rate."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

ENV_URL = "PODPIPE_RATE_LIMIT_URL"
EXTRA = "podpipe[redis]"


class SharedLimit:
    """``delay(model, amount)``: 0 when a start was taken from the shared limit (or the limit is off), else
    seconds to wait before asking again."""

    def __init__(self, url: str, scope: str, *, window: float, warn: Callable[[str], None]):
        from podpipe.errors import UsageError

        try:
            from limits import RateLimitItemPerSecond
            from limits.storage import storage_from_string
            from limits.strategies import MovingWindowRateLimiter
        except ImportError as exc:
            raise UsageError(f"--rate-limit-url needs the redis extra: pip install '{EXTRA}' ({exc})") from exc
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise UsageError(f"--rate-limit-url {url!r}: give redis://host:port/db (or rediss:// for TLS)")
        self._item = RateLimitItemPerSecond
        # whole seconds, rounded up past the local limiter's arrival margin (1 s a minute): a start counted
        # at the end of one window must not arrive inside the server's next one
        self._seconds = max(1, math.ceil(window * (1 + 1 / 60)))
        self._scope = scope
        self._warn = warn
        self._lock = threading.Lock()
        self.failed: str | None = None  # why the shared limit is off, once it is
        self.taken = 0
        try:
            storage = storage_from_string(url, socket_timeout=2.0, socket_connect_timeout=2.0,
                                          wrap_exceptions=True)
            self._limiter = MovingWindowRateLimiter(storage)
        except Exception as exc:  # a malformed URL the library rejects, a missing driver
            self._off(exc)

    @property
    def active(self) -> bool:
        return self.failed is None

    def _off(self, exc: BaseException) -> None:
        with self._lock:
            if self.failed is not None:
                return
            self.failed = f"{type(exc).__name__}: {exc}"
        self._warn(f"the shared rate limit (--rate-limit-url) failed ({self.failed}); going on with this "
                   "machine's adaptive rate")

    def delay(self, model: str, amount: float) -> float:
        if self.failed is not None:
            return 0.0
        item = self._item(max(1, int(amount)), self._seconds, namespace="podpipe")
        try:
            if self._limiter.hit(item, self._scope, model):
                with self._lock:
                    self.taken += 1
                return 0.0
            stats = self._limiter.get_window_stats(item, self._scope, model)
            return min(float(self._seconds), max(0.01, stats.reset_time - time.time()))
        except Exception as exc:  # Redis gone or failing: never fail the build for it
            self._off(exc)
            return 0.0
