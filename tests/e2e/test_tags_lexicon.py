"""Vocal tags and the pronunciation lexicon end to end: what each voice receives, what transcripts and
manifests show, which lines a lexicon edit re-renders, and what validation says about entries."""

from __future__ import annotations

import json
import re

import pytest
import webvtt

from podpipe import backends
from podpipe.cache import FileStore
from podpipe.errors import SpecError
from podpipe.spec import load_episodes
from podpipe.spec.text import Lexicon, LexiconEntry, overlaps, spoken, tags, written
from tests.support.cli import run

SPEC = """\
title: Tags and words
extends: show.yaml
speakers:
  host: {voice: Zephyr, name: Alex}
  guest: {voice: Puck, name: Sam}
lexicon:
  SQL: sequel
segments:
  - host: Today we talk about SQL <laughs> and nothing else.
  - guest: "[sighs] Fine. Nguyen will explain."
  - dialogue:
      - host: Is that a \\<tag\\>?
      - guest: No, it is plain text, 3 < 4.
  - host: A line without any special word.
output: {format: wav}
"""
SHOW = "lexicon: lexicon.yaml\n"
LEXICON = "Nguyen: win\ngemini: {say: JEM-in-eye, ignore_case: true}\n"


def rendered(result) -> int:
    line = next(line for line in result.output.splitlines() if "rendered," in line)
    return int(line.split()[0])


@pytest.fixture
def project(workdir):
    (workdir / "ep.yaml").write_text(SPEC, encoding="utf-8")
    (workdir / "show.yaml").write_text(SHOW, encoding="utf-8")
    (workdir / "lexicon.yaml").write_text(LEXICON, encoding="utf-8")
    return workdir


# ------------------------------------------------------------------------------------------ pure rules

@pytest.mark.parametrize("text, names", [
    ("<laughs> [sigh] <short pause> [whispers]", ["laughs", "sigh", "short pause", "whispers"]),
    ("[1] a < b <3 [laughs> \\[sic\\] <x y>", ["x y"]),
    ("[it's fine] <self-aware> [ leading]", ["it's fine", "self-aware"]),
    ("<" + "a" * 40 + "> <" + "a" * 41 + ">", ["a" * 40]),
])
def test_what_counts_as_a_tag(text, names):
    assert tags(text) == names


def test_escapes_and_forms():
    text = r"Say \[sic\] and \<b\> <laughs> \\ done"
    assert written(text) == r"Say [sic] and <b> [laughs] \ done"
    assert spoken(text, "angle") == r"Say [sic] and b <laughs> \ done"  # no literal <> for an angle reader
    assert spoken(text, "square") == r"Say sic and <b> [laughs] \ done"
    assert spoken(text, None) == r"Say [sic] and <b> \ done"  # no tags at all for a voice that reads none
    assert spoken("Plain , untouched  text", None) == "Plain , untouched  text"  # nothing dropped: unchanged


def test_lexicon_whole_words_case_and_longest_first():
    lex = Lexicon([LexiconEntry("SQL", "sequel"), LexiconEntry("C++", "C plus plus"),
                   LexiconEntry("new york", "Noo York", ignore_case=True), LexiconEntry("York", "Yawk")])
    assert lex.apply("SQL, sql, SQLite, MySQL; C++ and New York, york, York.") == \
        "sequel, sql, SQLite, MySQL; C plus plus and Noo York, york, Yawk."
    assert spoken("<SQL> SQL [SQL]", "angle", lex) == "<SQL> sequel <SQL>"  # never inside a tag
    by = {e.written: e for e in lex.entries}
    assert overlaps(lex.entries) == [(by["York"], by["new york"])]
    # chained: "New York City" could be read as "New York" + "City" or "New" + "York City"
    chain = [LexiconEntry("New York", "a"), LexiconEntry("york city", "b", ignore_case=True)]
    assert overlaps(chain) == [(chain[0], chain[1])]
    assert overlaps([LexiconEntry("SQL", "a"), LexiconEntry("MySQL", "b"), LexiconEntry("SQL Server", "c")]) == [
        (LexiconEntry("SQL", "a"), LexiconEntry("SQL Server", "c"))]


# ------------------------------------------------------------------------------------ through a build

def test_offline_build_speaks_no_tags_and_transcripts_show_cues(project):
    run("build", "ep.yaml", "--backend", "espeak")
    store = FileStore(project / ".podpipe-cache")
    sent = [t["text"] for key in store.keys() for t in store.meta(key)["request"]["turns"]]
    assert sent and not any(re.search(r"laughs|sighs", t) for t in sent)
    assert any("sequel" in t for t in sent) and any("win will explain" in t for t in sent)

    vtt = (project / "build" / "ep.vtt").read_text(encoding="utf-8")
    captions = webvtt.from_string(vtt)  # an independent WebVTT parser
    texts = [c.text for c in captions]
    assert any("[laughs]" in t for t in texts) and any("[sighs]" in t for t in texts)
    assert "<laughs>" not in vtt and "<tag>" not in vtt and "&lt;tag&gt;" in vtt and "3 &lt; 4" in vtt
    assert all(re.fullmatch(r"<v [^>]+>[^<>]*</v>", c.raw_text, re.S) for c in captions)
    assert "SQL" in vtt and "sequel" not in vtt  # the written form
    srt = (project / "build" / "ep.srt").read_text(encoding="utf-8")
    assert "Alex: Today we talk about SQL [laughs] and nothing else." in " ".join(srt.split())
    manifest = json.loads((project / "build" / "ep.manifest.json").read_text(encoding="utf-8"))
    shown = [t["text"] for p in manifest["pieces"] for t in p.get("turns", [])]
    assert "Today we talk about SQL [laughs] and nothing else." in shown and "Is that a <tag>?" in shown


