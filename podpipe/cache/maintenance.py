"""Looking after a cache directory: ``podpipe cache info | verify | prune``.

These work on the files as they are, not through the ``Store`` interface, because they must also see what
a store never serves: audio without a record (an interrupted write), temp files of dead writers, lock files
and files podpipe never writes. A temp file may belong to a write in progress in another process, so only
temp files older than ``STALE_TEMP_SECONDS`` are treated as garbage here. Every removal of an entry is
decided again under the store's commit lock, so a concurrent ``put`` that repairs or renews an entry wins.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from podpipe.files.atomic import is_temp_name, unlink_quietly
from podpipe.cache.layout import ANALYSIS_EXT, COMMIT_LOCK_NAME, KEY_LOCK_SUFFIX, is_fan, split_entry_name
from podpipe.files.locks import remove_if_unlocked
from podpipe.cache.store import FileStore
from podpipe.errors import UsageError

#: temp files older than this cannot belong to a write still in progress (a put takes milliseconds)
STALE_TEMP_SECONDS = 3600.0


class PruneRefused(UsageError, ValueError):
    """``prune`` arguments that would delete more than anyone means (or are not an age)."""


@dataclass(frozen=True)
class CacheInfo:
    root: Path
    entries: int  # entries with a readable metadata record
    total_bytes: int  # every file under the store, as on disk (audio, metadata, temp files)
    total_seconds: float  # audio duration of all entries
    # entries per backend / model / (backend, model): from the record's "backend"/"model", else from its
    # "request" summary (where the render stage puts them), else "unknown"
    backends: dict[str, int] = field(default_factory=dict)
    models: dict[str, int] = field(default_factory=dict)
    by_backend_model: dict[tuple[str, str], int] = field(default_factory=dict)
    oldest: datetime | None = None  # earliest / latest ``created`` (UTC)
    newest: datetime | None = None
    unreadable: int = 0  # metadata records that do not parse: run ``verify``


@dataclass(frozen=True)
class VerifyResult:
    ok: int  # entries that passed every check
    problems: tuple[tuple[str, str], ...] = ()  # (key, or file path relative to the root; reason)
    removed: tuple[str, ...] = ()  # what remove=True deleted: keys and relative file paths
    unexpected: tuple[str, ...] = ()  # files podpipe never writes there: reported, never deleted
    in_progress: int = 0  # temp files younger than STALE_TEMP_SECONDS: writes under way, left alone

    @property
    def clean(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class PruneResult:
    removed: tuple[str, ...]  # keys removed (in a dry run: that would be removed), sorted
    bytes_freed: int  # (would be) freed, entries and stale temp files
    kept: int  # entries left in place
    dry_run: bool = False
    temp_files_removed: tuple[str, ...] = ()  # stale temp files, relative to the root


@dataclass
class Scan:
    """Every file of a store, sorted by what it is."""

    entries: dict[str, set[str]] = field(default_factory=dict)  # key -> {"wav", "json"} present
    temps: list[tuple[Path, float]] = field(default_factory=list)  # (path, age in seconds)
    unexpected: list[Path] = field(default_factory=list)
    locks: list[Path] = field(default_factory=list)  # per-key render lock files (empty, see FileStore.lock)
    analyses: list[str] = field(default_factory=list)  # keys with a stored analysis (optional, rebuilt on demand)
    total_bytes: int = 0


def cache_info(store: FileStore) -> CacheInfo:
    """Summary of a store from metadata alone (fast; ``verify`` is the thorough check)."""
    found = scan(store)
    entries = unreadable = 0
    seconds = 0.0
    backends: dict[str, int] = {}
    models: dict[str, int] = {}
    pairs: dict[tuple[str, str], int] = {}
    created: list[datetime] = []
    for key, kinds in sorted(found.entries.items()):
        if "json" not in kinds:
            continue
        meta = store.meta(key)
        if meta is None:
            unreadable += 1
            continue
        entries += 1
        seconds += _number(meta.get("duration"))
        request = meta.get("request") if isinstance(meta.get("request"), dict) else {}
        backend = str(meta.get("backend") or request.get("backend") or "unknown")
        model = str(meta.get("model") or request.get("model") or "unknown")
        backends[backend] = backends.get(backend, 0) + 1
        models[model] = models.get(model, 0) + 1
        pairs[backend, model] = pairs.get((backend, model), 0) + 1
        when = _parse_created(meta)
        if when is not None:
            created.append(when)
    return CacheInfo(
        root=store.root, entries=entries, total_bytes=found.total_bytes, total_seconds=round(seconds, 3),
        backends=dict(sorted(backends.items())), models=dict(sorted(models.items())),
        by_backend_model=dict(sorted(pairs.items())),
        oldest=min(created, default=None), newest=max(created, default=None), unreadable=unreadable,
    )


def verify(store: FileStore, *, remove: bool = False) -> VerifyResult:
    """Check every entry completely (record, sizes, sha256, WAV header, sample data) and find orphans.

    Orphans are audio without a record (an interrupted write), a record without audio, and temp files.
    A temp file younger than ``STALE_TEMP_SECONDS`` may belong to a write in progress in another process,
    so it is counted in ``in_progress`` and never removed. With ``remove=True`` damaged entries and stale
    temp files are deleted; each entry is re-checked under the commit lock first, so an entry repaired by
    a concurrent ``put`` meanwhile survives.
    """
    found = scan(store)
    problems: list[tuple[str, str]] = []
    damaged: list[str] = []
    ok = 0
    for key in sorted(found.entries):
        reason = store.problem(key)
        if reason is None:
            ok += 1
        else:
            problems.append((key, reason))
            damaged.append(key)
    stale, in_progress = _partition_temps(found)
    for path, age in stale:
        problems.append((_rel(store, path), f"stale temp file of an interrupted write ({age / 3600:.1f} h old)"))

    removed: list[str] = []
    if remove:
        for key in damaged:
            wav, record = store.entry_paths(key)
            with store.commit_lock():
                if store.problem(key) is not None:
                    unlink_quietly(record)
                    unlink_quietly(wav)
                    unlink_quietly(store.analysis_path(key))
                    removed.append(key)
        for path, _age in stale:
            unlink_quietly(path)
            removed.append(_rel(store, path))
    return VerifyResult(ok=ok, problems=tuple(problems), removed=tuple(removed),
                        unexpected=tuple(_rel(store, p) for p in found.unexpected), in_progress=in_progress)


def prune(store: FileStore, *, keep: set[str] | None = None, older_than: float | None = None,
          dry_run: bool = False) -> PruneResult:
    """Remove entries that are not in ``keep`` and/or older than ``older_than`` seconds.

    When both are given an entry is removed only if *both* apply: unreferenced *and* old. Filters narrow
    what gets deleted, never widen it, so ``prune episodes/*.yaml --older-than 30d`` keeps everything the
    specs need plus last month's work on other branches — the cheap mistake, never the one that costs
    paid renders. To be safe against emptying the cache by accident, giving neither, or an empty ``keep``
    alone, is a ValueError; ``older_than=0`` empties the cache on purpose.

    Age comes from the record's ``created``; for entries without a readable record (orphans, damaged
    records) from the file's modification time. Stale temp files are removed too (unless ``dry_run``).
    Refusals raise ``PruneRefused``: a ValueError for library callers, a UsageError (exit 2) for the CLI.
    """
    if keep is None and older_than is None:
        raise PruneRefused("cache prune: give the keys to keep (specs) and/or a maximum age; "
                           "refusing to empty the whole cache")
    if keep is not None and not keep and older_than is None:
        raise PruneRefused("cache prune: the specs reference no cache entries, so every entry would be removed; "
                           "to empty the cache on purpose use --older-than 0 (older_than=0)")
    if older_than is not None and not (isinstance(older_than, (int, float)) and math.isfinite(older_than)
                                       and older_than >= 0):
        raise PruneRefused(f"cache prune: the age must be a number of seconds >= 0, got {older_than!r}")
    now = time.time()

    def doomed(key: str) -> bool:
        if keep is not None and key in keep:
            return False
        if older_than is not None and now - _created_timestamp(store, key, now) < older_than:
            return False
        return True

    found = scan(store)
    removed: list[str] = []
    freed = 0
    for key in sorted(found.entries):
        if not doomed(key):
            continue
        if dry_run:
            freed += _sizes(store.entry_paths(key))
            removed.append(key)
            continue
        with store.commit_lock():
            if doomed(key):  # again under the lock: a concurrent put may just have renewed it
                paths = store.entry_paths(key)
                freed += _sizes(paths)
                for path in reversed(paths):  # the record first: uncommit, then drop the audio
                    unlink_quietly(path)
                unlink_quietly(store.analysis_path(key))
                removed.append(key)
    if not dry_run:
        for path in found.locks:  # lock files of renders not running now; a held one stays
            remove_if_unlocked(path)
    stale, _in_progress = _partition_temps(found)
    temps: list[str] = []
    for path, _age in stale:
        freed += _sizes((path,))
        if not dry_run:
            unlink_quietly(path)
        temps.append(_rel(store, path))
    return PruneResult(removed=tuple(removed), bytes_freed=freed, kept=len(found.entries) - len(removed),
                       dry_run=dry_run, temp_files_removed=tuple(temps))


def scan(store: FileStore) -> Scan:
    """Every file under ``store.root``, sorted by what it is (entries, temp files, lock files, strays)."""
    found = Scan()
    now = time.time()

    def look(entry: os.DirEntry, fan: str | None) -> None:
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:  # removed concurrently
            return
        found.total_bytes += st.st_size
        name = entry.name
        if is_temp_name(name):
            found.temps.append((Path(entry.path), now - st.st_mtime))
            return
        if fan is None:
            return
        if name.startswith(".") and name.endswith(KEY_LOCK_SUFFIX):
            stem, ext = split_entry_name(name[1:])
            if ext == KEY_LOCK_SUFFIX[1:] and stem.startswith(fan):
                found.locks.append(Path(entry.path))
                return
        stem, ext = split_entry_name(name)
        if ext in ("wav", "json") and stem.startswith(fan) and entry.is_file(follow_symlinks=False):
            found.entries.setdefault(stem, set()).add(ext)
        elif ext == ANALYSIS_EXT and stem.startswith(fan) and entry.is_file(follow_symlinks=False):
            found.analyses.append(stem)
        else:
            found.unexpected.append(Path(entry.path))

    for entry in _scandir(store.root):  # CACHEDIR.TAG and its temp files
        if entry.is_file(follow_symlinks=False):
            look(entry, None)
    for entry in _scandir(store.data_dir):
        if entry.is_dir(follow_symlinks=False) and is_fan(entry.name):
            for child in _scandir(Path(entry.path)):
                look(child, entry.name)
        elif entry.name == COMMIT_LOCK_NAME:
            continue
        elif entry.is_file(follow_symlinks=False):
            look(entry, None)
            if not entry.name.startswith("."):
                found.unexpected.append(Path(entry.path))
        else:
            found.unexpected.append(Path(entry.path))
    return found


def _scandir(path: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as it:
            return sorted(it, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _partition_temps(found: Scan) -> tuple[list[tuple[Path, float]], int]:
    stale = [(p, age) for p, age in found.temps if age > STALE_TEMP_SECONDS]
    return stale, len(found.temps) - len(stale)


def _parse_created(meta: Mapping[str, Any]) -> datetime | None:
    try:
        when = datetime.fromisoformat(meta["created"])
    except (KeyError, TypeError, ValueError):
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _created_timestamp(store: FileStore, key: str, default: float) -> float:
    meta = store.meta(key)
    when = _parse_created(meta) if meta is not None else None
    if when is not None:
        return when.timestamp()
    times = []
    for path in store.entry_paths(key):
        with contextlib.suppress(OSError):
            times.append(path.stat().st_mtime)
    return max(times, default=default)


def _sizes(paths: tuple[Path, ...]) -> int:
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _rel(store: FileStore, path: Path) -> str:
    try:
        return path.relative_to(store.root).as_posix()
    except ValueError:
        return str(path)
