"""When a request may start, and what a success or a quota refusal does to the rate: the scheduler's pacing.

One limiter per model (``limiter_for``): adaptive from the backend's rate for the model (``limiter``), capped
by ``--rpm``, started at this build's share; or fixed (``--rpm N`` without adaptive control, ``0``: none). A
pool-wide ``PauseGate`` holds every start while the server's retry delay runs. With ``--rate-limit-url`` the
shared limit in Redis (``render.shared``) grants the starts and keeps the one controller every machine follows;
when it fails, each model's limiter goes on alone from this build's share.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from podpipe.backends.base import Backend
from podpipe.errors import BackendError
from podpipe.render.limiter import AdaptiveLimiter, PauseGate, RateLimiter, RateSummary
from podpipe.render.records import RenderOptions
from podpipe.render.shared import SharedLimit


class Interrupted(Exception):
    """The run is stopping (Ctrl-C): raised out of any wait."""


class Pacer:
    def __init__(self, backend: Backend, options: RenderOptions, clock: Callable[[], float],
                 stop: threading.Event):
        self.backend = backend
        self.options = options
        self.stop = stop
        # one limiter per model (``limiter_for``); a test may set ``limiter`` to one that serves every model
        self.limiter: RateLimiter | None = None
        self._limiters: dict[str, RateLimiter] = {}
        self._limiters_lock = threading.Lock()
        self.gate = PauseGate(clock)
        self.shared: SharedLimit | None = None  # opened by the scheduler's run() when ``rate_limit_url`` is given
        self._alone_models: set[str] = set()  # models whose limiter went on alone after the shared limit failed
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or raise ``Interrupted`` as soon as the run stops."""
        if seconds > 0 and self.stop.wait(seconds):
            raise Interrupted

    def limiter_for(self, model: str) -> RateLimiter:
        """The model's limiter: adaptive from the backend's rate for it, capped by ``rpm`` when given, started
        at this build's share (``shares``) unless the shared limit does the sharing."""
        if self.limiter is not None:
            return self.limiter
        with self._limiters_lock:
            limiter = self._limiters.get(model)
            if limiter is None:
                ceiling, window = self.options.rpm, self.options.rate_window
                start = self.backend.rpm_for(model) if ceiling is None else ceiling
                if ceiling == 0 or start is None or not self.options.adaptive:
                    limiter = RateLimiter(start, window=window, clock=self._clock)
                else:
                    shares = 1 if self._sharing() else self.options.shares
                    if not self._sharing():
                        self._alone_models.add(model)  # on its own from the start: its share is taken
                    limiter = AdaptiveLimiter(model, start, ceiling=ceiling, shares=shares, window=window,
                                              clock=self._clock)
                self._limiters[model] = limiter
            return limiter

    def _sharing(self) -> bool:
        return self.shared is not None and self.shared.active

    def rates(self) -> tuple[RateSummary, ...]:
        """What the adaptive control did, per model, so far."""
        with self._limiters_lock:
            return tuple(lim.summary() for lim in self._limiters.values() if isinstance(lim, AdaptiveLimiter))

    def slot(self, limiter: RateLimiter, model: str) -> tuple[int, bool]:
        """Wait for the pool's pause and a start from the shared limit (when there is one and it works), else
        a slot of ``model``'s ``limiter``; the epoch of the controller that granted it, and whether that was
        the shared one."""
        while True:
            if self.stop.is_set():
                raise Interrupted
            held = self.gate.remaining()
            if held > 0:
                self.sleep(held)
                continue
            adaptive = isinstance(limiter, AdaptiveLimiter)
            if self.shared is not None and (adaptive or limiter.limit):
                if self.shared.active:
                    # a fixed limiter (adaptive=False) asks for its own limit, its start and its ceiling
                    start, ceiling = (limiter.start, limiter.ceiling) if adaptive else (limiter.limit, limiter.limit)
                    wait, epoch, rate = self.shared.acquire(model, start, ceiling)
                    if self.shared.active:
                        if adaptive:
                            limiter.follow(rate, epoch)
                        if wait <= 0:
                            return epoch, True
                        self.sleep(wait)
                        continue
                if adaptive:
                    self.alone(limiter)
            epoch = getattr(limiter, "epoch", 0)
            delay = limiter.delay()
            if delay <= 0:
                return epoch, False
            self.sleep(delay)

    def alone(self, limiter: AdaptiveLimiter) -> None:
        """The shared limit is off: the model's limiter goes on alone, from this build's share (once)."""
        with self._limiters_lock:
            if limiter.model in self._alone_models:
                return
            self._alone_models.add(limiter.model)
        limiter.alone(self.options.shares)

    def refused(self, exc: BackendError, limiter: RateLimiter, grant: tuple[int, bool],
                model: str) -> str | None:
        """A refusal with a server-given delay (quota): slow the model down and pause the pool. None: wait and
        try again without spending an attempt; else why the request fails (the quota-wait budget is spent)."""
        epoch, from_shared = grant
        shared = self.shared
        if isinstance(limiter, AdaptiveLimiter):
            if from_shared and shared is not None and shared.active:
                limiter.refused_at(-1, exc.retry_after)  # counted here; the cut is the shared controller's
                shared.refused(model, epoch, exc.retry_after)
            else:
                limiter.refused_at(epoch, exc.retry_after)
        budget = self.options.quota_wait
        if self.gate.held + exc.retry_after > budget:
            return (f"{exc}; gave up after waiting {self.gate.held:.0f} s for quota, the --quota-wait budget of "
                    f"{budget:.0f} s: raise --quota-wait, lower --rpm or -j, or share the key's quota with "
                    "--rate-limit-url")
        self.gate.hold(exc.retry_after)
        return None

    def succeeded(self, limiter: RateLimiter, grant: tuple[int, bool], model: str) -> None:
        if not isinstance(limiter, AdaptiveLimiter):
            return
        shared = self.shared
        if grant[1] and shared is not None and shared.active:
            shared.succeeded(model, limiter.ceiling)
        else:
            limiter.succeeded()
