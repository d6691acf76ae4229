"""The content-addressed render cache: what the render stage needs from a cache (``Store``) and the local
directory that provides it (``FileStore``): one WAV per request key plus a JSON record that commits it.

Where the files live is ``podpipe.cache.layout``; what an entry holds and when it counts as damaged is
``podpipe.cache.entry``; the locks are ``podpipe.files.locks``; temp files and renames are
``podpipe.files.atomic``; ``info``/``verify``/``prune`` are ``podpipe.cache.maintenance``. What stays here is
the order of operations that makes a put safe against crashes and concurrent writers: both files go to
fsynced, locked temp files first; then, under the commit lock, the old record is removed, the audio renamed
into place and the record last. A crash therefore leaves the old entry, the new entry, or audio without a
record (a miss that ``verify`` reports as interrupted), never a record describing other audio. A damaged
entry is left in place for ``verify`` to report and is replaced atomically by the next ``put`` of its key.

Nothing here imports more than the standard library (audio code is loaded by the first ``get`` or ``put``,
see ``podpipe.cache.entry``): a no-op build imports the cache and calls ``has`` thousands of times.
"""

from __future__ import annotations

import contextlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from podpipe.audio_types import Audio
from podpipe.files.atomic import fsync_dir, remove_dead_temps, unlink_quietly, write_atomic, written_temp
from podpipe.secrets import without_secrets
from podpipe.cache.entry import FACTS, Damaged, encode, load_audio, read_record, read_record_bytes, record_bytes
from podpipe.cache.layout import (ANALYSIS_EXT, CACHEDIR_TAG, COMMIT_LOCK_NAME, FORMAT, KEY_LOCK_SUFFIX, TAG_NAME,
                                  is_fan, listdir_sorted, split_entry_name, validate_key)
from podpipe.files.locks import commit_lock, key_lock

# Entries and the tag are readable by their owner only, as they have been since the first cache was written
# (with mkstemp's mode); lock files hold nothing and stay 0o644 (see podpipe.files.locks).
FILE_MODE = 0o600


class Store(ABC):
    """What the render stage needs from a cache; a shared object-storage store can implement it later.

    Reads never raise for a damaged entry: they report a miss. ``put`` raises only for programming errors
    (bad key, bad audio, metadata that is not JSON) and for I/O failures of the store itself.
    """

    @abstractmethod
    def has(self, key: str) -> bool:
        """Cheap presence check (no hashing): may say True for an entry whose content is damaged."""

    @abstractmethod
    def get(self, key: str) -> Audio | None:
        """The audio, fully validated, or None on a miss or any kind of damage."""

    @abstractmethod
    def put(self, key: str, audio: Audio, meta: Mapping[str, Any]) -> None:
        """Store atomically, replacing whatever was there. ``meta`` must be JSON-serialisable."""

    @abstractmethod
    def meta(self, key: str) -> dict[str, Any] | None:
        """The metadata record of an entry, or None when it is missing or unreadable."""

    @abstractmethod
    def keys(self) -> Iterator[str]:
        """Keys that have a metadata record (committed entries, not necessarily intact)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an entry; removing a missing entry is not an error."""

    def update_meta(self, key: str, fields: Mapping[str, Any]) -> bool:
        """Set ``fields`` of an entry's record, its audio untouched (take review's verdict, judged again);
        False when the entry is missing or the store cannot (a store that keeps no records of its own)."""
        return False

    def analysis(self, key: str) -> dict[str, Any] | None:
        """What the mix stored about the entry's audio (``put_analysis``), or None: none stored, unreadable, or
        stored for other audio than the entry now holds. A store that keeps none always says None."""
        return None

    def put_analysis(self, key: str, record: Mapping[str, Any]) -> None:
        """Keep ``record`` (JSON-able) beside the entry, bound to the audio it now holds; a store that keeps
        none ignores it."""

    def lock(self, key: str, *, poll: Callable[[float], None] | None = None) -> contextlib.AbstractContextManager:
        """Exclusive right to render ``key`` (held across the whole render, retries included).

        A store shared by several machines may implement it with a lease; the default covers nobody, which
        is only safe for a store used by one process. ``poll(seconds)`` is called between tries while
        another holder has it, so a caller can give up (raise) instead of waiting forever. The lock is taken
        on a render worker and may be released on another thread (the scheduler's writer, once the entry is
        stored): it must not be bound to the thread that took it.
        """
        validate_key(key)
        return contextlib.nullcontext()


