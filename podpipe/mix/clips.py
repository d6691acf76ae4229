"""Clips: the pieces of an episode as pydub AudioSegments on their way from the cache and the disk into the
stitch. A render (the cache's ``Audio``) or a sound file becomes a clip at the episode's rate and channel
count, with its gain and fades, by pydub's own methods.

Sound files (sounds, music beds, and the encoded output when its loudness is checked) are decoded to 16-bit
clips at their own rate and channel count (``decode``). pydub decodes with ffmpeg (``AudioSegment.from_file``),
but it asks ffprobe for the codec unless it is told, and imageio-ffmpeg ships no ffprobe: so the container and
codec are read from the file's first bytes (``sniff``) and handed to pydub. PCM WAV needs no ffmpeg at all. A
file whose header names nothing podpipe knows is decoded by ffmpeg's own format detection through
``run_ffmpeg``, so any file ffmpeg reads still works.

Own code remains only where pydub falls short, each place saying why: a resampled render keeps exactly
round(frames × new / old) frames, sound files are resampled with a filter, and a crossfade joins one pair of
pieces (pydub's ``append(crossfade=)`` chained over an episode copies it once per join). Silences and the
join itself are the stitch's (``stitch``). pydub is imported only when a clip is made.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from podpipe import audio as pcm
from podpipe.audio_types import SAMPLE_WIDTH, Audio
from podpipe.compile import SoundPiece
from podpipe.errors import UsageError


def from_audio(audio: Audio) -> Any:
    """The cache's ``Audio`` as an AudioSegment (sharing its bytes: no copy)."""
    return pcm.audio_segment()(data=audio.pcm, sample_width=SAMPLE_WIDTH, frame_rate=audio.rate,
                               channels=audio.channels)


def to_audio(clip: Any) -> Audio:
    return Audio(clip.raw_data, clip.frame_rate, clip.channels)


# the first packet of an Ogg stream names its codec
_OGG_CODECS = ((b"OpusHead", "opus"), (b"\x01vorbis", "vorbis"), (b"\x7fFLAC", "flac"), (b"Speex   ", "speex"))


def sniff(path: Path) -> tuple[str, str] | None:
    """(ffmpeg demuxer, ffmpeg decoder) of a compressed audio file, read from its first bytes; None when they
    name nothing podpipe knows (WAV included: it needs no decoder)."""
    with open(path, "rb") as f:
        head = f.read(4096)
        if head[:3] == b"ID3" and len(head) >= 10:  # an ID3v2 tag (cover art and all) before the audio
            size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
            f.seek(10 + size + (10 if head[5] & 0x10 else 0))
            head = f.read(4096)
    if head[:4] == b"fLaC":
        return "flac", "flac"
    if head[:4] == b"OggS" and len(head) > 27:
        packet = head[27 + head[26]:]  # after the page header and its segment table
        return next((("ogg", codec) for magic, codec in _OGG_CODECS if packet.startswith(magic)), None)
    if head[4:8] == b"ftyp":
        return _mp4_codec(path)
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame sync
        layer = head[1] >> 1 & 3
        return {1: ("mp3", "mp3float"), 2: ("mp3", "mp2float"), 0: ("aac", "aac")}.get(layer)
    return None


def _mp4_codec(path: Path) -> tuple[str, str] | None:
    """An MP4's audio codec, from its sample description (which may sit anywhere in the file: mutagen finds it)."""
    from mutagen import MutagenError
    from mutagen.mp4 import MP4

    try:
        codec = MP4(path).info.codec
    except (MutagenError, OSError):
        return None
    if codec == "alac":
        return "mp4", "alac"
    return ("mp4", "aac") if codec.startswith("mp4a.40") else None


