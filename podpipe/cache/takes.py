"""How a cache entry's record describes its take: take review (``podpipe.review``) writes the ``review``
field, and the mix (the manifest), ``podpipe review`` and ``publish``'s gate read it through these. A take is
named by the start of its audio's sha256 (its take id); a rejected take is kept under a key of its own, and a
segment's ``accept:`` that names one picks it: the mix reads that entry instead of the request's own."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

ACCEPTED, FLAGGED, REJECTED, PINNED = "accepted", "flagged", "rejected", "pinned"
PICKED = "picked"  # a rejected take named by the segment's ``accept:``: the mix uses it instead of the kept one
MAX_RETAKES = 10  # the most re-rolls a request may get at once (``--retakes``, ``review: retakes``)
MAX_TAKES = 32  # the take numbers looked for beside a request (re-rolls of a cached take add to its takes)


def rejected_key(key: str, take: int) -> str:
    """Where rejected take ``take`` of request ``key`` is kept: a cache key of its own that no spec compiles
    to, so no mix ever reads it."""
    return hashlib.sha256(f"{key}:rejected-take:{take}".encode()).hexdigest()


def rejected_candidates(key: str) -> tuple[str, ...]:
    """Every key a rejected take of request ``key`` is looked for under (takes 1 .. MAX_TAKES): what to look
    at when the kept take's record, which lists them, is not at hand, and what pruning by specs keeps."""
    return tuple(rejected_key(key, n) for n in range(1, MAX_TAKES + 1))


TAKE_ID_LENGTH = 12  # hex digits of a take's audio sha256 that name it (``accept:`` takes 8 or more)


def take_id(meta: Mapping[str, Any]) -> str:
    """The id of the take an entry's record describes: the start of its audio's sha256."""
    return str(meta.get("sha256", ""))[:TAKE_ID_LENGTH]


def is_accepted(sha256: str, accept: Iterable[str]) -> bool:
    """Whether the take whose audio has ``sha256`` is among the take ids a spec accepts by ear."""
    return any(len(a) >= 8 and sha256.startswith(a) for a in accept)


def take_status(meta: Mapping[str, Any] | None, accept: Iterable[str] = ()) -> dict[str, Any] | None:
    """What a manifest and ``podpipe review`` say of the take an episode uses: its status (accepted, flagged,
    pinned: flagged but accepted by ear in the spec, or picked: a rejected take the spec's ``accept:`` names,
    with ``of``, the key of the request it is a take of), reasons, id and the rejected takes' keys; None when
    the take was never reviewed (cached before review existed)."""
    review = (meta or {}).get("review")
    if not isinstance(review, dict) or not isinstance(meta.get("sha256"), str):
        return None
    status = str(review.get("status"))
    picked = status == REJECTED and is_accepted(meta["sha256"], accept)
    if status == FLAGGED and is_accepted(meta["sha256"], accept):
        status = PINNED
    elif picked:
        status = PICKED
    out = {"status": status, "take": take_id(meta), "sha256": meta["sha256"],
           "reasons": list(review.get("reasons") or ()), "rejected": rejected_keys(meta)}
    if picked and isinstance(review.get("of"), str):
        out["of"] = review["of"]
    return out


def rejected_keys(meta: Mapping[str, Any] | None) -> list[str]:
    """The keys of the rejected takes a kept take's record lists (none for a rejected take's own record)."""
    review = (meta or {}).get("review")
    if not isinstance(review, dict):
        return []
    return [r["key"] for r in review.get("rejected") or [] if isinstance(r, dict) and isinstance(r.get("key"), str)]
