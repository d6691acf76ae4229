"""Resolution: what a valid spec becomes (``podpipe.spec.resolve``), defaults from the dataclasses."""

from __future__ import annotations

from pathlib import Path

from podpipe import backends
from podpipe.spec import Episode, MusicBed, Output, Segment, Sound, Speaker, Turn, load_episodes

SPECS = Path(__file__).resolve().parent / "specs"


def test_defaults_and_shorthand_resolution(monkeypatch):
    monkeypatch.chdir(SPECS)
    ep = load_episodes(["valid/minimal.yaml"], rules=backends).episodes[0]  # root defaults to the working directory
    assert ep.path == SPECS / "valid" / "minimal.yaml"
    assert ep.output.path == SPECS / "build" / "minimal.mp3"  # relative to the root, not to the spec
    assert (ep.output.format, ep.output.gap, ep.model, ep.version) == ("mp3", 0.25, None, 1)  # None: the default model
    assert ep.speakers[0].name == "Host"
    seg = ep.segments[0]
    assert (seg.kind, seg.id, seg.index, seg.take, seg.line) == ("speech", "s1", 0, 1, 6)
    assert seg.turns[0].speaker == "host" and seg.turns[0].text == "Hello." and seg.turns[0].line == 6


def test_full_spec_fields(monkeypatch):
    monkeypatch.chdir(SPECS)
    ep = load_episodes(["valid/full.yaml"], root=SPECS, rules=backends).episodes[0]
    kinds = [s.kind for s in ep.segments]
    assert kinds == ["speech", "speech", "dialogue", "pause", "pause", "sound", "speech"]
    intro = ep.segments[0]
    assert (intro.id, intro.chapter, intro.style, intro.temperature, intro.take) == (
        "intro", "Introduction", "excited", 0.5, 3)
    assert intro.turns[0].text == "Welcome to the show!"  # surrounding whitespace trimmed
    dialogue = ep.segments[2]
    assert [t.speaker for t in dialogue.turns] == ["host", "guest", "co_host-2"]
    assert dialogue.turns[1].text == "It's a long story."
    assert [t.line for t in dialogue.turns] == [27, 28, 30]
    sound = ep.segments[5].sound
    assert sound.path == SPECS / "assets" / "ding.wav" and sound.path.is_absolute()
    assert (sound.gain_db, sound.fade_in, sound.fade_out) == (-3.5, 0.25, 1.0)
    assert isinstance(ep.segments[4].pause, float) and ep.segments[4].pause == 2.0
    assert ep.segments[6].id == "007" and ep.segments[6].turns[0].text == "yes"
    assert ep.output.path == SPECS / "build" / "custom" / "full-episode.wav" and ep.output.gap == 0.0
    assert ep.episode == 7


def test_output_format_follows_the_suffix_case_insensitively(monkeypatch):
    monkeypatch.chdir(SPECS)
    ep = load_episodes(["valid/yaml_quirks.yaml"], root=SPECS, rules=backends).episodes[0]
    assert ep.output.format == "mp3" and ep.output.path.name == "quirks.MP3"
    assert ep.title == "2024-05-01 Review" and ep.episode == 16
    assert ep.segments[0].turns[0].text == "1984" and ep.segments[1].turns[0].speaker == "yes"


def test_what_a_spec_does_not_write_takes_the_dataclass_default(tmp_path, write, minimal):
    """Resolution restates no default: every field the spec leaves out equals the dataclass's own."""
    (tmp_path / "ding.wav").write_bytes(b"RIFF")
    path = write(tmp_path / "ep.yaml", minimal + "  - pause: 1\n  - sound: ding.wav\nmusic:\n  - file: ding.wav\n")
    ep = load_episodes([path], root=tmp_path, rules=backends).episodes[0]
    speech, pause, sound = ep.segments
    assert speech == Segment(index=0, id="s1", kind="speech", line=5, column=5, turns=(Turn("host", "Hello.", 5),))
    assert pause == Segment(index=1, id="s2", kind="pause", line=6, column=5, pause=1.0)
    assert sound == Segment(index=2, id="s3", kind="sound", line=7, column=5, sound=Sound(tmp_path / "ding.wav"))
    assert ep.music == (MusicBed(tmp_path / "ding.wav", start_segment=0, end_segment=2),)  # "to" absent: the last
    assert ep == Episode(path=path, title="T", speakers=(Speaker("host", "Zephyr", "Host"),), segments=ep.segments,
                         output=Output(tmp_path / "build" / "ep.mp3"), music=ep.music)
