"""The kinds of file podpipe writes, one row each with every fact about it: the output formats (``FORMATS``)
and the files written beside an output (``SIDECARS``).

Ground floor: this module imports only ``podpipe.errors``, so every layer reads its facts here instead of
testing names or restating them: the spec checks (sample rates a codec takes), the mix (encoder, muxer,
default rate and bit rate, limiter headroom, encoder shift, tags, chapters, the sidecars' names),
``podpipe say`` (the suffix of ``-o``), the feed (enclosure and sidecar types) and publish (through the
feed's ``Content-Type``). Adding a format means a row in ``FORMATS``, its name in the schema's
``output.format`` enum (a test holds the two to the same list) and its line in docs/spec.md; a new kind of
tags also needs a branch in ``mix.steps.tags``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from podpipe.errors import UsageError


@dataclass(frozen=True)
class Format:
    name: str  # also the file extension (``.mp3``) and the value of ``output.format``
    codec: str  # what the audio is, as messages name it
    mime: str  # its media type: a feed's enclosure type, a web server's Content-Type
    # ffmpeg encoder arguments ("{kbps}" is replaced by the bit rate) and muxer; ffmpeg writes every format,
    # WAV included (with +bitexact its header is the canonical 44 bytes), so one pass also meters the file
    encoder: tuple[str, ...] = ()
    muxer: str | None = None
    rate: int | None = None  # sample rate when the spec sets none; None keeps the speech's rate
    rates: tuple[int, ...] | None = None  # the only sample rates the codec runs at; None: any the schema allows
    kbps: int | None = None  # bit rate when the spec sets none; None: not a lossy format
    # dB the limiter stays under the true-peak ceiling. Lossy encoders drop high frequencies and their
    # output overshoots the peaks they were given (Gibbs ripple), so the decoded file still meets the
    # ceiling; lossless formats get a little too: meters oversample with different filters and disagree by
    # up to ~0.15 dB
    headroom: float = 0.0
    # LU the encoder takes from the loudness of speech (measured with ffmpeg's ebur128 on the decoded file,
    # from LAME's output at every bit rate we offer: 0.4-0.5), given back before the one encode so it lands on
    # target; the exporter measures the written file and encodes again only when it misses anyway
    encoder_shift: float = 0.0
    tags: str | None = None  # how ``steps.tags`` finishes the file: "id3", "mp4", "flac", "opus"; None: no tags
    # who writes the chapters inside the file: "ffmpeg" (from FFMETADATA while encoding: ID3 CHAP+CTOC, MP4
    # chapters), "vorbis" (``steps.tags`` writes CHAPTERxxx comments: ffmpeg 7's are off by a second), None
    chapters: str | None = None

    @property
    def suffix(self) -> str:
        return f".{self.name}"

    @property
    def lossy(self) -> bool:
        return self.kbps is not None

    def encoder_args(self, kbps: int | None) -> list[str]:
        """The encoder arguments for ``kbps`` (None: the format's default bit rate)."""
        return [arg.replace("{kbps}", str(kbps or self.kbps)) for arg in self.encoder]


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("wav", "PCM", "audio/wav", ("-c:a", "pcm_s16le"), "wav", headroom=0.2),
    Format("mp3", "MP3", "audio/mpeg",
           ("-c:a", "libmp3lame", "-b:a", "{kbps}k", "-id3v2_version", "3", "-write_id3v1", "0"), "mp3",
           rate=44100, kbps=96, headroom=0.8, encoder_shift=0.45, tags="id3", chapters="ffmpeg"),
    # AAC-LC in an MP4 container, index first so players can start before the download ends
    Format("m4a", "AAC", "audio/mp4", ("-c:a", "aac", "-b:a", "{kbps}k", "-movflags", "+faststart"), "ipod",
           rate=44100, kbps=96, headroom=0.8, tags="mp4", chapters="ffmpeg"),
    # Opus runs at 8, 12, 16, 24 and 48 kHz only (48 kHz by default); 64 kbit/s is transparent for speech
    Format("ogg", "Opus", "audio/ogg", ("-c:a", "libopus", "-b:a", "{kbps}k", "-application", "audio"), "ogg",
           rate=48000, rates=(8000, 12000, 16000, 24000, 48000), kbps=64, headroom=0.8, tags="opus",
           chapters="vorbis"),
    Format("flac", "FLAC", "audio/flac", ("-c:a", "flac", "-compression_level", "8"), "flac", headroom=0.2,
           tags="flac", chapters="vorbis"),
)}


def output_format(name: str, where: object) -> Format:
    """The ``Format`` called ``name``; a ``UsageError`` naming ``where`` (the spec) when there is none."""
    fmt = FORMATS.get(name)
    if fmt is None:
        raise UsageError(f"{where}: output.format {name!r} is not supported; choose one of {', '.join(FORMATS)}")
    return fmt


def format_of(path: str | Path) -> Format | None:
    """The format a file name's suffix names (any case), or None."""
    return FORMATS.get(Path(path).suffix.lower().lstrip("."))


@dataclass(frozen=True)
class Sidecar:
    """A file the mix writes beside an output, named ``<output stem><suffix>``."""

    name: str
    suffix: str
    media_type: str  # the Content-Type it is served with
    # its role in a published site (``podpipe.feed.ROLES``: how publish serves it and when it goes up); None:
    # never published (the manifest: podpipe's record of the build, read back by freshness, plan and feed)
    role: str | None
    feed_type: str | None = None  # the type attribute the Podcasting 2.0 namespace gives it in a feed item

    def path(self, output: Path) -> Path:
        output = Path(output)
        return output.with_name(output.stem + self.suffix)


SIDECARS: dict[str, Sidecar] = {s.name: s for s in (
    Sidecar("manifest", ".manifest.json", "application/json", None),
    Sidecar("vtt", ".vtt", "text/vtt; charset=utf-8", "sidecar", "text/vtt"),  # podcast:transcript (captions)
    Sidecar("srt", ".srt", "application/x-subrip; charset=utf-8", "sidecar", "application/x-subrip"),
    # served as the type the feed gives it (Podcasting 2.0 chapters: application/json+chapters)
    Sidecar("chapters", ".chapters.json", "application/json+chapters", "sidecar", "application/json+chapters"),
)}


def sidecar_of(path: str | Path) -> Sidecar | None:
    """The sidecar a file is by its name (the longest suffix that matches), or None."""
    name = Path(path).name
    found = [s for s in SIDECARS.values() if name.endswith(s.suffix) and len(name) > len(s.suffix)]
    return max(found, key=lambda s: len(s.suffix), default=None)
