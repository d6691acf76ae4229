"""Sound files (sounds, music beds, and the encoded output when its loudness is checked) decoded to pydub
AudioSegments at their own rate and channel count, 16-bit.

pydub decodes with ffmpeg (``AudioSegment.from_file``), but it asks ffprobe for the codec unless it is told,
and imageio-ffmpeg ships no ffprobe: so the container and codec are read from the file's first bytes
(``sniff``) and handed to pydub. PCM WAV needs no ffmpeg at all. A file whose header names nothing podpipe
knows is decoded by ffmpeg's own format detection through ``run_ffmpeg``, so any file ffmpeg reads still works.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from podpipe import audio
from podpipe.audio_types import SAMPLE_WIDTH, Audio
from podpipe.errors import UsageError

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
    segment_class = audio.audio_segment()
    from pydub.exceptions import CouldntDecodeError

    try:
        segment = from_pcm_wav(path)
        found = sniff(path) if segment is None else None
        if found:
            segment_class.converter = audio.ffmpeg_exe()  # pydub's own guess is "ffmpeg" on PATH
            segment = segment_class.from_file(str(path), format=found[0], codec=found[1])
        elif segment is None:  # a container the header does not name: ffmpeg's own detection decides
            wav = audio.run_ffmpeg(["-i", str(path), "-vn", "-map", "0:a:0", "-f", "wav", "-acodec", "pcm_s16le",
                                    "pipe:1"], what, capture=True)
            segment = _segment(audio.read_wav(wav))
    except FileNotFoundError as exc:
        if exc.filename != segment_class.converter:
            raise
        raise audio.cannot_run(segment_class.converter, exc) from None
    except CouldntDecodeError as exc:
        raise _pydub_failure(what, str(exc)) from None
    if not segment.raw_data:
        raise UsageError(f"{path}: sound file has no audio")
    return segment.set_sample_width(SAMPLE_WIDTH)


def from_pcm_wav(path: Path) -> Any:
    """A PCM WAV file as an AudioSegment, or None when it is not one. Read with ``audio.read_wav``, not
    pydub's reader: that one widens 24-bit audio byte by byte in Python."""
    with open(path, "rb") as f:
        if f.read(12)[8:12] != b"WAVE":
            return None
        f.seek(0)
        data = f.read()
    try:
        return _segment(audio.read_wav(data))
    except ValueError:  # float, ADPCM, extensible on Python 3.11, damaged: ffmpeg decides
        return None


def _segment(pcm: Audio) -> Any:
    return audio.audio_segment()(data=pcm.pcm, sample_width=SAMPLE_WIDTH, frame_rate=pcm.rate,
                                 channels=pcm.channels)


def _pydub_failure(what: str, message: str) -> audio.FfmpegError:
    """pydub's decoding failure ("... ffmpeg returned error code: N ... Output from ffmpeg/avlib: ...") in
    podpipe's one form of an ffmpeg failure."""
    code = re.search(r"error code: (-?\d+)", message)
    output = message.split("Output from ffmpeg/avlib:", 1)[-1]
    return audio.ffmpeg_failure(what, int(code.group(1)) if code else 1, output)
