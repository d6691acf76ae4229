"""The audio foundation: finding ffmpeg, WAV in/out, the ffmpeg runner and its one error form, the filtered
resampler, and pydub imported lazily and quietly."""

from __future__ import annotations

import io
import os
import re
import struct
import subprocess
import sys
import wave

import pytest

from podpipe import audio as pcm
from podpipe.audio import Audio, FfmpegError, ffmpeg_exe, read_wav, run_ffmpeg, wav_bytes
from podpipe.errors import UsageError
from tests.mix.helpers import crossings, rms, samples_of
from tests.support.audio import tone


@pytest.fixture
def clean_ffmpeg_cache():
    pcm.ffmpeg_exe.cache_clear()
    yield
    pcm.ffmpeg_exe.cache_clear()


# --- ffmpeg discovery ---------------------------------------------------------------------------------

def test_ffmpeg_exe_finds_a_working_binary(clean_ffmpeg_cache):
    exe = ffmpeg_exe()
    assert os.access(exe, os.X_OK)
    assert ffmpeg_exe() is exe  # cached
    out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    assert "libmp3lame" in out


def test_ffmpeg_on_path_wins(tmp_path, monkeypatch, clean_ffmpeg_cache):
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ffmpeg_exe() == str(fake)


def test_no_ffmpeg_is_a_clear_error(tmp_path, monkeypatch, clean_ffmpeg_cache):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # makes `import imageio_ffmpeg` fail
    with pytest.raises(UsageError, match="ffmpeg not found.*pip install imageio-ffmpeg"):
        ffmpeg_exe()


# --- WAV ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("channels,rate", [(1, 24000), (2, 44100), (1, 22050)])
def test_wav_round_trip(channels, rate):
    audio = tone(440, 0.3, rate, channels=channels)
    data = wav_bytes(audio)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert read_wav(data) == audio
    with wave.open(io.BytesIO(data)) as w:  # a plain reader agrees
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth(), w.getnframes()) == (
            channels, rate, 2, audio.frames)


def test_read_wav_rejects_truncated_data():
    data = wav_bytes(tone(440, 0.2, 24000))
    with pytest.raises(ValueError, match="truncated"):
        read_wav(data[:-100])
    with pytest.raises(ValueError):
        read_wav(data[:30])  # cut inside the header


@pytest.mark.parametrize("data", [b"", b"hello world", b"RIFF\x00\x00\x00\x00WAVEjunk", os.urandom(200),
                                  b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + bytes(40)])
def test_read_wav_rejects_garbage(data):
    with pytest.raises(ValueError):
        read_wav(data)


def test_read_wav_empty_but_valid():
    audio = read_wav(wav_bytes(Audio(b"", 24000)))
    assert audio.frames == 0 and audio.rate == 24000


def test_read_wav_accepts_streaming_placeholder_size():
    audio = tone(300, 0.1, 24000)
    data = bytearray(wav_bytes(audio))
    data[40:44] = struct.pack("<I", 0xFFFFFFFF)  # data chunk size unknown, as streaming writers leave it
    assert read_wav(bytes(data)) == audio


@pytest.mark.parametrize("width", [1, 3, 4])
def test_read_wav_converts_other_widths(width):
    source = tone(500, 0.05, 16000, amp=0.5)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(width), w.setframerate(16000)
        if width == 1:
            data = bytes((s >> 8) + 128 for s in samples_of(source))
        else:
            data = b"".join(int(s << (8 * (width - 2))).to_bytes(width, "little", signed=True)
                            for s in samples_of(source))
        w.writeframes(data)
    audio = read_wav(buf.getvalue())
    assert audio.frames == source.frames and audio.rate == 16000
    for got, want in zip(samples_of(audio), samples_of(source)):
        assert abs(got - want) <= (256 if width == 1 else 0)


@pytest.mark.parametrize("src, dst, channels", [(24000, 44100, 1), (22050, 48000, 2), (48000, 24000, 1)])
def test_ffmpeg_convert_keeps_length_pitch_and_channels(src, dst, channels):
    audio = tone(441, 1.7, src)
    out = pcm.ffmpeg_convert(audio, dst, channels)
    assert (out.rate, out.channels) == (dst, channels)
    assert out.frames == (audio.frames * dst + src // 2) // src
    assert abs(crossings(out) - crossings(audio)) <= 4  # same pitch
    assert abs(rms(samples_of(out)) - rms(samples_of(audio))) < 0.02 * rms(samples_of(audio))
    assert pcm.ffmpeg_convert(audio, src, 1) is audio


def test_ffmpeg_that_cannot_start_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setattr(pcm, "ffmpeg_exe", lambda: str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(UsageError, match="cannot run ffmpeg"):
        pcm.ffmpeg_convert(tone(440, 0.1, 24000), 44100)


# --- the runner --------------------------------------------------------------------------------------------

def test_runner_feeds_chunks_and_captures_output():
    chunks = [tone(440, 0.5, 24000).pcm, tone(330, 0.5, 24000).pcm]
    out = run_ffmpeg(["-f", "s16le", "-ar", "24000", "-ac", "1", "-i", "pipe:0", "-f", "s16le", "pipe:1"],
                     "copy", feed=chunks, capture=True)
    assert out == b"".join(chunks)


def test_runner_failures_have_one_form():
    with pytest.raises(FfmpegError) as failed:
        run_ffmpeg(["-f", "lavfi", "-i", "no-such-filter", "-f", "null", "-"], "ffmpeg failed to frobnicate")
    assert re.fullmatch(r"ffmpeg failed to frobnicate \(exit \d+\): .*Filter not found", str(failed.value))


# --- pydub, the mix's audio layer ----------------------------------------------------------------------------

def test_pydub_is_imported_quietly_even_without_ffmpeg_on_path(tmp_path):
    # pydub warns "Couldn't find ffmpeg or avconv" at import when ffmpeg is not on PATH (imageio-ffmpeg's
    # binary is not); podpipe points pydub at its own ffmpeg, so the warning must not show
    code = ("import sys; from podpipe.audio import audio_segment; "
            "assert 'pydub' not in sys.modules; segment = audio_segment(); assert 'pydub' in sys.modules")
    env = dict(os.environ, PATH=str(tmp_path))
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr
