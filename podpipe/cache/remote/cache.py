"""``RemoteCache``: the render cache's entries, leases and finished outputs in an object store.

Entries use the local cache's layout and bytes (``v1/<key[:2]>/<key>.wav`` and ``.json``, written audio
first and record last, each object atomically), so a ``file://`` remote could be another machine's cache
directory. A downloaded entry is checked exactly like a local one (``podpipe.cache.entry``): the record
must parse, carry the audio's size and sha256, and the audio must match them and decode; anything else is a
miss that is counted (``rejected``) and warned about, never served. A record without a sha256 (written
before podpipe recorded it) is such a miss too. The checks prove integrity, not authenticity: whoever may
write the bucket decides what the cache serves. Two machines uploading one key at the same moment (on a
store without leases) may leave the audio of one render and the record of the other: readers reject that
pair, and the next upload of the key (which removes the bad record first) repairs it.

``RemoteCache`` keeps the entries itself and composes the rest, each part handed what it works with: a
``Guard`` (``guard``: faults, counters, warnings) that every remote operation runs through, so faults never
fail a build (a storage library's exception becomes a miss or a skipped upload, counted and warned about
once); ``Leases`` (``leases``: one render per key across machines); ``Outputs`` (``outputs``: finished
episodes).

The lease protocol (``claim`` for renders, ``claim_output`` for finished outputs): look; take the lease;
look again (the machine that held it may have stored the entry and released the lease between our look and
our taking it: without this second look both render); only then render. A machine that finds a live lease
waits for the entry (renders) or mixes locally without uploading (outputs). ``check`` is the one probe at the
start that tells a misconfigured remote (credentials refused, no such bucket: ``Problem``) from an empty one.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podpipe.audio_types import Audio
from podpipe.cache.entry import Damaged, audio_from_bytes, parse_record
from podpipe.cache.layout import FORMAT, split_entry_name, validate_key
from podpipe.cache.remote.guard import DEADLINE, FAULT, Guard
from podpipe.cache.remote.leases import LEASE_DIR, Lease, Leases, output_lease
from podpipe.cache.remote.outputs import OUTPUT_DIR, FetchedOutput, Outputs
from podpipe.cache.remote.probe import READ_ONLY_HINT, Problem, check
from podpipe.cache.remote.stats import RemoteInfo, RemoteStats
from podpipe.cache.store import FileStore
from podpipe.storage import Blobs, Unsupported

log = logging.getLogger("podpipe.cache.remote")

ENTRY_DIR = f"v{FORMAT}"
LIST_THRESHOLD = 256  # ``missing`` lists the store instead of asking key by key above this many keys


@dataclass(frozen=True)
class RemoteEntry:
    """A verified entry downloaded from the remote: the audio, its record, and the two objects' bytes."""

    key: str
    audio: Audio
    record: dict[str, Any]
    wav: bytes
    record_bytes: bytes


