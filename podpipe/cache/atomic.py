"""Atomic file writes: readers (and a crash) only ever see the old file or the complete new one.

The temporary file is created beside the target (so ``os.replace`` stays on one file system), flushed to
disk before the rename, and held under an exclusive ``flock`` until then. The lock is what tells a live
writer's temp file from a dead one's: the kernel drops it when a process dies, even under kill -9, so the
next write to the same target can safely remove temp files nobody holds.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; stale temp files are then left for `podpipe cache verify`-style cleanup
    fcntl = None  # type: ignore[assignment]


def _remove_abandoned(path: Path) -> None:
    """Delete temp files of ``path`` left by writers that died (nobody holds their lock)."""
    if fcntl is None:
        return
    for name in glob.glob(os.path.join(glob.escape(str(path.parent)), f".{glob.escape(path.name)}.*.tmp")):
        with contextlib.suppress(OSError):
            fd = os.open(name, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.unlink(name)
            except OSError:
                pass  # a live writer holds it
            finally:
                os.close(fd)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A fresh temporary path beside ``path``; it replaces ``path`` when the block succeeds and is removed
    when it fails (including Ctrl-C). The block may write the path by name (e.g. ffmpeg as a subprocess)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o666)  # honours the umask, unlike mkstemp
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield tmp
        with open(tmp, "rb+") as fh:  # the writer may have replaced the inode; sync what will be renamed
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
