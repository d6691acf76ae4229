"""What ``compile`` produces: render requests (each with its cache key) and the rundown.

A request holds exactly the inputs that change the audio, so its key can be computed from it alone; where a
request came from (episode, segment) lives in the rundown, because identical requests in different episodes
share one key and are rendered once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from podpipe.spec.episode import Episode


@dataclass(frozen=True)
class Target:
    """Where a compile's requests go, and what that voice makes of a spec's text and settings."""

    backend: str  # backend name, part of every key
    model: str  # the model string requests carry (a draft backend's own, e.g. "espeak-ng")
    sampling: bool = True  # temperature reaches the audio; if not, it is neither sent nor part of the key
    tags: str | None = None  # the vocal tag form the voice reads (spec.text.TAGS_*); None: tags are left out


@dataclass(frozen=True)
class RequestTurn:
    speaker: str  # speaker label as sent to the model (the speaker's display name)
    voice: str  # the spec's voice name, as the backend that owns the model knows it
    text: str  # exactly what the voice receives: lexicon applied, tags in the model's form
    style: str | None = None  # combined episode + speaker + segment style for this turn
    # The words as the author wrote them (tags as [cue]), for transcripts and manifests; None: the same as
    # ``text``. Not part of the key: it cannot change the audio.
    written: str | None = None

    @property
    def shown(self) -> str:
        return self.text if self.written is None else self.written


@dataclass(frozen=True)
class RenderRequest:
    key: str  # sha256 hex of the canonical JSON of every field below plus the cache format version
    backend: str  # registry name of the backend that renders it
    model: str  # the model the backend will use (a draft backend's own model string)
    turns: tuple[RequestTurn, ...]  # one turn: single speaker; several: multi-speaker (<= 2 distinct)
    temperature: float | None = None
    language: str | None = None
    take: int = 1

    @property
    def speakers(self) -> tuple[str, ...]:
        """Distinct speaker labels in order of first appearance."""
        return tuple(dict.fromkeys(t.speaker for t in self.turns))

    @property
    def characters(self) -> int:
        return sum(len(t.text) for t in self.turns)

    @property
    def multi_speaker(self) -> bool:
        return len(self.speakers) > 1


@dataclass(frozen=True)
class SpeechPiece:
    """Audio of one rendered request, placed in the episode."""

    key: str
    segment_id: str
    segment_index: int
    speakers: tuple[str, ...]  # display names, in order of first appearance
    turns: tuple[RequestTurn, ...]  # for manifests and transcripts
    chapter: str | None = None  # set on the first piece of a segment that starts a chapter
    accept: tuple[str, ...] = ()  # the segment's accepted take ids (not part of the key: no audio changes)
    # Set after compile (``podpipe.commands.review.pick_takes``) when ``accept`` names a rejected take of this
    # piece's request: ``key`` is then that take's entry, and this the request's own key.
    picked_from: str | None = None

    @property
    def request_key(self) -> str:
        """The key of the request this piece is the audio of (``key`` unless a rejected take is picked)."""
        return self.picked_from or self.key


@dataclass(frozen=True)
class SilencePiece:
    seconds: float
    reason: str  # "gap" (between spoken segments) or "pause" (a pause segment)
    segment_id: str | None = None
    segment_index: int | None = None
    chapter: str | None = None


@dataclass(frozen=True)
class SoundPiece:
    path: Path
    segment_id: str
    segment_index: int
    gain_db: float = 0.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    chapter: str | None = None


Piece = SpeechPiece | SilencePiece | SoundPiece


@dataclass(frozen=True)
class Rundown:
    """The episode's running order: every piece to stitch, in playback order, and the file to write."""

    pieces: tuple[Piece, ...]  # in playback order; gaps are already explicit SilencePieces
    output: Path
    format: str

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.pieces if isinstance(p, SpeechPiece))


@dataclass(frozen=True)
class CompiledEpisode:
    episode: Episode
    requests: tuple[RenderRequest, ...]  # unique by key, in first-use order
    rundown: Rundown
