"""file:// remote caches: a directory, e.g. on a network file system several machines mount.

Writes go to a temp file beside the target and are renamed into place (``podpipe.files.atomic``), so a
reader never sees half an object. A conditional create writes the content to a temp file first and hard-links
it to the name (``link`` fails when the name exists: O_EXCL semantics without a moment in which the file is
there but empty); where the file system has no hard links it falls back to ``O_CREAT | O_EXCL``. Swaps and
tagged deletes (the lease's renewal, takeover and release) compare the content hash under an ``flock`` on a
guard file beside the object, so they are exact between every podpipe process that shares the directory
(NFSv4 and local file systems; a file system without flock makes them fail, which costs the lease, not the
build).

The entries use the local cache's own layout (``v1/<key[:2]>/<key>.wav|.json``), so the directory may even
be another machine's ``--cache-dir``.

A file has no headers: the ``Meta`` of a write is not kept (the web server in front of a published directory
chooses ``Content-Type`` and ``Cache-Control``), and ``stat`` hashes the file instead.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from podpipe.files.atomic import atomic_path, is_temp_name, unlink_quietly, write_atomic, written_temp
from podpipe.files.locks import commit_lock
from podpipe.storage.blobs import CHUNK, Blobs, Meta, Stat, Unsupported, content_tag, copy_stream

GUARD_NAME = ".swap.lock"
_NO_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK, errno.EXDEV)


class LocalBlobs(Blobs):
    compare_and_swap = True

    def set_cors(self, cors) -> None:
        raise Unsupported(f"{self.display} is a directory: CORS is set by the web server that serves it "
                          "(Access-Control-Allow-Origin: * on transcripts and chapters; see docs/publishing.md)")

    def __init__(self, root: Path, display: str):
        self.root = Path(root)
        self.display = display

    def _path(self, path: str) -> Path:
        return self.root / path

    def read(self, path: str) -> bytes | None:
        try:
            return self._path(path).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def exists(self, path: str) -> bool:
        return self._path(path).is_file()

    def write(self, path: str, data: bytes, meta: Meta | None = None) -> None:
        write_atomic(self._path(path), data)

    def upload(self, path: str, source: Path, meta: Meta | None = None) -> None:
        with atomic_path(self._path(path)) as tmp:
            shutil.copyfile(source, tmp)

    def stat(self, path: str) -> Stat | None:
        digest = hashlib.sha256()
        try:
            with open(self._path(path), "rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
                size = f.tell()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return Stat(size, meta=Meta(sha256=digest.hexdigest()))

    def download(self, path: str, target: Path) -> bool:
        try:
            with open(self._path(path), "rb") as src:
                copy_stream(src, target)
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    def create(self, path: str, data: bytes) -> str | None:
        target = self._path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with written_temp(target, data) as tmp:
            try:
                os.link(tmp, target)
            except FileExistsError:
                return None
            except OSError as exc:
                if exc.errno not in _NO_LINKS:
                    raise
                return self._create_exclusive(target, data)
        return content_tag(data)

    @staticmethod
    def _create_exclusive(target: Path, data: bytes) -> str | None:
        try:
            fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            return None
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return content_tag(data)

    def swap(self, path: str, data: bytes, tag: str) -> str | None:
        target = self._path(path)
        with self._guard(target):
            current = self.read(path)
            if current is None or content_tag(current) != tag:
                return None
            write_atomic(target, data)
        return content_tag(data)

    def delete(self, path: str, tag: str | None = None) -> None:
        target = self._path(path)
        if tag is None:
            unlink_quietly(target)
            return
        if not target.parent.is_dir():
            return
        with self._guard(target):
            current = self.read(path)
            if current is not None and content_tag(current) == tag:
                unlink_quietly(target)

    def listing(self, prefix: str) -> Iterator[tuple[str, int]]:
        base = self._path(prefix)
        for directory, dirs, files in os.walk(base):
            dirs.sort()
            for name in sorted(files):
                if is_temp_name(name) or name.startswith("."):
                    continue  # temp files, lock and guard files: not objects
                full = Path(directory) / name
                with contextlib.suppress(FileNotFoundError):
                    yield full.relative_to(self.root).as_posix(), full.stat().st_size

    @staticmethod
    def _guard(target: Path) -> contextlib.AbstractContextManager:
        return commit_lock(target.parent / GUARD_NAME)
