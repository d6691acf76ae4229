"""What podpipe asks of an object store, in its own terms: ``Blobs`` (the remote cache and ``publish``).

One subclass per kind of store (``local`` for file://, ``s3`` for s3:// through s3fs, ``fsspec_store`` for
gs:// and az:// through gcsfs/adlfs, ``http`` for read-only http(s)://). Paths are relative POSIX paths
below the URL's root (``v1/ab/<key>.json``); the subclass joins them to its bucket and prefix.

The contract the remote cache builds on:

- every write is atomic: a reader sees the old object, the complete new one, or nothing (S3, GCS and Azure
  PUTs are; files go to a temp file and are renamed);
- "not there" is an answer (``None`` / ``False``), never an exception; any other failure (unreachable,
  denied, timed out, throttled after the library's own retries) raises whatever the library raises, and the
  remote cache turns it into a counted, warned-once miss;
- ``create`` is a conditional create (``If-None-Match: *``, ``ifGenerationMatch=0``, a hard link / O_EXCL)
  and returns a version tag, or None when the object already exists; a store that cannot do it raises
  ``Unsupported``, and then podpipe renders without leases;
- ``read_tagged``/``swap``/``delete(tag=)`` compare a version tag (an ETag, a content hash) so a lease is
  only ever renewed, taken over or removed by whoever judged it; where the store cannot compare,
  ``compare_and_swap`` is False and the lease code says what it does instead;
- ``write``/``upload`` take an optional ``Meta``: the ``Content-Type`` and ``Cache-Control`` the object is
  served with and its sha256, kept as object metadata where the store has some (``publish`` uses them; a
  directory has no headers and keeps none), and ``stat`` reads back what the store knows of an object
  without reading it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


class Unsupported(Exception):
    """The store cannot do this at all (a write on a read-only store, a conditional write where the service
    has none); not a fault: nothing is counted as an error and the caller goes on without it."""


@dataclass(frozen=True)
class Meta:
    """What an object is served with, and its content hash; None: not set (or not known, in a ``Stat``)."""

    content_type: str | None = None
    cache_control: str | None = None
    sha256: str | None = None  # hex; stored as user metadata (S3 ``x-amz-meta-sha256``, GCS ``metadata``)


@dataclass(frozen=True)
class Cors:
    """A bucket's CORS rule: which origins may read its objects from a web page (GET and HEAD, with Range),
    and which response headers their script may see."""

    origins: tuple[str, ...] = ("*",)
    methods: tuple[str, ...] = ("GET", "HEAD")
    request_headers: tuple[str, ...] = ("Range",)
    expose_headers: tuple[str, ...] = ("Content-Length", "Content-Range", "Accept-Ranges", "ETag")
    max_age: int = 3600  # seconds a browser may keep the answer to a preflight


@dataclass(frozen=True)
class Stat:
    """What the store says about an object without reading it (one HEAD)."""

    size: int
    md5: str | None = None  # hex, where the store's own tag is the content's MD5 (an S3 single-part ETag)
    meta: Meta = Meta()


class Blobs(ABC):
    """Objects below one root of one store."""

    #: the URL as shown in messages: scheme, bucket and prefix, never a credential or a query string
    display: str = ""
    #: False for read-only stores (http): every write raises Unsupported
    writable: bool = True
    #: whether ``swap`` and ``delete(tag=)`` compare exactly (else leases are taken over by delete + create)
    compare_and_swap: bool = False
    #: whether a service might silently ignore the condition of ``create`` (an S3-compatible service):
    #: then the remote cache tries it once before trusting leases to it
    probe_conditional: bool = False

    @abstractmethod
    def read(self, path: str) -> bytes | None:
        """The whole object, or None when there is none."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """One HEAD (or stat): whether the object is there."""

    @abstractmethod
    def write(self, path: str, data: bytes, meta: Meta | None = None) -> None:
        """Create or replace the object atomically, served with ``meta`` where the store has headers."""

    @abstractmethod
    def create(self, path: str, data: bytes) -> str | None:
        """Create the object only if there is none: its version tag, or None when one exists already."""

    @abstractmethod
    def delete(self, path: str, tag: str | None = None) -> None:
        """Remove the object (none there is fine); with ``tag``, only while it is still that version."""

    @abstractmethod
    def listing(self, prefix: str) -> Iterator[tuple[str, int]]:
        """``(path, size)`` of every object below ``prefix`` (a relative directory path)."""

    def read_tagged(self, path: str) -> tuple[bytes, str] | None:
        """The object and its version tag (here: its content hash), or None when there is none."""
        data = self.read(path)
        return None if data is None else (data, content_tag(data))

    def swap(self, path: str, data: bytes, tag: str) -> str | None:
        """Replace the object only while it is still version ``tag``: the new tag, or None when it changed."""
        raise Unsupported(f"{self.display} cannot replace an object conditionally")

    def upload(self, path: str, source: Path, meta: Meta | None = None) -> None:
        """``write`` the contents of a local file (subclasses stream it)."""
        self.write(path, Path(source).read_bytes(), meta)

    def stat(self, path: str) -> Stat | None:
        """Size, and what else the store keeps of the object (its MD5, its ``Meta``); None when there is none."""
        data = self.read(path)
        return None if data is None else Stat(len(data), meta=Meta(sha256=content_tag(data)))

    def download(self, path: str, target: Path) -> bool:
        """Copy the object into the local file ``target`` (a temp file of the caller's); False if none."""
        data = self.read(path)
        if data is None:
            return False
        Path(target).write_bytes(data)
        return True

    def set_cors(self, cors: Cors) -> None:
        """Make ``cors`` the CORS rule of the store's bucket (a bucket setting on S3, GCS and Azure, not an
        object header); ``Unsupported`` (saying what to do instead) where podpipe cannot set it."""
        raise Unsupported(f"podpipe cannot set CORS on {self.display}: configure it where the files are served")

    def close(self) -> None:
        """Release connections; the default holds none."""

    def explain(self, exc: BaseException) -> tuple[str, str] | None:
        """What a failure says about the configuration: ``("denied", code)`` when the store refused the
        credentials or the permission, ``("missing", code)`` when the bucket or container does not exist;
        None for anything else (unreachable, throttled, timed out: faults that may pass)."""
        if isinstance(exc, PermissionError):
            return "denied", "permission denied"
        return None


def content_tag(data: bytes) -> str:
    """A version tag for stores without one of their own: the sha256 of the content."""
    return hashlib.sha256(data).hexdigest()


def copy_stream(source, target: Path) -> None:
    """Copy a readable binary stream into the file ``target``."""
    with open(target, "wb") as out:
        shutil.copyfileobj(source, out, CHUNK)
        out.flush()
        os.fsync(out.fileno())
