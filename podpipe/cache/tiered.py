"""The local cache in front of a remote one, as the ``Store`` the render stage and the mix use, plus
``push``/``pull`` between them for ``podpipe cache push|pull``.

Lookup order: local, then remote; a remote hit is verified and written to the local cache; a new render
goes to both. Only the entries a build asks for are transferred, never a full sync. Remote faults never
reach the caller (see ``podpipe.cache.remote.cache``): they are misses and skipped uploads, counted in
``remote.stats()``.

``lock(key)`` is the local per-key lock and, for a key missing everywhere in write mode, the remote lease
(``RemoteCache.claim``): when another machine holds it, the lock waits (through the caller's ``poll``) for
that machine's entry, and the render stage's ``has`` re-check then finds it instead of rendering again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podpipe.audio_types import Audio
from podpipe.cache.remote import RemoteCache, RemoteEntry
from podpipe.cache.store import FileStore, Store
from podpipe.errors import UsageError

log = logging.getLogger("podpipe.cache.remote")


class TieredStore(Store):
    """``local`` first, then ``remote`` (None: just the local cache, with the same API)."""

    def __init__(self, local: FileStore, remote: RemoteCache | None = None):
        self.local = local
        self.remote = remote
        self._remote_has: dict[str, bool] = {}  # the remote's answer per key, asked once per run

    def __repr__(self) -> str:
        return f"TieredStore({self.local!r}, {self.remote!r})"

    @property
    def root(self) -> Path:
        """The local cache directory (what messages about "the cache" name)."""
        return self.local.root

    def has(self, key: str) -> bool:
        """Local entry, else the remote's answer (one HEAD per key per run; a fault is a miss)."""
        if self.local.has(key):
            return True
        if self.remote is None:
            return False
        known = self._remote_has.get(key)
        if known is None:
            known = self._remote_has[key] = self.remote.has(key)
        return known

    def get(self, key: str) -> Audio | None:
        """The local entry, else the remote's (downloaded, verified, then kept in the local cache)."""
        audio = self.local.get(key)
        if audio is not None or self.remote is None:
            return audio
        entry = self.remote.get(key)
        self._remote_has[key] = entry is not None
        if entry is None:
            return None
        keep(self.local, entry)
        return entry.audio

    def put(self, key: str, audio: Audio, meta: Mapping[str, Any]) -> None:
        """Into the local cache (raising as ``FileStore.put`` does), then up to the remote in write mode
        (the very bytes just stored locally; a failed upload is counted, not raised)."""
        self.local.put(key, audio, meta)
        if self.remote is not None and self.remote.writable and self.remote.put_from(self.local, key):
            self._remote_has[key] = True

    def meta(self, key: str) -> dict[str, Any] | None:
        found = self.local.meta(key)
        if found is None and self.remote is not None:
            found = self.remote.meta(key)
        return found

    def update_meta(self, key: str, fields: Mapping[str, Any]) -> bool:
        """The local entry's record only: the remote's entries are written once (another machine judges its
        own copy again)."""
        return self.local.update_meta(key, fields)

    def analysis(self, key: str) -> dict[str, Any] | None:
        return self.local.analysis(key)

    def put_analysis(self, key: str, record: Mapping[str, Any]) -> None:
        """Kept locally only: it is cheap to recompute and never worth an upload."""
        self.local.put_analysis(key, record)

    def keys(self) -> Iterator[str]:
        """The local cache's keys (the remote is only ever listed by ``RemoteCache.info``)."""
        return self.local.keys()

    def delete(self, key: str) -> None:
        """Removes the local entry only: a build never deletes from the shared remote."""
        self.local.delete(key)
        self._remote_has.pop(key, None)

    def lock(self, key: str, *, poll: Callable[[float], None] | None = None) -> contextlib.AbstractContextManager:
        return self._locked(key, poll)

    @contextlib.contextmanager
    def _locked(self, key: str, poll: Callable[[float], None] | None) -> Iterator[None]:
        with self.local.lock(key, poll=poll):
            if self.remote is None or not self.remote.writable or self.local.has(key):
                yield
                return
            with self.remote.claim(key, poll=poll) as state:
                self._remote_has[key] = state == "found"
                yield

    def close(self) -> None:
        """Stop the remote's lease renewals (leases still held are left to expire); the stores stay usable."""
        if self.remote is not None:
            self.remote.close()

    def prefetch(self, keys: Iterable[str]) -> Transfer:
        """Download (verified, in parallel) the entries among ``keys`` that only the remote has, so a build
        learns before rendering which remote entries are good: a rejected one is then simply missing and
        rendered. Call it with the keys a build needs that are not in the local cache."""
        if self.remote is None:
            wanted = list(dict.fromkeys(keys))
            present = sum(self.local.has(k) for k in wanted)
            return Transfer(0, present, len(wanted) - present)
        result = pull(self.local, self.remote, keys)
        for key in result.keys:
            self._remote_has[key] = True
        return result


@dataclass(frozen=True)
class Transfer:
    """What ``push`` or ``pull`` moved."""

    transferred: int  # entries copied
    present: int  # already at the destination
    failed: int  # not copied: missing at the source, damaged (rejected), or a fault
    keys: tuple[str, ...] = ()  # the keys copied


def keep(local: FileStore, entry: RemoteEntry) -> bool:
    """Write a downloaded entry into the local cache: the same audio bytes, its record's fields (the
    local record gets its own ``created``: when it arrived here). A local write failure is logged, not
    raised: the audio is in hand and still serves the build."""
    try:
        local.put(entry.key, entry.audio, entry.record)
    except (OSError, ValueError) as exc:
        log.debug("could not keep remote entry %s in %s: %s", entry.key[:12], local.root, exc)
        return False
    return True


def push(local: FileStore, remote: RemoteCache, keys: Iterable[str] | None = None) -> Transfer:
    """Upload the local entries the remote lacks: ``keys`` (default: every local entry). Entries that are
    damaged locally are not uploaded (``failed``)."""
    if not remote.writable:
        raise UsageError(f"remote cache {remote.url} is opened read only; pushing needs mode write")
    candidates = list(dict.fromkeys(local.keys() if keys is None else keys))
    lacking = remote.missing(candidates)
    sent = _parallel(remote.jobs, lambda key: remote.put_from(local, key), lacking)
    done = tuple(k for k, ok in zip(lacking, sent) if ok)
    return Transfer(len(done), len(candidates) - len(lacking), len(lacking) - len(done), done)


def pull(local: FileStore, remote: RemoteCache, keys: Iterable[str]) -> Transfer:
    """Download the entries among ``keys`` (e.g. those the given specs need) that the local cache lacks."""
    wanted = list(dict.fromkeys(keys))
    lacking = [k for k in wanted if not local.has(k)]

    def fetch(key: str) -> bool:
        entry = remote.get(key)
        if entry is not None:
            keep(local, entry)
        return entry is not None

    got = _parallel(remote.jobs, fetch, lacking)
    done = tuple(k for k, ok in zip(lacking, got) if ok)
    return Transfer(len(done), len(wanted) - len(lacking), len(lacking) - len(done), done)


def _parallel(jobs: int, work: Callable[[str], bool], keys: list[str]) -> list[bool]:
    if len(keys) <= 1:
        return [work(k) for k in keys]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(jobs, len(keys)), thread_name_prefix="podpipe-remote") as pool:
        return list(pool.map(work, keys))