def decode(path: str | Path) -> Any:
    """``path`` as a 16-bit AudioSegment at the file's own rate and channel count. Errors are
    ``UsageError``s naming the file (``FfmpegError`` when ffmpeg fails or cannot be run)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: sound file not found")
    what = f"{path}: cannot decode sound file"
    clip_class = pcm.audio_segment()
    from pydub.exceptions import CouldntDecodeError

    try:
        clip = from_pcm_wav(path)
        found = sniff(path) if clip is None else None
        if found:
            clip_class.converter = pcm.ffmpeg_exe()  # pydub's own guess is "ffmpeg" on PATH
            clip = clip_class.from_file(str(path), format=found[0], codec=found[1])
        elif clip is None:  # a container the header does not name: ffmpeg's own detection decides
            wav = pcm.run_ffmpeg(["-i", str(path), "-vn", "-map", "0:a:0", "-f", "wav", "-acodec", "pcm_s16le",
                                  "pipe:1"], what, capture=True)
            clip = from_audio(pcm.read_wav(wav))
    except FileNotFoundError as exc:
        if exc.filename != clip_class.converter:
            raise
        raise pcm.cannot_run(clip_class.converter, exc) from None
    except CouldntDecodeError as exc:
        raise _pydub_failure(what, str(exc)) from None
    if not clip.raw_data:
        raise UsageError(f"{path}: sound file has no audio")
    return clip.set_sample_width(SAMPLE_WIDTH)


def from_pcm_wav(path: Path) -> Any:
    """A PCM WAV file as an AudioSegment, or None when it is not one. Read with ``audio.read_wav``, not
    pydub's reader: that one widens 24-bit audio byte by byte in Python."""
    with open(path, "rb") as f:
        if f.read(12)[8:12] != b"WAVE":
            return None
        f.seek(0)
        data = f.read()
    try:
        return from_audio(pcm.read_wav(data))
    except ValueError:  # float, ADPCM, extensible on Python 3.11, damaged: ffmpeg decides
        return None


def _pydub_failure(what: str, message: str) -> pcm.FfmpegError:
    """pydub's decoding failure ("... ffmpeg returned error code: N ... Output from ffmpeg/avlib: ...") in
    podpipe's one form of an ffmpeg failure."""
    code = re.search(r"error code: (-?\d+)", message)
    output = message.split("Output from ffmpeg/avlib:", 1)[-1]
    return pcm.ffmpeg_failure(what, int(code.group(1)) if code else 1, output)


def speech(audio: Audio, rate: int, channels: int) -> Any:
    """A render at the episode's ``rate`` (never lower than its own) and ``channels``."""
    clip = from_audio(audio).set_channels(channels)
    if clip.frame_rate == rate:
        return clip
    want = (audio.frames * rate + audio.rate // 2) // audio.rate
    resampled = clip.set_frame_rate(rate)
    # audioop.ratecv (pydub's set_frame_rate) may end a frame early or late; the manifest promises
    # round(frames × new / old) frames, and every later piece starts where this one ends
    frame = SAMPLE_WIDTH * channels
    data = resampled.raw_data[:want * frame]
    if len(data) < want * frame:
        data += (data[-frame:] if data else bytes(frame)) * (want - len(data) // frame)  # hold the last value
    return pcm.audio_segment()(data=data, sample_width=SAMPLE_WIDTH, frame_rate=rate, channels=channels)


def load(path: str | Path, rate: int, channels: int) -> Any:
    """A sound file decoded at ``rate`` and ``channels``."""
    clip = decode(path).set_channels(channels)
    if clip.frame_rate == rate:
        return clip
    # a filtered resampler: pydub's set_frame_rate would alias music brought down from 44.1 or 48 kHz
    return from_audio(pcm.ffmpeg_convert(to_audio(clip), rate, channels))


def sound(piece: SoundPiece, rate: int, channels: int) -> Any:
    """A sound piece at the episode's ``rate`` and ``channels``, with its gain and fades (a fade longer than
    the sound spans all of it)."""
    clip = load(piece.path, rate, channels)
    if piece.gain_db:
        clip = clip.apply_gain(piece.gain_db)
    fade_in, fade_out = (min(len(clip), round(s * 1000)) for s in (piece.fade_in, piece.fade_out))
    if fade_in > 0:
        clip = clip.fade_in(fade_in)
    if fade_out > 0:
        clip = clip.fade_out(fade_out)
    return clip


def crossfade(tail: bytes, head: bytes, rate: int, channels: int) -> bytes:
    """``tail`` fading out while ``head`` (as long) fades in, summed: what pydub's ``append(crossfade=)``
    does at one join, without copying everything before it."""
    make = pcm.audio_segment()
    out = make(data=tail, sample_width=SAMPLE_WIDTH, frame_rate=rate, channels=channels)
    into = make(data=head, sample_width=SAMPLE_WIDTH, frame_rate=rate, channels=channels)
    return out.fade(to_gain=-120, start=0, end=float("inf")).overlay(
        into.fade(from_gain=-120, start=0, end=float("inf"))).raw_data
