"""Music beds: level, ducking under speech (measured on the bed alone: output minus the known speech),
fades, looping, ranges of segments, and that a bed is a mix setting (re-mix, never re-render)."""

from __future__ import annotations

import dataclasses
import json
import math
from array import array
from pathlib import Path

import pytest

from podpipe import backends
from podpipe.audio import read_wav, wav_bytes
from podpipe.audio_types import Audio
from podpipe.compile import CompiledEpisode, SilencePiece
from podpipe.mix import inputs_digest, is_up_to_date, mix_episode
from podpipe.mix.steps import music
from podpipe.spec import MusicBed
from tests.mix.helpers import compiled_episode
from tests.support.audio import speech, tone

RATE = 24000


def db(x: float) -> float:
    return 20 * math.log10(x)


def rms(samples, a: float, b: float) -> float:
    part = samples[round(a * RATE):round(b * RATE)]
    return math.sqrt(sum(v * v for v in part) / len(part))


@pytest.fixture
def bed_file(tmp_path) -> Path:
    path = tmp_path / "assets" / "bed.wav"
    path.parent.mkdir()
    path.write_bytes(wav_bytes(tone(500, 1.0, amp=0.5)))  # 1 s: it must loop
    return path


SPEECH = tone(220, 2.0, amp=0.3)


def episode(tmp_path: Path, beds) -> CompiledEpisode:
    # s1 pause 3 s | s2 speech 2 s | s3 pause 3 s | s4 speech 2 s | s5 pause 3 s
    pieces = [SilencePiece(3.0, "pause", "s1", 0), speech(index=1), SilencePiece(3.0, "pause", "s3", 2), speech(index=3),
              SilencePiece(3.0, "pause", "s5", 4)]
    return compiled_episode(tmp_path, pieces, loudness=None, music=tuple(beds))


def bed_only(result) -> array:
    """The output minus the speech the test put in: what the bed contributed."""
    out = array("h", read_wav(result.output.read_bytes()).pcm)
    speech_samples = array("h", SPEECH.pcm)
    for p in json.loads(result.manifest.read_text())["pieces"]:
        if p["kind"] == "speech":
            a = round(p["start"] * RATE)
            for i, v in enumerate(speech_samples):
                out[a + i] -= v
    return out


def test_bed_level_ducking_and_fades(tmp_path, bed_file):
    bed = MusicBed(bed_file, gain_db=-12.0, duck_db=-15.0, fade_in=1.0, fade_out=1.0)
    result = mix_episode(episode(tmp_path, [bed]), {"a" * 64: SPEECH}.__getitem__)
    b = bed_only(result)
    full = 0.5 * 32767 / math.sqrt(2)
    free = rms(b, 1.2, 2.6)  # after the fade-in, before the attack
    under = rms(b, 3.2, 4.8)  # under the first speech
    gap = rms(b, 6.1, 7.6)  # between the two speeches (3 s apart: the bed comes back up)
    assert db(free / full) == pytest.approx(-12.0, abs=0.3)
    assert db(under / free) == pytest.approx(-15.0, abs=0.5)  # the documented duck depth
    assert db(gap / free) == pytest.approx(0.0, abs=0.3)
    assert rms(b, 0.0, 0.1) < free * 0.15  # fading in from silence
    assert rms(b, 12.9, 13.0) < free * 0.15  # fading out at the end
    # attack: already going down just before speech starts, released within RELEASE after it ends
    assert rms(b, 2.85, 2.95) < free * 0.9 and rms(b, 5.0 + music.RELEASE + 0.05, 5.95) > free * 0.95
    report = json.loads(result.manifest.read_text())["steps"]["music"][0]
    assert report["start"] == 0.0 and report["end"] == 13.0 and report["loops"] == 13.0


def test_bed_over_a_range_of_segments_and_play_once(tmp_path, bed_file):
    compiled = episode(tmp_path, [MusicBed(bed_file, start_segment=2, end_segment=2, fade_in=0, fade_out=0,
                                           loop=False, duck_db=0.0, gain_db=0.0)])
    b = bed_only(mix_episode(compiled, {"a" * 64: SPEECH}.__getitem__))
    assert rms(b, 0.0, 4.95) < 2 and rms(b, 8.05, 13.0) < 2  # nothing outside s3 (5 s .. 8 s)
    assert rms(b, 5.05, 5.95) > 10000 and rms(b, 6.05, 7.95) < 2  # one second of bed, then silence


