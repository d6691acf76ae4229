"""The studio's edits of a spec: each a minimal splice (byte-identical outside the changed span, comments,
quoting, flow style and odd indentation kept), validated as `podpipe validate` would, refused or in conflict
without touching the file."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podpipe.errors import UsageError
from podpipe.studio import require
from podpipe.studio.edits import (EditConflict, EditRefused, MoveChapter, PickTake, SetPronunciation, SetStyle,
                                  SetText, apply_edit, edited_text, sha256_of)

SPEC = """\
# yaml-language-server: $schema=../schemas/episode.schema.json
# An episode written the way people write YAML: comments everywhere, odd indentation, every quoting style.
title: "Studio: a test"   # quoted, with a colon
speakers:
   host:  {voice: Zephyr, name: Alex}   # three-space indentation
   guest:
      voice: Puck
lexicon:
   SQL: sequel          # written form: spoken form
   Gemini: {say: JEM-in-eye, ignore_case: true}
segments:
  - chapter: Introduction     # the first chapter
    host: Welcome to the show, we talk about SQL today.
  - guest: 'Thanks, it''s good to be here.'   # single-quoted
  - id: story
    speaker: host
    text: >-
      A folded block scalar joins these lines
      into one paragraph about Gemini.
    # a comment inside the segment
    style: slow and warm

  - dialogue:
        - host: "So what happened?"
        - guest: |
            It's a long story.
    take: 2
  - {host: A flow mapping line., style: brisk}
  - pause: 0.5
  - chapter: The end
    host: Goodbye!   # the last line
