"""The audio layer's foundation, shared by the mix stage, the cache and the backends: WAV files as bytes, the
ffmpeg binary and the one way podpipe runs it, and pydub (the mix's audio layer) configured to use it.

WAV is read and written with ``wave`` and C-speed ``audioop``, so the cache and the backends never import
pydub or numpy and importing this module costs nothing. imageio-ffmpeg ships no ffprobe, so every ffmpeg
call names its formats explicitly and nothing here probes. Every ffmpeg run of podpipe goes through
``run_ffmpeg`` (or, for pydub's own runs, ``ffmpeg_failure``), so a missing binary or a failure reads the same
wherever it happens. pydub is imported only by ``audio_segment()``, only when a mix runs.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import struct
from collections.abc import Iterable, Sequence
from typing import Any

from podpipe.audio_types import SAMPLE_WIDTH, Audio
from podpipe.errors import UsageError

__all__ = ["Audio", "FfmpegError", "audio_segment", "audioop_module", "cannot_run", "ffmpeg_convert", "ffmpeg_exe",
           "ffmpeg_failure", "read_wav", "run_ffmpeg", "wav_bytes", "wav_header", "write_wav"]


def audioop_module():
    """The C ``audioop`` module (stdlib up to 3.12, the audioop-lts package from 3.13 on)."""
    import warnings

    with warnings.catch_warnings():
        # 3.11/3.12 warn on import; the audioop-lts backport keeps the same API from 3.13.
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    return audioop


@functools.cache
def audio_segment() -> Any:
    """pydub's ``AudioSegment`` class, imported on first use without its import-time warnings.

    pydub warns "Couldn't find ffmpeg or avconv" when ffmpeg is not on PATH (imageio-ffmpeg's binary is
    not): podpipe points ``AudioSegment.converter`` at ``ffmpeg_exe()`` itself before pydub needs ffmpeg
    (``mix.clips``), so the warning would only mislead.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "Couldn't find ffmpeg or avconv"
        warnings.simplefilter("ignore", DeprecationWarning)  # pydub imports audioop (3.11/3.12)
        from pydub import AudioSegment
    return AudioSegment


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: ``ffmpeg`` on PATH, else the static binary of imageio-ffmpeg."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # ImportError, or RuntimeError when the wheel has no binary for this platform
        raise UsageError(
            "ffmpeg not found: MP3 export and decoding sound files need it. Install it with "
            "`pip install imageio-ffmpeg` (bundles a static ffmpeg) or put ffmpeg on PATH "
            f"({type(exc).__name__}: {exc})"
        ) from None


def wav_header(frames: int, rate: int, channels: int = 1) -> bytes:
    """The canonical 44-byte header of a 16-bit PCM WAV file (what ``wave`` writes), so PCM can follow
    it in pieces without ever being joined."""
    size = frames * SAMPLE_WIDTH * channels
    if size > 0xFFFFFFFF - 36:
        raise ValueError(f"{frames / rate / 3600:.1f} h of audio exceeds the 4 GiB limit of a WAV file")
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + size, b"WAVE", b"fmt ", 16, 1, channels, rate,
                       rate * channels * SAMPLE_WIDTH, channels * SAMPLE_WIDTH, SAMPLE_WIDTH * 8, b"data", size)


def wav_bytes(audio: Audio) -> bytes:
    """A complete RIFF/WAVE file holding ``audio``."""
    return wav_header(audio.frames, audio.rate, audio.channels) + audio.pcm


def write_wav(audio: Audio, file) -> None:
    """Write ``audio`` as WAV to a path or binary file object without copying the PCM."""
    if isinstance(file, (str, os.PathLike)):
        with open(file, "wb") as f:
            return write_wav(audio, f)
    file.write(wav_header(audio.frames, audio.rate, audio.channels))
    file.write(audio.pcm)


# A data-chunk size that streaming writers put in the header when the length is not known yet.
_UNKNOWN_SIZES = {0xFFFFFFFF, 0x7FFFFFFF}


