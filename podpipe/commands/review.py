"""Take review for a build, and the lines it flagged: ``podpipe review SPECS`` and ``build --strict``.

``reviewer_for`` gives the render stage its ``podpipe.review.Reviewer`` (the backend's prior speaking rate,
the cache's accepted takes to learn each voice from, ``--retakes``). ``review_lines`` reads, for every spoken
line of the episodes, the verdict stored with its take (records only: no audio is read, nothing is
re-rendered) and returns the lines a person should listen to: flagged (no take passed review) or re-rolled
(a take was rejected), with their position in the episode, the reasons and the files of every take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podpipe.compile import CompiledEpisode, RenderRequest, SilencePiece, SpeechPiece

if TYPE_CHECKING:
    from podpipe.backends.base import Backend
    from podpipe.cache import FileStore, Store
    from podpipe.review import Reviewer


def reviewer_for(cls: type[Backend], store: Store, episodes: Sequence[CompiledEpisode],
                 retakes: int | None = None) -> Reviewer:
    """A reviewer for the requests of ``episodes``: each held to the ``review:`` of the first episode that
    uses it (the show's and the episode's thresholds, then those of its voices); ``retakes`` (build
    --retakes) over the spec's."""
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
            return retakes
        found = settings.get(request.key)
        return DEFAULT_RETAKES if found is None or found.retakes is None else found.retakes

    return Reviewer(prior_rate=lambda request: cls.speaking_rate(request.model, request.language),
                    thresholds=thresholds, retakes=retakes_for, accepted=lambda: stored_reviews(store))


@dataclass(frozen=True)
class ReviewedLine:
    episode: Path  # the spec
    segment_id: str
    speaker: str
    text: str
    start: float | None  # seconds into the episode (None: not known, e.g. a take is missing)
    status: str  # "flagged" (no take passed: the best is used), "pinned" (flagged, accepted in the spec) or
    # "accepted" (after re-rolls)
    reasons: tuple[str, ...]  # the kept take's reasons when flagged, else the rejected takes'
    takes: tuple[Path, ...]  # the kept take's file first, then the rejected takes'
    key: str
    take: str  # the kept take's id, what a spec's ``accept:`` names

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
                "reasons": list(self.reasons), "takes": [str(p) for p in self.takes], "key": self.key, "take": self.take}


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
            line = _line(compiled, piece, by_key.get(piece.key), meta, here, store)
            if line is not None and (line.flagged or not flagged_only):
                out.append(line)
    return out


def _line(compiled: CompiledEpisode, piece: SpeechPiece, request: RenderRequest | None,
          meta: dict[str, Any] | None, start: float | None, store: FileStore) -> ReviewedLine | None:
    from podpipe.review import FLAGGED, take_status

    status = take_status(meta, piece.accept)
    if status is None or (status["status"] != FLAGGED and not status["rejected"]):
        return None
    review = meta["review"]
    if status["status"] != "accepted":
        reasons = tuple(review.get("reasons") or ())
    else:
        reasons = tuple(reason for r in review.get("rejected") or [] if isinstance(r, dict)
                        for reason in r.get("reasons") or ())
    takes = (store.entry_paths(piece.key)[0], *(store.entry_paths(key)[0] for key in status["rejected"]))
    turn = piece.turns[0]
    return ReviewedLine(compiled.episode.path, piece.segment_id, turn.speaker, turn.shown, start,
                        status["status"], reasons, takes, piece.key, status["take"])


def flagged_outputs(specs: Sequence[str | Path], *, root: Path | None = None,
                    allow_outside: bool = False) -> list[str]:
    """The flagged lines of the built episodes of ``specs``, read from their manifests (what the mix recorded
    of each take) and cleared by the specs' ``accept:`` as they are now: one line of text each. For the
    publish gate: it needs neither the cache nor a backend."""
    from podpipe.mix import ManifestError, read_manifest
    from podpipe.review import FLAGGED, is_accepted
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
    takes = "\n".join(f"      {p}" for p in line.takes)
    return (f"  {line.episode.name} {line.position} {line.segment_id} take {line.take} ({line.status}: "
            f"{', '.join(line.reasons) or 'no reason recorded'}) {line.speaker}: {text}\n{takes}")


__all__ = ["ReviewedLine", "flag_message", "format_line", "review_lines", "reviewer_for"]
