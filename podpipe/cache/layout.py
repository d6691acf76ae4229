"""Where the cache lives and what its files are called (cache format 1), decided in one place so the store
that writes the names and the maintenance that scans for them cannot disagree.

Layout of a ``FileStore``::

    <root>/CACHEDIR.TAG              the standard tag, so backup tools (borg, restic, tar --exclude-caches) skip us
    <root>/v1/<key[:2]>/<key>.wav    16-bit PCM WAV of the rendered audio
    <root>/v1/<key[:2]>/<key>.json   metadata; written last, so it is the commit record
    <root>/v1/<key[:2]>/<key>.analysis  the mix's figures of that audio (loudness per 10 ms, true peaks),
                                     bound to the WAV's sha256; optional, recomputed when missing or stale
    <root>/v1/.commit.lock           flock'd while an entry is committed or removed (see locks.commit_lock)
    <root>/v1/<key[:2]>/.<key>.lock  flock'd while one process renders that key (see FileStore.lock)

plus, while a file is being replaced, its temp file ``.<name>.<pid>-<thread>.<random>.tmp`` beside it (see
``podpipe.files.atomic``). The format version is part of the path so a future layout can live next to this
one. Keys become file names, which is why only sha256 hex digests are accepted as keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from podpipe.errors import UsageError

FORMAT = 1
ENV_VAR = "PODPIPE_CACHE_DIR"
DEFAULT_DIRNAME = ".podpipe-cache"
TAG_NAME = "CACHEDIR.TAG"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by podpipe.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/\n"
)
COMMIT_LOCK_NAME = ".commit.lock"
ANALYSIS_EXT = "analysis"
KEY_LOCK_SUFFIX = ".lock"

_HEX = frozenset("0123456789abcdef")


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


def is_fan(name: str) -> bool:
    """Whether ``name`` is one of the 256 ``<key[:2]>`` directories that spread entries out."""
    return len(name) == 2 and _HEX.issuperset(name)


def split_entry_name(name: str) -> tuple[str, str]:
    """``<key>.wav`` -> (key, "wav"); ("", "") for anything that is not an entry file name."""
    stem, dot, ext = name.rpartition(".")
    if dot and len(stem) == 64 and _HEX.issuperset(stem):
        return stem, ext
    return "", ""


def listdir_sorted(path: Path) -> list[str]:
    """Names in ``path``, sorted so scans are repeatable; none when it does not exist (yet)."""
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


# A shared remote cache in front of the local one (podpipe.cache.remote), chosen by URL and mode.
ENV_URL = "PODPIPE_REMOTE_CACHE"
ENV_MODE = "PODPIPE_REMOTE_CACHE_MODE"
ENV_TIMEOUT = "PODPIPE_REMOTE_CACHE_TIMEOUT"