class FileStore(Store):
    """The local cache directory. Safe to share between threads and between processes on one machine."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.data_dir = self.root / f"v{FORMAT}"
        self._data = os.fspath(self.data_dir)  # str joins: has() runs thousands of times per no-op build

    def __repr__(self) -> str:
        return f"FileStore({str(self.root)!r})"

    def entry_paths(self, key: str) -> tuple[Path, Path]:
        """``(wav, json)`` paths of an entry (they need not exist)."""
        wav, record = self._files(key)
        return Path(wav), Path(record)

    def analysis_path(self, key: str) -> Path:
        """Where the mix's analysis of an entry's audio is kept (``put_analysis``)."""
        return Path(self._files(key)[0][:-len(".wav")] + "." + ANALYSIS_EXT)

    def _files(self, key: str) -> tuple[str, str]:
        validate_key(key)
        stem = os.path.join(self._data, key[:2], key)
        return stem + ".wav", stem + ".json"

    # -- reads ------------------------------------------------------------------------------------------

    def has(self, key: str) -> bool:
        wav, record = self._files(key)
        try:
            meta = read_record(record)
            return os.stat(wav).st_size == meta["bytes"]
        except (Damaged, OSError):
            return False

    def get(self, key: str) -> Audio | None:
        wav, record = self._files(key)
        previous = None
        for _attempt in range(3):
            try:
                meta = read_record(record)
            except Damaged:
                return None
            if meta == previous:
                return None
            try:
                return load_audio(key, wav, meta)
            except Damaged:
                # A put may have committed between our two reads (new audio, old record). Only when the
                # record changed meanwhile is another look worthwhile; otherwise the entry is damaged.
                previous = meta
        return None

    def problem(self, key: str) -> str | None:
        """Why an entry cannot be served, or None when it is intact (or entirely gone)."""
        wav, record = self.entry_paths(key)
        has_wav, has_record = os.path.lexists(wav), os.path.lexists(record)
        if not has_wav and not has_record:
            return None
        if not has_record:
            return "audio without metadata (a write was interrupted)"
        if not has_wav:
            return "metadata without audio"
        try:
            load_audio(key, wav, read_record(record))
        except Damaged as e:
            return str(e)
        return None

    def meta(self, key: str) -> dict[str, Any] | None:
        _wav, record = self._files(key)
        try:
            return read_record(record)
        except Damaged:
            return None

    def analysis(self, key: str) -> dict[str, Any] | None:
        """The stored analysis when it was made from the audio the entry holds now (its record's sha256); a
        damaged, foreign or outdated file is a miss, and the mix computes and stores it again."""
        meta = self.meta(key)
        try:
            raw = read_record_bytes(self.analysis_path(key))
            found = json.loads(raw)
        except (Damaged, ValueError, RecursionError):
            return None
        if not (isinstance(found, dict) and meta and found.get("audio_sha256") == meta["sha256"]
                and isinstance(found.get("analysis"), dict)):
            return None
        return found["analysis"]

    def put_analysis(self, key: str, record: Mapping[str, Any]) -> None:
        meta = self.meta(key)
        if meta is None:  # the entry went away (pruned, damaged): nothing to describe
            return
        text = json.dumps({"key": key, "audio_sha256": meta["sha256"], "analysis": dict(record)},
                          sort_keys=True, allow_nan=False, separators=(",", ":"))
        write_atomic(self.analysis_path(key), text.encode("utf-8"), mode=FILE_MODE)

    def keys(self) -> Iterator[str]:
        for fan in listdir_sorted(self.data_dir):
            if not is_fan(fan):
                continue
            for name in listdir_sorted(self.data_dir / fan):
                stem, ext = split_entry_name(name)
                if ext == "json" and stem.startswith(fan):
                    yield stem

    # -- writes -----------------------------------------------------------------------------------------

    def put(self, key: str, audio: Audio, meta: Mapping[str, Any]) -> None:
        wav_path, record_path = self.entry_paths(key)
        # Encode before touching the disk: bad audio or unserialisable metadata must leave nothing behind.
        data, text = encode(key, audio, meta, os.environ)
        self._prepare(wav_path.parent)
        # A put of this key killed earlier left its temp files: the next put of the key is the one that comes.
        remove_dead_temps(wav_path, record_path)
        with written_temp(wav_path, data, mode=FILE_MODE) as wav_tmp, \
                written_temp(record_path, text, mode=FILE_MODE) as record_tmp, \
                self.commit_lock():
            # Uncommit first: should a rename below fail or the process die, what remains is an orphan
            # WAV (clearly "interrupted") instead of a record describing a different file.
            unlink_quietly(record_path)
            try:
                os.replace(wav_tmp, wav_path)
                os.replace(record_tmp, record_path)
            except BaseException:
                unlink_quietly(wav_path)
                raise
        fsync_dir(wav_path.parent)

    def update_meta(self, key: str, fields: Mapping[str, Any]) -> bool:
        _wav, record_path = self._files(key)
        with self.commit_lock():  # no put or prune of the entry in between: the record stays the commit
            try:
                record = read_record(record_path)
            except Damaged:
                return False
            # the store's own facts about the file (size, sha256, ...) are never overwritten
            record.update({k: v for k, v in fields.items() if k not in FACTS})
            write_atomic(record_path, record_bytes(without_secrets(record, os.environ)), mode=FILE_MODE)
        return True

    def delete(self, key: str) -> None:
        wav, record = self.entry_paths(key)
        if not (os.path.lexists(wav) or os.path.lexists(record)):
            return  # also keeps a delete on a store that does not exist from creating its directories
        with self.commit_lock():
            unlink_quietly(record)
            unlink_quietly(wav)
            unlink_quietly(self.analysis_path(key))

    # -- locks ------------------------------------------------------------------------------------------

    def commit_lock(self) -> contextlib.AbstractContextManager:
        """Held while an entry is committed or removed; whoever holds it sees no entry half-written.

        ``put`` and ``delete`` take it, and so do ``verify --remove`` and ``prune`` before they judge and
        remove an entry, so a concurrent put that repairs or renews the entry meanwhile wins.
        """
        return commit_lock(self.data_dir / COMMIT_LOCK_NAME)

    def lock_path(self, key: str) -> Path:
        """The file flock'd by ``lock(key)``: ``<root>/v1/<key[:2]>/.<key>.lock``."""
        validate_key(key)
        return self.data_dir / key[:2] / f".{key}{KEY_LOCK_SUFFIX}"

    def lock(self, key: str, *, poll: Callable[[float], None] | None = None) -> contextlib.AbstractContextManager:
        """Hold the per-key render lock: one process (and one thread) at a time renders ``key``.

        The render stage takes it, then re-checks ``has(key)``: when another build rendered the key while we
        waited, the entry is used instead of paying for the same render twice.

        Stale locks cannot happen (see ``podpipe.files.locks``): the next process simply gets it. The lock
        file stays behind (an empty file, reused by the next lock of the key); ``prune`` deletes it together
        with its entry when nobody holds it.

        ``poll`` (default: block) is called with a short interval between non-blocking tries; the scheduler
        passes its interruptible sleep so Ctrl-C is not stuck behind another process's render. On platforms
        without fcntl (Windows) only threads of this process are serialised.
        """
        return key_lock(self.lock_path(key), poll)

    # -- internals --------------------------------------------------------------------------------------

    def _prepare(self, fan_dir: Path) -> None:
        fan_dir.mkdir(parents=True, exist_ok=True)
        tag = self.root / TAG_NAME
        remove_dead_temps(tag)  # a put killed while tagging, even when another process tagged meanwhile
        if not tag.exists():
            write_atomic(tag, CACHEDIR_TAG.encode("ascii"), mode=FILE_MODE)
