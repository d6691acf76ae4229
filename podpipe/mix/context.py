"""What the mix passes around: pieces placed in the episode (and the chapters they make), the stitched episode
as post-stitch steps see it (``MixContext``), the extension point those steps implement (``MixStep``) and what a mix returns.

Kept apart from the work itself so that steps, the exporter and the freshness check can share these types
without importing each other (or any audio library).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podpipe.audio_types import SAMPLE_WIDTH, Audio
from podpipe.compile import CompiledEpisode, Piece, SilencePiece, SoundPiece, SpeechPiece
from podpipe.mix.turns import turn_bounds

KINDS = {SpeechPiece: "speech", SilencePiece: "silence", SoundPiece: "sound"}


@dataclass(frozen=True)
class PlacedPiece:
    """A rundown piece with its exact place in the episode, in frames at the rate it was stitched at."""

    piece: Piece
    start_frame: int
    end_frame: int
    rate: int
    # where the turns of a multi-speaker render meet, in seconds from the piece's start, and how they were
    # found ("silence", or "text" when the render had too few pauses); see ``turns``
    bounds: tuple[float, ...] = ()
    bounds_method: str = "exact"

    @property
    def start(self) -> float:
        return self.start_frame / self.rate

    @property
    def end(self) -> float:
        return self.end_frame / self.rate

    @property
    def kind(self) -> str:
        return KINDS[type(self.piece)]

    def turn_spans(self) -> list[tuple[float, float, Any]]:
        """(start, end, turn) in episode seconds for each turn of a speech piece; [] for other pieces."""
        turns = getattr(self.piece, "turns", ())
        bounds = self.bounds
        if len(bounds) != max(0, len(turns) - 1):  # never located: shared out by text length
            bounds = tuple(turn_bounds(0.0, self.end - self.start, [t.text for t in turns], ())[0])
        edges = [self.start, *(self.start + b for b in bounds), self.end]
        return list(zip(edges, edges[1:], turns))


@dataclass(frozen=True)
class Chapter:
    start: float  # seconds
    end: float
    title: str


def chapters(pieces: Sequence, duration: float) -> list[Chapter]:
    """Chapters in playback order; each runs to the next one's start, the last to the end of the episode.
    ``pieces`` are the mix's placed pieces (anything with ``.piece.chapter`` and ``.start``)."""
    marks = [(placed.start, placed.piece.chapter) for placed in pieces if placed.piece.chapter]
    out = []
    for i, (start, title) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else duration
        out.append(Chapter(start, max(start, end), title))
    return out


@dataclass(frozen=True)
class MixResult:
    output: Path
    manifest: Path
    duration: float  # seconds
    rate: int
    pieces: tuple[PlacedPiece, ...]
    inputs_digest: str
    sidecars: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()  # what the author should know about the result (e.g. a voice held by its peaks)


@dataclass
class MixContext:
    """The stitched episode, as post-stitch steps and exporters see it.

    ``chunks`` is the episode's PCM in playback order; ``audio`` joins it into one buffer on first use and
    may be assigned (e.g. by a step that mixes in music). ``step_records`` holds what each step records about
    its work (levels, counts), by step name: the manifest's ``steps``.
    """

    compiled: CompiledEpisode
    pieces: tuple[PlacedPiece, ...]
    rate: int
    channels: int
    chunks: list[bytes]
    step_records: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # for the author, beside what the manifest records
    # per speech render key: its loudness figures (``loudness.figures``), from the cache or computed
    figures: dict[str, Any] = field(default_factory=dict)
    # frame ranges changed after stitching (crossfades): their figures are measured from the audio
    touched: list[tuple[int, int]] = field(default_factory=list)
    # what steps added on top of the stitched pieces (music beds), as loudness figures over the episode's
    # 10 ms windows: (energy, peak bound) arrays
    layers: list[tuple[Any, Any]] = field(default_factory=list)
    # the file's rate and channels when the exporter converts on the way out (``export.FormatStep``); None: as is
    output_rate: int | None = None
    output_channels: int | None = None
    # set by the loudness step: gains the exporter applies on the way to the file, and how to correct them
    # when the written file misses the target (``loudness.episode.Leveling``)
    leveling: Any = None

    @property
    def frames(self) -> int:
        return sum(map(len, self.chunks)) // (SAMPLE_WIDTH * self.channels)

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    @property
    def out_rate(self) -> int:
        return self.output_rate or self.rate

    @property
    def out_channels(self) -> int:
        return self.output_channels or self.channels

    @property
    def audio(self) -> Audio:
        if len(self.chunks) != 1:
            self.chunks = [b"".join(self.chunks)]
        return Audio(self.chunks[0], self.rate, self.channels)

    @audio.setter
    def audio(self, value: Audio) -> None:
        self.chunks, self.rate, self.channels = [value.pcm], value.rate, value.channels


class MixStep:
    """A step after stitching. Subclasses override what they need; the base does nothing.

    ``settings`` must return every setting that changes the step's result (JSON-able): it is part of the
    inputs digest, so changing it re-mixes (and never re-renders). Steps are imported by the freshness check
    of every no-op build: a step module imports its audio libraries inside its methods, never at the top.
    """

    name = "step"
    needs_figures = False  # whether ``process`` reads ``MixContext.figures`` (each render's loudness figures)

    def settings(self, compiled: CompiledEpisode) -> Any:
        return None

    def process(self, ctx: MixContext) -> None:
        """Change ``ctx.audio`` before export."""

    def edit_output(self, ctx: MixContext, path: Path) -> None:
        """Edit the exported file in place (tags, chapters, cover art) before it replaces the output;
        ``path`` is the temporary file, named without the format's suffix."""

    def sidecars(self, ctx: MixContext, output: Path) -> list[Path]:
        """Write files beside the exported ``output`` (atomically, see ``atomic_path``); return their paths."""
        return []
