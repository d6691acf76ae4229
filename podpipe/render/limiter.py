"""When a worker may send: the shared sliding-window rate limit, the adaptive (AIMD) rate a model is sent at,
the pool-wide pause a server asks for, and the backoff between attempts. Pure timing, no I/O, so the
scheduler's policy can be tested on a fake clock."""

from __future__ import annotations

import collections
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW = 60.0  # seconds a requests-per-minute limit is counted over
QUOTA_WAIT = 600.0  # seconds a run may wait for quota in all (server-asked pauses) before refusals fail it


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


@dataclass(frozen=True)
class RateSummary:
    """What the adaptive control did for one model in one run (rates in requests per minute)."""

    model: str
    start: float  # the rate it began at: the backend's rate for the model, or the --rpm ceiling
    ceiling: float | None  # --rpm N; None: auto (no ceiling)
    settled: float  # the rate when the run ended
    peak: float  # the highest rate it reached
    refused: int  # attempts the server refused for quota (429 with a retry delay)
    decreases: int  # times the rate was cut

    def as_dict(self) -> dict:
        return {"model": self.model, "start_rpm": round(self.start, 2), "ceiling_rpm": self.ceiling,
                "settled_rpm": round(self.settled, 2), "peak_rpm": round(self.peak, 2),
                "refused": self.refused, "decreases": self.decreases}


def cut(rate: float, got: float) -> float:
    """The rate after a refusal for quota: what got through in the quota's window (``got`` starts the server
    let pass), never above ``rate``, never below half of it (one refusal halves at most) nor one."""
    return max(1.0, min(rate, max(rate / 2, got)))


