"""``build --shard K/N``: which episodes one of N parallel CI jobs builds.

Every machine computes the same split from the same specs: rendezvous hashing with bounded loads, weighted
by each episode's request count (its renders, the work that costs time and money).

- Each episode ranks the N shards by ``sha256(name, shard)`` (its name is its spec path relative to the
  project root, with forward slashes): its rendezvous order, the same on every machine.
- Episodes are placed heaviest first (ties by name); each goes to the first shard in its order whose load
  stays within ``max(heaviest episode, (1 + SLACK) * total / N)``, else to the least loaded shard.

The trade-off: plain hashing (``hash mod N``) never moves an episode when others are added, but it leaves
shards idle or doubled up (three episodes on four shards put two on one shard half the time). The bound
spreads work evenly (no shard carries more than its share plus ``SLACK``, or one episode), at the price of
stability: adding an episode changes the total and the placing order, so a few episodes may move to another
shard (most keep theirs, because each still prefers its own rendezvous order). A moved episode costs nothing
with a shared remote cache: its renders are found there. Changing N moves episodes as before. Measured on
40 episodes of 2 to 30 requests over 4 shards (20 random sets): the busiest shard carries at most 1.10 times
the mean (plain hashing: up to about 1.25 and more, with idle shards when there are few episodes), and adding
5 episodes moves 3.4 of the 40 on average (plain hashing: none).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from podpipe.errors import UsageError

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
SLACK = 0.1  # how far above an even share a shard's load may go before an episode looks further


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` → (2, 4); shards count from 1, as CI matrix jobs do."""
    m = _SHARD.fullmatch(text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise UsageError(f"--shard {text!r}: write K/N with 1 <= K <= N, e.g. --shard 1/4 (K counts from 1)")
    return int(m.group(1)), int(m.group(2))


def spec_name(path: str | os.PathLike, root: Path | None = None) -> str:
    """An episode's identity for sharding: its spec path relative to the root (absolute when outside)."""
    root = Path(root or os.getcwd()).resolve()
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:  # outside the root (--allow-outside-root): the absolute path is its identity
        return absolute.as_posix()


def _score(name: str, shard: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{name}\0{shard}".encode()).digest()[:8], "big")


def assign(weights: Mapping[str, float], count: int) -> dict[str, int]:
    """Each name's shard (1..count) for work ``weights`` (name → requests; at least 1 each)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    work = {name: max(1.0, float(w)) for name, w in weights.items()}
    if not work:
        return {}
    cap = max(max(work.values()), (1 + SLACK) * sum(work.values()) / count)
    load = [0.0] * (count + 1)
    placed = {}
    for name in sorted(work, key=lambda n: (-work[n], n)):
        ranking = sorted(range(1, count + 1), key=lambda s: _score(name, s), reverse=True)
        shard = next((s for s in ranking if load[s] + work[name] <= cap + 1e-9), None)
        if shard is None:
            shard = min(ranking, key=lambda s: load[s])  # ties: the earlier in its own order
        load[shard] += work[name]
        placed[name] = shard
    return placed


def select(paths: Sequence[str | os.PathLike], shard: tuple[int, int], root: Path | None = None,
           weights: Mapping[str | os.PathLike, float] | None = None) -> list:
    """The paths of ``paths`` that shard ``K/N`` builds, in the order given. ``weights``: path → request
    count (default: 1 each)."""
    k, n = shard
    names = {spec_name(p, root): p for p in paths}
    given = {spec_name(p, root): w for p, w in (weights or {}).items()}
    placed = assign({name: given.get(name, 1.0) for name in names}, n)
    return [p for p in paths if placed[spec_name(p, root)] == k]


def request_counts(paths: Sequence[str | os.PathLike], backend: str | None = None,
                   allow_outside: bool = False) -> dict[str | os.PathLike, int]:
    """Each spec's number of distinct requests (what ``select`` weighs), by loading and compiling them all:
    every shard sees the same specs and so computes the same split."""
    from podpipe.commands.build import BuildOptions, prepare

    prepared = prepare(paths, BuildOptions(backend=backend, allow_outside=allow_outside, remote_mode="off"))
    by_path = {c.episode.path.resolve(): len({r.key for r in c.requests}) for c in prepared.episodes}
    return {p: by_path.get(Path(p).resolve(), 1) for p in paths}
