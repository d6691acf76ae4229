"""Finished episodes shared through the remote cache, under the same lease protocol as renders: a stale
episode another machine already mixed is downloaded rather than mixed again; for the others the machine
that holds an output's lease is the one that uploads it, so each finished episode is uploaded once."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from podpipe.commands.results import EpisodeStatus
from podpipe.compile import CompiledEpisode
from podpipe.errors import PodpipeError

if TYPE_CHECKING:
    from podpipe.cache.remote import RemoteCache


def output_key(digest: str, output: Path) -> str:
    """Where a finished output lives in the remote cache: its mix inputs and its file name (which names
    the sidecars too), so a download writes exactly the files this build would write."""
    return hashlib.sha256(f"{digest}\0{output.name}".encode()).hexdigest()


def claim_outputs(remote: RemoteCache, stale: Sequence[CompiledEpisode], *,
                   fetch: bool = True) -> tuple[dict[Path, EpisodeStatus], dict[str, object]]:
    """Finished outputs under the renders' lease protocol: a stale episode another machine already mixed
    is downloaded, not mixed again; for the others this machine takes the output's lease (then re-checks)
    and, holding it, is the one that uploads it (``share_output``). An output whose lease another machine
    holds is mixed here from the shared renders but not uploaded: one upload per finished episode. Nobody
    waits for an output's lease, so two machines each holding one never wait for each other. ``fetch``
    False (``--force``): mix everything here, and upload what the remote lacks."""
    from podpipe.mix import inputs_digest, is_up_to_date

    fetched: dict[Path, EpisodeStatus] = {}
    leases: dict[str, object] = {}  # output key -> the lease held, or "upload" (no leases here: upload anyway)
    for compiled in stale:
        try:
            key = output_key(inputs_digest(compiled), compiled.rundown.output)
        except PodpipeError:  # e.g. a sound file is gone: the mix will say so
            continue
        for _ in range(2):
            got = remote.get_output(key, compiled.rundown.output.parent) if fetch else None
            if got is not None and is_up_to_date(compiled):
                duration = (got.meta or {}).get("duration")
                fetched[compiled.episode.path] = EpisodeStatus(compiled, "built", "from the remote cache",
                                                               output=compiled.rundown.output, duration=duration)
                break
            state, held = remote.claim_output(key)
            if state != "found" or not fetch:  # found: another machine finished it between look and lease
                if state in ("held", "none"):
                    leases[key] = held if held is not None else "upload"
                break
    return fetched, leases


@contextlib.contextmanager
def releasing(remote: RemoteCache | None, leases: dict[str, object]):
    try:
        yield
    finally:
        for held in list(leases.values()):
            if remote is not None and not isinstance(held, str):
                remote.release(held)
        leases.clear()


def share_output(remote: RemoteCache, status: EpisodeStatus, leases: dict[str, object]) -> None:
    """Upload a freshly mixed output and its sidecars for the next machine, when this machine holds its
    lease (or the store has none); then release it. A fault only costs the upload."""
    mixed = status.mixed
    key = output_key(mixed.inputs_digest, mixed.output)
    held = leases.pop(key, None)
    if held is None:
        return  # another machine holds it: that one uploads
    try:
        files = {p.name: p for p in (mixed.output, mixed.manifest, *mixed.sidecars)}
        remote.put_output(key, files, {"duration": mixed.duration})
    finally:
        if not isinstance(held, str):
            remote.release(held)
