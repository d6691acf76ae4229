"""The studio's view of an episode: lines, statuses, positions, chapters, takes and waveforms, read from the
spec, the cache's records and the manifest of a build with the offline voice (one build per module, copied
for the tests that change it); flagged and re-rolled lines from a build against the Gemini stand-in."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from podpipe.commands.build import BuildOptions, build
from podpipe.studio.edits import SetText, apply_edit
from podpipe.studio.view import episode_view, take_audio, take_wave

SPEC = """\
# the studio's test episode
title: Studio test
speakers:
  host: {voice: Zephyr, name: Alex}
  guest: {voice: Puck, name: Sam}
segments:
  - chapter: Hello
    host: Welcome to the studio test, where every line is short.
  - guest: Thanks for having me on the show today.
    style: cheerful
  - pause: 1.5
  - chapter: Talk
    dialogue:
      - host: So what happened next?
      - guest: It is a long story, and a good one.
  - id: outro
    host: Goodbye, and thanks for listening.
output: {format: wav}
"""


def _build(root: Path, spec: str = "ep.yaml") -> None:
    build([root / spec], BuildOptions(backend="espeak", cache_dir=root / "cache", root=root, mix_jobs=1))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("studio-view")
    (root / "ep.yaml").write_text(SPEC, encoding="utf-8")
    _build(root)
    return root


@pytest.fixture
def copy(built, tmp_path) -> Path:
    """The built project, copied (cache, output and manifest keep their times: the copy is up to date)."""
    root = tmp_path / "project"
    shutil.copytree(built, root)
    return root


def _view(root: Path, spec: str = "ep.yaml") -> dict:
    return episode_view(root / spec, root=root, cache_dir=root / "cache", backend="espeak")


def test_the_view_of_a_built_episode(built):
    view = _view(built)
    json.dumps(view)  # JSON-able as it is
    manifest = json.loads((built / "build" / "ep.manifest.json").read_text())
    assert view["spec"] == "ep.yaml" and view["title"] == "Studio test" and view["backend"] == "espeak"
    assert view["sha256"] == hashlib.sha256((built / "ep.yaml").read_bytes()).hexdigest()
    assert view["output"] == "build/ep.wav" and view["fresh"] and view["errors"] == []
    assert view["duration"] == pytest.approx(manifest["duration"])
    assert [(c["title"], c["segment_id"]) for c in view["chapters"]] == [("Hello", "s1"), ("Talk", "s4")]
    lines = view["lines"]
    assert [line["segment_id"] for line in lines] == ["s1", "s2", "s4", "outro"]
    assert [line["index"] for line in lines] == [0, 1, 3, 4]
    assert [line["speaker"] for line in lines] == ["Alex", "Sam", "Alex", "Alex"]
    assert lines[2]["speakers"] == ["Alex", "Sam"] and lines[2]["kind"] == "dialogue"
    assert [t["text"] for t in lines[2]["turns"]] == ["So what happened next?", "It is a long story, and a good one."]
    assert [line["chapter"] for line in lines] == ["Hello", "Hello", "Talk", "Talk"]
    assert [line["starts_chapter"] for line in lines] == ["Hello", None, "Talk", None]
    assert lines[1]["style"] == "cheerful" and lines[0]["style"] is None
    assert lines[1]["text"] == "Thanks for having me on the show today."
    assert {line["status"] for line in lines} == {"cached"} and all(not line["reasons"] for line in lines)
    assert {c["check"] for c in lines[0]["scores"]} >= {"duration", "dead_air", "noise"}
    # positions are the manifest's, in order, inside the episode; chapters start where their lines do
    by_segment = {p["segment_id"]: p for p in manifest["pieces"] if p.get("key")}
    for line in lines:
        assert line["start"] == pytest.approx(by_segment[line["segment_id"]]["start"])
        assert line["end"] == pytest.approx(by_segment[line["segment_id"]]["end"])
        assert line["take"] == by_segment[line["segment_id"]]["review"]["take"]
        assert [t["current"] for t in line["takes"]] == [True] and line["takes"][0]["id"] == line["take"]
        assert line["takes"][0]["take"] == 1 and not line["takes"][0]["rejected"]
        assert line["takes"][0]["waveform"] == line["waveform"]
        assert line["takes"][0]["duration"] == pytest.approx(line["end"] - line["start"], abs=0.01)
    starts = [line["start"] for line in lines]
    assert starts == sorted(starts) and lines[-1]["end"] <= view["duration"] + 1e-6
    assert view["chapters"][1]["start"] == pytest.approx(lines[2]["start"])


def test_waveforms_come_from_the_takes_figures_at_their_places(built):
    view = _view(built)
    wave = view["waveform"]
    assert len(wave) == 1000 and max(wave) == 1.0 and min(wave) >= 0.0
    seconds = view["duration"] / len(wave)
    lines = view["lines"]
    # the pause between s2 and the dialogue is silent; the lines are not
    pause = wave[int(lines[1]["end"] / seconds) + 3:int(lines[2]["start"] / seconds) - 3]
    assert len(pause) > 50 and max(pause) == 0.0
    speech = wave[int(lines[0]["start"] / seconds):int(lines[0]["end"] / seconds)]
    assert max(speech) > 0.3
    for line in lines:
        assert len(line["waveform"]) == 100 and max(line["waveform"]) == 1.0


def test_take_audio_is_the_cached_wav_of_that_take(built):
    line = _view(built)["lines"][0]
    wav = take_audio(built, built / "cache", line["take"])
    assert wav.is_relative_to((built / "cache").resolve()) and wav.suffix == ".wav"
    assert hashlib.sha256(wav.read_bytes()).hexdigest().startswith(line["take"])
    for bad in ("0" * 12, "../../ep.yaml", "", "abc"):
        with pytest.raises(LookupError):
            take_audio(built, built / "cache", bad)


def test_an_edited_line_is_stale_and_positions_are_gone(copy):
    view = _view(copy)
    apply_edit(copy / "ep.yaml", SetText("s2", "Thanks, it is good to be back."), base_sha256=view["sha256"],
               root=copy, cache_dir=copy / "cache")
    view = _view(copy)
    assert not view["fresh"] and view["output"] == "build/ep.wav"  # the old output still plays
    assert [(line["segment_id"], line["status"]) for line in view["lines"]] == [
        ("s1", "cached"), ("s2", "stale"), ("s4", "cached"), ("outro", "cached")]
    assert all(line["start"] is None for line in view["lines"])
    stale = view["lines"][1]
    assert stale["take"] is None and stale["takes"] == [] and stale["waveform"] is None
    assert len(view["chapters"]) == 2  # the built output's chapters, for its player


def test_a_new_episode_is_not_rendered_and_an_invalid_one_shows_its_errors(copy):
    (copy / "new.yaml").write_text(SPEC.replace("Goodbye,", "Farewell,"), encoding="utf-8")
    view = _view(copy, "new.yaml")
    assert view["output"] is None and view["waveform"] is None and not view["fresh"]
    assert [line["status"] for line in view["lines"]] == ["cached", "cached", "cached", "not rendered"]
    (copy / "bad.yaml").write_text(SPEC.replace("  - guest: Thanks", "  - gust: Thanks"), encoding="utf-8")
    view = _view(copy, "bad.yaml")
    assert view["lines"] == [] and view["title"] is None
    assert view["errors"] and view["errors"][0].startswith("bad.yaml:9:5: segments[1].gust: speaker 'gust' is not declared")


REVIEWED = """\
title: Reviewed
model: gemini-3.8-flash-tts
speakers:
  host: {voice: Zephyr, name: Alex}
  guest: {voice: Puck, name: Sam}
