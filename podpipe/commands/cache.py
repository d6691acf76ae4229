"""``podpipe cache …``: what the cache holds (locally and in the shared remote cache), checking and trimming
it, and moving entries between the local and the remote cache explicitly (``push``/``pull``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from podpipe.cache import FileStore, cache_info, resolve_cache_dir
from podpipe.errors import RemoteConfigError, UsageError

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> float:
    """``90m``, ``12h``, ``30d`` (or plain seconds) → seconds."""
    try:
        return float(text[:-1]) * _AGE_UNITS[text[-1]] if text[-1] in _AGE_UNITS else float(text)
    except (ValueError, IndexError):
        raise UsageError(f"--older-than {text!r}: give a number with a unit, e.g. 90m, 12h, 30d") from None


def _remote(url: str | None, mode: str | None, notes: list[str], *, check: bool = False):
    """The remote cache; with ``check``, probed first: a misconfiguration (credentials refused, no such
    bucket) is an error (exit 5), since moving entries is all the command is asked to do."""
    from podpipe.cache import open_remote

    remote = open_remote(url, mode, on_warning=notes.append)
    if remote is None:
        raise UsageError("no remote cache: give --remote-cache URL (or set PODPIPE_REMOTE_CACHE)")
    if check:
        problem = remote.check()
        if problem is not None:
            remote.close()
            raise RemoteConfigError(problem.error)
    return remote


def info_lines(cache_dir: str | Path | None, remote_url: str | None = None, remote_mode: str | None = None,
               *, with_remote: bool = False) -> list[str]:
    """``cache info``: the local cache's figures, and the remote's when one is configured."""
    info = cache_info(FileStore(resolve_cache_dir(cache_dir)))
    lines = [f"cache:   {info.root}",
             f"entries: {info.entries} ({info.total_bytes / 1e6:.1f} MB, {info.total_seconds / 60:.1f} min of audio)"]
    lines += [f"  {backend:<8} {model:<32} {count}" for (backend, model), count in sorted(info.by_backend_model.items())]
    if with_remote:
        notes: list[str] = []
        remote = _remote(remote_url, remote_mode, notes)
        try:
            r = remote.info()
        finally:
            remote.close()
        lines.append(f"remote:  {r.url} ({r.mode})")
        if r.listed:
            lines.append(f"  entries: {r.entries} ({r.entry_bytes / 1e6:.1f} MB), finished episodes: {r.outputs} "
                         f"({r.output_bytes / 1e6:.1f} MB), renders in progress: {r.leases}")
        else:
            lines.append(f"  cannot list it: {r.problem or 'this kind of store cannot be listed'}")
        lines += notes
    return lines


def push(cache_dir: str | Path | None, remote_url: str | None) -> list[str]:
    """``cache push``: upload every local entry the remote lacks."""
    from podpipe.cache import push as push_entries

    notes: list[str] = []
    remote = _remote(remote_url, "write", notes, check=True)
    try:
        done = push_entries(FileStore(resolve_cache_dir(cache_dir)), remote)
    finally:
        remote.close()
    return [*notes, f"pushed {done.transferred} entr{'y' if done.transferred == 1 else 'ies'} to {remote.url}; "
                    f"{done.present} already there, {done.failed} failed"]


def pull(specs: Sequence[str | Path], cache_dir: str | Path | None, remote_url: str | None,
         backend: str | None = None) -> list[str]:
    """``cache pull SPECS``: download the entries the specs need that the local cache lacks."""
    from podpipe.cache import pull as pull_entries
    from podpipe.commands.build import BuildOptions, prepare

    prepared = prepare(specs, BuildOptions(backend=backend, cache_dir=cache_dir, remote_mode="off"))
    keys = list(dict.fromkeys(r.key for c in prepared.episodes for r in c.requests))
    notes: list[str] = []
    remote = _remote(remote_url, "read", notes, check=True)
    try:
        done = pull_entries(prepared.local, remote, keys)
    finally:
        remote.close()
    return [*notes, f"pulled {done.transferred} entr{'y' if done.transferred == 1 else 'ies'} from {remote.url}; "
                    f"{done.present} already here, {done.failed} not in the remote cache (or damaged there)"]
