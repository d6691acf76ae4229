"""``validate --with-dependents``: which episodes a change to episode, show and lexicon files must check."""

from __future__ import annotations

from pathlib import Path

from podpipe.commands.dependents import with_dependents


def _tree(root: Path) -> None:
    (root / "episodes" / "shows").mkdir(parents=True)
    (root / "episodes" / "shows" / "weekly.yaml").write_text("lexicon: lexicon.yaml\n", encoding="utf-8")
    (root / "episodes" / "shows" / "special.yaml").write_text("extends: weekly.yaml\n", encoding="utf-8")
    (root / "episodes" / "shows" / "lexicon.yaml").write_text("Podpipe: pod pipe\n", encoding="utf-8")
    (root / "episodes" / "shows" / "unused.yaml").write_text("author: nobody\n", encoding="utf-8")
    (root / "episodes" / "ep1.yaml").write_text("extends: shows/weekly.yaml\n", encoding="utf-8")
    (root / "episodes" / "ep2.yaml").write_text("extends: shows/special.yaml\n", encoding="utf-8")
    (root / "episodes" / "ep3.yaml").write_text("title: alone\n", encoding="utf-8")


def test_a_show_file_stands_for_every_episode_along_its_chain(tmp_path, monkeypatch):
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    e = Path("episodes")
    assert with_dependents(["episodes/shows/weekly.yaml"]) == [e / "ep1.yaml", e / "ep2.yaml"]
    assert with_dependents(["episodes/shows/special.yaml"]) == [e / "ep2.yaml"]
    assert with_dependents(["episodes/shows/lexicon.yaml"]) == [e / "ep1.yaml", e / "ep2.yaml"]
    assert with_dependents(["episodes/ep3.yaml", "episodes/shows/special.yaml"]) == [e / "ep3.yaml", e / "ep2.yaml"]
    assert with_dependents(["episodes/shows/unused.yaml"]) == []  # a show file nothing extends yet
    assert with_dependents(["episodes/ep1.yaml"]) == [e / "ep1.yaml"]


def test_a_cycle_or_an_unreadable_file_is_left_to_the_loader(tmp_path, monkeypatch):
    (tmp_path / "episodes" / "shows").mkdir(parents=True)
    (tmp_path / "episodes" / "shows" / "a.yaml").write_text("extends: b.yaml\n", encoding="utf-8")
    (tmp_path / "episodes" / "shows" / "b.yaml").write_text("extends: a.yaml\n", encoding="utf-8")
    (tmp_path / "episodes" / "ep.yaml").write_text("extends: shows/a.yaml\n", encoding="utf-8")
    (tmp_path / "episodes" / "broken.yaml").write_text("extends: [\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert with_dependents(["episodes/shows/b.yaml"]) == [Path("episodes/ep.yaml")]
    assert with_dependents(["episodes/broken.yaml"]) == [Path("episodes/broken.yaml")]
