"""Loudness normalization, speaker leveling, true-peak limiting and output formats, checked with an
independent meter: ffmpeg's ``ebur128=peak=true`` run through the same ffmpeg binary podpipe uses."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from podpipe.audio import ffmpeg_exe, read_wav, wav_bytes
from podpipe.audio_types import Audio
from podpipe.compile import CompiledEpisode, RequestTurn, SilencePiece, SpeechPiece
from podpipe.mix import inputs_digest, is_up_to_date, mix_episode
from podpipe.mix.loudness import blocks, filters, model
from podpipe.mix.loudness.figures import analyze
from tests.mix.helpers import compiled_episode
from tests.support import REPO
from tests.support import loudness as meter
from tests.support.audio import speech, voice

RATE = 24000


@pytest.fixture
def renders():
    return {"a" * 64: voice(1, 3.0, 0.05), "b" * 64: voice(2, 3.0, 0.3, clicks=True),
            "c" * 64: voice(3, 2.5, 0.06, rate=22050)}


def episode(tmp_path: Path, fmt: str = "wav", **output_kw) -> CompiledEpisode:
    pieces = [speech("a" * 64, 0, "Alex"), SilencePiece(0.3, "gap"), speech("b" * 64, 1, "Sam"),
              SilencePiece(0.3, "gap"), speech("c" * 64, 2, "Alex"), SilencePiece(0.3, "gap"),
              speech("b" * 64, 3, "Sam")]
    return compiled_episode(tmp_path, pieces, fmt, title="Loud", **output_kw)


def ebur128(path: Path, start: float | None = None, end: float | None = None) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) as ffmpeg's meter reports them."""
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats"]
    if start is not None:
        cmd += ["-ss", f"{start:.6f}", "-to", f"{end:.6f}"]
    cmd += ["-i", str(path), "-filter_complex", "ebur128=peak=true", "-f", "null", "-"]
    err = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    summary = err[err.rindex("Summary:"):]
    integrated = float(re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary).group(1))
    peak = float(re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return integrated, peak


def decode(path: Path, rate: int) -> Audio:
    pcm = subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(path), "-f", "s16le",
                          "-ac", "1", "-ar", str(rate), "pipe:1"], capture_output=True, check=True).stdout
    return Audio(pcm, rate)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "m4a", "ogg", "flac"])
def test_every_format_meets_target_and_ceiling(tmp_path, renders, fmt):
    result = mix_episode(episode(tmp_path, fmt), renders.__getitem__)
    lufs, peak = ebur128(result.output)
    assert abs(lufs - -16.0) <= 0.5, lufs
    assert peak <= -1.0, peak
    report = json.loads(result.manifest.read_text())["steps"]["loudness"]
    assert report["target_lufs"] == -16.0 and report["true_peak_ceiling_dbtp"] == -1.0
    assert abs(report["integrated_lufs"] - lufs) <= 0.5
    assert report["input_lufs"] < -20 and report["limiter_max_reduction_db"] > 0  # it had work to do


def test_the_file_is_written_once_and_measured_as_written(tmp_path, renders):
    """The encoder's loss is given back before the one encode: the file lands on target the first time, and
    the figures reported are ffmpeg's own for the written file."""
    result = mix_episode(episode(tmp_path, "mp3"), renders.__getitem__)
    report = json.loads(result.manifest.read_text())["steps"]["loudness"]
    assert "encoder_correction_db" not in report
    lufs, peak = ebur128(result.output)
    assert abs(report["integrated_lufs"] - lufs) <= 0.06 and abs(report["true_peak_dbtp"] - peak) <= 0.06


def test_a_file_that_misses_the_target_is_written_again(tmp_path, renders, monkeypatch):
    """An encoder that takes much more than the format table says (here: the table is wrong by 3 LU): the
    written file is measured, misses, and is written once more with the correction."""
    from podpipe import formats

    monkeypatch.setitem(formats.FORMATS, "mp3", dataclasses.replace(formats.FORMATS["mp3"], encoder_shift=3.0))
    result = mix_episode(episode(tmp_path, "mp3"), renders.__getitem__)
    report = json.loads(result.manifest.read_text())["steps"]["loudness"]
    assert report["first_encode_lufs"] > -15.0 and report["encoder_correction_db"] < -1.0
    lufs, peak = ebur128(result.output)
    assert abs(lufs - -16.0) <= 0.5 and peak <= -1.0
    assert abs(report["integrated_lufs"] - lufs) <= 0.06


