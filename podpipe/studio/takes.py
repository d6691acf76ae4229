"""Every take of a segment that the cache holds, as the studio lists them: take review's own listing
(``podpipe.commands.review.request_takes``: the kept take of each take number and the takes review rejected
beside it, and which one the mix uses) for each request of the segment, and a line's status from the records.
Records only: no audio is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from podpipe.cache.takes import ACCEPTED, FLAGGED, PINNED, take_status
from podpipe.compile import CompiledEpisode, SpeechPiece
from podpipe.spec import Episode

CACHED, STALE, NOT_RENDERED, REROLLED = "cached", "stale", "not rendered", "re-rolled"  # a line's statuses,
# besides take review's own (flagged, pinned)


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


def list_takes(compiled: CompiledEpisode, store: Any,
               segment_ids: Sequence[str] | None = None) -> dict[str, list[Take]]:
    """Segment id -> every cached take of that spoken segment (of the given ones; None: all), by take number
    and then by request, each kept take followed by the takes rejected beside it; ``current`` marks what the
    episode uses now (the kept take of its ``take:``, or a rejected one its ``accept:`` names)."""
    from podpipe.commands.review import request_takes

    by_key = {r.key: r for r in compiled.requests}
    segments = {s.id: s for s in compiled.episode.segments
                if s.turns and (segment_ids is None or s.id in segment_ids)}
    found: dict[str, list[Take]] = {sid: [] for sid in segments}
    parts: dict[str, int] = {}
    for piece in compiled.rundown.pieces:
        if not isinstance(piece, SpeechPiece) or piece.segment_id not in segments:
            continue
        part = parts[piece.segment_id] = parts.get(piece.segment_id, -1) + 1
        request = by_key.get(piece.request_key)
        if request is None:
            continue
        for t in request_takes(request, store, segments[piece.segment_id].accept):
            found[piece.segment_id].append(Take(t.take_id, t.number, part, t.key, t.status, t.reasons,
                                                not t.kept, t.used, t.sha256))
    return {sid: sorted(takes, key=lambda t: (t.take, t.part)) for sid, takes in found.items()}


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
