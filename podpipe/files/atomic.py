"""Atomic file writes: readers (and a crash) only ever see the old file or the complete new one.

One implementation for every file podpipe replaces: the mix's outputs and sidecars (``atomic_path``,
``write_atomic``), the stored voice list, and the cache's entries, whose store writes two temp files
(``written_temp``) and renames them itself in the order its commit needs.

A temp file is created beside its target (so ``os.replace`` stays on one file system), named
``.<target name>.<pid>-<thread>.<random>.tmp`` (hidden, recognisable as ours, traceable), flushed to disk
before the rename, and held under an exclusive ``flock`` from creation until it is renamed or removed.
The lock is what tells a live writer's temp file from a dead one's: the kernel drops it when a process
dies, even under kill -9, so the next write of the same target removes temp files nobody holds
(``remove_dead_temps``). Where flock is missing (Windows, some network file systems) such leftovers stay;
in the cache, ``verify`` and ``prune`` also remove temp files by age.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from podpipe.files.locks import lock_new_file, remove_if_unlocked

TEMP_SUFFIX = ".tmp"


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of our temp files (of any target)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A fresh temporary path beside ``path``; it replaces ``path`` when the block succeeds and is removed
    when it fails (including Ctrl-C). The block may write the path by name (e.g. ffmpeg as a subprocess)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_temps(path)
    with _locked_temp(path, 0o666) as (tmp, _fd):
        yield tmp
        with open(tmp, "rb+") as fh:  # the writer may have replaced the inode; sync what will be renamed
            os.fsync(fh.fileno())
        os.replace(tmp, path)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o666) -> None:
    """Replace ``path`` with ``data`` atomically (creating its directory); ``mode`` before the umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_temps(path)
    with written_temp(path, data, mode=mode) as tmp:
        os.replace(tmp, path)


@contextlib.contextmanager
def written_temp(target: Path, data: bytes, *, mode: int = 0o666) -> Iterator[Path]:
    """A locked temp file beside ``target`` holding ``data``, synced to disk; the block renames it into
    place. Whatever the block leaves of it (it failed, or never renamed it) is removed at the end."""
    with _locked_temp(target, mode) as (tmp, fd):
        with open(fd, "wb", closefd=False) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        yield tmp


def remove_dead_temps(*targets: Path) -> int:
    """Delete the temp files of ``targets`` whose writer is gone (nobody holds their lock); return the count.

    Only the targets' own temp files are judged, so a write cleans up after an interrupted write of the
    same file, which is what the next run does anyway (the file is still missing or old).
    """
    prefixes: dict[Path, tuple[str, ...]] = {}
    for target in map(Path, targets):
        prefixes[target.parent] = (*prefixes.get(target.parent, ()), f".{target.name}.")
    removed = 0
    for directory, starts in prefixes.items():
        try:
            names = sorted(os.listdir(directory))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            if name.startswith(starts) and name.endswith(TEMP_SUFFIX) and remove_if_unlocked(directory / name):
                removed += 1
    return removed


def fsync_dir(path: Path) -> None:
    """Make renames in ``path`` durable; not every platform or file system can open a directory: fine."""
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


def unlink_quietly(path: str | Path) -> None:
    """Remove ``path`` if it is there: cleanup paths must not fail on what a crash or a rival removed."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@contextlib.contextmanager
def _locked_temp(target: Path, mode: int) -> Iterator[tuple[Path, int]]:
    """A new empty temp file beside ``target`` and its descriptor, flock'd for the whole block; the file
    is removed when the block ends unless it was renamed away, and only then is the lock released."""
    stem = f".{target.name}.{os.getpid()}-{threading.get_ident()}."
    while True:
        tmp = target.with_name(f"{stem}{os.urandom(4).hex()}{TEMP_SUFFIX}")
        fd = None
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode)  # honours the umask, unlike mkstemp
            locked = lock_new_file(fd, tmp)
        except FileExistsError:
            continue
        except BaseException:
            # Ctrl-C between creating the file and the block below: the name is ours alone (pid, thread and
            # random part, O_EXCL), so it goes, even if the interrupt came before ``fd`` was assigned.
            unlink_quietly(tmp)
            if fd is not None:
                os.close(fd)
            raise
        if locked:
            break
        os.close(fd)  # a cleaner took it between our open and flock (it deletes it): start over
    try:
        yield tmp, fd
    finally:
        try:
            unlink_quietly(tmp)
        finally:
            os.close(fd)
