"""The example episodes under ``episodes/``: valid, varied, and made of real assets."""

from __future__ import annotations

import array
import importlib.util
import wave
from pathlib import Path

from podpipe import backends
from podpipe.spec import load_episodes

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "episodes").glob("*.yaml"))


def test_example_episodes_are_valid_and_real(monkeypatch):
    monkeypatch.chdir(REPO)
    result = load_episodes([p.relative_to(REPO) for p in EXAMPLES], rules=backends)
    assert len(result.episodes) >= 3 and not result.warnings
    for path, ep in zip(EXAMPLES, result.episodes):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schemas/episode.schema.json"
        assert ep.show == "Podpipe Weekly"
        assert 10 <= len(ep.segments) <= 25, path.name
        assert any(s.kind == "sound" and s.sound.path.name == "jingle.wav" for s in ep.segments)
        assert any(s.kind == "pause" for s in ep.segments)
    by_kind = {p.stem: ep for p, ep in zip(EXAMPLES, result.episodes)}
    interview = by_kind["ep12-city-bees"]
    assert len(interview.speakers) == 2 and sum(s.kind == "dialogue" for s in interview.segments) >= 2
    narration = by_kind["ep13-longitude"]
    assert len(narration.speakers) == 1 and sum(bool(s.chapter) for s in narration.segments) >= 4
    panel = by_kind["ep14-bike-city-panel"]
    assert any(len({t.speaker for t in s.turns}) == 3 for s in panel.segments if s.kind == "dialogue")
    segments = [s for ep in result.episodes for s in ep.segments]
    assert any(s.style for s in segments) and not any(s.temperature for s in segments)  # 3.8 takes none
    assert all(ep.lexicon for ep in result.episodes)  # the show's shared lexicon file, and ep13's own entries
    assert any("<laughs>" in t.text for s in segments for t in s.turns)
    assert any(s.take > 1 for s in segments)


def test_the_show_file_is_not_picked_up_by_the_episode_glob():
    assert (REPO / "episodes" / "shows" / "podpipe-weekly.yaml").is_file()
    assert all(p.parent.name == "episodes" for p in EXAMPLES)


def test_jingle_is_a_short_real_sound_made_by_its_script(tmp_path):
    jingle = REPO / "episodes" / "assets" / "jingle.wav"
    with wave.open(str(jingle)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (44100, 1, 2)
        assert 1.5 <= w.getnframes() / 44100 <= 3.0
        samples = array.array("h", w.readframes(w.getnframes()))
    assert max(map(abs, samples)) > 16000  # a real, audible signal, not silence
    module_spec = importlib.util.spec_from_file_location("make_jingle", jingle.with_name("make_jingle.py"))
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    module.write(tmp_path / "again.wav")
    assert (tmp_path / "again.wav").read_bytes() == jingle.read_bytes()  # committed file == script output
