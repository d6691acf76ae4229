"""How a remote cache survives its store: every operation runs through ``Guard.call``, which turns whatever
the storage library raises (unreachable, 403, timeout, throttling) into ``FAULT`` — logged at debug level
with credentials scrubbed, counted, warned about once — and gives a direction (reading, writing) up for the
rest of the run after ``max_errors`` failures in a row. The guard also keeps the run's counters (hits,
misses, rejected downloads: ``RemoteStats``) and says what the user must hear. It knows nothing of what is
stored: ``RemoteCache`` and its parts (entries, ``Leases``, ``Outputs``) share one guard."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from podpipe.cache.remote.stats import RemoteStats
from podpipe.secrets import scrub_text
from podpipe.storage import Unsupported

log = logging.getLogger("podpipe.cache.remote")

FAULT = object()  # what ``Guard.call`` returns when the operation failed
MAX_REJECT_WARNINGS = 3


class Guard:
    """Fault handling, counters and warnings for the remote store shown as ``url``. Thread-safe."""

    def __init__(self, url: str, *, on_warning: Callable[[str], None] | None = None, max_errors: int = 3,
                 environ: Mapping[str, str] | None = None):
        self.url = url
        self.max_errors = max(1, max_errors)
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
        if direction in self._given_up:
            self.count(skipped=1)
            return FAULT
        try:
            result = operation()
        except Unsupported:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the storage library raises is a fault, never a crash
            self._fault(direction, what, exc)
            return FAULT
        with self._lock:
            self._in_a_row[direction] = 0
        return result

    def _fault(self, direction: str, what: str, exc: Exception) -> None:
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
