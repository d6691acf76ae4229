"""How a remote cache survives its store: every operation runs through ``Guard.call``, which turns whatever
the storage library raises (unreachable, 403, timeout, throttling) into ``FAULT`` — logged at debug level
with credentials scrubbed, counted, warned about once — and gives a direction (reading, writing) up for the
rest of the run after ``max_errors`` failures in a row. The guard also keeps the run's counters (hits,
misses, rejected downloads: ``RemoteStats``) and says what the user must hear. It knows nothing of what is
stored: ``RemoteCache`` and its parts (entries, ``Leases``, ``Outputs``) share one guard.

Bounded time (``deadline``, ``--remote-cache-timeout``): every operation runs in a daemon thread and is
waited for at most what is left of the build's budget for lost remote time (and a small one, a lookup or a
lease, at most ``op_timeout``: the request timeout), so an endpoint that accepts and never answers cannot
hang a build (the storage library's own connect/read timeouts bound the abandoned thread too). Time is
charged for operations that fail or are abandoned (overlapping ones once), never for answers: a slow but
working store is not switched off. An operation abandoned at the deadline, or
``max_timeouts`` abandoned ones, switch the remote off for the rest of the run (both directions), warned."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from podpipe.cache.remote.stats import RemoteStats
from podpipe.secrets import scrub_text
from podpipe.storage import Unsupported

log = logging.getLogger("podpipe.cache.remote")

FAULT = object()  # what ``Guard.call`` returns when the operation failed
MAX_REJECT_WARNINGS = 3
DEADLINE = 30.0  # seconds of lost remote time per build (``--remote-cache-timeout``)
MAX_TIMEOUTS = 2  # operations abandoned for want of an answer before the remote is switched off
OP_TIMEOUT = 10.0  # seconds a small operation (not a transfer) is waited for
TRANSFERS = frozenset({"upload", "download", "output upload", "output download"})  # may take long: deadline only


class Abandoned(Exception):
    """An operation that did not answer within what was left of the deadline (it is left to its thread)."""


class Guard:
    """Fault handling, counters and warnings for the remote store shown as ``url``. Thread-safe."""

    def __init__(self, url: str, *, on_warning: Callable[[str], None] | None = None, max_errors: int = 3,
                 environ: Mapping[str, str] | None = None, deadline: float = DEADLINE,
                 max_timeouts: int = MAX_TIMEOUTS, op_timeout: float = OP_TIMEOUT,
                 explain: Callable[[BaseException], tuple[str, str] | None] | None = None, write_hint: str = ""):
        self.url = url
        self.max_errors = max(1, max_errors)
        self.deadline = max(0.05, float(deadline))
        self.max_timeouts = max(1, max_timeouts)
        self.op_timeout = max(0.01, float(op_timeout))
        self.explain = explain or (lambda exc: None)  # the store's reading of an exception: (kind, code)
        self.write_hint = write_hint  # said when a write is refused (e.g. "use --remote-cache-mode read")
        self._lost = 0.0  # seconds charged to failed and abandoned operations (overlaps once)
        self._lost_until = 0.0  # monotonic end of the last charged interval
        self._off = ""  # why the remote was switched off for the rest of the run ("" while it is on)
        self.environ = os.environ if environ is None else environ
        self._on_warning = on_warning
        self._lock = threading.Lock()
        self._counts: dict[str, int] = dict.fromkeys(RemoteStats.__dataclass_fields__, 0)
        self._hit_keys: set[str] = set()
        self._miss_keys: set[str] = set()
        self._rejected_keys: set[str] = set()
        self._in_a_row = {"read": 0, "write": 0}
        self._given_up: set[str] = set()
        self._warned: set[str] = set()

    def call(self, direction: str, what: str, operation: Callable[[], Any]) -> Any:
        """Run one remote operation; ``FAULT`` when it failed (counted, logged, warned once). ``Unsupported``
        passes through: it is no fault, the caller decides."""
        if direction in self._given_up or self._off:
            self.count(skipped=1)
            return FAULT
        try:
            result = self.bounded(operation, cap=None if what in TRANSFERS else self.op_timeout)
        except Unsupported:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the storage library raises is a fault, never a crash
            self._fault(direction, what, exc)
            return FAULT
        with self._lock:
            self._in_a_row[direction] = 0
        return result

    @property
    def off(self) -> str:
        """Why the remote is switched off for the rest of the run ("" while it is on)."""
        return self._off

    def left(self) -> float:
        """Seconds of the deadline not yet lost."""
        with self._lock:
            return self.deadline - self._lost

    def bounded(self, operation: Callable[[], Any], cap: float | None = None) -> Any:
        """``operation()`` in a daemon thread, waited for at most what is left of the deadline (and at most
        ``cap`` seconds): its result, or what it raised, or ``Abandoned`` when it did not answer in time
        (charged, and counted)."""
        left = self.left() if cap is None else min(cap, self.left())
        if left <= 0:
            raise Abandoned(f"no time left of the {self.deadline:g} s deadline")
        box: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                box["result"] = operation()
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                box["error"] = exc
            finally:
                done.set()

        start = time.monotonic()
        threading.Thread(target=run, name="podpipe-remote-call", daemon=True).start()
        if not done.wait(left):
            self._charge(start, time.monotonic())
            self._timed_out(left)
            raise Abandoned(f"no answer within {left:.3g} s")
        if "error" in box:
            if not isinstance(box["error"], Unsupported):
                self._charge(start, time.monotonic())
            raise box["error"]
        return box["result"]

    def _charge(self, start: float, end: float) -> None:
        with self._lock:
            self._lost += max(0.0, end - max(start, self._lost_until))
            self._lost_until = max(self._lost_until, end)
            spent = self._lost >= self.deadline
        if spent:
            self.switch_off(f"requests that failed or got no answer used up the {self.deadline:g} s it may cost "
                            f"a build (--remote-cache-timeout)")

    def _timed_out(self, waited: float) -> None:
        with self._lock:
            self._counts["timeouts"] += 1
            n = self._counts["timeouts"]
        self.warn_once("timeout", f"remote cache {self.url}: no answer within {waited:.3g} s; going on with the "
                                  f"local cache (--remote-cache-timeout sets how long podpipe waits in all)")
        if n >= self.max_timeouts:
            self.switch_off(f"{n} operations got no answer")

    def switch_off(self, why: str, *, warn: bool = True) -> None:
        """Stop using the remote for the rest of the run (every later operation is skipped), warned once."""
        with self._lock:
            if self._off:
                return
            self._off = why
        if warn:
            self.warn(f"remote cache {self.url}: switched off for the rest of this build: {why}")

    def _fault(self, direction: str, what: str, exc: Exception) -> None:
        if isinstance(exc, Abandoned):
            with self._lock:
                self._counts["errors"] += 1
            return  # counted and warned about as a timeout already
        detail = scrub_text(f"{type(exc).__name__}: {exc}", self.environ)

        log.debug("remote cache %s: %s failed: %s", self.url, what, detail)
        with self._lock:
            self._counts["errors"] += 1
            self._in_a_row[direction] += 1
            give_up = self._in_a_row[direction] >= self.max_errors and direction not in self._given_up
            if give_up:
                self._given_up.add(direction)
        self.warn_once("fault", f"remote cache {self.url}: {what} failed ({detail}); going on with the local "
                                f"cache")
        reading = self.explain(exc)
        if direction == "write" and reading is not None and reading[0] == "denied" and self.write_hint:
            self.warn_once("write-denied", f"remote cache {self.url}: {what} refused ({reading[1]}): these "
                                           f"credentials may not write here; {self.write_hint}")
        if give_up:
            self.warn_once(f"given-up-{direction}",
                           f"remote cache {self.url}: not {'reading' if direction == 'read' else 'writing'} it "
                           f"any more in this run after {self.max_errors} failures in a row")

    # -- counters ----------------------------------------------------------------------------------------

    def count(self, **amounts: int) -> None:
        with self._lock:
            for name, n in amounts.items():
                self._counts[name] += n

    def hit(self, key: str) -> None:
        with self._lock:
            self._hit_keys.add(key)

    def miss(self, key: str) -> None:
        with self._lock:
            self._miss_keys.add(key)

    def rejected(self, key: str) -> bool:
        """Whether the entry ``key`` failed verification in this run (it is a miss until uploaded anew)."""
        return key in self._rejected_keys

    def repaired(self, key: str) -> None:
        """A good entry for ``key`` went up: it is no longer the rejected one."""
        with self._lock:
            self._rejected_keys.discard(key)

    def reject(self, name: str, reason: str, *, what: str = "entry") -> None:
        """A download that failed verification: counted, a miss for an entry, warned about (the first few)."""
        with self._lock:
            self._counts["rejected"] += 1
            if what == "entry":
                self._rejected_keys.add(name)
                self._miss_keys.add(name)
            n = self._counts["rejected"]
        if n <= MAX_REJECT_WARNINGS:
            more = " (further rejections are only counted)" if n == MAX_REJECT_WARNINGS else ""
            self.warn(f"remote cache {self.url}: {what} {name[:12]} failed verification ({reason}); not "
                      f"used{' (it will be rendered again)' if what == 'entry' else ''}{more}")

    def stats(self, **more: int) -> RemoteStats:
        """The run's counters so far; ``more``: counters kept elsewhere (the leases')."""
        with self._lock:
            return RemoteStats(**dict(self._counts, hits=len(self._hit_keys),
                                      misses=len(self._miss_keys - self._hit_keys), **more))

    # -- warnings ----------------------------------------------------------------------------------------

    def warn_once(self, kind: str, message: str) -> None:
        with self._lock:
            if kind in self._warned:
                return
            self._warned.add(kind)
        self.warn(message)

    def warn(self, message: str) -> None:
        message = scrub_text(message, self.environ, limit=2000)  # its parts were cut already
        if self._on_warning is not None:
            self._on_warning(message)
        else:
            log.warning("%s", message)
