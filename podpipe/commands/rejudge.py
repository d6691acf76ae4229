"""``build --review-cached``: the kept takes of a build's requests judged again, by the review of now.

Take review's verdict is stored with each take, so thresholds tuned later (a ``review:`` section) or a newer
review apply only to takes rendered from then on, unless a build asks for this. Each kept take in the local
cache is judged again from the measures stored with it (no audio is read; a take cached before review had
any is measured once, and its measures stored), and its record updated: a take that fails now is flagged, a
flagged take that passes now is cleared. Nothing is rendered, unless the build also says ``--retakes N``:
then a take that passed before and fails now is re-rolled (a new request, counted like any render), the old
take kept beside it as rejected. A take that was already flagged is not re-rolled again, and neither is one
the spec accepts by ear. Episodes whose takes changed are mixed again, so their manifests (and ``publish``'s
gate) say what the cache says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podpipe.cache.takes import ACCEPTED, FLAGGED, is_accepted, rejected_key
from podpipe.commands.results import Rejudged
from podpipe.compile import CompiledEpisode, RenderRequest, SpeechPiece

if TYPE_CHECKING:
    from podpipe.cache import FileStore, Store
    from podpipe.mix.freshness import Freshness
    from podpipe.review import Reviewer


def review_cached(requests: Sequence[RenderRequest], store: FileStore, reviewer: Reviewer, *, reroll: bool,
                  accepted: Mapping[str, Sequence[str]]) -> tuple[Rejudged, dict[str, dict[int, list[str]]]]:
    """Judge the kept take of each of ``requests`` in ``store`` again and store the verdicts; with ``reroll``,
    set each take that passed before and fails now aside as rejected, to be rendered again. ``accepted``:
    per key, the take ids the spec accepts by ear (never re-rolled). Returns what was done and, per re-rolled
    key, the takes set aside (take number -> reasons), for the render (``Reviewer(earlier=...)``)."""
    from podpipe.review.reviewer import REVIEW_VERSION

    judged = measured = 0
    flagged: list[str] = []
    cleared: list[str] = []
    earlier: dict[str, dict[int, list[str]]] = {}
    for request in requests:
        meta = store.meta(request.key)
        if meta is None:
            continue
        review = meta.get("review") if isinstance(meta.get("review"), dict) else None
        verdict = _verdict(request, review, store, reviewer)
        if verdict is None:
            continue
        judged += 1
        measured += verdict.figures is not None
        before = review.get("status") if review else None
        after = ACCEPTED if verdict.ok else FLAGGED
        updated = {"take": 1, "rejected": [], **(review or {}), **verdict.to_record(), "status": after,
                   "version": REVIEW_VERSION}
        if updated != review:
            store.update_meta(request.key, {"review": updated})
        if before == FLAGGED and verdict.ok:
            cleared.append(request.key)
        elif before != FLAGGED and not verdict.ok:
            flagged.append(request.key)
            if reroll and not is_accepted(meta["sha256"], accepted.get(request.key, ())):
                earlier[request.key] = _set_aside(request, meta, updated, verdict, store)
    return Rejudged(judged, measured, tuple(flagged), tuple(cleared), tuple(earlier)), earlier


def _verdict(request: RenderRequest, review: Mapping[str, Any] | None, store: FileStore, reviewer: Reviewer):
    """The verdict on the cached take of ``request`` by the review of now: from its stored measures, else
    measured from its audio (then ``figures`` is set, and the mix's figures are stored beside it)."""
    from podpipe.review import Measures, measure

    measures = Measures.from_record(review.get("measures")) if review else None
    if measures is not None:
        return reviewer.rejudge(request, measures)
    audio = store.get(request.key)
    if audio is None:
        return None  # damaged: the next build that needs it renders it again
    measures, figures = measure(audio)
    verdict = reviewer.rejudge(request, measures, figures)
    if store.analysis(request.key) is None and (analysis := reviewer.analysis(verdict)) is not None:
        store.put_analysis(request.key, analysis)
    return verdict


def _set_aside(request: RenderRequest, meta: Mapping[str, Any], review: Mapping[str, Any], verdict: Any,
               store: FileStore) -> dict[int, list[str]]:
    """Keep the kept take of ``request`` as a rejected take (under its own take number) before it is rendered
    again; the takes of the request set aside so far (number -> reasons)."""
    from podpipe.review import Reviewer

    number = int(review.get("take") or 1)
    aside = rejected_key(request.key, number)
    audio = store.get(request.key)
    if audio is not None and store.meta(aside) is None:
        store.put(aside, audio, {"request": meta.get("request"),
                                 "review": Reviewer.rejected_record(request.key, number, verdict)})
        if (analysis := store.analysis(request.key)) is not None:
            store.put_analysis(aside, analysis)
    out = {int(r["take"]): list(r.get("reasons") or ()) for r in review.get("rejected") or []
           if isinstance(r, dict) and isinstance(r.get("take"), int)}
    out[number] = list(verdict.reasons)
    return dict(sorted(out.items()))


def rejudge_build(backend: str, episodes: Sequence[CompiledEpisode], requests: Sequence[RenderRequest],
                  store: Store, local: FileStore, retakes: int | None, states: Mapping[Path, Freshness]
                  ) -> tuple[Rejudged, dict[str, dict[int, list[str]]], dict[Path, Freshness]]:
    """``review_cached`` for a build of ``episodes`` (its ``requests``, the takes in ``local``): judged by the
    review the build's renders get (``store`` is what it learns the voices from), re-rolls only with
    ``retakes`` given; and the episodes' ``states`` with those whose takes changed made stale (``restale``)."""
    from podpipe import backends
    from podpipe.commands.review import reviewer_for

    reviewer = reviewer_for(backends.backend_class(backend), store, episodes)
    accepted = {p.key: p.accept for c in episodes for p in c.rundown.pieces if isinstance(p, SpeechPiece)}
    done, earlier = review_cached(requests, local, reviewer, reroll=bool(retakes), accepted=accepted)
    return done, earlier, restale(states, episodes, done)


def restale(states: Mapping[Path, Freshness], episodes: Sequence[CompiledEpisode],
            done: Rejudged) -> dict[Path, Freshness]:
    """``states`` with every episode that uses a take whose verdict changed made stale (mixed again, so its
    manifest says so) and the re-rolled ones listed as missing (rendered first)."""
    out = dict(states)
    for compiled in episodes:
        keys = [p.key for p in compiled.rundown.pieces if isinstance(p, SpeechPiece)]
        if not done.changed.intersection(keys):
            continue
        state = out[compiled.episode.path]
        missing = tuple(dict.fromkeys((*state.missing, *(k for k in keys if k in done.rerolled))))
        out[compiled.episode.path] = replace(state, reasons=(*state.reasons, "take review of cached takes changed"),
                                             missing=missing)
    return out


__all__ = ["Rejudged", "rejudge_build", "restale", "review_cached"]
