"""PCM helpers shared by the mix stage, the cache and the backends.

Everything works on ``Audio`` (signed 16-bit little-endian PCM bytes) with the standard library, C-speed
``audioop`` and the ffmpeg binary; no pydub or numpy, so importing this module costs nothing and a long
episode is never copied more often than necessary. ffmpeg is only needed for compressed files: WAV is read
and written with ``wave``. imageio-ffmpeg ships no ffprobe, so every ffmpeg call names its formats
explicitly and nothing here probes. Every ffmpeg run of podpipe goes through ``run_ffmpeg``, so a missing
binary or a failure reads the same wherever it happens.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import shutil
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

from podpipe.audio_types import SAMPLE_WIDTH, Audio
from podpipe.errors import UsageError

__all__ = [
    "Audio", "ffmpeg_exe", "wav_header", "wav_bytes", "write_wav", "read_wav", "resample", "to_channels", "convert", "silence",
    "load_sound", "gain", "fade", "rms_dbfs", "ffmpeg_convert", "FfmpegError", "run_ffmpeg", "ffmpeg_failure",
]


def _audioop():
    """The C ``audioop`` module (stdlib up to 3.12, the audioop-lts package from 3.13 on)."""
    import warnings

    with warnings.catch_warnings():
        # 3.11/3.12 warn on import; the audioop-lts backport keeps the same API from 3.13.
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    return audioop


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
        audioop = _audioop()
        if width == 1:  # 8-bit WAV is unsigned
            pcm = audioop.bias(pcm, 1, -128)
        pcm = audioop.lin2lin(pcm, width, SAMPLE_WIDTH)
    return Audio(pcm, rate, channels)


def _frames_for(seconds: float, rate: int) -> int:
    return max(0, int(round(seconds * rate)))


def silence(seconds: float, rate: int, channels: int = 1) -> Audio:
    return Audio(bytes(_frames_for(seconds, rate) * SAMPLE_WIDTH * channels), rate, channels)


def resample(audio: Audio, rate: int) -> Audio:
    """Linear-interpolation resampling in C (audioop.ratecv), one pass, exactly round(frames*rate/old) frames.

    Without an anti-alias filter, so it is meant for speech going up to the episode rate (22050 → 24000);
    sound files are resampled by ffmpeg while decoding (``load_sound``).
    """
    if audio.rate == rate or not audio.pcm:
        return Audio(audio.pcm, rate, audio.channels) if audio.rate != rate else audio
    if rate < 1:
        raise ValueError(f"invalid sample rate {rate}")
    audioop = _audioop()
    pcm, _ = audioop.ratecv(audio.pcm, SAMPLE_WIDTH, audio.channels, audio.rate, rate, None)
    frame = SAMPLE_WIDTH * audio.channels
    want = (audio.frames * rate + audio.rate // 2) // audio.rate
    have = len(pcm) // frame
    if have > want:
        pcm = pcm[: want * frame]
    elif have < want:  # ratecv may end a frame early: hold the last value
        last = pcm[-frame:] if pcm else bytes(frame)
        pcm = pcm + last * (want - have)
    return Audio(pcm, rate, audio.channels)


def to_channels(audio: Audio, channels: int) -> Audio:
    """Mono ↔ stereo (mono is duplicated; stereo is averaged)."""
    if audio.channels == channels:
        return audio
    audioop = _audioop()
    if audio.channels == 2 and channels == 1:
        return Audio(audioop.tomono(audio.pcm, SAMPLE_WIDTH, 0.5, 0.5), audio.rate, 1)
    if audio.channels == 1 and channels == 2:
        return Audio(audioop.tostereo(audio.pcm, SAMPLE_WIDTH, 1.0, 1.0), audio.rate, 2)
    raise ValueError(f"cannot convert {audio.channels} channels to {channels}")


def convert(audio: Audio, rate: int, channels: int = 1) -> Audio:
    """``audio`` at ``rate`` with ``channels``; the same object when nothing changes."""
    return resample(to_channels(audio, channels), rate)


def load_sound(path: str | os.PathLike, rate: int, channels: int = 1) -> Audio:
    """Decode any file ffmpeg reads (wav, mp3, ogg, flac, …) to PCM at ``rate``/``channels``.

    ffmpeg resamples with its own filtered resampler. The output format is given explicitly, so no ffprobe
    is needed. Raises ``UsageError`` naming the file when it cannot be decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: sound file not found")
    out = run_ffmpeg(["-i", os.fspath(path), "-vn", "-map", "0:a:0", "-f", "s16le", "-acodec", "pcm_s16le",
                      "-ac", str(channels), "-ar", str(rate), "pipe:1"],
                     f"{path}: cannot decode sound file", capture=True)
    frame = SAMPLE_WIDTH * channels
    pcm = out[: len(out) // frame * frame]
    if not pcm:
        raise UsageError(f"{path}: sound file has no audio")
    return Audio(pcm, rate, channels)


def gain(audio: Audio, db: float) -> Audio:
    """Scale by ``db`` decibels, clipping at full scale."""
    if not db or not audio.pcm:
        return audio
    return Audio(_audioop().mul(audio.pcm, SAMPLE_WIDTH, 10 ** (db / 20)), audio.rate, audio.channels)


def fade(audio: Audio, fade_in: float = 0.0, fade_out: float = 0.0) -> Audio:
    """Linear fade in from silence and out to silence, in 1 ms steps (inaudible, C speed).

    A fade longer than the audio is shortened to the audio's length.
    """
    n_in = min(_frames_for(fade_in, audio.rate), audio.frames)
    n_out = min(_frames_for(fade_out, audio.rate), audio.frames)
    if not n_in and not n_out:
        return audio
    audioop = _audioop()
    frame = SAMPLE_WIDTH * audio.channels
    buf = bytearray(audio.pcm)
    step = max(1, audio.rate // 1000)

    def ramp(start: int, count: int, rising: bool) -> None:
        for pos in range(0, count, step):
            n = min(step, count - pos)
            # a fade in starts at exactly 0 and a fade out ends at exactly 0
            factor = pos / count if rising else 1.0 - (pos + n) / count
            a, b = (start + pos) * frame, (start + pos + n) * frame
            buf[a:b] = audioop.mul(bytes(buf[a:b]), SAMPLE_WIDTH, factor)

    if n_in:
        ramp(0, n_in, True)
    if n_out:
        ramp(audio.frames - n_out, n_out, False)
    return Audio(bytes(buf), audio.rate, audio.channels)


def rms_dbfs(audio: Audio) -> float:
    """RMS level in dBFS (-inf for digital silence)."""
    if not audio.pcm:
        return -math.inf
    rms = _audioop().rms(audio.pcm, SAMPLE_WIDTH)
    return 20 * math.log10(rms / 32768) if rms else -math.inf


def ffmpeg_convert(audio: Audio, rate: int, channels: int = 1) -> Audio:
    """``audio`` at ``rate``/``channels`` through ffmpeg's filtered resampler (for output rates such as
    44.1 kHz, where linear interpolation would leave audible images); exactly round(frames*rate/old) frames."""
    if (audio.rate, audio.channels) == (rate, channels) or not audio.pcm:
        return Audio(audio.pcm, rate, channels) if not audio.pcm else audio
    if audio.channels != channels:  # exact duplication/averaging (ffmpeg's upmix would be 3 dB down)
        audio = to_channels(audio, channels)
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
            raise FfmpegError(f"cannot run ffmpeg ({cmd[0]}): {exc.strerror or exc}; install imageio-ffmpeg "
                              "or put ffmpeg on PATH") from None

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
        if code != 0:
            errors.seek(0)
            raise ffmpeg_failure(what, code, errors.read())
    return out


def crossfade_join(tail: bytes, head: bytes, rate: int, channels: int = 1) -> bytes:
    """``tail`` fading out linearly while ``head`` (as long) fades in, summed with clipping."""
    out = fade(Audio(tail, rate, channels), 0.0, (len(tail) // (SAMPLE_WIDTH * channels)) / rate)
    into = fade(Audio(head, rate, channels), (len(head) // (SAMPLE_WIDTH * channels)) / rate, 0.0)
    return _audioop().add(out.pcm, into.pcm, SAMPLE_WIDTH)