class RemoteCache:
    """Entries, leases and finished outputs in one object store (``Blobs``).

    ``mode`` is ``"write"`` (look up, download, upload, lease) or ``"read"`` (look up and download only:
    nothing is ever written, e.g. for pull-request builds from forks). ``on_warning(message)`` hears about
    faults (once), rejected downloads and missing lease support; without it they are logged as warnings.
    Thread-safe: the render stage's workers share one instance.
    """

    def __init__(self, blobs: Blobs, mode: str = "write", *, on_warning: Callable[[str], None] | None = None,
                 lease_ttl: float = 10.0, lease_wait: float = 600.0, poll_interval: float = 1.0,
                 max_errors: int = 3, jobs: int = 8, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.time, deadline: float = DEADLINE, op_timeout: float = 10.0):
        if mode not in ("read", "write"):
            raise ValueError(f"mode must be 'read' or 'write', not {mode!r}")
        if mode == "write" and not blobs.writable:
            raise ValueError(f"{blobs.display} is read only")
        self.blobs = blobs
        self.mode = mode
        self.lease_wait = lease_wait
        self.poll_interval = poll_interval
        self.jobs = max(1, jobs)
        self._clock = clock
        self.guard = Guard(blobs.display, on_warning=on_warning, max_errors=max_errors, environ=environ,
                           deadline=deadline, op_timeout=op_timeout, explain=blobs.explain,
                           write_hint=READ_ONLY_HINT)
        self.leases = Leases(blobs, self.guard, ttl=lease_ttl, clock=clock)
        self.outputs = Outputs(blobs, self.guard, writable=mode == "write")

    def __repr__(self) -> str:
        return f"RemoteCache({self.url!r}, mode={self.mode!r})"

    @property
    def url(self) -> str:
        """The store as messages show it (no credentials)."""
        return self.blobs.display

    @property
    def writable(self) -> bool:
        return self.mode == "write"

    def stats(self) -> RemoteStats:
        return self.guard.stats(leases=self.leases.taken, takeovers=self.leases.takeovers)

    def close(self) -> None:
        self.leases.close()

    def check(self) -> Problem | None:
        """One probe at the start for a misconfiguration (``probe.check``): refused credentials or a bucket
        that does not exist are warned about once, with the fix, and switch the remote off for the run."""
        return check(self.blobs, self.guard, writable=self.writable)

    # -- entries -----------------------------------------------------------------------------------------

    @staticmethod
    def entry_paths(key: str) -> tuple[str, str]:
        """``(wav, record)`` object paths of an entry, relative to the remote's root."""
        validate_key(key)
        stem = f"{ENTRY_DIR}/{key[:2]}/{key}"
        return stem + ".wav", stem + ".json"

    def has(self, key: str) -> bool:
        """Whether the remote has the entry (one HEAD of its record; a fault is a miss)."""
        found = self._exists(key)
        if not found:
            self.guard.miss(key)
        return found

    def get(self, key: str) -> RemoteEntry | None:
        """The entry, downloaded and verified, or None: not there, rejected (warned), or a fault."""
        wav_path, record_path = self.entry_paths(key)
        if self.guard.rejected(key):
            return None
        record_bytes = self.guard.call("read", "download", lambda: self.blobs.read(record_path))
        if record_bytes is FAULT or record_bytes is None:
            self.guard.miss(key)
            return None
        try:
            record = parse_record(record_bytes)
        except Damaged as exc:
            self.guard.reject(key, str(exc))
            return None
        wav = self.guard.call("read", "download", lambda: self.blobs.read(wav_path))
        if wav is FAULT:
            self.guard.miss(key)
            return None
        try:
            if wav is None:
                raise Damaged("metadata without audio")
            audio = audio_from_bytes(key, wav, record)
        except Damaged as exc:
            self.guard.reject(key, str(exc))
            return None
        self.guard.count(bytes_down=len(record_bytes) + len(wav))
        self.guard.hit(key)
        return RemoteEntry(key, audio, record, wav, record_bytes)

    def meta(self, key: str) -> dict[str, Any] | None:
        """The entry's record (not its audio), or None."""
        raw = self.guard.call("read", "download", lambda: self.blobs.read(self.entry_paths(key)[1]))
        if raw is FAULT or raw is None:
            return None
        try:
            return parse_record(raw)
        except Damaged:
            return None

    def put(self, key: str, wav: bytes, record: bytes) -> bool:
        """Upload an entry (audio first, record last); True when it went up. An entry that does not pass
        the same checks a download would is not uploaded (False). Read mode uploads nothing."""
        if not self.writable:
            return False
        wav_path, record_path = self.entry_paths(key)
        try:
            audio_from_bytes(key, wav, parse_record(record))
        except Damaged as exc:
            log.debug("remote cache %s: not uploading %s: %s", self.url, key[:12], exc)
            return False

        def upload() -> None:
            if self.guard.rejected(key):  # uncommit the bad entry first: never a new record on old audio
                self.blobs.delete(record_path)
            self.blobs.write(wav_path, wav)
            self.blobs.write(record_path, record)

        was_rejected = self.guard.rejected(key)
        if self.guard.call("write", "upload", upload) is FAULT:
            return False
        if was_rejected:
            self.guard.count(repaired=1)
            self.guard.warn(f"remote cache {self.url}: entry {key[:12]} repaired (the copy that failed "
                            f"verification was replaced by this render)")
        self.guard.repaired(key)
        self.guard.count(uploads=1, bytes_up=len(wav) + len(record))
        return True

    def put_from(self, store: FileStore, key: str) -> bool:
        """Upload the entry ``key`` of a local ``FileStore`` byte for byte; False when it is not there or
        damaged locally, or the upload failed."""
        wav_path, record_path = store.entry_paths(key)
        try:
            record, wav = record_path.read_bytes(), wav_path.read_bytes()
        except OSError:
            return False
        return self.put(key, wav, record)

    def missing(self, keys: Iterable[str]) -> list[str]:
        """The keys the remote lacks, in the given order (for ``cache push``). Many keys: one listing of the
        store; few: a HEAD each, in parallel. A key that could not be checked counts as missing."""
        keys = [validate_key(k) for k in keys]
        if len(keys) > LIST_THRESHOLD:
            present = self._listed_keys()
            if present is not None:
                return [k for k in keys if k not in present]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="podpipe-remote") as pool:
            found = list(pool.map(self._exists, keys))
        return [k for k, there in zip(keys, found) if not there]

    def _exists(self, key: str) -> bool:
        if self.guard.rejected(key):
            return False
        return self.guard.call("read", "lookup", lambda: self.blobs.exists(self.entry_paths(key)[1])) is True

    def _listed_keys(self) -> set[str] | None:
        try:
            listed = self.guard.call("read", "listing", lambda: list(self.blobs.listing(ENTRY_DIR)))
        except Unsupported:
            return None
        if listed is FAULT:
            return None
        return {stem for path, _size in listed for stem, ext in [split_entry_name(path.rsplit("/", 1)[-1])]
                if ext == "json"}

    # -- finished outputs (``Outputs``) ------------------------------------------------------------------

    def has_output(self, digest: str) -> bool:
        """Whether a finished output is stored under ``digest`` (``Outputs.has``)."""
        return self.outputs.has(digest)

    def put_output(self, digest: str, files: Mapping[str, Path], meta: Mapping[str, Any] | None = None) -> bool:
        """Store a finished output: ``files`` maps each stored name to its local file (``Outputs.put``)."""
        return self.outputs.put(digest, files, meta)

    def get_output(self, digest: str, dest_dir: Path, *, names: Iterable[str] | None = None) -> FetchedOutput | None:
        """Download a finished output into ``dest_dir``, whole or not at all (``Outputs.get``)."""
        return self.outputs.get(digest, dest_dir, names=names)

    # -- leases ------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lease(self, key: str, ttl: float | None = None) -> Iterator[bool]:
        """Try to take the key's lease: yields whether we hold it (False: another machine does, the store
        cannot do conditional writes, read mode, or a fault). Released when the block ends."""
        validate_key(key)
        state, held = self.leases.acquire(key, ttl) if self.writable else ("none", None)
        try:
            yield state == "held"
        finally:
            if held is not None:
                self.leases.release(held)

    def wait_for(self, key: str, *, poll: Callable[[float], None] | None = None,
                 timeout: float | None = None) -> bool:
        """Wait while another machine holds the key's lease: True as soon as the entry is there; False
        when the lease is released or expires without it, on a fault, or after ``timeout`` seconds
        (default: the lease TTL). ``poll(seconds)`` sleeps between looks and may raise to give up."""
        deadline = self._clock() + (self.leases.ttl if timeout is None else timeout)
        return self._wait(key, lambda: self._exists(key), poll or time.sleep, deadline) == "found"

    @contextlib.contextmanager
    def claim(self, key: str, *, poll: Callable[[float], None] | None = None) -> Iterator[str]:
        """Everything the render stage does before rendering a key that is missing locally, as one block:

        - ``"found"``: the remote has the entry (now, or after waiting for the machine that held its lease);
        - ``"held"``: we hold the key's lease until the block ends: render, store, then leave the block;
        - ``"none"``: render without a lease (read mode, no conditional writes, a fault, or waited
          ``lease_wait`` seconds for another machine's render in vain).

        ``poll(seconds)`` sleeps between looks while waiting and may raise (Ctrl-C) to give up.
        """
        validate_key(key)
        state, held = self._settle(key, lambda: self._exists(key), poll or time.sleep)
        try:
            yield state
        finally:
            if held is not None:
                self.leases.release(held)

    def claim_output(self, digest: str) -> tuple[str, Lease | None]:
        """The lease protocol for a finished output, without waiting: ``("found", None)`` when a good copy
        is stored, ``("held", lease)`` when this machine is to mix and upload it (``release`` the lease after
        ``put_output``), ``("busy", None)`` when another machine is at it (mix locally, upload nothing),
        ``("none", None)`` without leases (read mode, no conditional writes, a fault)."""
        name = output_lease(digest)
        return self._settle(name, lambda: self.outputs.has(digest) and not self.outputs.bad(digest), None)

    def release(self, held: Lease) -> None:
        self.leases.release(held)

    def _settle(self, name: str, exists: Callable[[], bool],
                sleep: Callable[[float], None] | None) -> tuple[str, Lease | None]:
        """``name``'s lease: found (``exists()``), held, busy (only when ``sleep`` is None: no waiting) or
        none. After taking the lease, ``exists()`` is asked again: the machine that held it before may have
        stored the entry and released the lease between our look and our taking it."""
        deadline = self._clock() + self.lease_wait
        waited = False
        while True:
            if exists():
                return "found", None
            if not self.writable:
                return "none", None
            state, held = self.leases.acquire(name)
            if state == "held" and held is not None and exists():
                self.leases.release(held)
                return "found", None
            if state != "busy" or sleep is None:
                return state, held
            if not waited:
                waited = True
                self.guard.count(waits=1)
            outcome = self._wait(name, exists, sleep, deadline)
            if outcome == "found":
                return "found", None
            if outcome == "timeout":
                self.guard.warn_once("lease-wait", f"remote cache {self.url}: waited {self.lease_wait:g} s for "
                                                   f"another machine to render {name[:12]}; rendering it here")
            if outcome != "free":
                return "none", None

    def _wait(self, name: str, exists: Callable[[], bool], sleep: Callable[[float], None], deadline: float) -> str:
        """``"found"``, ``"free"`` (lease gone or expired: take it over at once), ``"timeout"`` or ``"fault"``."""
        while True:
            left = deadline - self._clock()
            if left <= 0:
                return "timeout"
            sleep(min(self.poll_interval, left))
            if self.guard.off:
                return "fault"
            if exists():
                return "found"
            state = self.leases.state(name)
            if state != "busy":
                return state

    # -- what the store holds ----------------------------------------------------------------------------

    def info(self) -> RemoteInfo:
        """Entries, outputs and their bytes, by listing the store (slow on a big bucket: only when asked)."""
        counts = dict(entries=0, entry_bytes=0, outputs=0, output_bytes=0, leases=0, other_bytes=0)
        for prefix in (ENTRY_DIR, OUTPUT_DIR, LEASE_DIR):
            try:
                listed = self.guard.call("read", "listing", lambda: list(self.blobs.listing(prefix)))
            except Unsupported as exc:
                return RemoteInfo(self.url, self.mode, listed=False, problem=str(exc))
            if listed is FAULT:
                return RemoteInfo(self.url, self.mode, listed=False, problem="listing failed (see the warning)")
            for path, size in listed:
                _classify(counts, path, size)
        return RemoteInfo(self.url, self.mode, **counts)


def _classify(counts: dict[str, int], path: str, size: int) -> None:
    top = path.split("/", 1)[0]
    if top == ENTRY_DIR:
        stem, ext = split_entry_name(path.rsplit("/", 1)[-1])
        if stem and ext in ("wav", "json"):
            counts["entries"] += ext == "json"
            counts["entry_bytes"] += size
            return
    elif top == OUTPUT_DIR:
        counts["outputs"] += path.endswith(".json") and path.count("/") == 2
        counts["output_bytes"] += size
        return
    elif top == LEASE_DIR:
        counts["leases"] += 1
        return
    counts["other_bytes"] += size