def test_an_ffmpeg_without_loopback_decoding_meters_the_written_file_afterwards(tmp_path, renders, monkeypatch):
    from podpipe.mix import export

    monkeypatch.setattr(export, "ffmpeg_major", lambda: 6)
    result = mix_episode(episode(tmp_path, "m4a"), renders.__getitem__)
    report = json.loads(result.manifest.read_text())["steps"]["loudness"]
    lufs, peak = ebur128(result.output)
    assert abs(lufs - -16.0) <= 0.5 and peak <= -1.0
    assert abs(report["integrated_lufs"] - lufs) <= 0.06 and abs(report["true_peak_dbtp"] - peak) <= 0.06


def test_other_target_and_ceiling(tmp_path, renders):
    result = mix_episode(episode(tmp_path, "flac", loudness=-20.0, true_peak=-3.0), renders.__getitem__)
    lufs, peak = ebur128(result.output)
    assert abs(lufs - -20.0) <= 0.5 and peak <= -3.0


def test_speakers_are_leveled_within_one_lu(tmp_path, renders):
    result = mix_episode(episode(tmp_path, "wav"), renders.__getitem__)
    manifest = json.loads(result.manifest.read_text())
    audio = read_wav(result.output.read_bytes())
    total, _ = ebur128(result.output)
    by_speaker: dict[str, list[bytes]] = {}
    for piece in manifest["pieces"]:
        if piece["kind"] == "speech":
            a, b = round(piece["start"] * audio.rate) * 2, round(piece["end"] * audio.rate) * 2
            by_speaker.setdefault(piece["speakers"][0], []).append(audio.pcm[a:b])
    before = manifest["steps"]["loudness"]["speakers"]
    assert abs(before["Alex"]["input_lufs"] - before["Sam"]["input_lufs"]) > 15  # very different as rendered
    for name, parts in by_speaker.items():
        path = tmp_path / f"{name}.wav"
        path.write_bytes(wav_bytes(Audio(b"".join(parts), audio.rate)))
        level, _ = ebur128(path)
        assert abs(level - total) <= 1.0, (name, level, total)
        assert abs(before[name]["integrated_lufs"] - level) <= 0.5


def test_speakers_inside_one_dialogue_render_are_leveled(tmp_path, episode_of):
    """Two voices in one multi-speaker render, ~18 dB apart: the turns are found on the pauses between
    them and each speaker is leveled on its own turns."""
    pause = bytes(2 * round(0.45 * RATE))
    dialogue = Audio(voice(1, 2.0, 0.04).pcm + pause + voice(2, 2.0, 0.3).pcm + pause
                     + voice(3, 1.5, 0.05).pcm, RATE)
    turns = (RequestTurn("Alex", "Kore", "Welcome back to the show, everyone."),
             RequestTurn("Sam", "Puck", "Thanks, it is good to be here again."),
             RequestTurn("Alex", "Kore", "Let us get started."))
    pieces = [SpeechPiece("d" * 64, "s1", 0, ("Alex", "Sam"), turns), SilencePiece(0.3, "gap"),
              speech("b" * 64, 1, "Sam")]
    renders = {"d" * 64: dialogue, "b" * 64: voice(4, 3.0, 0.3)}
    result = mix_episode(episode_of(pieces, title="Talk"), renders.__getitem__)

    manifest = json.loads(result.manifest.read_text())
    located = manifest["pieces"][0]
    assert located["turns_located_by"] == "silence"
    ends = [t["end"] for t in located["turns"][:-1]]
    assert 2.0 < ends[0] < 2.45 and 4.45 < ends[1] < 4.9, ends  # on the pauses

    audio = read_wav(result.output.read_bytes())
    total, _ = ebur128(result.output)
    by_speaker: dict[str, list[bytes]] = {}
    for piece in manifest["pieces"]:
        for turn in piece.get("turns", ()):
            a, b = round(turn["start"] * audio.rate) * 2, round(turn["end"] * audio.rate) * 2
            by_speaker.setdefault(turn["speaker"], []).append(audio.pcm[a:b])
    report = manifest["steps"]["loudness"]["speakers"]
    assert set(report) == {"Alex", "Sam"}
    assert report["Alex"]["gain_db"] - report["Sam"]["gain_db"] > 10  # Alex was the quiet one
    for name, parts in by_speaker.items():
        path = tmp_path / f"{name}.wav"
        path.write_bytes(wav_bytes(Audio(b"".join(parts), audio.rate)))
        level, _ = ebur128(path)
        assert abs(level - total) <= 1.0, (name, level, total)