def read_wav(data: bytes) -> Audio:
    """Decode a WAV file; ``ValueError`` when it is truncated, garbled or not PCM.

    8/24/32-bit PCM is converted to 16-bit. A data chunk shorter than its header says is an error
    (a cut-off download or write), except for the "unknown length" placeholder streaming writers use.
    """
    import wave

    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            channels, width, rate, nframes = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            # nframes is derived from the data chunk's size field; keep the raw value to spot placeholders
            declared = getattr(getattr(w, "_data_chunk", None), "chunksize", None)
            pcm = w.readframes(nframes)
    except (wave.Error, EOFError, struct.error) as exc:
        raise ValueError(f"not a readable WAV file: {exc}") from None
    if channels < 1 or rate < 1 or width not in (1, 2, 3, 4):
        raise ValueError(f"unsupported WAV parameters: {channels} channels, {width * 8}-bit, {rate} Hz")
    frame = width * channels
    if len(pcm) < nframes * frame and declared not in _UNKNOWN_SIZES:
        raise ValueError(f"truncated WAV data: header says {nframes} frames, found {len(pcm) // frame}")
    pcm = pcm[: len(pcm) // frame * frame]
    if width != SAMPLE_WIDTH:
        # not pydub's set_sample_width: the cache and the backends read WAV without pydub, and pydub widens
        # 24-bit audio byte by byte in Python where audioop works in C
        audioop = audioop_module()
        if width == 1:  # 8-bit WAV is unsigned
            pcm = audioop.bias(pcm, 1, -128)
        pcm = audioop.lin2lin(pcm, width, SAMPLE_WIDTH)
    return Audio(pcm, rate, channels)


def ffmpeg_convert(audio: Audio, rate: int, channels: int = 1) -> Audio:
    """``audio`` at ``rate``/``channels``, resampled with ffmpeg's filtered resampler; exactly
    round(frames*rate/old) frames.

    pydub's ``set_frame_rate`` (audioop.ratecv) interpolates without an anti-alias filter: fine for speech
    going up 22.05 → 24 kHz, but it would leave audible images at 44.1 kHz and alias music brought down from
    48 kHz. Channels are converted with pydub's ``set_channels`` (ffmpeg's upmix would be 3 dB down).
    """
    if (audio.rate, audio.channels) == (rate, channels) or not audio.pcm:
        return Audio(audio.pcm, rate, channels) if not audio.pcm else audio
    if audio.channels != channels:
        segment = audio_segment()(data=audio.pcm, sample_width=SAMPLE_WIDTH, frame_rate=audio.rate,
                                  channels=audio.channels).set_channels(channels)
        audio = Audio(segment.raw_data, audio.rate, channels)
        if audio.rate == rate:
            return audio
    out = run_ffmpeg(["-f", "s16le", "-ar", str(audio.rate), "-ac", str(channels), "-i", "pipe:0",
                      "-f", "s16le", "-acodec", "pcm_s16le", "-ac", str(channels), "-ar", str(rate), "pipe:1"],
                     f"ffmpeg could not resample to {rate} Hz", feed=[audio.pcm], capture=True)
    frame = SAMPLE_WIDTH * channels
    want = (audio.frames * rate + audio.rate // 2) // audio.rate
    pcm = out[: want * frame]
    if len(pcm) < want * frame:  # the resampler's flush may end a few frames short: pad with silence
        pcm += bytes(want * frame - len(pcm))
    return Audio(pcm, rate, channels)


class FfmpegError(UsageError):
    """ffmpeg could not be started, or failed on a file; the message says what was being done and ends with
    ffmpeg's own last line, which names the cause."""


def ffmpeg_failure(what: str, code: int, stderr: bytes | str) -> FfmpegError:
    """The one form of an ffmpeg failure: ``<what> (exit N): <ffmpeg's last line>``."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = text.strip().splitlines()
    return FfmpegError(f"{what} (exit {code}): {lines[-1] if lines else 'no message'}")


def cannot_run(exe: str, exc: OSError) -> FfmpegError:
    """The one form of "the ffmpeg binary could not be started"."""
    return FfmpegError(f"cannot run ffmpeg ({exe}): {exc.strerror or exc}; install imageio-ffmpeg or put ffmpeg "
                       "on PATH")


def run_ffmpeg(args: Sequence[str], what: str, *, feed: Iterable[bytes] | None = None, capture: bool = False) -> bytes:
    """Run ``ffmpeg args`` (quietly, never reading the terminal) to completion: ``feed``'s chunks go to its
    stdin one after the other (never joined), and its stdout is returned when ``capture`` (else b"").

    A binary that cannot be started, or a non-zero exit, is an ``FfmpegError``; ``what`` says what was being
    done ("ffmpeg failed to encode MP3", "<path>: cannot decode sound file"). Interrupted, ffmpeg is killed.
    """
    import subprocess  # nosec B404  # ffmpeg only, fixed argv, no shell
    import tempfile
    import threading

    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", *args]
    feeding = feed is not None
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: ffmpeg can never block on it
        try:
            stdin = subprocess.PIPE if feeding else subprocess.DEVNULL
            stdout = subprocess.PIPE if capture else subprocess.DEVNULL
            proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=errors)  # nosec B603  # fixed argv
        except OSError as exc:
            raise cannot_run(cmd[0], exc) from None

        def write() -> None:
            with contextlib.suppress(BrokenPipeError):  # ffmpeg quit early: its exit code and message say why
                for chunk in feed or ():
                    proc.stdin.write(chunk)
                proc.stdin.close()

        try:
            out = b""
            if capture:  # reading and writing at once: a full stdout pipe must never block the feeding
                writer = threading.Thread(target=write, daemon=True) if feeding else None
                if writer:
                    writer.start()
                out = proc.stdout.read()
                if writer:
                    writer.join()
            elif feeding:
                write()
            code = proc.wait()
        finally:
            if proc.poll() is None:  # interrupted while feeding or reading it
                proc.kill()
                proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):  # a pipe ffmpeg closed: nothing left to flush into it
                        stream.close()
        if code != 0:
            errors.seek(0)
            raise ffmpeg_failure(what, code, errors.read())
    return out
