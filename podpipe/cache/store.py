"""The content-addressed render cache: one WAV per request key plus a JSON record that commits it.

Layout of a ``FileStore`` (cache format 1)::

    <root>/CACHEDIR.TAG              the standard tag, so backup tools (borg, restic, tar --exclude-caches) skip us
    <root>/v1/<key[:2]>/<key>.wav    16-bit PCM WAV exactly as the backend rendered it
    <root>/v1/<key[:2]>/<key>.json   metadata; written last, so it is the commit record
    <root>/v1/.commit.lock           flock'd while an entry is committed or removed (see FileStore._commit_lock)
    <root>/v1/<key[:2]>/.<key>.lock  flock'd while one process renders that key (see FileStore.lock)

The format version is part of the path so a future layout can live next to this one. An entry counts only
when both files exist and agree (size, sha256, header); anything else is a miss, never an exception: a
damaged file must cost one re-render, not a failed build. A damaged entry is left in place for ``verify``
to report and is replaced atomically by the next ``put`` of its key.

Every write goes to a unique temp file in the destination directory, is fsynced and then renamed over the
final name, so a crash leaves either the old state, the new state, or a temp file/orphan that ``verify`` and
``prune`` recognise. Only stdlib modules are imported: no-op builds call ``has`` thousands of times.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import tempfile
import threading
import time
import wave
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from podpipe.audio_types import SAMPLE_WIDTH, Audio
from podpipe.errors import UsageError

try:  # POSIX: serialise commits between processes sharing a cache. Windows has no fcntl (see _commit_lock).
    import fcntl
except ImportError:  # pragma: no cover - not on the supported CI platforms
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

FORMAT = 1
ENV_VAR = "PODPIPE_CACHE_DIR"
DEFAULT_DIRNAME = ".podpipe-cache"
#: temp files older than this cannot belong to a write still in progress (a put takes milliseconds)
STALE_TEMP_SECONDS = 3600.0
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by podpipe.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/\n"
)

_HEX = frozenset("0123456789abcdef")
_MAX_META_BYTES = 1 << 20  # a record is ~1 KB; refusing huge files keeps a damaged one from eating memory
_TEMP_SUFFIX = ".tmp"
_LOCK_NAME = ".commit.lock"
_KEY_LOCK_SUFFIX = ".lock"

# Field names that only ever hold credentials. Exact names, not substrings: "prompt_tokens" is usage, not a secret.
_SECRET_FIELDS = frozenset({
    "api_key", "apikey", "x_goog_api_key", "authorization", "token", "access_token", "refresh_token",
    "id_token", "secret", "client_secret", "password", "credentials",
})
_SECRET_ENV_MARKERS = ("API_KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
_MIN_SECRET_LEN = 8  # shorter values ("1", "true") would match innocent text everywhere


def resolve_cache_dir(option: str | Path | None = None, environ: Mapping[str, str] | None = None,
                      cwd: Path | None = None) -> Path:
    """The cache directory: ``--cache-dir``, else ``$PODPIPE_CACHE_DIR``, else ``<cwd>/.podpipe-cache``.

    Empty values count as unset (CI systems often export empty variables). ``~`` is expanded because a
    value set in a CI config file never passes through a shell. Relative paths are taken relative to
    ``cwd``. The directory need not exist yet; it is created by the first ``put``.
    """
    env = os.environ if environ is None else environ
    base = Path.cwd() if cwd is None else Path(cwd).absolute()
    if option is not None and str(option) != "":
        raw, source = str(option), "--cache-dir"
    elif env.get(ENV_VAR):
        raw, source = env[ENV_VAR], ENV_VAR
    else:
        raw, source = DEFAULT_DIRNAME, "the default cache directory"
    path = base / Path(raw).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageError(f"{source} {path}: exists but is not a directory; "
                         f"remove it or choose another directory with --cache-dir or {ENV_VAR}")
    return path


def validate_key(key: object) -> str:
    """Return ``key`` if it is 64 lowercase hex digits, else raise ValueError (keys become file names)."""
    if not (isinstance(key, str) and len(key) == 64 and _HEX.issuperset(key)):
        raise ValueError(f"invalid cache key {key!r}: expected 64 lowercase hex digits (a sha256)")
    return key


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


class PruneRefused(UsageError, ValueError):
    """``prune`` arguments that would delete more than anyone means (or are not an age)."""


class _Damaged(Exception):
    """An entry that cannot be served; the message is the reason ``verify`` reports."""


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

    def _files(self, key: str) -> tuple[str, str]:
        validate_key(key)
        stem = os.path.join(self._data, key[:2], key)
        return stem + ".wav", stem + ".json"

    # -- reads ------------------------------------------------------------------------------------------

    def has(self, key: str) -> bool:
        wav, record = self._files(key)
        try:
            meta = _read_meta(record)
            return os.stat(wav).st_size == meta["bytes"]
        except (_Damaged, OSError):
            return False

    def get(self, key: str) -> Audio | None:
        wav, record = self._files(key)
        previous = None
        for _attempt in range(3):
            try:
                meta = _read_meta(record)
            except _Damaged:
                return None
            if meta == previous:
                return None
            try:
                return _load_entry(key, wav, meta)
            except _Damaged:
                # A put may have committed between our two reads (new audio, old record). Only when the
                # record changed meanwhile is another look worthwhile; otherwise the entry is damaged.
                previous = meta
        return None

    def meta(self, key: str) -> dict[str, Any] | None:
        _wav, record = self._files(key)
        try:
            return _read_meta(record)
        except _Damaged:
            return None

    def keys(self) -> Iterator[str]:
        for fan in _listdir_sorted(self.data_dir):
            if not _is_fan(fan):
                continue
            for name in _listdir_sorted(self.data_dir / fan):
                stem, ext = _split_entry_name(name)
                if ext == "json" and stem.startswith(fan):
                    yield stem

    # -- writes -----------------------------------------------------------------------------------------

    def put(self, key: str, audio: Audio, meta: Mapping[str, Any]) -> None:
        wav_path, record_path = self.entry_paths(key)
        data = _encode_wav(audio)
        record = _without_secrets(dict(meta), os.environ)
        # Our facts about the stored file win over same-named caller fields.
        record.update(
            key=key,
            format=FORMAT,
            created=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            duration=round(audio.seconds, 6),
            rate=audio.rate,
            channels=audio.channels,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        # Serialise before touching the disk: unserialisable metadata must leave nothing behind.
        text = (json.dumps(record, indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")

        self._prepare(wav_path.parent)
        _remove_dead_temps(wav_path.parent, (f".{key}.wav.", f".{key}.json."))  # a writer killed mid-put
        held: list[int] = []  # flocks on our temp files: "a live writer owns these" (see _remove_dead_temps)
        try:
            self._commit(key, wav_path, record_path, data, text, held)
        finally:
            for fd in held:
                os.close(fd)
        _fsync_dir(wav_path.parent)

    def _commit(self, key: str, wav_path: Path, record_path: Path, data: bytes, text: bytes,
                held: list[int]) -> None:
        wav_tmp = _write_temp(wav_path, data, held)
        try:
            record_tmp = _write_temp(record_path, text, held)
        except BaseException:
            _unlink_quietly(wav_tmp)
            raise
        committed = False
        try:
            with self._commit_lock():
                # Uncommit first: should a rename below fail or the process die, what remains is an orphan
                # WAV (clearly "interrupted") instead of a record describing a different file.
                _unlink_quietly(record_path)
                try:
                    os.replace(wav_tmp, wav_path)
                    os.replace(record_tmp, record_path)
                except BaseException:
                    _unlink_quietly(wav_path)
                    raise
            committed = True
        finally:
            if not committed:
                _unlink_quietly(wav_tmp)
                _unlink_quietly(record_tmp)

    def delete(self, key: str) -> None:
        wav, record = self.entry_paths(key)
        if not (os.path.lexists(wav) or os.path.lexists(record)):
            return  # also keeps a delete on a store that does not exist from creating its directories
        with self._commit_lock():
            _unlink_quietly(record)
            _unlink_quietly(wav)

    def lock_path(self, key: str) -> Path:
        """The file flock'd by ``lock(key)``: ``<root>/v1/<key[:2]>/.<key>.lock``."""
        validate_key(key)
        return self.data_dir / key[:2] / f".{key}{_KEY_LOCK_SUFFIX}"

    @contextlib.contextmanager
    def lock(self, key: str, *, poll: Callable[[float], None] | None = None) -> Iterator[None]:
        """Hold the per-key render lock: one process (and one thread) at a time renders ``key``.

        The render stage takes it, then re-checks ``has(key)``: when another build rendered the key while we
        waited, the entry is used instead of paying for the same render twice.

        Stale locks cannot happen: an flock belongs to the open file and the kernel drops it when the
        holder exits in any way, kill -9 included, so the next process simply gets it. The lock file stays
        behind (an empty file, reused by the next lock of the key). ``prune`` deletes it together with its
        entry; to make that deletion safe, a lock counts only if the file we hold is still the one at the
        path (same inode) after flock returns, else we retry on the new file.

        ``poll`` (default: block) is called with a short interval between non-blocking tries; the scheduler
        passes its interruptible sleep so Ctrl-C is not stuck behind another process's render. On platforms
        without fcntl (Windows) only threads of this process are serialised.
        """
        path = self.lock_path(key)
        thread_lock = _key_thread_lock(path)
        _acquire_thread_lock(thread_lock, poll)
        try:
            if fcntl is None:  # pragma: no cover - not on the supported CI platforms
                yield
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = _flock_file(path, poll)
            try:
                yield
            finally:
                os.close(fd)  # releases the flock
        finally:
            thread_lock.release()
            _release_key_thread_lock(path)

    # -- internals --------------------------------------------------------------------------------------

    def _prepare(self, fan_dir: Path) -> None:
        fan_dir.mkdir(parents=True, exist_ok=True)
        tag = self.root / "CACHEDIR.TAG"
        _remove_dead_temps(self.root, (f".{tag.name}.",))  # a put killed while tagging (the root is tiny)
        if not tag.exists():
            held: list[int] = []
            try:
                tmp = _write_temp(tag, CACHEDIR_TAG.encode("ascii"), held)
                try:
                    os.replace(tmp, tag)
                finally:
                    _unlink_quietly(tmp)
            finally:
                for fd in held:
                    os.close(fd)

    @contextlib.contextmanager
    def _commit_lock(self) -> Iterator[None]:
        """Serialise the few renames that commit or remove an entry.

        Without it two writers of one key could interleave (A's audio, B's record) and leave an entry whose
        halves disagree. Held for microseconds. A thread lock covers threads (flock between file descriptors
        of one process is not portable), flock covers processes; on Windows only threads are covered.
        A per-key *render* lock (two builds must not pay for the same key) is a separate, longer-held lock.
        """
        with _thread_lock_for(self.data_dir):
            if fcntl is None:  # pragma: no cover
                yield
                return
            try:
                fd = os.open(self.data_dir / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # the store vanished (rm -rf): nothing left to race on
                fd = None
            if fd is None:
                yield
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock, also when the process dies


# -- maintenance: podpipe cache info | verify | prune -------------------------------------------------------


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


def cache_info(store: FileStore) -> CacheInfo:
    """Summary of a store from metadata alone (fast; ``verify`` is the thorough check)."""
    scan = _scan(store)
    entries = unreadable = 0
    seconds = 0.0
    backends: dict[str, int] = {}
    models: dict[str, int] = {}
    pairs: dict[tuple[str, str], int] = {}
    created: list[datetime] = []
    for key, kinds in sorted(scan.entries.items()):
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
        root=store.root, entries=entries, total_bytes=scan.total_bytes, total_seconds=round(seconds, 3),
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
    scan = _scan(store)
    problems: list[tuple[str, str]] = []
    damaged: list[str] = []
    ok = 0
    for key in sorted(scan.entries):
        reason = _entry_problem(store, key)
        if reason is None:
            ok += 1
        else:
            problems.append((key, reason))
            damaged.append(key)
    stale, in_progress = _partition_temps(scan)
    for path, age in stale:
        problems.append((_rel(store, path), f"stale temp file of an interrupted write ({age / 3600:.1f} h old)"))

    removed: list[str] = []
    if remove:
        for key in damaged:
            wav, record = store.entry_paths(key)
            with store._commit_lock():
                if _entry_problem(store, key) is not None:
                    _unlink_quietly(record)
                    _unlink_quietly(wav)
                    removed.append(key)
        for path, _age in stale:
            _unlink_quietly(path)
            removed.append(_rel(store, path))
    return VerifyResult(ok=ok, problems=tuple(problems), removed=tuple(removed),
                        unexpected=tuple(_rel(store, p) for p in scan.unexpected), in_progress=in_progress)


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

    scan = _scan(store)
    removed: list[str] = []
    freed = 0
    for key in sorted(scan.entries):
        if not doomed(key):
            continue
        if dry_run:
            freed += _sizes(store.entry_paths(key))
            removed.append(key)
            continue
        with store._commit_lock():
            if doomed(key):  # again under the lock: a concurrent put may just have renewed it
                paths = store.entry_paths(key)
                freed += _sizes(paths)
                for path in reversed(paths):  # the record first: uncommit, then drop the audio
                    _unlink_quietly(path)
                removed.append(key)
    if not dry_run:
        for path in scan.locks:  # lock files of renders not running now; a held one stays
            _remove_lock_if_free(path)
    stale, _in_progress = _partition_temps(scan)
    temps: list[str] = []
    for path, _age in stale:
        freed += _sizes((path,))
        if not dry_run:
            _unlink_quietly(path)
        temps.append(_rel(store, path))
    return PruneResult(removed=tuple(removed), bytes_freed=freed, kept=len(scan.entries) - len(removed),
                       dry_run=dry_run, temp_files_removed=tuple(temps))


# -- helpers ------------------------------------------------------------------------------------------------


def _encode_wav(audio: Audio) -> bytes:
    if not isinstance(audio.pcm, (bytes, bytearray)):
        raise TypeError(f"Audio.pcm must be bytes, got {type(audio.pcm).__name__}")
    if not (isinstance(audio.rate, int) and audio.rate > 0 and isinstance(audio.channels, int)
            and audio.channels > 0):
        raise ValueError(f"invalid audio format: rate={audio.rate!r}, channels={audio.channels!r}")
    frame = SAMPLE_WIDTH * audio.channels
    if not audio.pcm or len(audio.pcm) % frame:
        # Empty audio is what a failed render looks like ("44-byte WAVs recorded as success"): never cache it.
        raise ValueError(f"refusing to cache {len(audio.pcm)} bytes of PCM: "
                         f"expected a non-zero multiple of {frame} (16-bit, {audio.channels} channel(s))")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(audio.channels)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(audio.rate)
        w.writeframes(bytes(audio.pcm))
    return buf.getvalue()


def _read_meta(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > _MAX_META_BYTES:
                raise _Damaged("metadata file too large")
            raw = f.read(size + 1)  # not read(_MAX_META_BYTES): that allocates a megabyte per call
    except FileNotFoundError:
        raise _Damaged("metadata missing") from None
    except OSError as e:
        raise _Damaged(f"metadata unreadable ({e.strerror or e})") from None
    if len(raw) > _MAX_META_BYTES:
        raise _Damaged("metadata file too large")
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _Damaged("metadata is not valid JSON") from None
    if not isinstance(meta, dict):
        raise _Damaged("metadata is not a JSON object")
    if meta.get("format") != FORMAT:
        raise _Damaged(f"metadata format is {meta.get('format')!r}, expected {FORMAT}")
    for name, kind in (("bytes", int), ("rate", int), ("channels", int), ("sha256", str), ("created", str)):
        value = meta.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise _Damaged(f"metadata field {name!r} is missing or not {'an int' if kind is int else 'a string'}")
    if meta["bytes"] <= 0 or meta["rate"] <= 0 or meta["channels"] <= 0:
        raise _Damaged("metadata has a non-positive size, rate or channel count")
    return meta


def _load_entry(key: str, wav: str | Path, meta: Mapping[str, Any]) -> Audio:
    """Read and fully check one entry's audio against its record; raise _Damaged with the reason."""
    if meta.get("key", key) != key:
        raise _Damaged(f"metadata belongs to key {meta.get('key')!r}")
    try:
        with open(wav, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size != meta["bytes"]:  # decided by stat, so a huge stray file is never read
                raise _Damaged(f"audio file is {size} bytes, metadata says {meta['bytes']}")
            data = f.read(size + 1)
    except FileNotFoundError:
        raise _Damaged("audio file missing") from None
    except OSError as e:
        raise _Damaged(f"audio file unreadable ({e.strerror or e})") from None
    if len(data) != meta["bytes"]:
        raise _Damaged(f"audio file is {len(data)} bytes, metadata says {meta['bytes']}")
    if hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise _Damaged("audio sha256 does not match metadata")
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames, compression = w.getnframes(), w.getcomptype()
            pcm = w.readframes(frames)
    except Exception as e:  # parsing untrusted bytes: whatever the parser trips over means "damaged"
        raise _Damaged(f"audio header unreadable ({type(e).__name__}: {e})") from None
    if compression != "NONE" or width != SAMPLE_WIDTH:
        raise _Damaged(f"audio is not 16-bit PCM (sample width {width}, compression {compression})")
    if channels != meta["channels"] or rate != meta["rate"]:
        raise _Damaged(f"audio header says {rate} Hz x{channels}, "
                       f"metadata says {meta['rate']} Hz x{meta['channels']}")
    if frames == 0 or len(pcm) != frames * channels * width:
        raise _Damaged(f"audio truncated: header promises {frames * channels * width} bytes of samples, "
                       f"file holds {len(pcm)}")
    return Audio(pcm=pcm, rate=rate, channels=channels)


def _entry_problem(store: FileStore, key: str) -> str | None:
    """Why an entry cannot be served, or None when it is intact (or entirely gone)."""
    wav, record = store.entry_paths(key)
    has_wav, has_record = os.path.lexists(wav), os.path.lexists(record)
    if not has_wav and not has_record:
        return None
    if not has_record:
        return "audio without metadata (a write was interrupted)"
    if not has_wav:
        return "metadata without audio"
    try:
        _load_entry(key, wav, _read_meta(record))
    except _Damaged as e:
        return str(e)
    return None


def _write_temp(final: Path, data: bytes, held: list[int] | None = None) -> Path:
    """Write ``data`` to a new, fsynced temp file next to ``final``; the caller renames it into place.

    With ``held``, the temp file is flock'd and the locked descriptor appended to ``held``: the caller
    closes it after the rename, so for its whole life the temp file is locked by a live writer, and an
    unlocked temp file is one whose writer died (kill -9, power loss) — see ``_remove_dead_temps``.
    """
    while True:
        # Leading dot and pid/thread in the name: invisible to keys(), recognisable as ours, traceable.
        fd, name = tempfile.mkstemp(dir=final.parent, suffix=_TEMP_SUFFIX,
                                    prefix=f".{final.name}.{os.getpid()}-{threading.get_ident()}.")
        tmp = Path(name)
        if held is None or fcntl is None or _lock_new_temp(fd, tmp, held):
            break
        os.close(fd)  # a cleaner took it between mkstemp and flock (it deletes it): start over
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def _lock_new_temp(fd: int, tmp: Path, held: list[int]) -> bool:
    """flock a just-created temp file through a second descriptor kept in ``held``; False if we lost it."""
    keep = os.dup(fd)
    try:
        fcntl.flock(keep, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # _remove_dead_temps holds it: it is about to go
        os.close(keep)
        return False
    except OSError:
        held.append(keep)  # no flock on this file system: only the age rule of verify/prune applies
        return True
    try:
        mine = os.path.samestat(os.fstat(keep), os.stat(tmp))
    except FileNotFoundError:
        mine = False
    if not mine:
        os.close(keep)
        return False
    held.append(keep)
    return True


def _fsync_dir(path: Path) -> None:
    """Make the renames durable; not every platform or file system can open a directory, which is fine."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock_for(path: Path) -> threading.Lock:
    """One lock per store directory per process, shared by every FileStore instance on it."""
    name = os.path.realpath(path)
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(name, threading.Lock())


_KEY_LOCKS: dict[str, list] = {}  # lock path -> [threading.Lock, users]; entries go when unused
_LOCK_POLL_SECONDS = 0.05


def _key_thread_lock(path: Path) -> threading.Lock:
    name = os.fspath(path)
    with _THREAD_LOCKS_GUARD:
        entry = _KEY_LOCKS.setdefault(name, [threading.Lock(), 0])
        entry[1] += 1
        return entry[0]


def _release_key_thread_lock(path: Path) -> None:
    name = os.fspath(path)
    with _THREAD_LOCKS_GUARD:
        entry = _KEY_LOCKS[name]
        entry[1] -= 1
        if entry[1] == 0:
            del _KEY_LOCKS[name]


def _acquire_thread_lock(lock: threading.Lock, poll: Callable[[float], None] | None) -> None:
    if poll is None:
        lock.acquire()
        return
    while not lock.acquire(blocking=False):
        poll(_LOCK_POLL_SECONDS)  # may raise (interrupted): nothing is held yet


def _remove_dead_temps(directory: Path, prefixes: tuple[str, ...]) -> int:
    """Delete the temp files in ``directory`` named with one of ``prefixes`` whose writer is gone.

    ``put`` passes the prefixes of the key it writes, so an interrupted put is cleaned up by the next put
    of the same key, which is exactly what the next build does (the key is still missing). Returns the count.

    Writers hold an flock on their temp files until the rename (``_write_temp(held=...)``), and the
    kernel drops it when the writer dies, so a temp file we can lock is garbage. Age-only cleanup
    (``verify``/``prune``: older than ``STALE_TEMP_SECONDS``) stays for temp files of writers that did not
    lock (file systems without flock, older podpipe versions).
    """
    if fcntl is None:  # pragma: no cover
        return 0
    removed = 0
    for name in _listdir_sorted(directory):
        if not (name.startswith(prefixes) and name.endswith(_TEMP_SUFFIX)):
            continue
        path = directory / name
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            # A writer between mkstemp and its flock loses this race and retries (_lock_new_temp).
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.path.samestat(st, os.stat(path)):
                os.unlink(path)
                removed += 1
        except OSError:  # locked by a live writer, or gone meanwhile
            pass
        finally:
            os.close(fd)
    return removed


def _remove_lock_if_free(path: Path) -> bool:
    """Delete a per-key lock file unless a render holds it (see FileStore.lock for why this is safe)."""
    if fcntl is None:  # pragma: no cover
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.path.samestat(os.fstat(fd), os.stat(path)):
            os.unlink(path)  # while holding it: a waiter then sees a different inode and retries
            return True
    except OSError:  # held (BlockingIOError) or gone
        pass
    finally:
        os.close(fd)
    return False


def _flock_file(path: Path, poll: Callable[[float], None] | None) -> int:
    """Open ``path`` and flock it exclusively; return the fd. Retries when the file was replaced meanwhile."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if poll is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        poll(_LOCK_POLL_SECONDS)
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            return fd
        os.close(fd)  # prune removed the file while we waited: lock whatever is at the path now


def _without_secrets(meta: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Drop credential-named fields and any value containing a credential from the environment.

    Callers only pass safe fields, but the cache directory is meant to be uploaded as a CI artifact and
    shared, so a key that slipped into a request summary or an error text must not leave the machine.
    Values are matched by containment, not equality, to catch "Bearer <key>" and "...?key=<key>".
    """
    secrets = [v for k, v in environ.items()
               if len(v) >= _MIN_SECRET_LEN and any(m in k.upper() for m in _SECRET_ENV_MARKERS)]
    dropped = [0]
    drop = object()

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return drop if any(s in value for s in secrets) else value
        if isinstance(value, Mapping):
            out = {}
            for k, v in value.items():
                if isinstance(k, str) and (k.lower().replace("-", "_") in _SECRET_FIELDS or clean(k) is drop):
                    dropped[0] += 1
                    continue
                v = clean(v)
                if v is drop:
                    dropped[0] += 1
                else:
                    out[k] = v
            return out
        if isinstance(value, (list, tuple)):
            kept = [c for c in map(clean, value) if c is not drop]
            dropped[0] += len(value) - len(kept)
            return kept
        return value

    result = clean(meta)
    if dropped[0]:
        log.warning("cache metadata: dropped %d value(s) that looked like credentials", dropped[0])
    return result


@dataclass
class _Scan:
    entries: dict[str, set[str]] = field(default_factory=dict)  # key -> {"wav", "json"} present
    temps: list[tuple[Path, float]] = field(default_factory=list)  # (path, age in seconds)
    unexpected: list[Path] = field(default_factory=list)
    locks: list[Path] = field(default_factory=list)  # per-key render lock files (empty, see FileStore.lock)
    total_bytes: int = 0


def _scan(store: FileStore) -> _Scan:
    scan = _Scan()
    now = time.time()

    def look(entry: os.DirEntry, fan: str | None) -> None:
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:  # removed concurrently
            return
        scan.total_bytes += st.st_size
        name = entry.name
        if name.startswith(".") and name.endswith(_TEMP_SUFFIX):
            scan.temps.append((Path(entry.path), now - st.st_mtime))
            return
        if fan is None:
            return
        if name.startswith(".") and name.endswith(_KEY_LOCK_SUFFIX):
            stem, ext = _split_entry_name(name[1:])
            if ext == _KEY_LOCK_SUFFIX[1:] and stem.startswith(fan):
                scan.locks.append(Path(entry.path))
                return
        stem, ext = _split_entry_name(name)
        if ext in ("wav", "json") and stem.startswith(fan) and entry.is_file(follow_symlinks=False):
            scan.entries.setdefault(stem, set()).add(ext)
        else:
            scan.unexpected.append(Path(entry.path))

    for entry in _scandir(store.root):  # CACHEDIR.TAG and its temp files
        if entry.is_file(follow_symlinks=False):
            look(entry, None)
    for entry in _scandir(store.data_dir):
        if entry.is_dir(follow_symlinks=False) and _is_fan(entry.name):
            for child in _scandir(Path(entry.path)):
                look(child, entry.name)
        elif entry.name == _LOCK_NAME:
            continue
        elif entry.is_file(follow_symlinks=False):
            look(entry, None)
            if not entry.name.startswith("."):
                scan.unexpected.append(Path(entry.path))
        else:
            scan.unexpected.append(Path(entry.path))
    return scan


def _scandir(path: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as it:
            return sorted(it, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _listdir_sorted(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _is_fan(name: str) -> bool:
    return len(name) == 2 and _HEX.issuperset(name)


def _split_entry_name(name: str) -> tuple[str, str]:
    """``<key>.wav`` -> (key, "wav"); ("", "") for anything that is not an entry file name."""
    stem, dot, ext = name.rpartition(".")
    if dot and len(stem) == 64 and _HEX.issuperset(stem):
        return stem, ext
    return "", ""


def _partition_temps(scan: _Scan) -> tuple[list[tuple[Path, float]], int]:
    stale = [(p, age) for p, age in scan.temps if age > STALE_TEMP_SECONDS]
    return stale, len(scan.temps) - len(stale)


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
