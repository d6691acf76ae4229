"""Files an episode names, as the inputs digest and the manifest record them: content hashes (each sound
hashed once per process while it is unchanged) and paths relative to the manifest, so a manifest holds no
machine paths and a project can move.

Stdlib only: the freshness check of every no-op build runs this for every sound of every episode.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from podpipe.errors import UsageError

_sound_hashes: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sound_sha256(path: Path) -> str:
    """Content hash of a sound file, computed once per process for a given (path, size, mtime)."""
    try:
        st = os.stat(path)
    except OSError:
        raise UsageError(f"{path}: sound file not found") from None
    key = (os.fspath(path), st.st_size, st.st_mtime_ns)
    if key not in _sound_hashes:
        _sound_hashes[key] = file_sha256(path)
    return _sound_hashes[key]


def relative(path: Path, base: Path) -> str:
    """``path`` relative to ``base``, with forward slashes."""
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(path).as_posix()
