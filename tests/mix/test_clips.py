"""Pieces as pydub AudioSegments: renders at the episode rate (exact lengths), sound files of every format
decoded by pydub without ffprobe, gain and fades, crossfades."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from array import array
from pathlib import Path

import pytest

from podpipe import audio as pcm
from podpipe.audio import Audio, FfmpegError, ffmpeg_exe, wav_bytes
from podpipe.compile import SoundPiece
from podpipe.errors import UsageError
from podpipe.mix import clips
from tests.mix.helpers import crossings, rms, samples_of
from tests.support.audio import tone


@pytest.fixture
def clean_ffmpeg_cache():
    pcm.ffmpeg_exe.cache_clear()
    yield
    pcm.ffmpeg_exe.cache_clear()


# --- renders at the episode rate ---------------------------------------------------------------------------

def test_speech_keeps_duration_and_pitch():
    audio = tone(440, 1.0, 22050)
    up = clips.to_audio(clips.speech(audio, 24000, 1))
    assert up.rate == 24000 and up.frames == 24000
    assert abs(crossings(up) - crossings(audio)) <= 2  # 880 zero crossings either way
    assert abs(rms(samples_of(up)) - rms(samples_of(audio))) < 0.02 * rms(samples_of(audio))


@pytest.mark.parametrize("frames,src,dst", [(1, 22050, 24000), (12345, 22050, 24000), (7, 24000, 22050),
                                            (1000, 16000, 48000), (22050 * 3 + 17, 22050, 24000), (0, 22050, 24000)])
def test_speech_has_the_exact_length(frames, src, dst):
    clip = clips.speech(Audio(bytes(2 * frames), src), dst, 1)
    assert clip.frame_rate == dst and len(clip.raw_data) // 2 == round(frames * dst / src)


def test_speech_channels():
    stereo = tone(440, 0.5, 22050, channels=2)  # the tone on the left, silence on the right
    up = clips.to_audio(clips.speech(stereo, 24000, 2))
    assert up.channels == 2 and up.frames == 12000
    assert abs(crossings(up, 0) - crossings(stereo, 0)) <= 2 and max(map(abs, samples_of(up, 1))) == 0
    mono = clips.to_audio(clips.speech(stereo, 22050, 1))
    assert mono.channels == 1 and all(abs(m - s / 2) <= 1 for m, s in zip(samples_of(mono), samples_of(stereo)))
    back = clips.to_audio(clips.speech(mono, 22050, 2))
    assert samples_of(back, 0) == samples_of(back, 1) == samples_of(mono)


def test_speech_at_its_own_rate_is_not_copied():
    audio = tone(440, 0.1, 24000)
    assert clips.speech(audio, 24000, 1).raw_data is audio.pcm


# --- sound files -------------------------------------------------------------------------------------------

def make_sound(tmp_path: Path, suffix: str, seconds: float = 1.0, *args: str) -> Path:
    wav = tmp_path / "src.wav"
    wav.write_bytes(wav_bytes(tone(440, seconds, 44100, channels=2)))
    if suffix == ".wav" and not args:
        return wav
    out = tmp_path / f"sound{suffix}"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), *args, str(out)],
                   check=True)
    return out


FORMATS = {  # suffix, extra ffmpeg arguments → what the header says, frames a lossy codec may add or drop
    "wav": (".wav", (), None, 1), "flac": (".flac", (), ("flac", "flac"), 1),
    "mp3": (".mp3", (), ("mp3", "mp3float"), 1200), "vorbis": (".ogg", (), ("ogg", "vorbis"), 600),
    "opus": (".opus", ("-c:a", "libopus"), ("ogg", "opus"), 600), "aac": (".m4a", (), ("mp4", "aac"), 1200),
    "float wav": (".wav", ("-c:a", "pcm_f32le"), None, 1), "24-bit wav": (".wav", ("-c:a", "pcm_s24le"), None, 1),
    "aiff": (".aiff", (), None, 1),  # no header podpipe names: ffmpeg finds out itself
}


@pytest.mark.parametrize("name", FORMATS)
def test_sounds_of_any_format(tmp_path, name):
    suffix, args, sniffed, tolerance = FORMATS[name]
    path = make_sound(tmp_path, suffix, 1.0, *args)
    assert clips.sniff(path) == sniffed
    audio = clips.to_audio(clips.load(path, 24000, 1))
    assert audio.rate == 24000 and audio.channels == 1
    assert abs(audio.frames - 24000) <= tolerance
    # 440 Hz survives (880 crossings per second), averaged from the left channel into mono
    assert abs(crossings(audio) - 880) <= 12
    assert -16 < clips.from_audio(audio).dBFS < -10  # a 0.5 sine in one of two channels ≈ -15 dBFS mono


def test_mp3_behind_a_large_id3_tag(tmp_path):
    from mutagen.id3 import APIC, ID3

    path = make_sound(tmp_path, ".mp3")
    tags = ID3(path)
    tags.add(APIC(encoding=1, mime="image/png", type=3, desc="Cover", data=os.urandom(20000)))
    tags.save(path)
    assert path.read_bytes()[:3] == b"ID3" and clips.sniff(path) == ("mp3", "mp3float")
    assert clips.load(path, 24000, 1).frame_rate == 24000


def test_sound_in_stereo(tmp_path):
    audio = clips.to_audio(clips.load(make_sound(tmp_path, ".wav"), 48000, 2))
    assert audio.channels == 2 and audio.frames == 48000
    assert max(map(abs, samples_of(audio, 1))) < 50  # the silent right channel stays silent


def test_sounds_need_no_ffprobe_and_no_ffmpeg_on_path(tmp_path, monkeypatch, clean_ffmpeg_cache):
    # imageio-ffmpeg ships no ffprobe and is not on PATH: pydub decodes with it all the same, and quietly
    mp3 = make_sound(tmp_path, ".mp3")
    code = ("import sys; from podpipe.mix import clips; "
            f"s = clips.load({str(mp3)!r}, 24000, 1); assert len(s.raw_data) > 46000, len(s.raw_data)")
    env = dict(os.environ, PATH=str(tmp_path), PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_sound_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"\xff\xfb" + os.urandom(3000))
    with pytest.raises(FfmpegError, match=r"broken.mp3: cannot decode sound file \(exit \d+\): \S"):
        clips.load(bad, 24000, 1)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(3000))
    with pytest.raises(FfmpegError, match=r"garbage.bin: cannot decode sound file \(exit \d+\): \S"):
        clips.load(garbage, 24000, 1)
    with pytest.raises(UsageError, match="missing.wav: sound file not found"):
        clips.load(tmp_path / "missing.wav", 24000, 1)


def test_an_empty_sound_is_an_error(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(wav_bytes(Audio(b"", 24000)))
    with pytest.raises(UsageError, match="empty.wav: sound file has no audio"):
        clips.load(empty, 24000, 1)


# --- gain and fades ----------------------------------------------------------------------------------------

def sound_piece(tmp_path: Path, audio: Audio, **kw) -> SoundPiece:
    path = tmp_path / "sound.wav"
    path.write_bytes(wav_bytes(audio))
    return SoundPiece(path, "s1", 0, **kw)


def level(tmp_path: Path, audio: Audio, **kw) -> array:
    return samples_of(clips.to_audio(clips.sound(sound_piece(tmp_path, audio, **kw), audio.rate, 1)))


def test_gain(tmp_path):
    audio = tone(440, 0.2, 24000, amp=0.25)
    louder = level(tmp_path, audio, gain_db=6.0)
    assert rms(louder) / rms(samples_of(audio)) == pytest.approx(10 ** (6 / 20), rel=0.01)
    clipped = level(tmp_path, audio, gain_db=20.0)
    assert max(clipped) == 32767 and min(clipped) == -32768
    assert level(tmp_path, audio) == samples_of(audio)


def test_fades(tmp_path):
    rate = 24000
    audio = Audio(array("h", [10000] * rate).tobytes(), rate)  # 1 s of constant level: the envelope itself
    s = level(tmp_path, audio, fade_in=0.5, fade_out=0.25)
    assert len(s) == rate
    assert s[0] == 0 and s[rate // 4] == pytest.approx(5000, abs=150) and s[rate // 2 + 10] == 10000
    assert all(a <= b for a, b in zip(s[: rate // 2], s[1: rate // 2]))  # rising, never stepping back
    assert s[-1] < 100 and s[rate - rate // 8] == pytest.approx(5000, abs=150)
    assert s[rate // 2: rate - rate // 4] == array("h", [10000] * (rate // 4))  # untouched middle


def test_a_fade_longer_than_the_sound_spans_it(tmp_path):
    s = level(tmp_path, Audio(array("h", [8000] * 480).tobytes(), 24000), fade_in=5.0)
    assert s[0] == 0 and 7000 < s[-1] < 8000  # the ramp spans the whole (short) sound


def test_crossfade():
    rate = 24000
    tail, head = (Audio(array("h", [v] * rate).tobytes(), rate) for v in (10000, -6000))
    mixed = array("h", clips.crossfade(tail.pcm, head.pcm, rate, 1))
    assert len(mixed) == rate
    assert abs(mixed[0] - 10000) <= 1 and abs(mixed[-1] - -6000) <= 200  # one out, the other in
    assert mixed[rate // 2] == pytest.approx((10000 - 6000) / 2, abs=100)


def test_sound_files_are_read_as_written(tmp_path):
    # 16-bit PCM WAV needs no ffmpeg: the decoded samples are the file's
    audio = tone(300, 0.3, 24000)
    path = tmp_path / "a.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(24000)
        w.writeframes(audio.pcm)
    assert clips.decode(path).raw_data == audio.pcm