class AdaptiveLimiter(RateLimiter):
    """A sliding-window limit whose size follows the server: AIMD (additive increase, multiplicative decrease)
    with a measured decrease, started at this build's share of the rate.

    Why AIMD and not a token bucket fed by observed 429s: the quota is shared with processes we cannot see
    (other shards, other machines on the same key), so no local observation tells its size or how much of it
    is ours. AIMD needs neither: clients that cut on refusal and add a constant while they succeed converge
    to fair shares of whatever the project allows (Chiu and Jain, 1989; TCP's congestion control), and a lone
    client finds the whole quota. A bucket refilled at a rate guessed from 429s would have to estimate that
    rate from a signal that mixes everyone's traffic, and would oscillate without the fairness proof.

    Three choices make it fit a quota shared by N shard builds (measured by bench/quota.py, where N builds
    each told the full rate used to send N times the quota at once and 8 shards had 11 % refused):

    - **A share to start from.** A build that knows it is one of ``shares`` (``--shard K/N``: N) starts at
      ``start / shares``: N shards told the project's rate together start at that rate, not N times it. The
      start is ``--rpm N`` when given (then also the ceiling: never above it), else the backend's rate for
      the model (the catalog's tier-1 rate). Never below one request per window.
    - **Slow start only when the rate is unknown** (``--rpm auto``: no ceiling). Until the first refusal each
      success adds one request per window: the rate doubles with each window's worth of successes, because
      the catalog's rate is a tier-1 floor and paid tiers allow 10-100x more. With a ceiling the sum of the
      shares is already the rate the user gave, so there is nothing to search for.
    - **A gentle climb, a measured cut.** After that, each success adds ``1 / (rate * shares)``: a build adds
      one request per window for each window's worth of successes, and N shards together add one, as a
      single build would (so the probe that finds the quota's edge costs about one refusal, not N). A
      refusal (``refused_at``) cuts the rate to what got through in the quota's current window: the starts
      granted since the window began (the server's retry delay says when it ends: it began one window
      before that) less the refusals among them (``cut``), never more than halving. Halving alone, as TCP
      does, throws away a quarter of the quota on average and takes many windows to win back with the
      gentle climb above; the measured cut lands the shards' sum on the quota at once, so the next windows
      run full. The cut is once per epoch: attempts granted before it were sent at the old rate, and their refusals say
      nothing new (several in flight fail together).

    With the shared limit (``render.shared``, Redis) the same controller runs once for every machine, its
    rate kept in Redis; this limiter then follows that rate (``follow``) for the report, and takes over,
    alone, if Redis fails (``alone``: from this build's share of it).
    """

    def __init__(self, model: str, start: float, *, ceiling: float | None = None, shares: int = 1,
                 window: float = WINDOW, clock: Callable[[], float] = time.monotonic):
        self.shares = max(1, int(shares))
        start = max(1.0, float(start if ceiling is None else min(start, ceiling)) / self.shares)
        super().__init__(start, window=window, clock=clock)
        self.model = model
        self.span = window  # the quota's window (``self.window`` adds the arrival margin)
        self.ceiling = ceiling
        self.start = self.rate = self.peak = start
        self.epoch = 0  # bumped on each decrease; an attempt remembers the epoch it was granted in
        self.slow_start = ceiling is None
        self.refused = 0
        self.decreases = 0
        self.rates: list[float] = [start]  # the rate after every change, in order (tests read it)
        self._refusals: collections.deque[float] = collections.deque()  # refusals within the last span
        self._followed: int | None = None  # the shared controller's epoch last followed (``follow``)

    def _set(self, rate: float) -> None:
        if self.ceiling is not None:
            rate = min(rate, float(self.ceiling))
        self.rate = max(1.0, rate)
        self.limit = int(self.rate)
        self.peak = max(self.peak, self.rate)
        self.rates.append(self.rate)

    def succeeded(self) -> None:
        with self._lock:
            self._set(self.rate + (1.0 if self.slow_start else 1.0 / (self.rate * self.shares)))

    def got_through(self, retry_after: float = 0.0) -> int:
        """Starts granted since the quota's current window began (``retry_after`` before its end: it began one
        span before that) less the refusals among them: what the server let through of ours."""
        with self._lock:
            now = self._clock()
            while self._refusals and now - self._refusals[0] > self.span:
                self._refusals.popleft()
            since = now + min(retry_after, self.span) - self.span
            return (sum(1 for t in self._starts if t >= since)
                    - sum(1 for t in self._refusals if t >= since))

    def refused_at(self, epoch: int, retry_after: float = 0.0) -> None:
        """An attempt granted in ``epoch`` was refused for quota, the server asking to wait ``retry_after``
        seconds: cut the rate to what got through in the quota's window, unless already cut since."""
        with self._lock:
            self.refused += 1
            self._refusals.append(self._clock())
            if epoch != self.epoch:
                return
        got = self.got_through(retry_after)
        with self._lock:
            if epoch != self.epoch:
                return
            self.slow_start = False
            self.epoch += 1
            self.decreases += 1
            self._set(cut(self.rate, got))

    def follow(self, rate: float, epoch: int) -> None:
        """The shared controller's rate in its ``epoch`` (``render.shared``): shown and reported as this
        model's rate. Within an epoch the shared rate only climbs, so a lower reading is a stale one."""
        with self._lock:
            if self._followed is not None and epoch < self._followed:
                return
            if self._followed is not None and epoch > self._followed:
                self.decreases += epoch - self._followed
            elif rate <= self.rate and self._followed is not None:
                return
            self._followed = epoch
            if min(rate, self.ceiling or rate) != self.rate:
                self._set(rate)

    def alone(self, shares: int = 1) -> None:
        """The shared limit failed: go on alone from this build's share (one of ``shares``) of the rate it
        last followed, climbing gently from there (the key's rate was being probed already)."""
        with self._lock:
            self.shares = max(1, int(shares))
            self.slow_start = False
            self.epoch += 1
            self._set(self.rate / self.shares)

    def summary(self) -> RateSummary:
        with self._lock:  # requests per window: per minute, except where tests scale the window down
            return RateSummary(self.model, self.start, self.ceiling, self.rate, self.peak, self.refused,
                               self.decreases)


class PauseGate:
    """A pool-wide "nobody starts before T" set by server back-pressure (429 + RetryInfo). ``held`` is the
    total time it has held the pool so far (overlapping holds counted once): the build's quota wait."""

    def __init__(self, clock: Callable[[], float]):
        self._until = 0.0
        self._clock = clock
        self._lock = threading.Lock()
        self.held = 0.0

    def hold(self, seconds: float) -> None:
        with self._lock:
            now = self._clock()
            until = now + seconds
            if until > self._until:
                self.held += until - max(now, self._until)
                self._until = until

    def remaining(self) -> float:
        with self._lock:
            return max(0.0, self._until - self._clock())


def backoff(attempt: int, base: float, ceiling: float, rng: random.Random) -> float:
    """Seconds to wait after failed attempt ``attempt``: exponential from ``base``, capped at ``ceiling``,
    drawn between half and all of it so workers that failed together do not retry in lockstep."""
    top = min(ceiling, base * 2 ** (attempt - 1))
    return rng.uniform(top / 2, top)
