"""The shared limit: one rate per project and model, kept in Redis and obeyed by every machine and CI job that
renders with the same key (``--rate-limit-url redis://host:port/db``, or ``PODPIPE_RATE_LIMIT_URL``).

Two things live in Redis per quota and model, named ``podpipe/<scope>/<model>``, where the scope is what the
backend says identifies the quota (Gemini: a hash of the API key, never the key itself):

- **The window**: the moving window of the ``limits`` library over its Redis storage (a sorted list, updated
  by its Lua scripts, so the check and the take are one atomic step on the server): at most ``rate``
  attempt starts in any window, counted across every process. Its key does not name the amount (the
  storage's ``acquire_entry`` takes the amount per call), so the rate can change under it.
- **The controller** (``…/rate``, a hash: ``rate``, ``epoch``, ``slow``): the adaptive rate of
  ``limiter.AdaptiveLimiter``, run once for every machine instead of once per machine. It starts at the
  ``--rpm`` ceiling, else at the backend's rate for the model (then in slow start); every success anywhere
  adds ``1 / rate`` (one request per window for each window's worth of successes, all machines together;
  one in slow start), never past the client's ceiling; the first refusal of an epoch, seen by any client,
  cuts it (``limiter.cut``) to the starts the window holds since the quota's window began, less the
  refusals among them (a third list, ``…/refused``), in one optimistic transaction (``WATCH``: a cut from an
  older epoch is dropped). So with ``--rpm auto`` the machines find the key's real rate together, and
  nothing is spread thin by guessing their number. The state expires after a day unused: the next build
  starts from the rate the last one found.

Redis is a help, never a dependency of a build: when it cannot be reached, or fails mid-build, the limit
switches itself off with one warning and the scheduler goes on with its local adaptive rate."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from podpipe.render.limiter import cut

ENV_URL = "PODPIPE_RATE_LIMIT_URL"
EXTRA = "podpipe[redis]"


STATE_TTL = 86400  # seconds the shared controller's state outlives its last use
REFUSALS = 1_000_000  # the refusal log's length cap (a log, not a limit)


class SharedLimit:
    """``acquire(model, start, ceiling)``: (0, epoch, rate) when a start was taken from the shared limit, else
    (seconds to wait before asking again, ...); ``succeeded`` and ``refused`` drive the shared rate. Every
    call is a no-op once the limit is off (``active`` False)."""

    def __init__(self, url: str, scope: str, *, window: float, warn: Callable[[str], None]):
        from podpipe.errors import UsageError

        try:
            import redis
            from limits import storage as limits_storage  # through the package: missing, it is an ImportError
        except ImportError as exc:
            raise UsageError(f"--rate-limit-url needs the redis extra: pip install '{EXTRA}' ({exc})") from exc
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise UsageError(f"--rate-limit-url {url!r}: give redis://host:port/db (or rediss:// for TLS)")
        self._window = window
        # whole seconds (the storage's expiry is a Redis EXPIRE), rounded up past the local limiter's arrival
        # margin (1 s a minute): a start counted at the end of one window must not arrive inside the next one
        self._seconds = max(1, math.ceil(window * (1 + 1 / 60)))
        self._scope = scope
        self._warn = warn
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, bool]] = {}  # model -> (rate, slow start) last read
        self.failed: str | None = None  # why the shared limit is off, once it is
        self.taken = 0
        try:
            self._client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
            self._storage = limits_storage.RedisStorage(url, connection_pool=self._client.connection_pool,
                                                        wrap_exceptions=True)
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

    def _key(self, model: str, part: str = "") -> str:
        return f"podpipe/{self._scope}/{model}{part}"

    def acquire(self, model: str, start: float, ceiling: float | None) -> tuple[float, int, float]:
        """Take a start: (0, the controller's epoch, its rate), or (seconds to wait, epoch, rate)."""
        if self.failed is not None:
            return 0.0, 0, start
        state = self._key(model, "/rate")
        try:
            with self._client.pipeline() as pipe:  # MULTI/EXEC: created once, read in the same step
                pipe.hsetnx(state, "rate", float(start))
                pipe.hsetnx(state, "epoch", 0)
                pipe.hsetnx(state, "slow", int(ceiling is None))
                pipe.hmget(state, "rate", "epoch", "slow")
                pipe.expire(state, STATE_TTL)
                raw_rate, raw_epoch, raw_slow = pipe.execute()[3]
            rate, epoch, slow = float(raw_rate), int(raw_epoch), raw_slow == b"1"
            with self._lock:
                self._seen[model] = (rate, slow)
            limit = max(1, int(rate if ceiling is None else min(rate, ceiling)))
            if self._storage.acquire_entry(self._key(model), limit, self._seconds):
                with self._lock:
                    self.taken += 1
                return 0.0, epoch, rate
            began, _ = self._storage.get_moving_window(self._key(model), limit, self._seconds)
            return min(float(self._seconds), max(0.01, began + self._seconds - time.time())), epoch, rate
        except Exception as exc:  # Redis gone or failing: never fail the build for it
            self._off(exc)
            return 0.0, 0, start

    def succeeded(self, model: str, ceiling: float | None) -> None:
        """A start taken from the shared limit succeeded: the additive increase (one in slow start)."""
        with self._lock:
            rate, slow = self._seen.get(model, (0.0, False))
        if self.failed is not None or not rate or (ceiling is not None and rate >= ceiling):
            return
        try:
            self._client.hincrbyfloat(self._key(model, "/rate"), "rate", 1.0 if slow else 1.0 / rate)
        except Exception as exc:
            self._off(exc)

    def refused(self, model: str, epoch: int, retry_after: float) -> None:
        """A start granted in ``epoch`` was refused for quota: log it, and cut the shared rate unless a client
        cut it since."""
        if self.failed is not None:
            return
        state = self._key(model, "/rate")
        try:
            self._storage.acquire_entry(self._key(model, "/refused"), REFUSALS, self._seconds)
            span = self._window - min(retry_after, self._window)  # since the quota's current window began
            starts = self._storage.get_moving_window(self._key(model), REFUSALS, span)[1] if span else 0
            refused = self._storage.get_moving_window(self._key(model, "/refused"), REFUSALS, span)[1] if span else 0

            def step(pipe) -> None:
                raw_rate, raw_epoch = pipe.hmget(state, "rate", "epoch")
                if raw_rate is None or int(raw_epoch) != epoch:
                    return
                pipe.multi()
                pipe.hset(state, mapping={"rate": cut(float(raw_rate), starts - refused), "epoch": epoch + 1,
                                          "slow": 0})

            self._client.transaction(step, state)
        except Exception as exc:
            self._off(exc)
