"""The validated episode: what the ``spec`` stage hands to ``compile``.

Everything here is already checked (schema + semantics) and resolved (``extends`` merged, defaults applied,
shorthand expanded, paths absolute), so later stages never re-validate and never touch YAML.

The field defaults below are the defaults of the spec: resolution passes only the values a spec writes,
so changing a default here changes it everywhere. The schema's ``default`` annotations document them for
editors, and a test holds the two to the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from podpipe.spec.text import LexiconEntry

DEFAULT_FORMAT = "mp3"  # a constant, not only a field default: the default output path is named after it


def default_name(speaker_id: str) -> str:
    """A speaker's display name when the spec gives none."""
    return speaker_id.capitalize()


@dataclass(frozen=True)
class Speaker:
    id: str  # the key in ``speakers:``, matches ^[a-z][a-z0-9_-]*$
    voice: str  # a voice of the model's backend (checked by Backend.check_voice)
    name: str  # display name / dialogue label; default_name(id) when the spec gives none
    style: str | None = None
    role: str | None = None  # podcast:person role; None: the show person's of that name, else "guest"


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
    line: int = 0  # 1-based line and column of the segment in the spec, for messages (render failures)
    column: int = 0
    turns: tuple[Turn, ...] = ()
    pause: float | None = None
    sound: Sound | None = None
    chapter: str | None = None
    style: str | None = None
    temperature: float | None = None
    take: int = 1
    accept: tuple[str, ...] = ()  # take ids accepted by ear (``podpipe.review``): their flags are cleared


@dataclass(frozen=True)
class ReviewSettings:
    """The spec's ``review:`` (show file merged under the episode): take review's thresholds and policy."""

    strict: bool = False  # a flagged take fails the build (exit 4)
    retakes: int | None = None  # None: build --retakes
    thresholds: tuple[tuple[str, float], ...] = ()  # threshold name -> value, over the defaults
    voices: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()  # voice -> its thresholds, over those


@dataclass(frozen=True)
class Output:
    path: Path  # absolute; default <project root>/build/<spec stem>.<format>
    format: str = DEFAULT_FORMAT  # one of the schema's output formats
    gap: float = 0.25  # seconds of silence between spoken segments
    loudness: float | None = -16.0  # integrated target in LUFS (Apple Podcasts'); None: leave the level alone
    true_peak: float = -1.0  # ceiling in dBTP (only with loudness)
    bitrate: int | None = None  # kbit/s for lossy formats; None: the format's default (``podpipe.formats``)
    sample_rate: int | None = None  # None: the format's default rate (``podpipe.formats``), else the speech's
    channels: int = 1  # 1 (mono) or 2 (the same signal on both channels)
    crossfade: float = 0.0  # seconds a sound overlaps the speech or sound next to it


@dataclass(frozen=True)
class Person:
    """A podcast:person of the show."""

    name: str
    role: str = "host"  # Podcasting 2.0 taxonomy
    group: str = "cast"
    img: str | None = None  # URL of a picture
    href: str | None = None  # URL of a page about them


@dataclass(frozen=True)
class Funding:
    url: str
    text: str


@dataclass(frozen=True)
class Owner:
    name: str
    email: str


@dataclass(frozen=True)
class Feed:
    """The show as a podcast feed, from ``feed:``, with the values it falls back to already filled in."""

    title: str  # feed.title, else the top-level show
    description: str
    artwork: Path  # absolute; checked to be a square 1400-3000 px RGB PNG or JPEG inside the project root
    category: str  # an Apple Podcasts category (podpipe.categories)
    language: str  # feed.language, else the top-level language
    author: str | None = None  # feed.author, else the top-level author
    link: str | None = None
    subcategory: str | None = None
    owner: Owner | None = None
    explicit: bool = False
    type: str = "episodic"  # or "serial"
    copyright: str | None = None
    persons: tuple[Person, ...] = ()
    funding: tuple[Funding, ...] = ()
    locked: bool | None = None  # None: no podcast:locked element
    guid: str | None = None  # the show's podcast:guid when pinned; None: derived from the feed URL
    timezone: str = "UTC"  # IANA name: where an episode's date without an offset is read


@dataclass(frozen=True)
class PriceOverride:
    """A spec's ``prices:`` entry: USD per 1M tokens for one model (None: the backend's own price)."""

    model: str
    input: float | None = None
    output: float | None = None


@dataclass(frozen=True)
class Episode:
    path: Path  # the spec file, absolute
    title: str
    speakers: tuple[Speaker, ...]
    segments: tuple[Segment, ...]
    output: Output
    model: str | None = None  # None: the default model (podpipe.backends.spec_default_model)
    temperature: float | None = None
    language: str | None = None
    style: str | None = None
    description: str | None = None
    author: str | None = None
    episode: int | None = None
    show: str | None = None
    version: int = 1
    artwork: Path | None = None  # cover art (PNG/JPEG), absolute, checked to exist inside the project root
    date: str | None = None  # publication date (YYYY-MM-DD) or date-time (with an offset, or in feed.timezone)
    music: tuple[MusicBed, ...] = ()
    lexicon: tuple[LexiconEntry, ...] = ()  # show entries overridden by the episode's, by written form
    season: int | None = None
    episode_type: str = "full"  # itunes:episodeType: full, trailer or bonus
    explicit: bool | None = None  # None: the show's feed.explicit
    guid: str | None = None  # pinned feed guid; None: derived from the spec's path (podpipe.feed)
    feed: Feed | None = None  # the show's feed metadata, when the spec (or its show file) has feed:
    prices: tuple[PriceOverride, ...] = ()  # the spec's (and its show file's) price overrides, by model
    review: ReviewSettings = ReviewSettings()

    @property
    def stem(self) -> str:
        return self.path.stem

    def speaker(self, speaker_id: str) -> Speaker:
        for s in self.speakers:
            if s.id == speaker_id:
                return s
        raise KeyError(speaker_id)
