"""The mix stage on hand-built episodes with synthetic audio: exact timings, resampling, sounds, WAV/MP3
export through the real ffmpeg, atomic writes, manifests and the up-to-date check."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle
import subprocess
import sys
from array import array
from pathlib import Path

import pytest

from podpipe import __version__
from podpipe.audio import ffmpeg_exe, read_wav, wav_bytes
from podpipe.audio_types import Audio
from podpipe.compile import CompiledEpisode, SilencePiece, SoundPiece
from podpipe.errors import PodpipeError, UsageError
from podpipe.files import write_atomic
from podpipe.mix import (MIX_VERSION, MixContext, MixResult, MixStep, clips, export, inputs_digest, is_up_to_date,
                         manifest_path, mix_episode, stitch)
from tests.mix.helpers import compiled_episode
from tests.support.audio import speech, tone

KEY_A, KEY_B, KEY_C = ("a" * 64, "b" * 64, "c" * 64)


def samples(data: bytes) -> array:
    return array("h", data)


def rms(data: bytes) -> float:
    s = samples(data)
    return math.sqrt(sum(x * x for x in s) / len(s)) if s else 0.0


def gap(seconds: float = 0.25) -> SilencePiece:
    return SilencePiece(seconds, "gap")


@pytest.fixture
def make(tmp_path):
    """Stitching tests check exact samples: loudness is off and the speech rate kept unless asked for."""

    def build(pieces, fmt: str = "wav", title: str = "Episode 1: Hello", **fields) -> CompiledEpisode:
        fields = {"loudness": None, "sample_rate": None if fmt == "wav" else 24000} | fields
        return compiled_episode(tmp_path, pieces, fmt, name="ep01", spec_dir="episodes", title=title, **fields)

    return build


def replace_plan(compiled: CompiledEpisode, **changes) -> CompiledEpisode:
    return dataclasses.replace(compiled, rundown=dataclasses.replace(compiled.rundown, **changes))


@pytest.fixture
def renders():
    return {KEY_A: tone(440, 1.0, 24000, amp=0.4), KEY_B: tone(330, 0.5, 24000, amp=0.4),
            KEY_C: tone(550, 1.0, 22050, amp=0.4)}


@pytest.fixture
def jingle(tmp_path) -> Path:
    path = tmp_path / "episodes" / "assets" / "jingle.wav"
    path.parent.mkdir(parents=True)
    path.write_bytes(wav_bytes(tone(660, 1.0, 44100, amp=0.5)))
    return path


def decoded_wav(result: MixResult) -> Audio:
    return read_wav(result.output.read_bytes())


# --- stitching -----------------------------------------------------------------------------------------

def test_timings_are_sample_exact(tmp_path, renders, make):
    pieces = [speech(KEY_A, 0, chapter="Intro"), gap(), speech(KEY_B, 1, speakers=("Alex", "Sam")),
              SilencePiece(1.3, "pause", "s3", 2), speech(KEY_A, 3)]
    result = mix_episode(make(pieces), renders.__getitem__)
    frames = [24000, 6000, 12000, 31200, 24000]
    bounds = [sum(frames[:i]) for i in range(len(frames) + 1)]
    assert [(p.start_frame, p.end_frame) for p in result.pieces] == list(zip(bounds, bounds[1:]))
    assert result.rate == 24000 and result.duration == bounds[-1] / 24000

    out = decoded_wav(result)
    assert out.rate == 24000 and out.channels == 1 and out.frames == bounds[-1]
    # every piece's samples sit exactly where the manifest says
    assert out.pcm[2 * bounds[0]:2 * bounds[1]] == renders[KEY_A].pcm
    assert out.pcm[2 * bounds[1]:2 * bounds[2]] == bytes(12000)
    assert out.pcm[2 * bounds[2]:2 * bounds[3]] == renders[KEY_B].pcm
    assert out.pcm[2 * bounds[3]:2 * bounds[4]] == bytes(2 * 31200)
    assert out.pcm[2 * bounds[4]:] == renders[KEY_A].pcm

    manifest = json.loads(result.manifest.read_text())
    assert [(p["start"], p["end"]) for p in manifest["pieces"]] == [
        (a / 24000, b / 24000) for a, b in zip(bounds, bounds[1:])]
    assert [p["kind"] for p in manifest["pieces"]] == ["speech", "silence", "speech", "silence", "speech"]
    first, dialogue = manifest["pieces"][0], manifest["pieces"][2]
    assert first["chapter"] == "Intro" and first["key"] == KEY_A and first["segment_id"] == "s1"
    assert dialogue["speakers"] == ["Alex", "Sam"]
    assert [(t["speaker"], t["text"]) for t in dialogue["turns"]] == [("Alex", "line 1 (Alex)"),
                                                                      ("Sam", "line 1 (Sam)")]
    # the turns tile the piece: the first starts at its start, the last ends at its end, none overlap
    edges = [dialogue["turns"][0]["start"], *(t["end"] for t in dialogue["turns"])]
    assert edges[0] == dialogue["start"] and edges[-1] == dialogue["end"]
    assert dialogue["turns"][1]["start"] == dialogue["turns"][0]["end"] and edges == sorted(edges)
    assert first["turns"] == [{"speaker": "Alex", "text": "line 0", "start": first["start"],
                               "end": first["end"]}] and "turns_located_by" not in first
    assert manifest["pieces"][3]["reason"] == "pause" and manifest["pieces"][3]["segment_id"] == "s3"


def test_each_render_is_fetched_once(tmp_path, renders, make):
    calls = []

    def audio_for(key):
        calls.append(key)
        return renders[key]

    mix_episode(make([speech(KEY_A, 0), gap(), speech(KEY_A, 1), gap(), speech(KEY_B, 2)]), audio_for)
    assert calls == [KEY_A, KEY_B]


def test_lower_rate_speech_is_resampled_to_the_episode_rate(tmp_path, renders, make):
    result = mix_episode(make([speech(KEY_C, 0), gap(), speech(KEY_A, 1)]), renders.__getitem__)
    assert result.rate == 24000
    first = result.pieces[0]
    assert first.end_frame == 24000 and first.end == 1.0  # 22050 frames at 22.05 kHz → exactly 1 s
    out = decoded_wav(result)
    part = samples(out.pcm[:48000])
    crossings = sum(1 for x, y in zip(part, part[1:]) if (x < 0) != (y < 0))
    assert abs(crossings - 1100) <= 2  # still 550 Hz
    assert out.frames == 24000 + 6000 + 24000


def test_all_espeak_episode_keeps_espeak_rate(tmp_path, renders, make):
    result = mix_episode(make([speech(KEY_C, 0)]), renders.__getitem__)
    assert result.rate == 22050 and decoded_wav(result).frames == 22050


def test_stereo_render_is_mixed_down(tmp_path, make):
    mono = tone(440, 0.5, 24000, amp=0.4)
    stereo = Audio(b"".join(mono.pcm[i:i + 2] * 2 for i in range(0, len(mono.pcm), 2)), 24000, 2)
    out = decoded_wav(mix_episode(make([speech(KEY_A, 0)]), {KEY_A: stereo}.get))
    assert out.channels == 1 and out.pcm == mono.pcm


def test_sound_is_decoded_resampled_with_gain_and_fades(tmp_path, renders, jingle, make):
    sound = SoundPiece(jingle, "s2", 1, gain_db=-6.0, fade_in=0.2, fade_out=0.3)
    result = mix_episode(make([speech(KEY_A, 0), sound, speech(KEY_B, 2)]), renders.__getitem__)
    placed = result.pieces[1]
    assert (placed.start_frame, placed.end_frame) == (24000, 48000)  # 1 s at 44.1 kHz → 24000 frames
    region = decoded_wav(result).pcm[2 * 24000:2 * 48000]
    reference = tone(660, 1.0, 24000, amp=0.5)
    middle = slice(2 * 9600, 2 * 14400)  # 0.4-0.6 s: outside both fades
    assert rms(region[middle]) / rms(reference.pcm[middle]) == pytest.approx(10 ** (-6 / 20), rel=0.03)
    assert rms(region[:2 * 240]) < 0.05 * rms(reference.pcm[:2 * 240])  # first 10 ms: nearly silent
    assert rms(region[-2 * 240:]) < 0.05 * rms(reference.pcm[-2 * 240:])  # last 10 ms too
    half_in = slice(2 * 2400 - 480, 2 * 2400 + 480)  # 0.1 s: half-way up the 0.2 s fade
    assert rms(region[half_in]) == pytest.approx(0.5 * 0.5 * rms(reference.pcm[half_in]), rel=0.15)
    entry = json.loads(result.manifest.read_text())["pieces"][1]
    assert entry["kind"] == "sound" and entry["path"] == "../episodes/assets/jingle.wav"
    assert (entry["gain_db"], entry["fade_in"], entry["fade_out"]) == (-6.0, 0.2, 0.3)


def test_episode_without_speech(tmp_path, jingle, make):
    result = mix_episode(make([SoundPiece(jingle, "s1", 0), SilencePiece(0.5, "pause", "s2", 1)]),
                         {}.__getitem__)
    assert result.rate == stitch.NO_SPEECH_RATE and result.duration == 1.5


# --- export --------------------------------------------------------------------------------------------

def ffmpeg_decode(path: Path, rate: int) -> bytes:
    return subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(path), "-f", "s16le",
                           "-ac", "1", "-ar", str(rate), "pipe:1"], capture_output=True, check=True).stdout


def test_mp3_export_decodes_with_tags(tmp_path, renders, make):
    compiled = make([speech(KEY_A, 0), gap(), speech(KEY_B, 1), gap(), speech(KEY_C, 2)], fmt="mp3",
                    title="Episode 1: A = B", author="The Podpipe Team", show="The Podpipe Show", episode=7,
                    description="Two lines\nof notes.")
    result = mix_episode(compiled, renders.__getitem__)
    data = result.output.read_bytes()
    assert data[:3] == b"ID3" and data[3] == 3  # ID3v2.3
    frames = len(ffmpeg_decode(result.output, 24000)) // 2
    expected = 24000 + 6000 + 12000 + 6000 + 24000
    assert abs(frames - expected) <= 2 * 1152  # within two MP3 frames
    meta = subprocess.run([ffmpeg_exe(), "-nostdin", "-i", str(result.output), "-f", "ffmetadata", "pipe:1"],
                          capture_output=True, text=True, check=True).stdout
    for line in ("title=Episode 1: A \\= B", "artist=The Podpipe Team", "album=The Podpipe Show", "track=7",
                 "genre=Podcast"):
        assert line in meta.splitlines()
    probe = subprocess.run([ffmpeg_exe(), "-nostdin", "-i", str(result.output)], capture_output=True, text=True)
    assert "mp3" in probe.stderr and "mono" in probe.stderr and "96 kb/s" in probe.stderr
    manifest = json.loads(result.manifest.read_text())
    assert manifest["output"]["format"] == "mp3" and manifest["output"]["size"] == len(data)


def test_mp3_is_reproducible(tmp_path, renders, make):
    compiled = make([speech(KEY_A, 0)], fmt="mp3")
    first = mix_episode(compiled, renders.__getitem__).output.read_bytes()
    second = mix_episode(compiled, renders.__getitem__).output.read_bytes()
    assert first == second


def test_unknown_format_is_a_clear_error(tmp_path, renders, make):
    with pytest.raises(UsageError, match="'aiff' is not supported"):
        mix_episode(make([speech(KEY_A, 0)], fmt="aiff"), renders.__getitem__)


# --- atomic writes ---------------------------------------------------------------------------------------

def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_output_dirs_created_and_no_temp_files(tmp_path, renders, make):
    result = mix_episode(make([speech(KEY_A, 0)]), renders.__getitem__)
    assert sorted(p.name for p in result.output.parent.iterdir()) == ["ep01.manifest.json", "ep01.srt", "ep01.vtt",
                                                                     "ep01.wav"]
    assert result.manifest == manifest_path(result.output) == tmp_path / "build" / "ep01.manifest.json"
    assert oct(result.output.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failed_export_keeps_the_old_output(tmp_path, renders, monkeypatch, failure, make):
    compiled = make([speech(KEY_A, 0)])
    first = mix_episode(compiled, renders.__getitem__)
    old_output, old_manifest = first.output.read_bytes(), first.manifest.read_bytes()

    def half_written(ctx, path, tags):
        path.write_bytes(wav_bytes(ctx.audio)[:1000])
        raise failure

    monkeypatch.setattr(export, "export", half_written)
    changed = replace_plan(compiled, pieces=(speech(KEY_B, 0),))
    with pytest.raises(type(failure)):
        mix_episode(changed, renders.__getitem__)
    assert first.output.read_bytes() == old_output and first.manifest.read_bytes() == old_manifest
    assert leftovers(first.output.parent) == []
    assert is_up_to_date(compiled) and not is_up_to_date(changed)


def test_failing_ffmpeg_leaves_nothing(tmp_path, renders, monkeypatch, make):
    broken = tmp_path / "ffmpeg"
    broken.write_text("#!/bin/sh\nfor last; do :; done\necho partial > \"$last\"\n"
                      "echo 'Error while encoding: out of cheese' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setattr("podpipe.audio.ffmpeg_exe", lambda: str(broken))
    compiled = make([speech(KEY_A, 0)], fmt="mp3")
    with pytest.raises(PodpipeError, match="ffmpeg failed to encode MP3.*out of cheese"):
        mix_episode(compiled, renders.__getitem__)
    assert sorted(os.listdir(tmp_path / "build")) == []


def test_missing_render_writes_nothing(tmp_path, renders, make):
    def audio_for(key):
        if key == KEY_B:
            raise LookupError(key)
        return renders[key]

    with pytest.raises(LookupError):
        mix_episode(make([speech(KEY_A, 0), gap(), speech(KEY_B, 1)]), audio_for)
    assert not (tmp_path / "build").exists() or os.listdir(tmp_path / "build") == []


# --- manifest, digest and the up-to-date check ---------------------------------------------------------------

def test_manifest_records_the_build(tmp_path, renders, make):
    compiled = make([speech(KEY_A, 0), gap(), speech(KEY_B, 1)])
    result = mix_episode(compiled, renders.__getitem__)
    manifest = json.loads(result.manifest.read_text())
    st = result.output.stat()
    assert manifest["podpipe"] == __version__ and manifest["mix_version"] == MIX_VERSION
    assert manifest["spec"] == "../episodes/ep01.yaml" and manifest["title"] == "Episode 1: Hello"
    assert manifest["output"] == {"path": "ep01.wav", "format": "wav", "size": st.st_size,
                                  "sha256": __import__("hashlib").sha256(result.output.read_bytes()).hexdigest(),
                                  "mtime_ns": st.st_mtime_ns}
    assert manifest["sample_rate"] == 24000 and manifest["duration"] == result.duration == 1.75
    assert manifest["inputs_digest"] == inputs_digest(compiled) == result.inputs_digest
    assert str(tmp_path) not in result.manifest.read_text()  # relative paths: no machine paths


def test_up_to_date_after_mix(tmp_path, renders, make):
    compiled = make([speech(KEY_A, 0), gap(), speech(KEY_B, 1)])
    assert not is_up_to_date(compiled)
    mix_episode(compiled, renders.__getitem__)
    assert is_up_to_date(compiled)
    # an identical episode built from scratch is the same build
    assert is_up_to_date(make([speech(KEY_A, 0), gap(), speech(KEY_B, 1)]))
    # fields that do not reach the output don't matter
    assert is_up_to_date(dataclasses.replace(compiled, episode=dataclasses.replace(
        compiled.episode, language="de-DE", model="gemini-2.5-pro-preview-tts")))


def test_digest_changes_with_every_input(tmp_path, renders, jingle, make):
    sound = SoundPiece(jingle, "s3", 2, gain_db=-3.0)
    base = make([speech(KEY_A, 0), gap(), speech(KEY_B, 1), sound])
    ep = base.episode
    variants = {
        "key": replace_plan(base, pieces=(speech(KEY_C, 0), gap(), speech(KEY_B, 1), sound)),
        "gap": replace_plan(base, pieces=(speech(KEY_A, 0), gap(0.5), speech(KEY_B, 1), sound)),
        "order": replace_plan(base, pieces=(speech(KEY_B, 1), gap(), speech(KEY_A, 0), sound)),
        "gain": replace_plan(base, pieces=(speech(KEY_A, 0), gap(), speech(KEY_B, 1),
                                           dataclasses.replace(sound, gain_db=0.0))),
        "fade": replace_plan(base, pieces=(speech(KEY_A, 0), gap(), speech(KEY_B, 1),
                                           dataclasses.replace(sound, fade_out=1.0))),
        "chapter": replace_plan(base, pieces=(speech(KEY_A, 0, chapter="Intro"), gap(), speech(KEY_B, 1), sound)),
        "format": replace_plan(base, format="mp3"),
        "title": dataclasses.replace(base, episode=dataclasses.replace(ep, title="Episode 1: Hi")),
        "author": dataclasses.replace(base, episode=dataclasses.replace(ep, author="Someone")),
        "show": dataclasses.replace(base, episode=dataclasses.replace(ep, show="A Show")),
        "episode": dataclasses.replace(base, episode=dataclasses.replace(ep, episode=2)),
        "description": dataclasses.replace(base, episode=dataclasses.replace(ep, description="New notes")),
    }
    digests = {name: inputs_digest(c) for name, c in variants.items()}
    digests["base"] = inputs_digest(base)
    assert len(set(digests.values())) == len(digests)

    mix_episode(base, renders.__getitem__)
    assert is_up_to_date(base)
    for name, compiled in variants.items():
        if name != "format":  # same output path; the format itself is in the digest
            assert not is_up_to_date(compiled), name
    # the sound's content (not its name or mtime) counts
    jingle.write_bytes(wav_bytes(tone(661, 1.0, 44100, amp=0.5)))
    assert not is_up_to_date(base)


def test_untouched_sound_hash_is_cached(tmp_path, jingle, monkeypatch, make):
    base = make([SoundPiece(jingle, "s1", 0)])
    inputs_digest(base)
    monkeypatch.setattr("podpipe.mix.manifest.file_sha256", lambda path: pytest.fail("re-hashed an unchanged sound"))
    inputs_digest(base)


def test_output_tampered_or_touched(tmp_path, renders, make):
    compiled = make([speech(KEY_A, 0)])
    out = mix_episode(compiled, renders.__getitem__).output
    # touched (copied, checked out) but the same bytes: still up to date
    st = out.stat()
    os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert is_up_to_date(compiled)
    # same size, different bytes
    data = bytearray(out.read_bytes())
    data[-1] ^= 0xFF
    out.write_bytes(bytes(data))
    assert not is_up_to_date(compiled)
    # different size
    mix_episode(compiled, renders.__getitem__)
    with open(out, "ab") as f:
        f.write(b"\0\0")
    assert not is_up_to_date(compiled)
    out.unlink()
    assert not is_up_to_date(compiled)


@pytest.mark.parametrize("damage", ["delete", "garble", "empty", "wrong shape", "other output"])
def test_broken_manifest_is_not_up_to_date(tmp_path, renders, damage, make):
    compiled = make([speech(KEY_A, 0)])
    man = mix_episode(compiled, renders.__getitem__).manifest
    if damage == "delete":
        man.unlink()
    elif damage == "garble":
        man.write_bytes(man.read_bytes()[:40])
    elif damage == "empty":
        man.write_text("")
    elif damage == "wrong shape":
        man.write_text('["not", "a", "manifest"]')
    else:
        doc = json.loads(man.read_text())
        doc["output"]["path"] = "ep02.wav"
        man.write_text(json.dumps(doc))
    assert not is_up_to_date(compiled)


def test_missing_sound_is_not_up_to_date_and_fails_clearly(tmp_path, renders, jingle, make):
    compiled = make([speech(KEY_A, 0), SoundPiece(jingle, "s2", 1)])
    mix_episode(compiled, renders.__getitem__)
    jingle.unlink()
    assert not is_up_to_date(compiled)
    with pytest.raises(UsageError, match="jingle.wav: sound file not found"):
        mix_episode(compiled, renders.__getitem__)


def test_up_to_date_check_imports_no_audio_library(tmp_path, renders, jingle, make):
    compiled = make([speech(KEY_A, 0), gap(), SoundPiece(jingle, "s2", 1)])
    mix_episode(compiled, renders.__getitem__)
    (tmp_path / "compiled.pickle").write_bytes(pickle.dumps(compiled))
    code = ("import pickle, sys; from podpipe.mix import is_up_to_date; "
            f"c = pickle.loads(open({str(tmp_path / 'compiled.pickle')!r}, 'rb').read()); "
            "assert is_up_to_date(c); "
            "heavy = sorted({'pydub', 'numpy', 'audioop', 'podpipe.audio'} & set(sys.modules)); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- extension point ---------------------------------------------------------------------------------------

class HalfVolume(MixStep):
    """A post-stitch step as production audio will add them: changes the audio, writes a sidecar."""

    name = "half-volume"

    def __init__(self, note: str = "v1"):
        self.note = note

    def settings(self, compiled):
        return {"note": self.note}

    def process(self, ctx: MixContext) -> None:
        ctx.audio = clips.to_audio(clips.from_audio(ctx.audio).apply_gain(-6.0206))
        ctx.step_records[self.name] = {"gain_db": -6.0206}

    def edit_output(self, ctx, path):
        with open(path, "ab") as f:  # a trailing chunk, as a tagger would add (WAV readers skip it)
            f.write(b"note" + (8).to_bytes(4, "little") + b"podpipe!")

    def sidecars(self, ctx, output):
        path = output.with_suffix(".txt")
        write_atomic(path, f"{len(ctx.pieces)} pieces\n".encode())
        return [path]


def test_steps_process_audio_write_sidecars_and_enter_the_digest(tmp_path, renders, make):
    compiled = make([speech(KEY_A, 0)])
    result = mix_episode(compiled, renders.__getitem__, steps=[HalfVolume()])
    out = decoded_wav(result)
    assert rms(out.pcm) == pytest.approx(rms(renders[KEY_A].pcm) / 2, rel=0.01)
    assert result.sidecars == (tmp_path / "build" / "ep01.txt",)
    manifest = json.loads(result.manifest.read_text())
    assert manifest["sidecars"] == ["ep01.txt"] and manifest["steps"] == {"half-volume": {"gain_db": -6.0206}}
    data = result.output.read_bytes()
    assert data.endswith(b"podpipe!") and manifest["output"]["size"] == len(data)
    assert manifest["output"]["sha256"] == __import__("hashlib").sha256(data).hexdigest()
    assert is_up_to_date(compiled, steps=[HalfVolume()])
    assert not is_up_to_date(compiled)  # without the step the output would differ
    assert not is_up_to_date(compiled, steps=[HalfVolume("v2")])
    (tmp_path / "build" / "ep01.txt").unlink()
    assert not is_up_to_date(compiled, steps=[HalfVolume()])


def test_the_schema_offers_exactly_the_formats_the_mix_can_write():
    from podpipe.formats import FORMATS
    from podpipe.spec import load_schema

    assert load_schema()["$defs"]["output"]["properties"]["format"]["enum"] == list(FORMATS)
