"""PCM helpers: WAV in/out, resampling, decoding with the real ffmpeg, gain and fades."""

from __future__ import annotations

import io
import math
import os
import struct
import subprocess
import sys
import wave
from array import array
from pathlib import Path

import pytest

from podpipe import audio as pcm
from podpipe.audio import (Audio, fade, ffmpeg_exe, gain, load_sound, read_wav, resample, rms_dbfs, silence,
                           to_channels, wav_bytes)
from podpipe.errors import UsageError
from tests.mix.helpers import tone


def samples_of(audio: Audio, channel: int = 0) -> array:
    a = array("h", audio.pcm)
    return a[channel::audio.channels]


def crossings(audio: Audio, channel: int = 0) -> int:
    s = samples_of(audio, channel)
    return sum(1 for x, y in zip(s, s[1:]) if (x < 0) != (y < 0))


def rms(samples) -> float:
    return math.sqrt(sum(x * x for x in samples) / len(samples)) if len(samples) else 0.0


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


# --- resampling, channels, silence ----------------------------------------------------------------------

def test_resample_keeps_duration_and_pitch():
    audio = tone(440, 1.0, 22050)
    up = resample(audio, 24000)
    assert up.rate == 24000 and up.frames == 24000
    assert abs(crossings(up) - crossings(audio)) <= 2  # 880 zero crossings either way
    assert abs(rms(samples_of(up)) - rms(samples_of(audio))) < 0.02 * rms(samples_of(audio))


@pytest.mark.parametrize("frames,src,dst", [(1, 22050, 24000), (12345, 22050, 24000), (7, 24000, 22050),
                                            (1000, 16000, 48000), (22050 * 3 + 17, 22050, 24000)])
def test_resample_exact_length(frames, src, dst):
    audio = Audio(bytes(2 * frames), src)
    assert resample(audio, dst).frames == round(frames * dst / src)


def test_resample_stereo_keeps_channels_apart():
    audio = tone(440, 0.5, 22050, channels=2)
    up = resample(audio, 24000)
    assert up.channels == 2 and up.frames == 12000
    assert abs(crossings(up, 0) - crossings(audio, 0)) <= 2
    assert max(map(abs, samples_of(up, 1))) == 0


def test_resample_same_rate_is_identity():
    audio = tone(440, 0.1, 24000)
    assert resample(audio, 24000) is audio


def test_channel_conversion():
    stereo = tone(440, 0.1, 24000, channels=2)
    mono = to_channels(stereo, 1)
    assert mono.channels == 1 and mono.frames == stereo.frames
    assert samples_of(mono)[100] == samples_of(stereo, 0)[100] // 2 or \
        abs(samples_of(mono)[100] - samples_of(stereo, 0)[100] / 2) <= 1
    back = to_channels(mono, 2)
    assert samples_of(back, 0) == samples_of(back, 1) == samples_of(mono)


def test_silence():
    s = silence(0.25, 24000)
    assert s.frames == 6000 and s.pcm == bytes(12000)
    assert silence(0.5, 44100, 2).frames == 22050
    assert silence(0, 24000).frames == 0
    assert rms_dbfs(s) == -math.inf


# --- decoding sound files with ffmpeg -----------------------------------------------------------------

def make_sound(tmp_path: Path, suffix: str, seconds: float = 1.0) -> Path:
    wav = tmp_path / "src.wav"
    wav.write_bytes(wav_bytes(tone(440, seconds, 44100, channels=2)))
    if suffix == ".wav":
        return wav
    out = tmp_path / f"src{suffix}"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), str(out)], check=True)
    return out


@pytest.mark.parametrize("suffix,tolerance", [(".wav", 1), (".flac", 1), (".mp3", 1200), (".ogg", 600)])
def test_load_sound_any_format(tmp_path, suffix, tolerance):
    path = make_sound(tmp_path, suffix)
    audio = load_sound(path, 24000)
    assert audio.rate == 24000 and audio.channels == 1
    assert abs(audio.frames - 24000) <= tolerance  # lossy codecs pad by up to a frame
    # 440 Hz survives (880 crossings per second), averaged from the left channel into mono
    assert abs(crossings(audio) - 880) <= 12
    assert -16 < rms_dbfs(audio) < -10  # (0.5 amplitude sine in one of two channels) ≈ -15 dBFS mono


def test_load_sound_stereo_output(tmp_path):
    audio = load_sound(make_sound(tmp_path, ".wav"), 48000, channels=2)
    assert audio.channels == 2 and audio.frames == 48000
    assert max(map(abs, samples_of(audio, 1))) < 50  # the silent right channel stays silent


def test_load_sound_needs_no_ffprobe(tmp_path, monkeypatch, clean_ffmpeg_cache):
    # only ffmpeg is reachable (imageio-ffmpeg ships no ffprobe): decoding must still work
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ffmpeg").symlink_to(pcm.ffmpeg_exe())
    pcm.ffmpeg_exe.cache_clear()
    monkeypatch.setenv("PATH", str(bindir))
    assert load_sound(make_sound(tmp_path, ".mp3"), 24000).frames > 23000


def test_load_sound_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(os.urandom(3000))
    with pytest.raises(UsageError, match="broken.mp3: cannot decode"):
        load_sound(bad, 24000)
    with pytest.raises(UsageError, match="missing.wav: sound file not found"):
        load_sound(tmp_path / "missing.wav", 24000)


# --- gain and fades -------------------------------------------------------------------------------------

def test_gain():
    audio = tone(440, 0.2, 24000, amp=0.25)
    louder = gain(audio, 6.0)
    assert rms(samples_of(louder)) / rms(samples_of(audio)) == pytest.approx(10 ** (6 / 20), rel=0.01)
    assert rms_dbfs(gain(audio, -20.0)) == pytest.approx(rms_dbfs(audio) - 20, abs=0.1)
    clipped = gain(audio, 20.0)
    assert max(samples_of(clipped)) == 32767 and min(samples_of(clipped)) == -32768
    assert gain(audio, 0.0) is audio


def test_fades():
    rate = 24000
    audio = Audio(array("h", [10000] * rate).tobytes(), rate)  # 1 s of constant level: the envelope itself
    faded = fade(audio, fade_in=0.5, fade_out=0.25)
    s = samples_of(faded)
    assert faded.frames == audio.frames
    assert s[0] == 0 and s[rate // 4] == pytest.approx(5000, abs=150) and s[rate // 2 + 10] == 10000
    assert all(a <= b for a, b in zip(s[: rate // 2], s[1: rate // 2]))  # rising, never stepping back
    assert s[-1] == 0 and s[rate - rate // 8] == pytest.approx(5000, abs=150)
    assert s[rate // 2: rate - rate // 4] == array("h", [10000] * (rate // 4))  # untouched middle


def test_fade_longer_than_audio_and_noop():
    audio = Audio(array("h", [8000] * 480).tobytes(), 24000)
    faded = samples_of(fade(audio, fade_in=5.0))
    assert faded[0] == 0 and 7000 < faded[-1] < 8000  # the ramp spans the whole (short) sound
    assert fade(audio) is audio


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
