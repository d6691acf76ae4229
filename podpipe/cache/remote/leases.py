"""Leases: each key rendered once across machines that share a remote cache.

Before a machine renders a key that is missing everywhere, it creates ``leases/<key>.json`` (a finished
output: ``leases/output-<digest>.json``) with a
conditional create (``Blobs.create``: S3 ``If-None-Match: *``, GCS ``ifGenerationMatch=0``, Azure
``overwrite=False``, a file's hard link / O_EXCL). Exactly one machine succeeds; the others wait for the
entry (``RemoteCache.claim``). The object says who holds it and until when::

    {"format": 1, "holder": "ci-runner-7 pid 4242", "token": "<random>", "created": 1764600000.0,
     "expires": 1764600060.0, "ttl": 60.0}

- **Renewal.** A render may take longer than the TTL (retries, backoff, the rate limit), so a background
  thread rewrites every held lease with a new ``expires`` each ``ttl / 3`` seconds, conditionally on its
  version tag (``Blobs.swap``), so a lease that was taken over meanwhile is noticed (lost), not overwritten.
  A crashed machine stops renewing: its lease expires after at most one TTL (10 s by default: short,
  because it is refreshed while its holder works), and a waiting machine takes it over at its next look.
  Expiry is judged by the reader's clock, so clocks must agree to well within the TTL (NTP does).
- **Takeover.** A lease past its ``expires`` (judged by the reader's clock: machines need roughly
  synchronised clocks) or unreadable is replaced with ``swap`` against the version that was judged, so of
  several machines taking over the same dead lease exactly one wins. Stores without an exact swap
  (``compare_and_swap`` False: gcsfs, adlfs) delete it (compared by content) and create anew: two machines
  taking over the same dead lease in the same instant may then both render that key once.
- **Release.** The holder deletes its lease after the entry is stored (or the render failed), again only
  while it is still its own version.
- **No conditional writes.** A store that cannot create conditionally (``Unsupported``) or that silently
  ignores the condition (found by a one-time probe where ``Blobs.probe_conditional``) gets no leases: the
  caller is told once, and every machine renders what it misses, as without a remote.

A fault while taking a lease (unreachable, denied) means "no lease": the caller renders, never fails.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podpipe.cache.remote.guard import FAULT, Guard
from podpipe.storage import Blobs, Unsupported, content_tag

LEASE_DIR = "leases"
LEASE_FORMAT = 1
MAX_LEASE_BYTES = 4096
MIN_TTL = 0.2  # seconds; renewal runs every ttl / 3


@dataclass(frozen=True)
class LeaseRecord:
    holder: str
    token: str
    created: float
    expires: float

    def expired(self, now: float) -> bool:
        return now >= self.expires


@dataclass(eq=False)
class Lease:
    """A lease this process holds."""

    key: str
    path: str
    token: str
    ttl: float
    tag: str
    lost: bool = False  # taken over by another machine (we failed to renew in time)
    released: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # renewal vs release


def lease_path(key: str) -> str:
    return f"{LEASE_DIR}/{key}.json"


def output_lease(digest: str) -> str:
    """The lease name of a finished output (its own namespace beside the render keys')."""
    return f"output-{digest}"


def parse_lease(data: bytes) -> LeaseRecord | None:
    """What a lease object says, or None when it is not one (then it counts as expired)."""
    if len(data) > MAX_LEASE_BYTES:
        return None
    try:
        doc = json.loads(data)
        record = LeaseRecord(str(doc["holder"]), str(doc["token"]), float(doc["created"]), float(doc["expires"]))
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    return record


def lease_bytes(token: str, holder: str, created: float, now: float, ttl: float) -> bytes:
    doc = {"format": LEASE_FORMAT, "holder": holder, "token": token, "created": created, "expires": now + ttl,
           "ttl": ttl}
    return json.dumps(doc, sort_keys=True).encode("utf-8")


class Leases:
    """Take, renew and release leases in ``blobs``. Every operation runs through ``guard`` (a fault is
    counted and warned about there, and means "no lease" here), which also tells the user once that a store
    has no conditional writes."""

    def __init__(self, blobs: Blobs, guard: Guard, *, ttl: float, clock: Callable[[], float]):
        self.blobs, self.guard = blobs, guard
        self.ttl = max(MIN_TTL, float(ttl))
        self.clock = clock
        self.holder = f"{socket.gethostname()} pid {os.getpid()}"
        self.supported: bool | None = None if blobs.writable else False
        self.taken = 0
        self.takeovers = 0
        self._held: dict[int, Lease] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- taking ------------------------------------------------------------------------------------------

    def acquire(self, key: str, ttl: float | None = None) -> tuple[str, Lease | None]:
        """``("held", lease)``, ``("busy", None)`` when another machine holds a live lease, or
        ``("none", None)`` when no lease can be had (no conditional writes, a fault)."""
        if not self._usable():
            return "none", None
        ttl = max(MIN_TTL, float(ttl or self.ttl))
        path = lease_path(key)
        token = secrets.token_hex(16)
        for _ in range(4):  # each round ends with a decision unless the lease changed under us
            now = self.clock()
            body = lease_bytes(token, self.holder, now, now, ttl)
            tag = self._create(path, body)
            if tag is FAULT:
                return "none", None
            if tag is not None:
                return "held", self._hold(Lease(key, path, token, ttl, tag))
            got = self._op("read", lambda: self.blobs.read_tagged(path))
            if got is FAULT:
                return "none", None
            if got is None:
                continue  # released meanwhile: try to create it again
            data, old_tag = got
            record = parse_lease(data)
            if record is not None and not record.expired(self.clock()):
                return "busy", None
            if self.blobs.compare_and_swap:
                new_tag = self._op("write", lambda: self.blobs.swap(path, body, old_tag))
                if new_tag is FAULT:
                    return "none", None
                if new_tag is not None:
                    return "held", self._hold(Lease(key, path, token, ttl, new_tag), takeover=True)
            elif self._op("write", lambda: self.blobs.delete(path, old_tag)) is FAULT:
                return "none", None
        return "busy", None  # contended all along: someone else is at it

    def state(self, key: str) -> str:
        """``"busy"`` (a live lease), ``"free"`` (none, or expired) or ``"fault"``."""
        data = self._op("read", lambda: self.blobs.read(lease_path(key)))
        if data is FAULT:
            return "fault"
        if data is None:
            return "free"
        record = parse_lease(data)
        return "busy" if record is not None and not record.expired(self.clock()) else "free"

    def release(self, lease: Lease) -> None:
        """Give the lease up (delete it while it is still ours); a fault leaves it to expire."""
        with lease.lock:
            if lease.released:
                return
            lease.released = True
            with self._lock:
                self._held.pop(id(lease), None)
            if not lease.lost:
                self._op("write", lambda: self.blobs.delete(lease.path, lease.tag))

    def close(self) -> None:
        """Stop renewing (held leases are left to expire: the caller releases what it took)."""
        with self._lock:
            self._closed = True
        self._wake.set()

    # -- internals ---------------------------------------------------------------------------------------

    def _usable(self) -> bool:
        if self.supported is None:
            self.supported = self._probe()
        return bool(self.supported)

    def _op(self, direction: str, operation: Callable[[], Any]) -> Any:
        """``call`` for lease operations; a store that turns out not to support one gets no more leases."""
        try:
            return self.guard.call(direction, "lease", operation)
        except Unsupported as exc:
            self._unsupported(str(exc))
            return FAULT

    def _create(self, path: str, body: bytes) -> Any:
        return self._op("write", lambda: self.blobs.create(path, body))

    def _probe(self) -> bool | None:
        """Whether conditional creates hold here; None when the probe itself failed (try again later)."""
        if not self.blobs.probe_conditional:
            return True
        path = f"{LEASE_DIR}/.probe-{secrets.token_hex(8)}.json"
        first = self._create(path, b"{}")
        if first is FAULT:
            return False if self.supported is False else None  # Unsupported, or a fault: try again later
        if first is None:  # a fresh random name "exists": the store answers nonsense to conditions
            self._unsupported(f"{self.blobs.display} refused a conditional create of a new object")
            return False
        second = self._create(path, b"{}")
        self._op("write", lambda: self.blobs.delete(path))
        if second is FAULT:
            return False if self.supported is False else None
        if second is not None:
            self._unsupported(f"{self.blobs.display} accepted a second conditional create of one object "
                              f"(it ignores If-None-Match)")
            return False
        return True

    def _unsupported(self, why: str) -> None:
        self.supported = False
        self.guard.warn_once("no-leases", f"remote cache {self.blobs.display}: no conditional writes ({why}); "
                                          f"rendering without leases, so two machines may render the same segment")

    def _hold(self, lease: Lease, *, takeover: bool = False) -> Lease:
        with self._lock:
            self.taken += 1
            self.takeovers += takeover
            self._held[id(lease)] = lease
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._renew_loop, name="podpipe-lease-renewer",
                                                daemon=True)
                self._thread.start()
        return lease

    def _renew_loop(self) -> None:
        while True:
            with self._lock:
                held = list(self._held.values())
                if not held or self._closed:
                    self._thread = None
                    return
            self._wake.wait(min(lease.ttl for lease in held) / 3)
            self._wake.clear()
            for lease in held:
                self._renew(lease)

    def _renew(self, lease: Lease) -> None:
        with lease.lock:
            if lease.released or lease.lost:
                return
            now = self.clock()
            body = lease_bytes(lease.token, self.holder, now, now, lease.ttl)
            if self.blobs.compare_and_swap:
                tag = self._op("write", lambda: self.blobs.swap(lease.path, body, lease.tag))
            else:
                tag = self._rewrite_own(lease, body)
            if tag is None:
                lease.lost = True
                with self._lock:
                    self._held.pop(id(lease), None)
            elif tag is not FAULT:
                lease.tag = tag

    def _rewrite_own(self, lease: Lease, body: bytes) -> Any:
        """Renewal without an exact swap: rewrite the lease if it still carries our token."""
        current = self._op("read", lambda: self.blobs.read(lease.path))
        if current is FAULT:
            return FAULT
        record = None if current is None else parse_lease(current)
        if record is None or record.token != lease.token:
            return None
        if self._op("write", lambda: self.blobs.write(lease.path, body)) is FAULT:
            return FAULT
        return content_tag(body)
