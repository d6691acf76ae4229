"""The locks that let threads and processes share one directory (the cache, a file:// store), and the flock
primitives beneath them.

Every lock here is an ``flock``: it belongs to an open file and the kernel drops it when the holder exits in
any way, kill -9 included, so no lock is ever stale and none needs a timeout or a pid file. flock between
two descriptors of one process is not portable, so threads of one process are serialised by a thread lock
as well. On platforms without fcntl (Windows) only the thread locks remain.

- ``commit_lock``: held for the microseconds that commit or remove an entry (a few renames), so two
  writers of one key cannot interleave.
- ``key_lock``: held for a whole render of one key, so two builds never pay for the same render.
- ``lock_new_file`` / ``remove_if_unlocked``: a writer holds a lock on each file it is still writing, so
  a file nobody holds belongs to a dead writer and may go (``podpipe.files.atomic`` builds on this).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

try:  # POSIX: serialise between processes sharing a cache. Windows has no fcntl (thread locks only).
    import fcntl
except ImportError:  # pragma: no cover - not on the supported CI platforms
    fcntl = None  # type: ignore[assignment]

POLL_SECONDS = 0.05  # between tries while another holder has a lock: short enough for a snappy Ctrl-C

_GUARD = threading.Lock()
_COMMIT_LOCKS: dict[str, threading.Lock] = {}  # commit lock file -> its thread lock, for the process's life
_KEY_LOCKS: dict[str, list] = {}  # lock path -> [threading.Lock, users]; entries go when unused


def lock_new_file(fd: int, path: Path) -> bool:
    """flock a file we just created as ``fd``; False if a cleaner took it first (it is deleting it).

    Between creating a file and locking it, ``remove_if_unlocked`` may see it unlocked; whoever loses
    that race must make a new file. A file system without flock leaves the file unlocked: then only the
    age rule of ``verify``/``prune`` can tell a dead writer's temp file.
    """
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return True
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def remove_if_unlocked(path: Path) -> bool:
    """Delete ``path`` unless a live process holds its flock; True when it was deleted."""
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
    except OSError:  # held (BlockingIOError), gone meanwhile, or no flock on this file system
        pass
    finally:
        os.close(fd)
    return False


@contextlib.contextmanager
def commit_lock(path: Path) -> Iterator[None]:
    """Hold the lock file ``path`` (created if need be) while the few renames that commit or remove an
    entry run, across every thread and process that use the same file.

    Without it two writers of one key could interleave (A's audio, B's record) and leave an entry whose
    halves disagree. Held for microseconds, so waiting for it blocks. A per-key *render* lock
    (``key_lock``) is a separate, longer-held lock.
    """
    with _commit_thread_lock(path):
        if fcntl is None:  # pragma: no cover
            yield
            return
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # the store vanished (rm -rf): nothing left to race on
            fd = None
        if fd is None:  # yielded outside the except, so the block's own errors are not chained to it
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock, also when the process dies


@contextlib.contextmanager
def key_lock(path: Path, poll: Callable[[float], None] | None = None) -> Iterator[None]:
    """Hold the lock file ``path``: one process, and one thread in it, at a time.

    The lock file stays behind when released (an empty file, reused next time); ``remove_if_unlocked``
    may delete it meanwhile, so a lock counts only if the file we hold is still the one at the path
    (same inode) once flock returns, else we retry on the new file. ``poll(seconds)`` (default: block) is
    called between non-blocking tries and may raise to give up. The lock may be released on another
    thread than the one that took it (the scheduler's writer stores what a worker rendered).
    """
    thread_lock = _key_thread_lock(path)
    try:
        _acquire(thread_lock, poll)
    except BaseException:
        _release_key_thread_lock(path)
        raise
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


def _commit_thread_lock(path: Path) -> threading.Lock:
    """One lock per lock file per process, shared by every FileStore instance on the same directory."""
    name = os.path.realpath(path)
    with _GUARD:
        return _COMMIT_LOCKS.setdefault(name, threading.Lock())


def _key_thread_lock(path: Path) -> threading.Lock:
    name = os.fspath(path)
    with _GUARD:
        entry = _KEY_LOCKS.setdefault(name, [threading.Lock(), 0])
        entry[1] += 1
        return entry[0]


def _release_key_thread_lock(path: Path) -> None:
    name = os.fspath(path)
    with _GUARD:
        entry = _KEY_LOCKS[name]
        entry[1] -= 1
        if entry[1] == 0:
            del _KEY_LOCKS[name]


def _acquire(lock: threading.Lock, poll: Callable[[float], None] | None) -> None:
    if poll is None:
        lock.acquire()
        return
    while not lock.acquire(blocking=False):
        poll(POLL_SECONDS)  # may raise (interrupted): nothing is held yet


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
                        poll(POLL_SECONDS)
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
