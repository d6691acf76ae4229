"""The validated episode: what the ``spec`` stage hands to ``compile``.

Everything here is already checked (schema + semantics) and resolved (``extends`` merged, defaults applied,
shorthand expanded, paths absolute), so later stages never re-validate and never touch YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from podpipe.catalog import DEFAULT_MODEL
from podpipe.spec.text import LexiconEntry

DEFAULT_GAP = 0.25
DEFAULT_FORMAT = "mp3"
DEFAULT_LOUDNESS = -16.0  # LUFS integrated (Apple Podcasts)
DEFAULT_TRUE_PEAK = -1.0  # dBTP
FORMATS = ("wav", "mp3", "m4a", "ogg", "flac")
LOSSY_FORMATS = ("mp3", "m4a", "ogg")
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


@dataclass(frozen=True)
class Speaker:
    id: str  # the key in ``speakers:``, matches ^[a-z][a-z0-9_-]*$
    voice: str  # a Gemini voice: one of the 30 prebuilt names, a library name, or a custom id (voice_…)
    name: str  # display name / dialogue label; defaults to the id capitalised
    style: str | None = None


@dataclass(frozen=True)
class Turn:
    speaker: str  # speaker id
    text: str
    line: int = 0  # 1-based line in the spec, for messages


@dataclass(frozen=True)
class Sound:
    path: Path  # absolute, checked to exist and to stay inside the project root
    gain_db: float = 0.0
    fade_in: float = 0.0  # seconds
    fade_out: float = 0.0


@dataclass(frozen=True)
class MusicBed:
    """A music bed under segments ``start_segment``..``end_segment`` (indexes, inclusive)."""

    path: Path  # absolute, checked to exist inside the project root
    start_segment: int = 0
    end_segment: int = -1  # -1: the last segment
    gain_db: float = -18.0
    duck_db: float = -12.0
    fade_in: float = 1.0
    fade_out: float = 2.0
    loop: bool = True


@dataclass(frozen=True)
class Segment:
    """One entry of ``segments:``. Exactly one of turns (speech/dialogue), pause or sound is set."""

    index: int  # 0-based position in the episode
    id: str  # the segment's ``id:`` or "s<index+1>"; what ``build --only`` takes
    kind: str  # "speech" | "dialogue" | "pause" | "sound"
    line: int = 0
    turns: tuple[Turn, ...] = ()
    pause: float | None = None
    sound: Sound | None = None
    chapter: str | None = None
    style: str | None = None
    temperature: float | None = None
    take: int = 1


@dataclass(frozen=True)
class Output:
    path: Path  # absolute; default <cwd>/build/<spec stem>.<format>
    format: str = DEFAULT_FORMAT  # one of FORMATS
    gap: float = DEFAULT_GAP  # seconds of silence between spoken segments
    loudness: float | None = DEFAULT_LOUDNESS  # integrated target in LUFS; None: leave the level alone
    true_peak: float = DEFAULT_TRUE_PEAK  # ceiling in dBTP (only with loudness)
    bitrate: int | None = None  # kbit/s for lossy formats; None: the format's default
    sample_rate: int | None = None  # None: 44100 for mp3/m4a, 48000 for ogg, the speech rate for wav/flac
    channels: int = 1  # 1 (mono) or 2 (the same signal on both channels)
    crossfade: float = 0.0  # seconds a sound overlaps the speech or sound next to it


@dataclass(frozen=True)
class Episode:
    path: Path  # the spec file, absolute
    title: str
    speakers: tuple[Speaker, ...]
    segments: tuple[Segment, ...]
    output: Output
    model: str = DEFAULT_MODEL
    temperature: float | None = None
    language: str | None = None
    style: str | None = None
    description: str | None = None
    author: str | None = None
    episode: int | None = None
    show: str | None = None
    version: int = 1
    artwork: Path | None = None  # cover art (PNG/JPEG), absolute, checked to exist inside the project root
    date: str | None = None  # publication date, YYYY-MM-DD
    music: tuple[MusicBed, ...] = ()
    lexicon: tuple[LexiconEntry, ...] = ()  # show entries overridden by the episode's, by written form

    @property
    def stem(self) -> str:
        return self.path.stem

    def speaker(self, speaker_id: str) -> Speaker:
        for s in self.speakers:
            if s.id == speaker_id:
                return s
        raise KeyError(speaker_id)