"""


@pytest.fixture
def spec(workdir: Path) -> Path:
    path = workdir / "ep.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def _apply(path: Path, edit) -> tuple[list[str], list[str]]:
    """Apply ``edit``; the lines it removed and added (from its unified diff)."""
    before = path.read_text(encoding="utf-8")
    saved = apply_edit(path, edit, base_sha256=sha256_of(path.read_bytes()))
    assert saved.sha256 == sha256_of(path.read_bytes())
    removed = [ln[1:] for ln in saved.diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:] for ln in saved.diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    # the diff is the whole change: applying it to the old text gives the new one
    new = path.read_text(encoding="utf-8")
    recomputed = [ln for ln in difflib.ndiff(before.splitlines(), new.splitlines()) if ln[:1] in "+-"]
    assert [ln[2:] for ln in recomputed if ln[0] == "-"] == removed
    assert [ln[2:] for ln in recomputed if ln[0] == "+"] == added
    return removed, added


def _data(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_text_of_a_shorthand_line_changes_one_line(spec):
    removed, added = _apply(spec, SetText("s1", "Welcome back, everyone."))
    assert removed == ["    host: Welcome to the show, we talk about SQL today."]
    assert added == ["    host: Welcome back, everyone."]


def test_a_single_quoted_text_stays_single_quoted(spec):
    removed, added = _apply(spec, SetText("s2", "Thanks: it's great."))
    assert removed == ["  - guest: 'Thanks, it''s good to be here.'   # single-quoted"]
    assert added == ["  - guest: 'Thanks: it''s great.'   # single-quoted"]


def test_a_plain_text_that_yaml_would_misread_gets_quoted(spec):
    _, added = _apply(spec, SetText("s1", "yes"))
    assert added == ["    host: 'yes'"]
    assert _data(spec)["segments"][0]["host"] == "yes"


def test_a_folded_block_keeps_its_header_indentation_and_the_comment_after_it(spec):
    removed, added = _apply(spec, SetText("story", "A shorter paragraph."))
    assert removed == ["      A folded block scalar joins these lines", "      into one paragraph about Gemini."]
    assert added == ["      A shorter paragraph."]
    assert _data(spec)["segments"][2]["text"] == "A shorter paragraph."


def test_a_long_text_in_a_folded_block_is_wrapped_and_reads_back_as_one_line(spec):
    words = " ".join(["word"] * 40)
    _apply(spec, SetText("story", words))
    assert _data(spec)["segments"][2]["text"] == words
    wrapped = [line for line in spec.read_text().splitlines() if line.startswith("      word")]
    assert len(wrapped) > 1 and all(len(line) <= 80 for line in wrapped)


def test_dialogue_turns_keep_their_quoting_and_block_style(spec):
    removed, added = _apply(spec, SetText("s4", "What happened, then?", turn=0))
    assert (removed, added) == (['        - host: "So what happened?"'], ['        - host: "What happened, then?"'])
    removed, added = _apply(spec, SetText("s4", "It is a long story.\nA very long one.", turn=1))
    assert added == ["            It is a long story.", "            A very long one."]
    assert _data(spec)["segments"][3]["dialogue"][1]["guest"].strip() == "It is a long story.\nA very long one."


def test_style_is_added_replaced_and_removed(spec):
    assert _apply(spec, SetStyle("s1", "bright")) == ([], ["    style: bright"])
    removed, added = _apply(spec, SetStyle("story", "fast"))
    assert (removed, added) == (["    style: slow and warm"], ["    style: fast"])
    assert _apply(spec, SetStyle("story", None)) == (["    style: fast"], [])
    assert "    # a comment inside the segment" in spec.read_text()


def test_style_of_a_flow_mapping_segment(spec):
    removed, added = _apply(spec, SetStyle("s5", None))
    assert (removed, added) == (["  - {host: A flow mapping line., style: brisk}"], ["  - {host: A flow mapping line.}"])
    removed, added = _apply(spec, SetStyle("s5", "calm, slow"))
    assert added == ["  - {host: A flow mapping line., style: 'calm, slow'}"]
    assert _data(spec)["segments"][4]["style"] == "calm, slow"


def test_pick_take_adds_replaces_and_removes_one_line(spec):
    assert _apply(spec, PickTake("s1", 3)) == ([], ["    take: 3"])
    assert _apply(spec, PickTake("s4", 3)) == (["    take: 2"], ["    take: 3"])
    assert _apply(spec, PickTake("s4", None)) == (["    take: 3"], [])
    removed, added = _apply(spec, PickTake("s2", 2, accept="3f2a9c1b07d4"))
    assert removed == ["  - guest: 'Thanks, it''s good to be here.'   # single-quoted"] or removed == []
    assert added[-2:] == ["    take: 2", "    accept: 3f2a9c1b07d4"]
    assert _data(spec)["segments"][1] == {"guest": "Thanks, it's good to be here.", "take": 2,
                                          "accept": "3f2a9c1b07d4"}


def test_pick_take_of_the_current_take_changes_nothing(spec):
    saved = apply_edit(spec, PickTake("s4", 2), base_sha256=sha256_of(spec.read_bytes()))
    assert saved.diff == "" and spec.read_text() == SPEC


def test_move_chapter_moves_one_line(spec):
    removed, added = _apply(spec, MoveChapter("The end", "s5"))
    assert removed == ["  - {host: A flow mapping line., style: brisk}", "  - chapter: The end",
                       "    host: Goodbye!   # the last line"]
    assert added == ["  - {host: A flow mapping line., style: brisk, chapter: The end}",
                     "  - host: Goodbye!   # the last line"]
    data = _data(spec)["segments"]
    assert data[4]["chapter"] == "The end" and "chapter" not in data[6]


def test_move_chapter_onto_a_block_segment(spec):
    removed, added = _apply(spec, MoveChapter("Introduction", "story"))
    assert added == ["  - host: Welcome to the show, we talk about SQL today.", "    chapter: Introduction"]
    assert removed == ["  - chapter: Introduction     # the first chapter",
                       "    host: Welcome to the show, we talk about SQL today."]
    assert _data(spec)["segments"][0] == {"host": "Welcome to the show, we talk about SQL today."}


def test_move_chapter_onto_a_segment_with_a_chapter_is_refused(spec):
    with pytest.raises(EditRefused, match="already starts the chapter 'Introduction'"):
        apply_edit(spec, MoveChapter("The end", "s1"), base_sha256=sha256_of(spec.read_bytes()))
    assert spec.read_text() == SPEC


def test_pronunciations_in_the_episode_lexicon(spec):
    assert _apply(spec, SetPronunciation("SQL", "ess-cue-ell")) == (
        ["   SQL: sequel          # written form: spoken form"], ["   SQL: ess-cue-ell          # written form: spoken form"])
    removed, added = _apply(spec, SetPronunciation("Gemini", "JEM-in-ee"))
    assert added == ["   Gemini: {say: JEM-in-ee, ignore_case: true}"]
    assert _apply(spec, SetPronunciation("Alex", "Aleks")) == ([], ["   Alex: Aleks"])
    assert _apply(spec, SetPronunciation("Alex", None)) == (["   Alex: Aleks"], [])


def test_a_pronunciation_is_added_beside_a_lexicon_file(workdir):
    (workdir / "names.yaml").write_text("Nguyen: win\n")
    path = workdir / "ep.yaml"
    text = "title: T\nspeakers: {host: {voice: Zephyr}}\nlexicon: names.yaml  # shared\nsegments:\n  - host: Hi Nguyen and SQL.\n"
    path.write_text(text)
    saved = apply_edit(path, SetPronunciation("SQL", "sequel"), base_sha256=sha256_of(text.encode()))
    assert path.read_text() == text.replace("lexicon: names.yaml", "lexicon: [names.yaml, {SQL: sequel}]")
    assert saved.diff.count("\n+") == 2  # the +++ header and the one line


def test_a_lexicon_is_added_before_the_segments(workdir):
    path = workdir / "ep.yaml"
    text = "title: T\nspeakers:\n    host: {voice: Zephyr}\nsegments:\n  - host: Hi SQL.\n"
    path.write_text(text)
    apply_edit(path, SetPronunciation("SQL", "sequel"), base_sha256=sha256_of(text.encode()))
    assert path.read_text() == text.replace("segments:", "lexicon:\n    SQL: sequel\nsegments:")
    apply_edit(path, SetPronunciation("SQL", None), base_sha256=sha256_of(path.read_bytes()))
    assert path.read_text() == text


def test_an_invalid_edit_is_refused_with_the_validation_message_and_nothing_is_written(spec):
    before = spec.read_bytes()
    with pytest.raises(EditRefused) as refused:
        apply_edit(spec, PickTake("s1", 2, accept="not-a-take"), base_sha256=sha256_of(before))
    assert refused.value.message.startswith("ep.yaml:15:13: segments[0].accept:")
    with pytest.raises(EditRefused, match="cannot be empty"):
        apply_edit(spec, SetText("s1", "  "), base_sha256=sha256_of(before))
    with pytest.raises(EditRefused, match="is a pause, not spoken"):
        apply_edit(spec, SetStyle("s6", "x"), base_sha256=sha256_of(before))
    with pytest.raises(EditRefused, match="no segment with id 'nope'"):
        apply_edit(spec, SetText("nope", "x"), base_sha256=sha256_of(before))
    assert spec.read_bytes() == before
    assert sorted(p.name for p in spec.parent.iterdir()) == ["ep.yaml"]  # no temp file left


def test_a_style_that_validation_rejects(workdir):
    path = workdir / "ep.yaml"
    text = "title: T\nspeakers: {host: {voice: Zephyr}}\nsegments:\n  - host: Hi.\n"
    path.write_text(text)
    with pytest.raises(EditRefused, match=r"^ep.yaml:5:12: segments\[0\].style: style is empty"):
        apply_edit(path, SetStyle("s1", " "), base_sha256=sha256_of(text.encode()))
    assert path.read_text() == text


def test_a_conflict_carries_both_versions_and_writes_nothing(spec):
    base = sha256_of(spec.read_bytes())
    outside = SPEC.replace("Goodbye!", "Bye now!")
    spec.write_text(outside)
    with pytest.raises(EditConflict) as conflict:
        apply_edit(spec, SetText("s1", "Hello."), base_sha256=base)
    assert spec.read_text() == outside
    assert conflict.value.disk == outside and conflict.value.sha256 == sha256_of(outside.encode())
    assert conflict.value.mine == outside.replace("Welcome to the show, we talk about SQL today.", "Hello.")


def test_require_names_the_extra_and_the_package_exports_the_core():
    import podpipe.studio

    assert require("ruamel.yaml").__name__ == "ruamel.yaml"
    assert podpipe.studio.apply_edit is apply_edit and podpipe.studio.SetText is SetText
    assert all(getattr(podpipe.studio, name) is not None for name in podpipe.studio.__all__)
    with pytest.raises(UsageError, match=r"pip install 'podpipe\[studio\]'"):
        require("podpipe_no_such_module")


_STYLES = {
    "plain": "  - host: Plain text here.   # trailing\n",
    "single": "  - host: 'It''s single.'\n",
    "double": '  - host: "Double \\"quoted\\"."\n',
    "literal": "  - host: |\n      Literal\n      lines.\n\n",
    "folded": "  - host: >-\n       Folded at an odd\n       indentation.\n",
    "flow": "  - {host: In a flow mapping, style: x}\n",
    "multiline-plain": "  - host: A plain text\n      running over two lines\n",
}
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60).filter(lambda t: t.strip())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(style=st.sampled_from(sorted(_STYLES)), text=_TEXT)
def test_any_text_round_trips_and_nothing_outside_the_segment_changes(style, text):
    head = "# head\ntitle: T\nspeakers: {host: {voice: Zephyr}}\nsegments:\n  - host: First.  # one\n"
    tail = "  - pause: 1   # after\n# end\n"
    old = head + _STYLES[style] + tail
    try:
        new = edited_text(old, SetText("s2", text))
    except EditRefused:
        pytest.fail(f"could not write {text!r} into a {style} text")
    assert new.startswith(head) and new.endswith(tail)
    got = yaml.safe_load(new)["segments"][1]["host"]
    assert got.strip() == text.strip()


def test_windows_line_ends_a_bom_block_lists_and_multiline_plain_texts():
    text = ("\ufefftitle: T\r\nspeakers: {host: {voice: Zephyr}}\r\nsegments:\r\n  - host: Hi\r\n    accept:\r\n"
            "      - abcdef01\r\n      - abcdef02\r\n    style: x\r\n  - host: A plain text\r\n      over two lines  # c\r\n")
    assert edited_text(text, PickTake("s1", 2, "abcdef03")) == text.replace(
        "    accept:\r\n      - abcdef01\r\n      - abcdef02\r\n    style: x\r\n",
        "    accept: abcdef03\r\n    style: x\r\n    take: 2\r\n")
    assert edited_text(text, PickTake("s1", None)) == text.replace(
        "    accept:\r\n      - abcdef01\r\n      - abcdef02\r\n", "")
    assert edited_text(text, SetText("s2", "Short now")) == text.replace(
        "A plain text\r\n      over two lines  # c", "Short now  # c")


def test_segments_from_a_show_file_are_edited_there():
    with pytest.raises(EditRefused, match="no segments: of its own"):
        edited_text("extends: show.yaml\ntitle: T\n", SetText("s1", "x"))


def test_a_value_shared_through_an_anchor_is_not_edited_behind_the_users_back():
    text = "title: T\nspeakers: {host: {voice: Zephyr}}\nsegments:\n  - {host: Hi, style: &s calm}\n  - {host: Yo, style: *s}\n"
    with pytest.raises(EditRefused, match="cannot be written faithfully"):
        edited_text(text, SetStyle("s1", "brisk"))


_WORD = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=20).filter(
    lambda w: w == w.strip() and w.strip())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(word=_WORD, say=_TEXT, style=_TEXT, flow=st.booleans())
def test_any_pronunciation_or_style_is_one_added_line(word, say, style, flow):
    lexicon = "lexicon: {SQL: sequel}  # flow\n" if flow else "lexicon:\n   SQL: sequel  # odd indent\n"
    head = "title: T\nspeakers: {host: {voice: Zephyr}}\n" + lexicon
    segments = "segments:\n  - host: First.  # one\n  - pause: 1\n"
    old = head + segments
    new = edited_text(old, SetPronunciation(word, say))
    data = yaml.safe_load(new)
    assert data["lexicon"][word] == say or (isinstance(data["lexicon"][word], dict) and word == "SQL")
    assert {k: v for k, v in data["lexicon"].items() if k != word} == ({"SQL": "sequel"} if word != "SQL" else {})
    assert new.endswith(segments) and new.startswith("title: T\nspeakers: {host: {voice: Zephyr}}\n")
    changed = [ln for ln in difflib.ndiff(old.splitlines(), new.splitlines()) if ln[:1] in "+-"]
    assert len(changed) == (2 if flow or word == "SQL" else 1)
    styled = edited_text(old, SetStyle("s1", style))
    assert yaml.safe_load(styled)["segments"][0]["style"] == style
    assert [ln[0] for ln in difflib.ndiff(old.splitlines(), styled.splitlines()) if ln[:1] in "+-"] == ["+"]


def test_two_edits_from_the_same_version_at_once_one_wins_the_other_conflicts(spec):
    import threading

    base = sha256_of(spec.read_bytes())
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def edit(name, change):
        start.wait()
        try:
            outcomes[name] = apply_edit(spec, change, base_sha256=base)
        except EditConflict as conflict:
            outcomes[name] = conflict

    threads = [threading.Thread(target=edit, args=("style", SetStyle("s1", "bright"))),
               threading.Thread(target=edit, args=("take", PickTake("s1", 2)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conflicts = [o for o in outcomes.values() if isinstance(o, EditConflict)]
    assert len(conflicts) == 1 and len(outcomes) == 2
    assert conflicts[0].disk == spec.read_text() != SPEC  # the winner's text, kept; the loser's text offered
    assert conflicts[0].mine is not None and conflicts[0].mine != conflicts[0].disk


def test_a_missing_or_undecodable_file_is_refused(workdir):
    with pytest.raises(EditRefused, match="no such file"):
        apply_edit(workdir / "gone.yaml", SetText("s1", "x"), base_sha256="0" * 64)
    (workdir / "latin1.yaml").write_bytes("title: caf\xe9\n".encode("latin-1"))
    with pytest.raises(EditRefused, match="not UTF-8"):
        apply_edit(workdir / "latin1.yaml", SetText("s1", "x"), base_sha256="0" * 64)