segments:
  - host: Welcome back to the show, where we read the news of the week out loud.
  - guest: I counted eleven buses this morning and every single one of them was late.
  - host: Thank you all for listening, and we will be back at the same time next week.
output: {format: wav}
"""


def test_flagged_and_rerolled_lines_list_their_rejected_takes(gemini_server, project):
    from tests.support.standin import Fault

    (project / "ep.yaml").write_text(REVIEWED, encoding="utf-8")
    sent: dict[str, int] = {}

    def faults(rec):
        text = rec.texts[0]
        sent[text] = sent.get(text, 0) + 1
        if "eleven buses" in text:
            return Fault("dead-air")  # every take: flagged
        if "Welcome back" in text and sent[text] == 1:
            return Fault("noise")  # the first take only: re-rolled
        return None

    gemini_server.fault_fn = faults
    build([project / "ep.yaml"], BuildOptions(root=project, rpm=0, mix_jobs=1))
    view = episode_view(project / "ep.yaml", root=project)
    assert view["backend"] == "gemini"
    first, flagged, last = view["lines"]
    assert (first["status"], first["reasons"]) == ("re-rolled", ["noise"])
    assert [(t["take"], t["status"], t["rejected"], t["current"]) for t in first["takes"]] == [
        (1, "accepted", False, True), (1, "rejected", True, False)]
    assert first["takes"][1]["reasons"] == ["noise"]
    assert (flagged["status"], flagged["reasons"]) == ("flagged", ["dead_air"])
    assert [t["rejected"] for t in flagged["takes"]] == [False, True, True]
    assert flagged["takes"][0]["status"] == "flagged" and flagged["takes"][0]["current"]
    assert last["status"] == "cached"
    rejected = first["takes"][1]["id"]
    assert hashlib.sha256(take_audio(project, None, rejected).read_bytes()).hexdigest().startswith(rejected)
    assert first["waveform"] and len(first["waveform"]) == 100
    # any take's waveform, from its figures (a rejected take's computed once and kept beside it)
    wave = take_wave(project, None, rejected)
    assert len(wave) == 100 and max(wave) == 1.0 and wave != first["waveform"]
    assert first["takes"][1]["waveform"] == wave and first["takes"][1]["duration"] > 0
    with pytest.raises(LookupError):
        take_wave(project, None, "0" * 12)

    # the flagged take, heard and accepted: pinned
    from podpipe.studio.edits import PickTake

    apply_edit(project / "ep.yaml", PickTake("s2", None, accept=flagged["take"]), base_sha256=view["sha256"])
    pinned = episode_view(project / "ep.yaml", root=project)["lines"][1]
    assert (pinned["status"], pinned["reasons"], pinned["accept"]) == ("pinned", ["dead_air"], [flagged["take"]])
    assert pinned["takes"][0]["status"] == "pinned" and pinned["takes"][0]["current"]
