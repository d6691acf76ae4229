"""``build --shard K/N``: which episodes one of N parallel CI jobs builds.

An episode belongs to shard ``sha256(path) mod N`` (its spec path relative to the project root, with forward
slashes), so the split is the same on every machine and an episode keeps its shard when others are added or
removed; only changing N moves episodes. With a shared remote cache, a render that episodes on two shards
have in common is paid for once.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

from podpipe.errors import UsageError

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` → (2, 4); shards count from 1, as CI matrix jobs do."""
    m = _SHARD.fullmatch(text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise UsageError(f"--shard {text!r}: write K/N with 1 <= K <= N, e.g. --shard 1/4 (K counts from 1)")
    return int(m.group(1)), int(m.group(2))


def shard_of(path: str | os.PathLike, count: int, root: Path | None = None) -> int:
    """The shard (1..count) the spec at ``path`` belongs to."""
    root = Path(root or os.getcwd()).resolve()
    absolute = Path(os.path.abspath(path))
    try:
        name = absolute.relative_to(root).as_posix()
    except ValueError:  # outside the root (--allow-outside-root): the absolute path is its identity
        name = absolute.as_posix()
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % count + 1


def select(paths: Sequence[str | os.PathLike], shard: tuple[int, int], root: Path | None = None) -> list:
    """The paths of ``paths`` that shard ``K/N`` builds, in the order given."""
    k, n = shard
    return [p for p in paths if shard_of(p, n, root) == k]
