"""Transcripts: WebVTT and SRT parsed strictly and checked against the manifest; turn boundaries inside a
multi-speaker render found on the silences in the audio, and the text-proportional fallback."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from array import array
from pathlib import Path

import pytest

from podpipe.audio import wav_bytes
from podpipe.audio_types import Audio
from podpipe.compile import CompiledEpisode, RequestTurn, SilencePiece, SpeechPiece
from podpipe.mix import mix_episode, turns
from podpipe.mix.steps import transcript
from podpipe.spec import MusicBed
from tests.mix.helpers import compiled_episode

RATE = 24000


def voice(seed: int, secs: float, level: float) -> Audio:
    """Continuous voiced sound (a buzz whose loudness wavers like syllables but never stops): the only
    pauses in these tests are the ones the test puts there."""
    n = round(secs * RATE)
    f0 = 100 + 35 * seed
    samples = array("h", (int(level * 32767 * (0.6 + 0.4 * math.sin(2 * math.pi * 3.3 * i / RATE))
                               * (0.7 * math.sin(2 * math.pi * f0 * i / RATE)
                                  + 0.3 * math.sin(2 * math.pi * 3 * f0 * i / RATE))) for i in range(n)))
    return Audio(samples.tobytes(), RATE)
TIMING = re.compile(r"^(\d{2}):(\d{2}):(\d{2})([.,])(\d{3}) --> (\d{2}):(\d{2}):(\d{2})([.,])(\d{3})$")


def seconds(h, m, s, ms) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_vtt(text: str) -> list[tuple[float, float, str, str]]:
    """A strict reader for what a WebVTT file with voice spans must look like."""
    assert text.startswith("WEBVTT\n\n")
    blocks = text[len("WEBVTT\n\n"):].strip("\n").split("\n\n")
    out = []
    for block in blocks:
        lines = block.split("\n")
        m = TIMING.match(lines[0])
        assert m and m.group(4) == "." and m.group(9) == ".", lines[0]
        start, end = seconds(*m.group(1, 2, 3, 5)), seconds(*m.group(6, 7, 8, 10))
        body = "\n".join(lines[1:])
        v = re.fullmatch(r"<v ([^>]+)>(.*)</v>", body, re.S)
        assert v, body
        assert 1 <= len(lines) - 1 <= 2 and "-->" not in body
        out.append((start, end, v.group(1), v.group(2)))
    return out


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    out = []
    for i, block in enumerate(text.strip("\n").split("\n\n"), 1):
        lines = block.split("\n")
        assert lines[0] == str(i)
        m = TIMING.match(lines[1])
        assert m and m.group(4) == ",", lines[1]
        out.append((seconds(*m.group(1, 2, 3, 5)), seconds(*m.group(6, 7, 8, 10)), "\n".join(lines[2:])))
    return out


def quiet(secs: float) -> Audio:
    return Audio(bytes(round(secs * RATE) * 2), RATE)


def join(*parts: Audio) -> Audio:
    return Audio(b"".join(p.pcm for p in parts), RATE)


def piece(key: str, index: int, turns: list[tuple[str, str]]) -> SpeechPiece:
    rt = tuple(RequestTurn(s, "Zephyr", t) for s, t in turns)
    return SpeechPiece(key, f"s{index + 1}", index, tuple(dict.fromkeys(s for s, _ in turns)), rt)


# a dialogue render: Alex 1.0 s, pause 0.4 s, Sam 3.0 s (with a short 0.05 s dip inside), pause 0.5 s, Alex 1.0 s
DIALOGUE = join(voice(1, 1.0, 0.4), quiet(0.4), voice(2, 1.5, 0.4), quiet(0.05), voice(2, 1.5, 0.4),
                quiet(0.5), voice(1, 1.0, 0.4))
# the texts are deliberately out of proportion to the audio: text placement would be far off
TURNS = [("Alex", "So, what happened next, after all those very long and winding years?"),
         ("Sam", "Bees."), ("Alex", "Bees? Tell me more, I want to hear everything about them now.")]


@pytest.fixture
def renders():
    return {"a" * 64: voice(3, 2.0, 0.3), "d" * 64: DIALOGUE,
            "e" * 64: voice(4, 3.0, 0.3)}  # no pause inside: a two-turn render that must fall back


def episode(tmp_path: Path, fmt: str = "wav") -> CompiledEpisode:
    pieces = [piece("a" * 64, 0, [("Alex", "Welcome to the show. <Today> we talk bees & wasps.")]),
              SilencePiece(0.25, "gap"), piece("d" * 64, 1, TURNS), SilencePiece(0.25, "gap"),
              piece("e" * 64, 2, [("Sam", "One half."), ("Alex", "And the other half.")])]
    return compiled_episode(tmp_path, pieces, fmt)


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_transcripts_match_the_manifest(tmp_path, renders, fmt):
    result = mix_episode(episode(tmp_path, fmt), renders.__getitem__)
    manifest = json.loads(result.manifest.read_text())
    assert {"ep.vtt", "ep.srt"} <= set(manifest["sidecars"])
    vtt = parse_vtt(result.output.with_name("ep.vtt").read_text(encoding="utf-8"))
    srt = parse_srt(result.output.with_name("ep.srt").read_text(encoding="utf-8"))
    assert len(vtt) == manifest["steps"]["transcript"]["cues"]
    assert len(srt) == manifest["steps"]["transcript"]["srt_cues"] >= len(vtt)
    # every SRT cue lies inside one VTT cue, and the SRT cues of a VTT cue cover it exactly
    for s1, e1, _, _ in vtt:
        inside = [c for c in srt if s1 - 0.0015 <= c[0] and c[1] <= e1 + 0.0015]
        assert inside and abs(inside[0][0] - s1) < 0.002 and abs(inside[-1][1] - e1) < 0.002
    for _, _, text in srt:  # the Podcasting 2.0 guidance: 2 lines a cue, 32 characters a line
        lines = text.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 32 for line in lines), text
    for a, b in zip(vtt, vtt[1:]):
        assert a[0] < a[1] <= b[0] + 1e-9  # ordered, no overlaps
    speech = [p for p in manifest["pieces"] if p["kind"] == "speech"]
    # exact at piece boundaries: a cue starts where each piece starts and one ends where it ends
    starts, ends = {c[0] for c in vtt}, {c[1] for c in vtt}
    for p in speech:
        assert round(p["start"], 3) in starts and round(p["end"], 3) in ends
        inside = [c for c in vtt if p["start"] - 0.001 <= c[0] and c[1] <= p["end"] + 0.001]
        names = [t["speaker"] for t in p["turns"]]
        assert inside and {c[2] for c in inside} == set(names)
    words = " ".join(c[3].replace("\n", " ") for c in vtt)
    assert "&lt;Today&gt; we talk bees &amp; wasps." in words
    assert srt[0][2].startswith("Alex: Welcome")


def test_turn_boundaries_land_on_the_silences(tmp_path, renders):
    result = mix_episode(episode(tmp_path), renders.__getitem__)
    manifest = json.loads(result.manifest.read_text())
    dialogue = next(p for p in manifest["pieces"] if p.get("key") == "d" * 64)
    vtt = parse_vtt(result.output.with_name("ep.vtt").read_text(encoding="utf-8"))
    inside = [c for c in vtt if dialogue["start"] - 0.001 <= c[0] < dialogue["end"]]
    changes = [b[0] for a, b in zip(inside, inside[1:]) if a[2] != b[2]]
    expected = [dialogue["start"] + 1.0 + 0.2, dialogue["start"] + 1.0 + 0.4 + 3.05 + 0.25]
    assert [c[2] for c in inside][0] == "Alex" and len(changes) == 2
    for got, want in zip(changes, expected):
        assert abs(got - want) <= 0.06, (got, want)
    assert manifest["steps"]["transcript"]["turn_boundaries"] == {"silence": 2, "text": 1}


def test_turns_are_found_before_a_music_bed_fills_the_pauses(tmp_path, renders):
    """A bed barely ducked under the dialogue leaves no quiet in the mix: the turns are located on the render
    itself, so the transcript still switches speaker on the pauses."""
    bed = tmp_path / "bed.wav"
    n = 2 * RATE
    bed.write_bytes(wav_bytes(Audio(array("h", (int(0.3 * 32767 * math.sin(2 * math.pi * 300 * i / RATE))
                                                for i in range(n))).tobytes(), RATE)))
    compiled = episode(tmp_path)
    ep = dataclasses.replace(compiled.episode, music=(MusicBed(bed, gain_db=0.0, duck_db=-1.0, fade_in=0.0),))
    result = mix_episode(dataclasses.replace(compiled, episode=ep), renders.__getitem__)
    manifest = json.loads(result.manifest.read_text())
    dialogue = next(p for p in manifest["pieces"] if p.get("key") == "d" * 64)
    assert dialogue["turns_located_by"] == "silence"
    ends = [t["end"] - dialogue["start"] for t in dialogue["turns"][:-1]]
    assert ends == [pytest.approx(1.2, abs=0.06), pytest.approx(4.7, abs=0.06)]
    assert manifest["steps"]["transcript"]["turn_boundaries"] == {"silence": 2, "text": 1}


def test_text_proportional_fallback():
    bounds, method = turns.turn_bounds(10.0, 13.0, ["aa", "a"], [])
    assert method == "text" and bounds == [pytest.approx(12.0)]
    # text says 1.67 and 3.33; the short pause at the start loses to the long ones nearer
    bounds, method = turns.turn_bounds(0.0, 5.0, ["a", "b", "c"], [(0.2, 0.35), (1.0, 1.4), (4.0, 4.5)])
    assert method == "silence" and bounds == [pytest.approx(1.2), pytest.approx(4.25)]
    bounds, _ = turns.turn_bounds(0.0, 5.0, ["a", "b", "c"], [(1.5, 1.7), (3.2, 3.5), (4.0, 4.5)])
    assert bounds == [pytest.approx(1.6), pytest.approx(3.35)]


def test_long_turns_become_readable_cues():
    sentence = "This sentence is here to make the turn long enough to need several cues. "
    text = sentence * 12
    cues = transcript.turn_cues(0.0, 60.0, "Maya", text.strip())
    assert len(cues) > 10 and cues[0].start == 0.0 and cues[-1].end == 60.0
    for c in cues:
        assert c.end - c.start <= transcript.MAX_CUE_SECONDS + 1e-9
        lines = transcript.wrap(c.text).split("\n")
        assert len(lines) <= 2 and all(len(line) <= transcript.LINE_CHARS + 12 for line in lines)
    assert " ".join(c.text for c in cues) == text.strip()


def test_srt_cues_hold_two_lines_of_32_characters_with_the_name():
    text = ("Pollinators visit roughly three quarters of the crops we grow, and a supercalifragilisticexpialidocious"
            "-sized word still fits.")
    cue = transcript.Cue(10.0, 20.0, "Maya", text)
    blocks = transcript.srt_cues(cue)
    assert len(blocks) >= 3 and blocks[0][0] == 10.0 and blocks[-1][1] == 20.0
    for (a, b, body), (c, _, _) in zip(blocks, blocks[1:] + [(20.0, 20.0, "")]):
        lines = body.split("\n")
        assert a < b == c or b == 20.0
        assert 1 <= len(lines) <= 2 and all(len(line) <= 32 for line in lines), body
        assert lines[0].startswith("Maya: ")
    shown = " ".join(" ".join(body.split("\n")).removeprefix("Maya: ") for _, _, body in blocks)
    assert shown.replace(" ", "") == text.replace(" ", "")  # every character, in order (long words cut)
    out = transcript.srt([cue]).decode()
    assert out.startswith("1\n00:00:10,000 --> ") and out.count("\n\n") == len(blocks) - 1


def test_pause_detection_ignores_edges_and_short_dips():
    audio = join(quiet(0.5), voice(1, 1.0, 0.4), quiet(0.05), voice(1, 1.0, 0.4), quiet(0.3),
                 voice(1, 1.0, 0.4), quiet(0.5))
    found = turns.pauses(audio, 0.0, audio.seconds)
    assert len(found) == 1
    assert abs(found[0][0] - 2.55) <= 0.03 and abs(found[0][1] - 2.85) <= 0.03


def test_no_speech_no_transcript(episode_of):
    result = mix_episode(episode_of([SilencePiece(1.0, "pause")]), lambda key: None)
    out = result.output
    assert not out.with_name("ep.vtt").exists() and result.sidecars == ()
    assert array("h", out.read_bytes()[44:]) == array("h", bytes(RATE * 2))