def test_close_speech_stays_ducked():
    spans = music.speech_spans([
        type("P", (), {"piece": speech(index=0), "start": 0.0, "end": 2.0})(),
        type("P", (), {"piece": speech(index=1), "start": 2.25, "end": 4.0})(),
        type("P", (), {"piece": SilencePiece(3.0, "pause"), "start": 4.0, "end": 7.0})(),
        type("P", (), {"piece": speech(index=2), "start": 7.0, "end": 8.0})()])
    assert spans == [(0.0, 4.0), (7.0, 8.0)]


def test_bed_settings_change_the_digest_not_the_renders(tmp_path, bed_file):
    bed = MusicBed(bed_file)
    compiled = episode(tmp_path, [bed])
    mix_episode(compiled, {"a" * 64: SPEECH}.__getitem__)
    assert is_up_to_date(compiled)
    digests = {inputs_digest(compiled), inputs_digest(episode(tmp_path, []))}
    for change in ({"gain_db": -20.0}, {"duck_db": -6.0}, {"fade_in": 3.0}, {"loop": False}, {"start_segment": 1}):
        other = episode(tmp_path, [dataclasses.replace(bed, **change)])
        assert other.rundown.keys == compiled.rundown.keys
        digests.add(inputs_digest(other))
    assert len(digests) == 7
    bed_file.write_bytes(wav_bytes(tone(600, 1.0, amp=0.5)))
    assert not is_up_to_date(compiled)  # new music content: re-mix


def test_music_spec_fields(tmp_path):
    from podpipe.errors import SpecError
    from podpipe.spec import load_episodes

    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "bed.wav").write_bytes(wav_bytes(tone(500, 1.0, amp=0.5)))
    spec = tmp_path / "ep.yaml"
    spec.write_text("title: T\nspeakers:\n  host: {voice: Zephyr}\nsegments:\n  - {id: intro, host: Hi.}\n"
                    "  - host: Middle.\n  - {id: outro, host: Bye.}\n"
                    "music:\n  - {file: assets/bed.wav, to: intro, gain_db: -20, loop: false}\n"
                    "  - {file: assets/bed.wav, from: outro, duck_db: -9, fade_in: 0.5, fade_out: 4}\n")
    beds = load_episodes([spec], root=tmp_path, rules=backends).episodes[0].music
    assert [(b.start_segment, b.end_segment, b.gain_db, b.duck_db, b.loop) for b in beds] == [
        (0, 0, -20.0, -12.0, False), (2, 2, -18.0, -9.0, True)]
    assert beds[1].fade_in == 0.5 and beds[1].fade_out == 4.0 and beds[0].path == tmp_path / "assets" / "bed.wav"
    spec.write_text(spec.read_text().replace("to: intro", "to: intr").replace("from: outro", "from: outro, to: intro")
                    .replace("file: assets/bed.wav, from", "file: assets/nope.wav, from"))
    with pytest.raises(SpecError) as info:
        load_episodes([spec], root=tmp_path, rules=backends)
    messages = [f"{d.field}: {d.message}" for d in info.value.diagnostics]
    assert any("music[0].to" in m and "did you mean 'intro'" in m for m in messages), messages
    assert any("music[1].to" in m and "comes before" in m for m in messages), messages
    assert any("music[1].file" in m and "not found" in m for m in messages), messages


REPO = Path(__file__).resolve().parents[2]


