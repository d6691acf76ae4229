"""Finished outputs in the remote cache: an episode's exported file and its sidecars under the mix's
``inputs_digest`` (a mix is a pure function of its inputs), so a fresh machine with a warm remote downloads
the episode instead of mixing it.

Layout below the remote's root::

    outputs/<digest[:2]>/<digest>/<sha256 of a file>   each file of the output, named by its content
    outputs/<digest[:2]>/<digest>.json                  the index: written last, it commits the output

The index names every file with its size and sha256::

    {"format": 1, "digest": "<inputs_digest>", "created": "2026-12-01T14:00:00.000+00:00",
     "files": [{"name": "ep12.mp3", "size": 3441234, "sha256": "…"}, …], "meta": {…}}

Files go up first and the index last, so an output whose upload was interrupted has no index and is never
served; an index naming a file that is missing or does not match is rejected as a whole. Content names make
a repeated upload of the same bytes a no-op and let two machines upload the same output at once without
mixing their files. An output that fails verification is remembered (``bad``); the machine that then mixes a
good copy repairs it: each stored file (and the index) that does not match is replaced by a conditional
overwrite keyed on the bad object's version tag (``Blobs.swap``: S3 ``If-Match: <ETag>``, a file's content
hash under a lock), so a copy another machine repaired meanwhile is never overwritten (stores without an
exact swap, gs:// and az://, overwrite what they just read as bad: two good copies may race there); counted
(``repaired``) and reported. The index comes from the store, so it is checked like any untrusted input: names are
plain file names (no directories, no ``..``), sizes and hashes well-formed. A download is whole or nothing:
every file goes to a temp file beside its target and is renamed into place only when all of them check out.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from podpipe.cache.entry import Damaged
from podpipe.cache.layout import validate_key
from podpipe.cache.remote.guard import FAULT, Guard
from podpipe.files.atomic import atomic_path
from podpipe.secrets import without_secrets
from podpipe.storage import Blobs

log = logging.getLogger("podpipe.cache.remote")

OUTPUT_DIR = "outputs"
INDEX_FORMAT = 1
MAX_INDEX_BYTES = 1 << 20
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class OutputFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class OutputIndex:
    digest: str
    files: tuple[OutputFile, ...]
    meta: dict[str, Any]


@dataclass(frozen=True)
class FetchedOutput:
    """A finished episode downloaded from the remote cache: ``files`` maps each stored name to where it
    now is; ``meta`` is what ``put_output`` was given."""

    digest: str
    files: dict[str, Path]
    meta: dict[str, Any]


def index_path(digest: str) -> str:
    return f"{OUTPUT_DIR}/{digest[:2]}/{digest}.json"


def blob_path(digest: str, sha256: str) -> str:
    return f"{OUTPUT_DIR}/{digest[:2]}/{digest}/{sha256}"


def check_digest(digest: object) -> str:
    """An ``inputs_digest`` is a sha256 hex digest, like a cache key (it becomes part of object names)."""
    try:
        return validate_key(digest)
    except ValueError:
        raise ValueError(f"invalid output digest {digest!r}: expected 64 lowercase hex digits (a sha256)") from None


def check_name(name: object) -> str:
    """A stored output file's name: a plain file name, so it can only land inside the target directory."""
    if not (isinstance(name, str) and 0 < len(name) <= 255 and not name.startswith(".")
            and not any(c in name for c in "/\\\0") and name.isprintable()):
        raise ValueError(f"invalid output file name {name!r}: expected a plain file name (no directories, "
                         f"not hidden)")
    return name


