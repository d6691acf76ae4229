"""Output formats: one row per format with everything the mix needs to know about it.

The exporter, the sample-rate step, the limiter's headroom, the tag editor and the chapter writer all read
their per-format facts from ``FORMATS`` instead of testing format names, so adding a format means adding a
row here (and, for a new kind of tags, a branch in ``steps.tags``). The schema's ``output.format`` enum
names the formats a spec may ask for; a test holds the two to the same list.
"""

from __future__ import annotations

from dataclasses import dataclass

from podpipe.errors import UsageError


@dataclass(frozen=True)
class Format:
    name: str
    # ffmpeg encoder arguments ("{kbps}" is replaced by the bit rate) and muxer; ffmpeg writes every format,
    # WAV included (with +bitexact its header is the canonical 44 bytes), so one pass also meters the file
    encoder: tuple[str, ...] = ()
    muxer: str | None = None
    rate: int | None = None  # sample rate when the spec sets none; None keeps the speech's rate
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
    mime: str = "application/octet-stream"  # its media type: a feed's enclosure type, a web server's Content-Type

    @property
    def lossy(self) -> bool:
        return self.kbps is not None

    def encoder_args(self, kbps: int | None) -> list[str]:
        """The encoder arguments for ``kbps`` (None: the format's default bit rate)."""
        return [arg.replace("{kbps}", str(kbps or self.kbps)) for arg in self.encoder]


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("wav", ("-c:a", "pcm_s16le"), "wav", headroom=0.2, mime="audio/wav"),
    Format("mp3", ("-c:a", "libmp3lame", "-b:a", "{kbps}k", "-id3v2_version", "3", "-write_id3v1", "0"), "mp3",
           rate=44100, kbps=96, headroom=0.8, encoder_shift=0.45, tags="id3", chapters="ffmpeg", mime="audio/mpeg"),
    # AAC-LC in an MP4 container, index first so players can start before the download ends
    Format("m4a", ("-c:a", "aac", "-b:a", "{kbps}k", "-movflags", "+faststart"), "ipod",
           rate=44100, kbps=96, headroom=0.8, tags="mp4", chapters="ffmpeg", mime="audio/mp4"),
    # Opus runs at 48 kHz only; 64 kbit/s is transparent for speech
    Format("ogg", ("-c:a", "libopus", "-b:a", "{kbps}k", "-application", "audio"), "ogg",
           rate=48000, kbps=64, headroom=0.8, tags="opus", chapters="vorbis", mime="audio/ogg"),
    Format("flac", ("-c:a", "flac", "-compression_level", "8"), "flac", headroom=0.2, tags="flac",
           chapters="vorbis", mime="audio/flac"),
)}


def output_format(name: str, where: object) -> Format:
    """The ``Format`` called ``name``; a ``UsageError`` naming ``where`` (the spec) when there is none."""
    fmt = FORMATS.get(name)
    if fmt is None:
        raise UsageError(f"{where}: output.format {name!r} is not supported; choose one of {', '.join(FORMATS)}")
    return fmt
