"""Every take of a segment that the cache holds: the kept take of each take number, and the takes review
rejected beside it.

A take number is part of a request's cache key, so the keys of take ``n`` of a segment are computed by
compiling the episode with that segment's ``take:`` set to ``n`` (``compile_for``, exactly as a build would):
whatever the cache holds under those keys is that take; the rejected takes are listed in its record
(``review.rejected``, stored under ``rejected_key``). Records only: no audio is read.

(Take review's own listing of a segment's takes is being added to ``podpipe.cache.takes``/``podpipe.review``;
this module is the studio's until then.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from podpipe.cache.takes import ACCEPTED, FLAGGED, PINNED, REJECTED, is_accepted, take_id, take_status
from podpipe.compile import CompiledEpisode, SpeechPiece
from podpipe.spec import Episode

CACHED, STALE, NOT_RENDERED, REROLLED = "cached", "stale", "not rendered", "re-rolled"  # a line's statuses,
# besides take review's own (flagged, pinned)
SCAN_AHEAD = 64  # take numbers past the written one that are looked at: the studio adds them one at a time


@dataclass(frozen=True)
class Take:
    id: str  # the take id (start of its audio's sha256), what ``accept:`` names
    take: int  # the take number it was rendered as (``take:`` in the spec)
    part: int  # which request of the segment (0: the first; long lines and dialogues may have several)
    key: str  # its cache key (a rejected take's own key)
    status: str  # accepted, flagged, pinned (flagged, accepted in the spec), rejected, or unreviewed
    reasons: tuple[str, ...]
    rejected: bool  # review rejected it (kept beside the take it lost to)
    current: bool = False  # the take the episode uses now
    sha256: str = ""  # its audio's whole sha256

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "take": self.take, "part": self.part, "status": self.status,
                "reasons": list(self.reasons), "current": self.current, "rejected": self.rejected}


def with_take(episode: Episode, segment_ids: Sequence[str] | None, take: int) -> Episode:
    """``episode`` with the ``take:`` of the given spoken segments (None: all of them) set to ``take``."""
    wanted = None if segment_ids is None else set(segment_ids)
    return replace(episode, segments=tuple(
        replace(s, take=take) if s.turns and (wanted is None or s.id in wanted) else s for s in episode.segments))


def segment_keys(compiled: CompiledEpisode) -> dict[str, list[str]]:
    """Segment id -> the cache keys of its requests, in order."""
    out: dict[str, list[str]] = {}
    for piece in compiled.rundown.pieces:
        if isinstance(piece, SpeechPiece):
            out.setdefault(piece.segment_id, []).append(piece.key)
    return out


def _kept(store: Any, key: str, number: int, part: int, accept: Sequence[str]) -> list[Take]:
    meta = store.meta(key)
    if meta is None or not store.has(key):
        return []
    status = take_status(meta, accept)
    review = meta.get("review") if isinstance(meta.get("review"), dict) else {}
    kept = Take(take_id(meta), number, part, key, status["status"] if status else "unreviewed",
                tuple(review.get("reasons") or ()), False, sha256=str(meta.get("sha256", "")))
    out = [kept]
    for entry in review.get("rejected") or ():
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            continue
        rmeta = store.meta(entry["key"])
        if rmeta is None or not store.has(entry["key"]):
            continue
        out.append(Take(take_id(rmeta), number, part, entry["key"], REJECTED, tuple(entry.get("reasons") or ()),
                        True, sha256=str(rmeta.get("sha256", ""))))
    return out


def list_takes(episode: Episode, compile_for: Callable[[Episode], CompiledEpisode], store: Any,
               segment_ids: Sequence[str] | None = None) -> dict[str, list[Take]]:
    """Segment id -> every cached take of that spoken segment (of the given ones; None: all), by take number,
    each kept take followed by the takes rejected beside it; ``current`` marks what the episode uses now (the
    kept take of its ``take:``, or a rejected one its ``accept:`` names)."""
    segments = {s.id: s for s in episode.segments if s.turns and (segment_ids is None or s.id in segment_ids)}
    found: dict[str, list[Take]] = {sid: [] for sid in segments}
    highest = max((s.take for s in segments.values()), default=1)
    number = 1
    while number <= highest + SCAN_AHEAD:
        keys = segment_keys(compile_for(with_take(episode, list(segments), number)))
        hit = False
        for sid, segment in segments.items():
            for part, key in enumerate(keys.get(sid, ())):
                takes = _kept(store, key, number, part, segment.accept)
                hit = hit or bool(takes)
                found[sid] += takes
        if not hit and number >= highest:
            break
        number += 1
    for sid, takes in found.items():
        found[sid] = _mark_current(takes, segments[sid].take, segments[sid].accept)
    return found


def _mark_current(takes: list[Take], number: int, accept: Sequence[str]) -> list[Take]:
    out = []
    parts = {t.part for t in takes if t.take == number}
    chosen: dict[int, str] = {}
    for part in parts:
        mine = [t for t in takes if t.take == number and t.part == part]
        kept = [t for t in mine if not t.rejected]
        picked = [t for t in mine if t.rejected and is_accepted(t.sha256, accept)]
        if kept and is_accepted(kept[0].sha256, accept):
            picked = []  # the kept take itself is accepted (a rejected one may sound the same)
        chosen[part] = (picked or kept or mine)[0].key
    for t in takes:
        out.append(replace(t, current=chosen.get(t.part) == t.key and t.take == number))
    return out


def next_take(takes: Sequence[Take], written: int) -> int:
    """The next unused take number of a segment: the written one while the cache lacks it (a line whose text
    changed), else one past the highest cached or written."""
    if not any(t.take == written and not t.rejected for t in takes):
        return written
    return max([written, *(t.take for t in takes)]) + 1


def line_status(keys: Sequence[str], store: Any, accept: Sequence[str],
                built_keys: Sequence[str] | None) -> tuple[str, tuple[str, ...], list]:
    """(status, reasons, scores) of a spoken segment whose requests have ``keys``: ``not rendered`` or
    ``stale`` (not cached; stale when the last build used other renders for it), else from take review:
    ``flagged``, ``pinned``, any other status review gives the take used, ``re-rolled`` (a take was
    rejected) or ``cached``; the first of these any of its requests has."""
    if not keys or not all(store.has(k) for k in keys):
        return (STALE if built_keys and list(built_keys) != list(keys) else NOT_RENDERED), (), []
    reasons: list[str] = []
    scores: list = []
    found: list[str] = []
    for key in keys:
        meta = store.meta(key) or {}
        status = take_status(meta, accept)
        review = meta.get("review") if isinstance(meta.get("review"), dict) else {}
        scores += [c for c in review.get("checks") or () if isinstance(c, dict)]
        if status is None:
            continue
        if status["status"] != ACCEPTED:  # flagged, pinned, or whatever take review says of a picked take
            reasons += list(review.get("reasons") or ())
            found.append(status["status"])
        elif status["rejected"]:
            reasons += [r for entry in review.get("rejected") or () if isinstance(entry, dict)
                        for r in entry.get("reasons") or ()]
            found.append(REROLLED)
    order = [FLAGGED, PINNED, *(s for s in found if s not in (FLAGGED, PINNED, REROLLED)), REROLLED]
    state = next((s for s in order if s in found), CACHED)
    return state, tuple(dict.fromkeys(reasons)), scores

__all__ = ["Take", "line_status", "list_takes", "next_take", "segment_keys", "with_take"]
