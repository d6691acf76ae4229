"""Safe YAML with positions (``podpipe.spec.yamldoc``): tags never run, positions exact through BOMs, CRLF,
flow style, anchors and merge keys, and damaged files end in diagnostics, never a crash."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from podpipe import backends
from podpipe.errors import SpecError
from podpipe.spec import load_episodes
from podpipe.spec.yamldoc import format_path

SPECS = Path(__file__).resolve().parent / "specs"
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "episodes").glob("*.yaml"))


def test_format_path():
    assert format_path(()) == ""
    assert format_path(("segments", 3, "speaker")) == "segments[3].speaker"
    assert format_path(("speakers", "co_host-2", "voice")) == "speakers.co_host-2.voice"
    assert format_path(("segments", 0, "odd key")) == "segments[0]['odd key']"


def test_tags_are_never_executed(tmp_path, monkeypatch, write):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    write(tmp_path / "evil.yaml", f'title: !!python/object/apply:os.system ["touch {marker}"]\n'
                                  "speakers: {host: {voice: Zephyr}}\nsegments: [{host: hi}]\n")
    with pytest.raises(SpecError) as info:
        load_episodes(["evil.yaml"], rules=backends)
    assert not marker.exists()
    (d,) = info.value.diagnostics
    assert (d.line, d.column, d.field) == (1, 8, "title") and "not allowed" in d.message


def test_line_and_column_survive_bom_and_crlf(tmp_path):
    text = ("title: T\r\nspeakers:\r\n  host: {voice: Zephyr}\r\nsegments:\r\n  - host: Hi\r\n"
            "  - gust: Hello\r\n")
    path = tmp_path / "crlf.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    with pytest.raises(SpecError) as info:
        load_episodes([path], root=tmp_path, rules=backends)
    (d,) = info.value.diagnostics
    assert (d.file, d.line, d.column, d.field) == (str(path), 6, 5, "segments[1].gust")


def test_positions_are_exact_for_flow_and_block_styles(tmp_path, write):
    path = write(tmp_path / "pos.yaml", "title: T\nspeakers: {host: {voice: Zephyr}, guest: {voice: Pck}}\n"
                                       "segments:\n  -   speaker:   nobody\n      text: hi\n")
    with pytest.raises(SpecError) as info:
        load_episodes([path], root=tmp_path, rules=backends)
    where = {(d.field, d.line, d.column) for d in info.value.diagnostics}
    assert where == {("speakers.guest.voice", 2, 50), ("segments[0].speaker", 4, 18)}


def test_yaml_anchors_and_merge_keys(monkeypatch):
    monkeypatch.chdir(SPECS)
    ep = load_episodes(["valid/anchors.yaml"], root=SPECS, rules=backends).episodes[0]
    guest = ep.speaker("guest")
    assert (guest.voice, guest.style, guest.name) == ("Puck", "calm", "Guest Star")
    assert [s.turns[0].text for s in ep.segments] == ["Said twice."] * 3
    assert [s.id for s in ep.segments] == ["s1", "s2", "third"] and ep.segments[2].take == 2


def test_yaml_merge_key_priorities_and_positions(tmp_path, write):
    path = write(tmp_path / "merge.yaml", (
        "title: T\n"
        "speakers:\n"
        "  one: &a {voice: Zephyr, name: One}\n"
        "  two: &b {voice: Puck, name: Two, style: bold}\n"
        "  three:\n"
        "    <<: [*a, *b]\n"
        "    name: Three\n"
        "segments:\n"
        "  - three: Hi\n"))
    three = load_episodes([path], root=tmp_path, rules=backends).episodes[0].speaker("three")
    assert (three.voice, three.style, three.name) == ("Zephyr", "bold", "Three")  # earlier source wins
    path.write_text(path.read_text().replace("voice: Zephyr", "voice: Zephy"))
    with pytest.raises(SpecError) as info:
        load_episodes([path], root=tmp_path, rules=backends)
    where = [(d.field, d.line, d.column) for d in info.value.diagnostics]
    assert where == [("speakers.one.voice", 3, 19), ("speakers.three.voice", 3, 19)]  # both at the anchor


def test_mangled_yaml_never_raises_anything_but_spec_error(tmp_path):
    """Random byte-level damage to real specs: every outcome is a result or a SpecError, never a crash."""
    sources = [p.read_bytes() for p in sorted(SPECS.rglob("*.yaml"))] + [p.read_bytes() for p in EXAMPLES]
    rng = random.Random(7)
    alphabet = b" \n\t:-[]{}!&*|>'\"#%@`?,.0123456789abcxyz\xff\xc3"
    target = tmp_path / "fuzz.yaml"
    (tmp_path / "assets").mkdir()
    outcomes = {"valid": 0, "invalid": 0}
    for _ in range(300):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(data) + 1)
            if rng.random() < 0.5 and data:
                del data[i:i + rng.randint(1, 8)]
            else:
                data[i:i] = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 4)))
        target.write_bytes(bytes(data))
        try:
            load_episodes([target], root=tmp_path, rules=backends)
            outcomes["valid"] += 1
        except SpecError as err:
            assert err.diagnostics
            outcomes["invalid"] += 1
    assert outcomes["invalid"] > 100
