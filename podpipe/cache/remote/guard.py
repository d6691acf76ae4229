"""How a remote cache survives its store: every operation runs through ``_call``, which turns whatever the
storage library raises (unreachable, 403, timeout, throttling) into ``FAULT`` — logged at debug level with
credentials scrubbed, counted, warned about once — and gives a direction (reading, writing) up for the rest
of the run after ``max_errors`` failures in a row. Also the run's counters and the warnings about rejected
downloads. ``RemoteCache`` is built on it; nothing here knows what is stored."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from podpipe.cache.remote.figures import RemoteStats
from podpipe.secrets import scrub_text
from podpipe.storage import Unsupported

log = logging.getLogger("podpipe.cache.remote")

FAULT = object()  # what ``_call`` returns when the operation failed
MAX_REJECT_WARNINGS = 3


class Guarded:
    """Fault handling, counters and warnings for a remote store; subclasses provide ``url``."""

    url: str

    def __init__(self, *, on_warning: Callable[[str], None] | None = None, max_errors: int = 3,
                 environ: Mapping[str, str] | None = None):
        self.max_errors = max(1, max_errors)
        self._environ = os.environ if environ is None else environ
        self._on_warning = on_warning
        self._lock = threading.Lock()
        self._counts: dict[str, int] = dict.fromkeys(RemoteStats.__dataclass_fields__, 0)
        self._hit_keys: set[str] = set()
        self._miss_keys: set[str] = set()
        self._rejected_keys: set[str] = set()
        self._in_a_row = {"read": 0, "write": 0}
        self._given_up: set[str] = set()
        self._warned: set[str] = set()

    def _call(self, direction: str, what: str, operation: Callable[[], Any]) -> Any:
        """Run one remote operation; ``FAULT`` when it failed (counted, logged, warned once). ``Unsupported``
        passes through: it is no fault, the caller decides."""
        if direction in self._given_up:
            self._count(skipped=1)
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
        detail = scrub_text(f"{type(exc).__name__}: {exc}", self._environ)
        log.debug("remote cache %s: %s failed: %s", self.url, what, detail)
        with self._lock:
            self._counts["errors"] += 1
            self._in_a_row[direction] += 1
            give_up = self._in_a_row[direction] >= self.max_errors and direction not in self._given_up
            if give_up:
                self._given_up.add(direction)
        self._warn_once("fault", f"remote cache {self.url}: {what} failed ({detail}); going on with the local "
                                 f"cache")
        if give_up:
            self._warn_once(f"given-up-{direction}",
                            f"remote cache {self.url}: not {'reading' if direction == 'read' else 'writing'} it "
                            f"any more in this run after {self.max_errors} failures in a row")

    def _reject(self, name: str, reason: str, *, what: str = "entry") -> None:
        with self._lock:
            self._counts["rejected"] += 1
            if what == "entry":
                self._rejected_keys.add(name)
                self._miss_keys.add(name)
            n = self._counts["rejected"]
        if n <= MAX_REJECT_WARNINGS:
            more = " (further rejections are only counted)" if n == MAX_REJECT_WARNINGS else ""
            self._warn(f"remote cache {self.url}: {what} {name[:12]} failed verification ({reason}); not "
                       f"used{' (it will be rendered again)' if what == 'entry' else ''}{more}")

    def _warn_once(self, kind: str, message: str) -> None:
        with self._lock:
            if kind in self._warned:
                return
            self._warned.add(kind)
        self._warn(message)

    def _warn(self, message: str) -> None:
        message = scrub_text(message, self._environ, limit=2000)  # its parts were cut already
        if self._on_warning is not None:
            self._on_warning(message)
        else:
            log.warning("%s", message)

    def _count(self, **amounts: int) -> None:
        with self._lock:
            for name, n in amounts.items():
                self._counts[name] += n

    def _note(self, keys: set[str], key: str) -> None:
        with self._lock:
            keys.add(key)