def pulses(seconds: float, level: float) -> Audio:
    """A voice made of sharp glottal-like pulses: its peaks stand ~20 dB above its loudness, so a limiter
    with a 60 ms hold can only turn it down, never make it louder."""
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    x = np.zeros(n)
    x[::RATE // 110] = 1.0
    x = np.convolve(x, np.exp(-np.arange(200) / 15.0) * np.cos(np.arange(200) * 0.9))[:n]
    x *= np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 0.5
    return Audio((x / np.abs(x).max() * level * 32767).astype("<i2").tobytes(), RATE)


def test_a_voice_held_by_its_peaks_does_not_send_leveling_astray(episode_of):
    """When one voice cannot be made louder (only a compressor could), target and ceiling still hold, the
    gains stay bounded, and the report says which voice was held."""
    renders = {"a" * 64: pulses(6.0, 0.9), "b" * 64: voice(2, 6.0, 0.2)}
    pieces = [speech("a" * 64, 0, "Alex"), SilencePiece(0.3, "gap"), speech("b" * 64, 1, "Sam"),
              SilencePiece(0.3, "gap"), speech("a" * 64, 2, "Alex")]
    result = mix_episode(episode_of(pieces), renders.__getitem__)
    lufs, peak = ebur128(result.output)
    assert abs(lufs - -16.0) <= 0.5 and peak <= -1.0
    report = json.loads(result.manifest.read_text())["steps"]["loudness"]
    alex, sam = report["speakers"]["Alex"], report["speakers"]["Sam"]
    assert alex.get("held_by_peaks") is True and "held_by_peaks" not in sam
    assert abs(alex["gain_db"]) <= 13 and abs(sam["gain_db"]) <= 13 and report["gain_db"] < 30
    assert len(result.notes) == 1 and "speaker Alex ends" in result.notes[0] and "ep.yaml" in result.notes[0]


def test_a_speaker_of_only_short_lines_is_not_pushed_around():
    """Lines just over 400 ms are measured on their own but may hold no whole block of the episode's grid:
    such a speaker keeps its leveling gain instead of being raised pass after pass."""
    rng = np.random.default_rng(1)
    parts, groups, pos = [], {"A": [], "B": []}, 0
    for _ in range(12):
        for name, seconds, amp in (("A", 3.0, 0.05), ("B", 0.405, 0.02)):
            t = np.arange(int(seconds * RATE)) / RATE
            x = rng.standard_normal(len(t)) * amp * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
            parts += [x, np.zeros(int(0.333 * RATE))]
            groups[name].append((pos, pos + len(x)))
            pos += len(x) + int(0.333 * RATE)
    pcm = (np.clip(np.concatenate(parts), -1, 1) * 32767).astype("<i2").tobytes()
    figures = analyze(Audio(pcm, RATE))
    m = model.Model(figures.energy, figures.peak, RATE, figures.frames, [groups["A"], groups["B"]], -1.2)
    gains = [0.0, 0.0]
    applied, held, _ = model.solve(m, -16.0, gains)
    level, levels, _, _ = m.evaluate(applied, gains)
    assert abs(level - -16.0) <= 0.1 and not held
    assert all(abs(lv - level) <= 1.0 for lv in levels), (level, levels, gains)
    assert all(abs(g) <= model.SPREAD_DB for g in gains)


def test_loudness_null_leaves_the_audio_as_stitched(tmp_path, renders):
    result = mix_episode(episode(tmp_path, "wav", loudness=None), renders.__getitem__)
    audio = read_wav(result.output.read_bytes())
    assert audio.pcm[: len(renders["a" * 64].pcm)] == renders["a" * 64].pcm
    assert "loudness" not in json.loads(result.manifest.read_text()).get("steps", {})


def test_mix_settings_change_the_digest_not_the_render_keys(tmp_path, renders):
    base = episode(tmp_path, "wav")
    digests = {inputs_digest(base)}
    for change in ({"loudness": -19.0}, {"loudness": None}, {"true_peak": -2.0}, {"sample_rate": 48000},
                   {"channels": 2}):
        out = dataclasses.replace(base.episode.output, **change)
        other = dataclasses.replace(base, episode=dataclasses.replace(base.episode, output=out))
        assert other.rundown.keys == base.rundown.keys
        digests.add(inputs_digest(other))
    assert len(digests) == 6
    mix_episode(base, renders.__getitem__)
    assert is_up_to_date(base)
    louder = dataclasses.replace(base.episode.output, loudness=-14.0)
    assert not is_up_to_date(dataclasses.replace(base, episode=dataclasses.replace(base.episode, output=louder)))


def test_rate_channels_and_bitrate_are_honoured(tmp_path, renders):
    result = mix_episode(episode(tmp_path, "m4a", channels=2, sample_rate=48000, bitrate=128),
                         renders.__getitem__)
    probe = subprocess.run([ffmpeg_exe(), "-nostdin", "-i", str(result.output)], capture_output=True,
                           text=True).stderr
    assert "aac" in probe and "48000 Hz" in probe and "stereo" in probe
    manifest = json.loads(result.manifest.read_text())
    assert manifest["sample_rate"] == 48000 and manifest["channels"] == 2
    mp3 = mix_episode(episode(tmp_path / "b", "mp3"), renders.__getitem__)
    probe = subprocess.run([ffmpeg_exe(), "-nostdin", "-i", str(mp3.output)], capture_output=True, text=True).stderr
    assert "44100 Hz" in probe and "mono" in probe and "96 kb/s" in probe
    ogg = mix_episode(episode(tmp_path / "c", "ogg"), renders.__getitem__)
    probe = subprocess.run([ffmpeg_exe(), "-nostdin", "-i", str(ogg.output)], capture_output=True, text=True).stderr
    assert "opus" in probe and "48000 Hz" in probe
    # timings survive the resampling: the decoded length matches the manifest
    decoded = decode(mp3.output, 44100)
    assert abs(decoded.seconds - json.loads(mp3.manifest.read_text())["duration"]) < 0.06


# --- the limiter on its own ------------------------------------------------------------------------------

def limit(audio: Audio, ceiling: float, gain: float = 1.0) -> tuple[Audio, float]:
    """``audio`` through the limiter alone, as the mix applies it: (the result, the deepest gain)."""
    figures = analyze(audio)
    m = model.Model(figures.energy, figures.peak, audio.rate, figures.frames, [], ceiling)
    curve = blocks.GainCurve(audio.rate, figures.frames, gain, (), m.limiter(gain, np.ones(1)))
    return Audio(b"".join(blocks.apply(curve, [audio])), audio.rate), curve.deepest


def pcm16(x) -> Audio:
    return Audio((np.asarray(x) * 32768).round().clip(-32768, 32767).astype("<i2").tobytes(), 48000)


def test_limiter_catches_inter_sample_peaks_and_leaves_the_rest_alone():
    rate = 48000
    t = np.arange(rate * 2) / rate
    x = 0.5 * np.sin(2 * np.pi * 440 * t)
    # a quarter-rate sine sampled at ±45°: samples at 0.99·√½, true peak 0.99 — only oversampling sees it
    x[rate: rate + 200] = 0.99 * np.sin(2 * np.pi * (rate / 4) * np.arange(200) / rate + np.pi / 4)
    audio = pcm16(x)
    assert np.abs(x).max() < 0.71 and meter.true_peak(audio) > -0.2
    out, deepest = limit(audio, -1.0)
    assert meter.true_peak(out) <= -1.0 and deepest < 1.0
    windows = (model.HOLD_WINDOWS + model.AHEAD_WINDOWS + 2) * rate // 100
    untouched = np.r_[0:rate - windows, rate + 200 + windows:len(x)]
    before, after = (np.frombuffer(a.pcm, "<i2") for a in (audio, out))
    assert np.array_equal(before[untouched], after[untouched])  # no pumping away from the peak


def test_limiter_is_a_no_op_under_the_ceiling():
    audio = pcm16(0.3 * np.sin(np.arange(24000) / 10))
    out, deepest = limit(audio, -1.0)
    assert deepest == 1.0 and out.pcm == audio.pcm


def test_limiter_holds_the_ceiling_for_any_gain_and_speaker_ranges():
    """Peaks everywhere (also on window and block edges), a large overall gain and speakers with their own
    gains over ranges: the applied curve never lets a true peak through."""
    rng = np.random.default_rng(5)
    rate = 24000
    x = rng.standard_normal(rate * 3) * 0.05
    x[rng.integers(0, len(x), 60)] = 0.99
    audio = Audio((x * 32767).astype("<i2").tobytes(), rate)
    figures = analyze(audio)
    ranges = [[(0, rate), (2 * rate, 3 * rate)], [(rate, 2 * rate)]]
    m = model.Model(figures.energy, figures.peak, rate, figures.frames, ranges, -3.0)
    factors = np.array([2.0, 0.5])
    curve = blocks.GainCurve(rate, figures.frames, 4.0, tuple((a, b, f) for rs, f in zip(ranges, factors) for a, b in rs),
                          m.limiter(4.0, factors))
    out = Audio(b"".join(blocks.apply(curve, [audio])), rate)
    assert meter.true_peak(out) <= -3.0 + 0.01  # 16-bit rounding of the result
    assert curve.deepest < 0.2


def test_meter_agrees_with_ffmpeg(tmp_path, renders):
    audio = renders["a" * 64]
    path = tmp_path / "a.wav"
    path.write_bytes(wav_bytes(audio))
    theirs, peak = ebur128(path)
    assert abs(meter.integrated(audio) - theirs) <= 0.1
    assert abs(meter.true_peak(audio) - peak) <= 0.1


def test_no_op_build_imports_no_numpy(tmp_path, renders):
    compiled = episode(tmp_path, "wav")
    mix_episode(compiled, renders.__getitem__)
    code = ("import sys, pickle; from podpipe import mix; c = pickle.load(sys.stdin.buffer); "
            "assert mix.is_up_to_date(c); "
            "bad = [m for m in ('numpy', 'scipy', 'pyloudnorm', 'mutagen', 'pydub') if m in sys.modules]; "
            "assert not bad, bad")
    import pickle
    import sys

    subprocess.run([sys.executable, "-c", code], input=pickle.dumps(compiled), check=True,
                   cwd=REPO)


def test_the_gain_curve_gives_the_same_frames_whatever_the_block_size(monkeypatch):
    """The gains are applied block by block to bound memory: tiny blocks must give the very same bytes."""
    rng = np.random.default_rng(5)
    rate = 24000
    x = (rng.standard_normal(rate * 3) * 0.2 * 32767).astype("<i2")
    x[rng.integers(0, len(x), 40)] = 32000
    pieces = [Audio(x[:30001].tobytes(), rate), Audio(x[30001:].tobytes(), rate)]  # never joined
    figures = analyze(Audio(x.tobytes(), rate))
    m = model.Model(figures.energy, figures.peak, rate, figures.frames, [[(100, 40000)]], -3.0)
    curve = blocks.GainCurve(rate, figures.frames, 1.5, ((100, 40000, 0.7),), m.limiter(1.5, np.array([0.7])))
    whole = b"".join(blocks.apply(curve, pieces))
    monkeypatch.setattr(blocks, "BLOCK", 4097)
    assert b"".join(blocks.apply(curve, pieces)) == whole


def test_sources_read_the_same_frames_wherever_a_read_starts():
    """The stitched pieces are read block by block: a frame must not depend on where the read began."""
    rng = np.random.default_rng(3)
    rate = 24000
    pcm = (rng.standard_normal(rate) * 3000).astype("<i2")
    pieces = [Audio(pcm[:7000].tobytes(), rate), Audio(pcm[7000:].tobytes(), rate)]  # never joined
    # overlapping ranges (a crossfade overlaps two pieces): their factors multiply where they overlap
    source = blocks.PcmSource(pieces, 1.5, [(1000, 9000, 2.0), (8000, 15000, 0.5), (20000, 21000, 1.0)])
    whole = source.read(0, rate)
    expected = pcm.astype(np.float32)[:, None] * np.float32(1.5 / 32768)
    expected[1000:8000] *= 2.0
    expected[8000:9000] *= 2.0 * 0.5
    expected[9000:15000] *= 0.5
    assert np.allclose(whole, expected, rtol=1e-6)
    for cut in (4990, 5001, 8500, 11999):
        assert np.array_equal(source.read(cut, cut + 3000), whole[cut:cut + 3000])


def test_filters_equal_scipy():
    """The numpy K-weighting and oversampling give what scipy's sosfilt and resample_poly give."""
    import pyloudnorm
    from scipy.signal import firwin, resample_poly, sosfilt

    rng = np.random.default_rng(2)
    for rate in (22050, 24000, 44100, 48000):
        x = rng.standard_normal(rate * 3)
        stages = list(pyloudnorm.Meter(rate)._filters.values())
        sos = np.array([np.r_[np.pad(f.b, (0, 3 - len(f.b))), np.pad(f.a, (0, 3 - len(f.a)))] for f in stages])
        expected = sosfilt(sos / sos[:, 3:4], x)
        assert np.abs(filters.k_weight(x, rate) - expected).max() < 1e-4
        up = resample_poly(x, 4, 1, window=firwin(81, 0.25, window=("kaiser", 5.0)))
        assert np.allclose(filters.frame_peaks(x), np.maximum(np.abs(up).reshape(-1, 4).max(axis=1), np.abs(x)))


def test_meter_equals_pyloudnorm():
    import pyloudnorm

    rng = np.random.default_rng(9)
    for rate in (22050, 24000, 44100, 48000):
        x = (rng.standard_normal((rate * 5, 1)) * np.linspace(0.01, 0.3, rate * 5)[:, None]).astype(np.float32)
        theirs = pyloudnorm.Meter(rate).integrated_loudness(x.astype(np.float64))
        assert meter.integrated(x, rate) == pytest.approx(theirs, abs=0.02)


def test_too_short_to_measure_still_meets_the_ceiling(episode_of):
    click = voice(2, 0.3, 0.99, clicks=True)  # shorter than one 400 ms block: no loudness to speak of
    result = mix_episode(episode_of([speech("a" * 64, 0, "Alex")]), {"a" * 64: click}.__getitem__)
    report = json.loads(result.manifest.read_text())["steps"]["loudness"]
    assert report["integrated_lufs"] is None and report["true_peak_dbtp"] <= -1.0
    assert meter.true_peak(read_wav(result.output.read_bytes())) <= -1.0


def test_figures_do_not_depend_on_where_the_passes_fall(monkeypatch):
    """A long range is analysed in passes of bounded size; small passes give the same figures."""
    from podpipe.mix.loudness import figures

    rng = np.random.default_rng(4)
    x = (rng.standard_normal((RATE * 4, 1)) * 0.1 * np.sin(np.arange(RATE * 4) / 3000)[:, None])
    x[rng.integers(0, len(x), 30), 0] = 0.9
    whole = figures.analyze_array(x, RATE)
    monkeypatch.setattr(figures, "CHUNK_WINDOWS", 7)
    parts = figures.analyze_array(x, RATE)
    assert np.allclose(parts.energy, whole.energy, rtol=1e-6, atol=1e-12)
    assert np.array_equal(parts.peak, whole.peak)