def file_facts(path: Path) -> tuple[int, str]:
    """``(size, sha256)`` of a local file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _index_ok(raw: bytes, digest: str) -> bool:
    try:
        parse_index(raw, digest)
    except Damaged:
        return False
    return True


def index_bytes(digest: str, files: list[OutputFile], meta: Mapping[str, Any]) -> bytes:
    doc = {"format": INDEX_FORMAT, "digest": digest,
           "created": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
           "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in files], "meta": dict(meta)}
    return (json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")


def parse_index(raw: bytes, digest: str) -> OutputIndex:
    """The index of output ``digest``; raises ``Damaged`` for anything else."""
    if len(raw) > MAX_INDEX_BYTES:
        raise Damaged("output index too large")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise Damaged("output index is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT or doc.get("digest") != digest:
        raise Damaged("output index has another format or belongs to another digest")
    entries, meta = doc.get("files"), doc.get("meta", {})
    if not isinstance(entries, list) or not entries or not isinstance(meta, dict):
        raise Damaged("output index lists no files")
    files = []
    for entry in entries:
        try:
            name, size, sha256 = check_name(entry["name"]), entry["size"], entry["sha256"]
        except (TypeError, KeyError, ValueError) as exc:
            raise Damaged(f"output index has a bad file entry ({exc})") from None
        if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0 and isinstance(sha256, str)
                and len(sha256) == 64 and _HEX.issuperset(sha256)):
            raise Damaged(f"output index entry {name!r} has a bad size or sha256")
        files.append(OutputFile(name, size, sha256))
    if len({f.name for f in files}) != len(files):
        raise Damaged("output index names a file twice")
    return OutputIndex(digest, tuple(files), meta)


class Outputs:
    """The finished outputs in ``blobs``; every operation through ``guard`` (a fault is a miss or a skipped
    upload). ``writable``: the remote cache's mode lets it upload."""

    def __init__(self, blobs: Blobs, guard: Guard, *, writable: bool):
        self.blobs, self.guard, self.writable = blobs, guard, writable
        self._bad: set[str] = set()  # digests whose stored output failed verification in this run

    def bad(self, digest: str) -> bool:
        """Whether the stored output ``digest`` failed verification in this run (a miss, to be repaired)."""
        return digest in self._bad

    def _reject(self, digest: str, reason: str) -> None:
        self._bad.add(digest)
        self.guard.reject(digest, reason, what="finished output")

    def has(self, digest: str) -> bool:
        """Whether a finished output is stored under ``digest`` (one HEAD of its index)."""
        path = index_path(check_digest(digest))
        return self.guard.call("read", "lookup", lambda: self.blobs.exists(path)) is True

    def put(self, digest: str, files: Mapping[str, Path], meta: Mapping[str, Any] | None = None) -> bool:
        """Store the files of one finished output under its ``inputs_digest``: ``files`` maps the name each
        is stored (and later restored) under to the local file. Files first, the index last; True when the
        whole output went up. Bad names or an unreadable local file raise (a caller's error); remote faults
        return False."""
        check_digest(digest)
        if not files:
            raise ValueError("put_output needs at least one file")
        listed = [OutputFile(check_name(name), *file_facts(Path(path))) for name, path in files.items()]
        if not self.writable:
            return False
        call = self.guard.call
        index = index_bytes(digest, listed, without_secrets(dict(meta or {}), self.guard.environ))
        sent = repaired = 0
        repairing = digest in self._bad
        for entry, path in zip(listed, files.values()):
            blob = blob_path(digest, entry.sha256)
            present = call("write", "output upload", lambda: self.blobs.exists(blob))
            if present is FAULT:
                return False
            if present and repairing:
                fixed = self._repair(blob, Path(path).read_bytes(), lambda data: file_hash(data) == entry.sha256)
                if fixed is FAULT:
                    return False
                repaired += bool(fixed)
                sent += entry.size if fixed else 0
            elif not present:
                if call("write", "output upload", lambda: self.blobs.upload(blob, Path(path))) is FAULT:
                    return False
                sent += entry.size
        if repairing:
            fixed = self._repair(index_path(digest), index, lambda data: _index_ok(data, digest))
            if fixed is FAULT:
                return False
            repaired += bool(fixed)
        if not repairing or fixed is None:
            if call("write", "output upload", lambda: self.blobs.write(index_path(digest), index)) is FAULT:
                return False
        self.guard.count(outputs_up=1, bytes_up=sent + len(index))
        self._bad.discard(digest)
        if repaired:  # else another machine repaired it between our look and our upload
            self.guard.count(repaired=1)
            self.guard.warn(f"remote cache {self.guard.url}: finished output {digest[:12]} repaired ({repaired} "
                            f"damaged object{'s' if repaired != 1 else ''} replaced by this machine's good copy)")
        return True

    def _repair(self, path: str, data: bytes, good: Callable[[bytes], bool]) -> Any:
        """Replace the object at ``path`` by ``data`` if what is stored fails ``good``: conditionally on
        the version judged bad, so a copy repaired by another machine meanwhile stays. True: replaced;
        False: it was fine (or was repaired meanwhile); None: not there; FAULT."""
        call = self.guard.call
        got = call("write", "output repair", lambda: self.blobs.read_tagged(path))
        if got is FAULT or got is None:
            return got
        current, tag = got
        if good(current):
            return False
        if not self.blobs.compare_and_swap:  # gcsfs, adlfs: no exact swap; a plain overwrite of a bad copy
            return FAULT if call("write", "output repair", lambda: self.blobs.write(path, data)) is FAULT else True
        swapped = call("write", "output repair", lambda: self.blobs.swap(path, data, tag))
        if swapped is FAULT:
            return FAULT
        return swapped is not None

    def get(self, digest: str, dest_dir: Path, *, names: Iterable[str] | None = None) -> FetchedOutput | None:
        """Download the finished output stored under ``digest`` into ``dest_dir``: every file to a temp file
        beside its target, each checked against the index's size and sha256, and only when all of them
        are complete and correct are they renamed into place. None (nothing written) when there is none,
        it is incomplete or damaged (rejected, warned), or on a fault. ``names``: the file names the
        caller expects; an output stored under other names is a miss."""
        path = index_path(check_digest(digest))
        raw = self.guard.call("read", "output download", lambda: self.blobs.read(path))
        if raw is FAULT or raw is None:
            return None
        try:
            index = parse_index(raw, digest)
        except Damaged as exc:
            self._reject(digest, f"output index: {exc}")
            return None
        if names is not None and set(names) != {f.name for f in index.files}:
            return None
        dest_dir = Path(dest_dir)
        problem = None
        try:
            with contextlib.ExitStack() as stack:
                for entry in index.files:
                    tmp = stack.enter_context(atomic_path(dest_dir / entry.name))
                    got = self.guard.call("read", "output download",
                                          lambda: self.blobs.download(blob_path(digest, entry.sha256), tmp))
                    if got is FAULT:
                        raise _Abandon
                    if not got:
                        problem = f"{entry.name} is missing"
                    elif file_facts(tmp) != (entry.size, entry.sha256):
                        problem = f"{entry.name} does not match its index"
                    if problem:
                        raise _Abandon
        except _Abandon:
            if problem:
                self._reject(digest, problem)
            return None
        except OSError as exc:  # our own disk: the caller mixes instead (and will meet the same disk)
            log.debug("remote cache %s: cannot write output %s locally: %s", self.guard.url, digest[:12], exc)
            return None
        self.guard.count(outputs_down=1, bytes_down=len(raw) + sum(f.size for f in index.files))
        return FetchedOutput(digest, {f.name: dest_dir / f.name for f in index.files}, index.meta)


class _Abandon(Exception):
    """Stop a download and drop its temp files."""
