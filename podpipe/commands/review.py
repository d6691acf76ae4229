"""Take review for a build, and the lines it flagged: ``podpipe review SPECS`` and ``build --strict``.

``reviewer_for`` gives the render stage its ``podpipe.review.Reviewer`` (the backend's prior speaking rate,
the cache's accepted takes to learn each voice from, ``--retakes``). ``review_lines`` reads, for every spoken
line of the episodes, the verdict stored with its take (records only: no audio is read, nothing is
re-rendered) and returns the lines a person should listen to: flagged (no take passed review) or re-rolled
(a take was rejected), with their position in the episode, the reasons and the files of every take.

``request_takes`` lists every take of a request the cache holds (each take number's kept take and the takes
review rejected beside it), with what the spec needs to use each; ``pick_takes`` applies a segment's
``accept:`` that names a rejected take, so the mix reads that take instead of the kept one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podpipe.cache.takes import (FLAGGED, PICKED, PINNED, REJECTED, is_accepted, rejected_candidates, rejected_keys,
                                 take_id)
from podpipe.compile import CompiledEpisode, RenderRequest, SilencePiece, SpeechPiece, cache_key, request_material
from podpipe.errors import Diagnostic, SpecError

if TYPE_CHECKING:
    from podpipe.backends.base import Backend
    from podpipe.cache import FileStore, Store
    from podpipe.review import Reviewer


def reviewer_for(cls: type[Backend], store: Store, episodes: Sequence[CompiledEpisode],
                 retakes: int | None = None,
                 earlier: Mapping[str, Mapping[int, Sequence[str]]] | None = None) -> Reviewer:
    """A reviewer for the requests of ``episodes``: each held to the ``review:`` of the first episode that
    uses it (the show's and the episode's thresholds, then those of its voices); ``retakes`` (build
    --retakes) over the spec's. ``earlier``: cached takes re-rolled (``build --review-cached``), per key the
    takes set aside; rendering such a key is its first re-roll, so it gets one fewer after it."""
    from podpipe.review import DEFAULT_RETAKES, Reviewer, Thresholds, stored_reviews

    settings = {}
    for compiled in episodes:
        for request in compiled.requests:
            settings.setdefault(request.key, compiled.episode.review)

    def thresholds(request: RenderRequest) -> Thresholds:
        found = settings.get(request.key)
        if found is None:
            return Thresholds()
        limits = Thresholds().updated(dict(found.thresholds))
        voices = dict(found.voices)
        for voice in dict.fromkeys(t.voice for t in request.turns):
            limits = limits.updated(dict(voices.get(voice, ())))
        return limits

    def retakes_for(request: RenderRequest) -> int:
        if retakes is not None:
            return max(0, retakes - 1) if request.key in (earlier or {}) else retakes
        found = settings.get(request.key)
        return DEFAULT_RETAKES if found is None or found.retakes is None else found.retakes

    return Reviewer(prior_rate=lambda request: cls.speaking_rate(request.model, request.language),
                    thresholds=thresholds, retakes=retakes_for, accepted=lambda: stored_reviews(store),
                    earlier={k: dict(v) for k, v in (earlier or {}).items()})


@dataclass(frozen=True)
class ReviewedLine:
    episode: Path  # the spec
    segment_id: str
    speaker: str
    text: str
    start: float | None  # seconds into the episode (None: not known, e.g. a take is missing)
    status: str  # "flagged" (no take passed: the best is used), "pinned" (flagged, accepted in the spec),
    # "picked" (a rejected take the spec's accept: names is used) or "accepted" (after re-rolls)
    reasons: tuple[str, ...]  # the used take's reasons when flagged or picked, else the rejected takes'
    takes: tuple[Path, ...]  # the used take's file first, then the request's other takes'
    key: str  # the request's key
    take: str  # the id of the take the episode uses, what a spec's ``accept:`` names
    choices: tuple[CachedTake, ...] = ()  # the request's takes, as ``takes`` lists them: ids, statuses, reasons

    @property
    def flagged(self) -> bool:
        return self.status == "flagged"

    @property
    def position(self) -> str:
        if self.start is None:
            return "--:--"
        minutes, seconds = divmod(int(self.start), 60)
        return f"{minutes:02d}:{seconds:02d}"

    def to_record(self) -> dict[str, Any]:
        return {"episode": str(self.episode), "segment_id": self.segment_id, "speaker": self.speaker,
                "text": self.text, "start": self.start, "position": self.position, "status": self.status,
                "reasons": list(self.reasons), "takes": [str(p) for p in self.takes], "key": self.key, "take": self.take,
                "choices": [t.to_record() for t in self.choices]}


def review_lines(episodes: Sequence[CompiledEpisode], store: FileStore, *,
                 flagged_only: bool = False) -> list[ReviewedLine]:
    """Every flagged or re-rolled line of ``episodes``, in episode order (``flagged_only``: flagged ones)."""
    out: list[ReviewedLine] = []
    for compiled in episodes:
        by_key = {r.key: r for r in compiled.requests}
        start: float | None = 0.0
        for piece in compiled.rundown.pieces:
            here = start
            if isinstance(piece, SilencePiece):
                start = None if start is None else start + piece.seconds
                continue
            if not isinstance(piece, SpeechPiece):
                start = None  # a sound's length is the mix's to know
                continue
            meta = store.meta(piece.key)
            start = None if (start is None or meta is None) else start + float(meta.get("duration") or 0.0)
            line = _line(compiled, piece, by_key.get(piece.request_key), meta, here, store)
            if line is not None and (line.flagged or not flagged_only):
                out.append(line)
    return out


def _line(compiled: CompiledEpisode, piece: SpeechPiece, request: RenderRequest | None,
          meta: dict[str, Any] | None, start: float | None, store: FileStore) -> ReviewedLine | None:
    from podpipe.cache.takes import take_status

    status = take_status(meta, piece.accept)
    if status is None or (status["status"] not in (FLAGGED, PICKED) and not status["rejected"]):
        return None
    review = meta["review"]
    if status["status"] != "accepted":
        reasons = tuple(review.get("reasons") or ())
    else:
        reasons = tuple(reason for r in review.get("rejected") or [] if isinstance(r, dict)
                        for reason in r.get("reasons") or ())
    choices: tuple[CachedTake, ...] = ()
    if request is not None:
        choices = tuple(sorted(request_takes(request, store, piece.accept, numbers=(request.take,)),
                               key=lambda t: not t.used))
        paths = tuple(t.path for t in choices)
    else:
        paths = (store.entry_paths(piece.key)[0], *(store.entry_paths(key)[0] for key in status["rejected"]))
    turn = piece.turns[0]
    return ReviewedLine(compiled.episode.path, piece.segment_id, turn.speaker, turn.shown, start,
                        status["status"], reasons, paths, piece.request_key, status["take"], choices)


def flagged_outputs(specs: Sequence[str | Path], *, root: Path | None = None,
                    allow_outside: bool = False) -> list[str]:
    """The flagged lines of the built episodes of ``specs``, read from their manifests (what the mix recorded
    of each take) and cleared by the specs' ``accept:`` as they are now: one line of text each. For the
    publish gate: it needs neither the cache nor a backend."""
    from podpipe.mix import ManifestError, read_manifest
    from podpipe.spec import load_episodes

    out = []
    for episode in load_episodes(specs, root=root, allow_outside=allow_outside).episodes:
        try:
            manifest = read_manifest(episode.output.path)
        except ManifestError:
            continue  # not built: the feed decides what an unbuilt episode means
        accepted = {segment.id: segment.accept for segment in episode.segments}
        for piece in manifest.get("pieces", []):
            review = piece.get("review") if isinstance(piece, dict) else None
            if not isinstance(review, dict) or review.get("status") != FLAGGED:
                continue
            if is_accepted(str(review.get("sha256", "")), accepted.get(piece.get("segment_id"), ())):
                continue
            start = float(piece.get("start") or 0.0)
            out.append(f"  {episode.path.name} {int(start) // 60:02d}:{int(start) % 60:02d} "
                       f"{piece.get('segment_id')} take {review.get('take')} ({', '.join(review.get('reasons') or ())})")
    return out


def flag_message(lines: Sequence[ReviewedLine]) -> str:
    flagged = [line for line in lines if line.flagged]
    out = [f"{len(flagged)} line{'s' if len(flagged) != 1 else ''} failed take review on every take "
           "(the best take is in the episode, flagged). Listen to it: accept it with `accept: <take id>` on "
           "its segment, or re-roll it with a new `take:`"]
    out += [format_line(line) for line in flagged]
    return "\n".join(out)


def format_line(line: ReviewedLine) -> str:
    text = line.text if len(line.text) <= 48 else line.text[:47] + "…"
    if line.choices:  # each take's id (what accept: names), status and reasons, then its file
        takes = "\n".join(f"      {t.take_id} {t.status}{' (' + ', '.join(t.reasons) + ')' if t.reasons else ''} "
                          f"{t.path}" for t in line.choices)
    else:
        takes = "\n".join(f"      {p}" for p in line.takes)
    return (f"  {line.episode.name} {line.position} {line.segment_id} take {line.take} ({line.status}: "
            f"{', '.join(line.reasons) or 'no reason recorded'}) {line.speaker}: {text}\n{takes}")


@dataclass(frozen=True)
class CachedTake:
    """One take of a request held by the cache, for choosing among them by ear (``podpipe review``, the studio)."""

    key: str  # the cache entry holding its audio
    request_key: str  # the key of the request it is a take of (the request with take number ``number``)
    number: int  # the take number (the segment's ``take:``) it was rendered for
    attempt: int | None  # which take of that request it was (1: the first sent, then its re-rolls); None: unknown
    take_id: str  # what ``accept:`` names
    sha256: str
    status: str  # accepted, flagged or rejected as review stored it, pinned or picked by the spec's accept:,
    # "unreviewed" (cached before take review)
    reasons: tuple[str, ...]  # why review failed it
    checks: tuple[Mapping[str, Any], ...]  # every check's result: check, ok, reason, score, threshold
    kept: bool  # stored under the request's own key (rejected takes are kept beside it)
    used: bool  # the take the episode's mix uses now
    path: Path  # its WAV
    duration: float  # seconds

    @property
    def choose(self) -> dict[str, Any]:
        """What the segment needs to use this take: ``take:`` and, for a rejected or flagged take, ``accept:``
        (None: nothing to accept)."""
        return {"take": self.number, "accept": None if self.kept and self.status == "accepted" else self.take_id}

    def to_record(self) -> dict[str, Any]:
        return {"key": self.key, "request_key": self.request_key, "number": self.number, "attempt": self.attempt,
                "take_id": self.take_id, "sha256": self.sha256, "status": self.status, "reasons": list(self.reasons),
                "checks": [dict(c) for c in self.checks], "kept": self.kept, "used": self.used, "path": str(self.path),
                "duration": self.duration, "choose": self.choose}


def _entries(key: str, store: Store) -> list[tuple[str, dict[str, Any]]]:
    """``(key, record)`` of request ``key``'s takes in ``store``: the kept take first (when cached), then the
    rejected ones (those its record lists; every possible one when it is not cached)."""
    meta = store.meta(key)
    found = [(key, meta)] if meta is not None else []
    for rejected in rejected_keys(meta) if meta is not None else rejected_candidates(key):
        if (record := store.meta(rejected)) is not None:
            found.append((rejected, record))
    return found


def _chosen(entries: Sequence[tuple[str, Mapping[str, Any]]], accept: Sequence[str]) -> list[str]:
    """The keys of ``entries`` that ``accept`` names, in the order of ``accept`` (the first is used). Takes
    with the same audio are one take (a backend may answer a re-roll with the same audio): the first entry."""
    out: list[str] = []
    seen: set[str] = set()
    for given in accept:
        for key, meta in entries:
            sha256 = str(meta.get("sha256", ""))
            if is_accepted(sha256, (given,)) and sha256 not in seen:
                seen.add(sha256)
                out.append(key)
    return out


def request_takes(request: RenderRequest, store: FileStore, accept: Sequence[str] = (),
                  numbers: Sequence[int] | None = None) -> list[CachedTake]:
    """Every take of ``request`` in ``store``: for each take number (``numbers``; default 1 up to the
    request's own, and on past it while one is cached), the kept take and the takes review rejected beside
    it, in that order. ``accept`` (the segment's ``accept:``) decides which take of the request's own number
    the mix uses: the first it names, else the kept one. Records only: no audio is read."""
    if numbers is None:
        numbers = list(range(1, request.take + 1))
        while store.has(_numbered(request, numbers[-1] + 1)):
            numbers.append(numbers[-1] + 1)
    out: list[CachedTake] = []
    for number in numbers:
        key = request.key if number == request.take else _numbered(request, number)
        entries = _entries(key, store)
        chosen = _chosen(entries, accept) if number == request.take else []
        used = (chosen[0] if chosen else key) if number == request.take else None
        for entry, meta in entries:
            out.append(_cached_take(entry, meta, key, number, entry == key, entry == used, accept, store))
    return out


def _numbered(request: RenderRequest, number: int) -> str:
    return cache_key({**request_material(request), "take": number})


def _cached_take(key: str, meta: Mapping[str, Any], request_key: str, number: int, kept: bool, used: bool,
                 accept: Sequence[str], store: FileStore) -> CachedTake:
    review = meta.get("review") if isinstance(meta.get("review"), dict) else {}
    status = str(review.get("status") or "unreviewed")
    if used and status == FLAGGED and is_accepted(str(meta.get("sha256")), accept):
        status = PINNED
    elif used and status == REJECTED:
        status = PICKED
    attempt = review.get("take")
    return CachedTake(key, request_key, number, attempt if isinstance(attempt, int) else None, take_id(meta),
                      str(meta.get("sha256", "")), status, tuple(review.get("reasons") or ()),
                      tuple(c for c in review.get("checks") or () if isinstance(c, dict)), kept, used,
                      store.entry_paths(key)[0], float(meta.get("duration") or 0.0))


def pick_takes(compiled: CompiledEpisode, store: Store) -> tuple[CompiledEpisode, tuple[Diagnostic, ...]]:
    """``compiled`` with every piece whose segment's ``accept:`` names a rejected take of its request reading
    that take (``SpeechPiece.picked_from``), and a warning for each id that names no take of its segment the
    cache holds, or a second take of one request. Only segments with ``accept:`` are looked at (a record read
    or two each), and an id is judged only once its request is cached: before a request is rendered, no id
    can name one of its takes."""
    from podpipe.commands.results import shown_path

    pieces = list(compiled.rundown.pieces)
    by_segment: dict[int, list[int]] = {}
    for i, piece in enumerate(pieces):
        if isinstance(piece, SpeechPiece) and piece.accept:
            by_segment.setdefault(piece.segment_index, []).append(i)
    warnings: list[Diagnostic] = []
    for index, positions in by_segment.items():
        segment = compiled.episode.segments[index]
        named: set[str] = set()
        judged = False
        for i in positions:
            piece = pieces[i]
            entries = _entries(piece.key, store)
            judged = judged or bool(entries)
            ids = {key: take_id(meta) for key, meta in entries}
            chosen = _chosen(entries, segment.accept)
            named.update(given for given in segment.accept
                         for key, meta in entries if is_accepted(str(meta.get("sha256", "")), (given,)))
            if len(chosen) > 1:
                warnings.append(_warning(compiled, segment, f"names {len(chosen)} takes of one request of segment "
                                         f"{segment.id} ({', '.join(ids[k] for k in chosen)}): the first listed is "
                                         "used; keep one id per request", shown_path))
            if chosen and chosen[0] != piece.key:
                pieces[i] = replace(piece, key=chosen[0], picked_from=piece.key)
        if not judged:
            continue
        for given in segment.accept:
            if given not in named:
                warnings.append(_warning(
                    compiled, segment, f"{given} names no take of segment {segment.id} in the cache: its text, "
                    "voice or take changed since, or the take was pruned. `podpipe review` lists the segment's "
                    "takes; remove the id, or replace it with one of theirs", shown_path))
    if not any(p is not q for p, q in zip(pieces, compiled.rundown.pieces)):
        return compiled, tuple(warnings)
    return replace(compiled, rundown=replace(compiled.rundown, pieces=tuple(pieces))), tuple(warnings)


def pick_all(compiled: Sequence[CompiledEpisode], store: Store,
             strict: bool = False) -> tuple[tuple[CompiledEpisode, ...], tuple[Diagnostic, ...]]:
    """``pick_takes`` for every episode (a no-op without ``accept:``); under ``strict`` (``--strict``) the
    warnings are errors: ``SpecError`` (exit 2), before anything is rendered."""
    if not any(isinstance(p, SpeechPiece) and p.accept for c in compiled for p in c.rundown.pieces):
        return tuple(compiled), ()
    out, warnings = [], []
    for episode in compiled:
        picked, found = pick_takes(episode, store)
        out.append(picked)
        warnings += found
    if strict and warnings:
        raise SpecError([replace(d, severity="error", message=f"{d.message} (an error under --strict)")
                         for d in warnings])
    return tuple(out), tuple(warnings)


def _warning(compiled: CompiledEpisode, segment: Any, message: str, shown_path: Any) -> Diagnostic:
    return Diagnostic(shown_path(compiled.episode.path), segment.line, segment.column,
                      f"segments[{segment.index}].accept", message, severity="warning")


__all__ = ["CachedTake", "ReviewedLine", "flag_message", "format_line", "pick_all", "pick_takes", "request_takes",
           "review_lines", "reviewer_for"]
