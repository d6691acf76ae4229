"""Finished episodes in the remote cache: an output and its sidecars stored under one digest, files first
and a checked index last, downloaded whole or not at all. A mixin of ``RemoteCache``, which provides the
store (``blobs``), the fault handling (``_call``) and the counters."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from podpipe.files.atomic import atomic_path
from podpipe.cache.entry import Damaged
from podpipe.cache.remote.guard import FAULT
from podpipe.cache.remote.outputs import (FetchedOutput, OutputFile, blob_path, check_digest, check_name, file_facts,
                                          index_bytes, index_path, parse_index)
from podpipe.secrets import without_secrets

log = logging.getLogger("podpipe.cache.remote")


class FinishedOutputs:
    """``has_output``, ``put_output``, ``get_output`` for ``RemoteCache``."""

    def has_output(self, digest: str) -> bool:
        """Whether a finished output is stored under ``digest`` (one HEAD of its index)."""
        path = index_path(check_digest(digest))
        return self._call("read", "lookup", lambda: self.blobs.exists(path)) is True

    def put_output(self, digest: str, files: Mapping[str, Path], meta: Mapping[str, Any] | None = None) -> bool:
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
        index = index_bytes(digest, listed, without_secrets(dict(meta or {}), self._environ))
        sent = 0
        for entry, path in zip(listed, files.values()):
            blob = blob_path(digest, entry.sha256)
            present = self._call("write", "output upload", lambda: self.blobs.exists(blob))
            if present is FAULT:
                return False
            if not present:
                if self._call("write", "output upload", lambda: self.blobs.upload(blob, Path(path))) is FAULT:
                    return False
                sent += entry.size
        if self._call("write", "output upload", lambda: self.blobs.write(index_path(digest), index)) is FAULT:
            return False
        self._count(outputs_up=1, bytes_up=sent + len(index))
        return True

    def get_output(self, digest: str, dest_dir: Path, *, names: Iterable[str] | None = None) -> FetchedOutput | None:
        """Download the finished output stored under ``digest`` into ``dest_dir``: every file to a temp file
        beside its target, each checked against the index's size and sha256, and only when all of them
        are complete and correct are they renamed into place. None (nothing written) when there is none,
        it is incomplete or damaged (rejected, warned), or on a fault. ``names``: the file names the
        caller expects; an output stored under other names is a miss."""
        path = index_path(check_digest(digest))
        raw = self._call("read", "output download", lambda: self.blobs.read(path))
        if raw is FAULT or raw is None:
            return None
        try:
            index = parse_index(raw, digest)
        except Damaged as exc:
            self._reject(digest, f"output index: {exc}", what="finished output")
            return None
        if names is not None and set(names) != {f.name for f in index.files}:
            return None
        dest_dir = Path(dest_dir)
        problem = None
        try:
            with contextlib.ExitStack() as stack:
                for entry in index.files:
                    tmp = stack.enter_context(atomic_path(dest_dir / entry.name))
                    got = self._call("read", "output download",
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
                self._reject(digest, problem, what="finished output")
            return None
        except OSError as exc:  # our own disk: the caller mixes instead (and will meet the same disk)
            log.debug("remote cache %s: cannot write output %s locally: %s", self.url, digest[:12], exc)
            return None
        self._count(outputs_down=1, bytes_down=len(raw) + sum(f.size for f in index.files))
        return FetchedOutput(digest, {f.name: dest_dir / f.name for f in index.files}, index.meta)


class _Abandon(Exception):
    """Stop a download and drop its temp files."""