def test_lexicon_edits_rerender_exactly_the_lines_that_use_the_entry(project):
    assert rendered(run("build", "ep.yaml", "--backend", "espeak")) == 4
    assert rendered(run("build", "ep.yaml", "--backend", "espeak")) == 0
    (project / "lexicon.yaml").write_text(LEXICON.replace("Nguyen: win", "Nguyen: nwen"), encoding="utf-8")
    assert rendered(run("build", "ep.yaml", "--backend", "espeak")) == 1  # the one line with Nguyen
    (project / "ep.yaml").write_text(SPEC.replace("SQL: sequel", "SQL: ess cue ell"), encoding="utf-8")
    assert rendered(run("build", "ep.yaml", "--backend", "espeak")) == 1
    # an entry the episode overrides: the show's spelling no longer applies
    (project / "ep.yaml").write_text(SPEC.replace("SQL: sequel", "SQL: ess cue ell\n  Nguyen: nwen"),
                                     encoding="utf-8")
    assert rendered(run("build", "ep.yaml", "--backend", "espeak")) == 0  # same spoken text as before


# --------------------------------------------------------------------------------------- validation

def _diagnostics(project, spec: str, lexicon: str = LEXICON):
    (project / "ep.yaml").write_text(spec, encoding="utf-8")
    (project / "lexicon.yaml").write_text(lexicon, encoding="utf-8")
    try:
        return [str(d) for d in load_episodes(["ep.yaml"], root=project, rules=backends).warnings]
    except SpecError as exc:
        return [str(d) for d in exc.diagnostics + exc.warnings]


def test_validation_reports_empty_overlapping_and_unused_entries(project):
    spec = SPEC.replace("  SQL: sequel\n", "  SQL: sequel\n  Sam: Samuel\n  SQL Server: sequel server\n"
                                            "  Blank: ' '\n")
    found = _diagnostics(project, spec, LEXICON + "Empty: ''\n'': nothing\nBad: {say: x, loud: yes}\n")
    text = "\n".join(found)
    assert "ep.yaml:7:3: lexicon.SQL: lexicon entry 'SQL' also matches inside 'SQL Server' (ep.yaml:9)" in text
    assert "ep.yaml:10:10: lexicon.Blank: must be the spoken form" in text
    assert "lexicon.yaml:3:1: Empty: the spoken form of 'Empty' is empty" in text
    assert "lexicon.yaml:4:1: a lexicon entry needs a written form" in text
    assert "lexicon.yaml:5:1: Bad: unknown field 'loud' in a lexicon entry" in text
    assert len(found) == 5
    spaced = _diagnostics(project, SPEC.replace("  SQL: sequel\n", "  ' SQL': sequel\n"))
    assert spaced == ["ep.yaml:7:3: lexicon[' SQL']: ' SQL' a written form must not be empty or start or end with "
                      "spaces"]


def test_unused_entries_warn_only_for_the_episodes_own(project):
    found = _diagnostics(project, SPEC.replace("  SQL: sequel\n", "  SQL: sequel\n  Sam: Samuel\n"))
    # "Sam" is a display name, not spoken text; the shared file's "gemini" is used nowhere either, but a
    # shared file serves many episodes, so only the episode's own entry is worth a warning
    assert found == ["ep.yaml:8:3: warning: lexicon.Sam: lexicon entry 'Sam' matches nothing in this episode "
                     "(whole words, case-sensitive); remove it or fix its spelling"]


def test_lexicon_file_problems_are_located(project):
    def first(value: str) -> str:
        return _diagnostics(project, SPEC.replace("lexicon:\n  SQL: sequel\n", f"lexicon: {value}\n"))[0]

    assert first("missing.yaml") == ("ep.yaml:6:10: lexicon: lexicon file 'missing.yaml' not found (lexicon paths "
                                     "are relative to the file that names them)")
    assert "outside the project root" in first("../elsewhere.yaml")
    assert first("words.txt").startswith("ep.yaml:6:10: lexicon: must be a mapping of entries")
    (project / "list.yaml").write_text("- SQL\n", encoding="utf-8")
    assert first("list.yaml").startswith("list.yaml:1:1: the top level must be a mapping of lexicon entries")


def test_strict_turns_warnings_into_exit_2(project):
    spec = SPEC.replace("  SQL: sequel\n", "  SQL: sequel\n  Unused: never\n")
    (project / "ep.yaml").write_text(spec, encoding="utf-8")
    assert "warning: lexicon.Unused" in run("validate", "ep.yaml").output
    strict = run("validate", "--strict", "ep.yaml", code=None)
    assert strict.exit_code == 2 and "lexicon.Unused: lexicon entry 'Unused' matches nothing" in strict.output
    assert "(an error under --strict)" in strict.output
    assert run("build", "--strict", "--backend", "espeak", "ep.yaml", code=None).exit_code == 2
    assert run("plan", "--strict", "ep.yaml", code=None).exit_code == 2
    assert not (project / "build").exists() and not (project / ".podpipe-cache").exists()