def test_example_bed_is_made_by_its_script_and_used_by_an_example(tmp_path, monkeypatch):
    import importlib.util
    import wave

    from podpipe.spec import load_episodes

    bed = REPO / "episodes" / "assets" / "bed.wav"
    with wave.open(str(bed)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (22050, 1, 2, 4 * 22050)
        samples = array("h", w.readframes(w.getnframes()))
    assert max(map(abs, samples)) > 16000
    assert abs(samples[0] - samples[-1]) < 2000  # loops without a click
    module_spec = importlib.util.spec_from_file_location("make_bed", bed.with_name("make_bed.py"))
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    module.write(tmp_path / "again.wav")
    assert (tmp_path / "again.wav").read_bytes() == bed.read_bytes()
    monkeypatch.chdir(REPO)
    ep = load_episodes(["episodes/ep13-longitude.yaml"], rules=backends).episodes[0]
    ids = [s.id for s in ep.segments]
    assert [(ids[b.start_segment], ids[b.end_segment]) for b in ep.music] == [("jingle", "cold-open"),
                                                                            ("outro", "outro")]


def test_crossfade_overlaps_sounds_with_their_neighbours(tmp_path, bed_file):
    from podpipe.compile import SoundPiece

    jingle = SoundPiece(bed_file, "s1", 0)  # 1 s of a 500 Hz tone
    pieces = [jingle, speech(index=1), SilencePiece(0.5, "gap"), speech(index=2), SoundPiece(bed_file, "s4", 3)]

    def build(crossfade: float):
        compiled = compiled_episode(tmp_path, pieces, loudness=None, crossfade=crossfade)
        return compiled, mix_episode(compiled, {"a" * 64: SPEECH}.__getitem__)

    plain_c, plain = build(0.0)
    assert plain.duration == pytest.approx(1 + 2 + 0.5 + 2 + 1)
    faded_c, faded = build(0.4)
    assert inputs_digest(faded_c) != inputs_digest(plain_c) and faded_c.rundown.keys == plain_c.rundown.keys
    assert faded.duration == pytest.approx(6.5 - 0.8)  # two sound joins; the gap keeps its length
    starts = [(p.start, p.end) for p in faded.pieces]
    assert starts[1][0] == pytest.approx(0.6) and starts[0][1] == pytest.approx(1.0)  # overlapping
    assert starts[3][1] - starts[2][0] == pytest.approx(2.5) and starts[4][0] == pytest.approx(starts[3][1] - 0.4)
    samples = array("h", read_wav(faded.output.read_bytes()).pcm)
    # in the middle of the overlap both are heard at about half level; before it, the jingle alone
    mid_jingle = rms(samples, 0.75, 0.85)
    assert 0.25 * 0.5 * 32767 / math.sqrt(2) < mid_jingle < 0.5 * 32767 / math.sqrt(2)
    assert rms(samples, 0.1, 0.5) == pytest.approx(0.5 * 32767 / math.sqrt(2), rel=0.02)


def test_beds_mix_from_unjoined_chunks_in_place(bed_file):
    """The episode's chunks are copied once into the result and handed over (the list is emptied); the mix
    is the same as from the joined audio, and speech outside the bed's range is untouched."""
    parts = [SPEECH.pcm, bytes(RATE * 2), SPEECH.pcm]
    bed = MusicBed(bed_file, gain_db=-6.0, duck_db=-12.0, fade_in=0.5, fade_out=0.5)
    spans = [(0.0, 2.0), (3.0, 5.0)]
    frames = sum(map(len, parts)) // 2
    beds = [b for _, b in music.place_beds(frames, RATE, 1, [(bed, 1.0, 4.0)], spans)]
    joined = music.mix_beds([b"".join(parts)], RATE, 1, beds)
    chunks = list(parts)
    mixed = music.mix_beds(chunks, RATE, 1, beds)
    assert chunks == [] and bytes(mixed.pcm) == bytes(joined.pcm) and len(mixed.pcm) == sum(map(len, parts))
    assert beds[0].start == RATE and beds[0].length == 3 * RATE
    assert bytes(mixed.pcm[:2 * RATE]) == SPEECH.pcm[:2 * RATE]  # before the bed: as it was
    assert bytes(mixed.pcm[2 * RATE:4 * RATE]) != SPEECH.pcm[2 * RATE:4 * RATE]  # under the bed: mixed


def test_a_beds_figures_bound_what_the_mix_holds(bed_file):
    """The loudness model adds a bed as figures instead of measuring the mixed episode: energies close to
    the measured mix's (speech and bed are unrelated), and peaks never under it (the limiter relies on it)."""
    import numpy as np

    from podpipe.mix.loudness.figures import analyze, place, window_edges

    parts = [SPEECH.pcm, bytes(RATE * 2), SPEECH.pcm, SPEECH.pcm]
    frames = sum(map(len, parts)) // 2
    bed = MusicBed(bed_file, gain_db=-3.0, duck_db=-10.0, fade_in=0.5, fade_out=0.5, loop=True)
    beds = [b for _, b in music.place_beds(frames, RATE, 1, [(bed, 0.5, 7.5)], [(0.0, 2.0), (3.0, 7.0)])]
    mixed = music.mix_beds(list(parts), RATE, 1, beds)
    measured = analyze(mixed)
    n = len(window_edges(RATE, frames)) - 1
    energy, peak = np.zeros(n), np.zeros(n, dtype=np.float32)
    place(energy, peak, analyze(Audio(b"".join(parts), RATE)), 0.0)
    more_energy, more_peak = music.bed_figures(beds[0], frames)
    energy, peak = energy + more_energy, peak + more_peak
    assert (peak >= measured.peak * 0.999).all()
    # per 400 ms block, the modelled energy is the measured one within 1 dB
    block = lambda e: np.convolve(e, np.ones(40), "valid")  # noqa: E731
    loud = block(measured.energy) > 1e-6
    assert np.abs(10 * np.log10(block(energy)[loud] / block(measured.energy)[loud])).max() < 1.0
