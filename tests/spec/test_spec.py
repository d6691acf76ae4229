"""The spec stage: YAML loading, schema + semantic validation, extends, resolution into Episode objects.

Golden files: every ``tests/spec/specs/invalid/NAME.yaml`` has ``NAME.expected`` with the exact diagnostics
(errors and warnings, sorted), every ``tests/spec/specs/valid/NAME.yaml`` has ``NAME.json`` with the resolved
episode. Regenerate after an intended change with ``PODPIPE_UPDATE_GOLDEN=1 pytest tests/test_spec.py``
and review the diff.
"""

from __future__ import annotations

import array
import dataclasses
import importlib.util
import json
import os
import random
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from podpipe.errors import Diagnostic, SpecError
from podpipe.spec import LoadResult
from podpipe.spec import load_episodes, load_schema, schema
from podpipe.spec.messages import suggest
from podpipe.spec.schemacheck import Unsupported, compile_schema
from podpipe.spec.yamldoc import format_path, load_yaml

TESTS = Path(__file__).resolve().parent
SPECS = TESTS / "specs"
REPO = TESTS.parents[1]
UPDATE = os.environ.get("PODPIPE_UPDATE_GOLDEN") == "1"

INVALID = sorted(p.stem for p in (SPECS / "invalid").glob("*.yaml"))
VALID = sorted(p.stem for p in (SPECS / "valid").glob("*.yaml"))


def _sorted(error: SpecError) -> list[Diagnostic]:
    return sorted(error.diagnostics + error.warnings, key=lambda d: (d.file, d.line, d.column))


def _plain(value, root: Path):
    """An Episode as JSON-able data, paths relative to ``root`` so goldens are machine-independent."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name), root) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        assert value.is_absolute(), value
        return value.relative_to(root).as_posix()
    if isinstance(value, (list, tuple)):
        return [_plain(v, root) for v in value]
    return value


def _golden(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path.name}: run with PODPIPE_UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = "title: T\nspeakers:\n  host: {voice: Zephyr}\nsegments:\n  - host: Hello.\n"


# ------------------------------------------------------------------------------------------ golden files

@pytest.mark.parametrize("name", INVALID)
def test_invalid_spec_reports_exactly_the_expected_diagnostics(name, monkeypatch):
    monkeypatch.chdir(SPECS)
    with pytest.raises(SpecError) as info:
        load_episodes([f"invalid/{name}.yaml"], root=SPECS)
    assert info.value.diagnostics, "an invalid fixture must produce at least one error"
    lines = "".join(f"{d}\n" for d in _sorted(info.value))
    _golden(SPECS / "invalid" / f"{name}.expected", lines)


@pytest.mark.parametrize("name", VALID)
def test_valid_spec_resolves_to_the_golden_episode(name, monkeypatch):
    monkeypatch.chdir(SPECS)
    result = load_episodes([f"valid/{name}.yaml"], root=SPECS)
    assert isinstance(result, LoadResult) and len(result.episodes) == 1
    golden = {"episode": _plain(result.episodes[0], SPECS), "warnings": [str(w) for w in result.warnings]}
    _golden(SPECS / "valid" / f"{name}.json", json.dumps(golden, indent=2, ensure_ascii=False) + "\n")


def test_every_fixture_has_its_golden_file_and_no_golden_is_orphaned():
    for folder, suffix in (("invalid", ".expected"), ("valid", ".json")):
        specs = {p.stem for p in (SPECS / folder).glob("*.yaml")}
        goldens = {p.name[: -len(suffix)] for p in (SPECS / folder).glob(f"*{suffix}")}
        assert specs == goldens, folder


# ------------------------------------------------------------------------------------------- resolution

def test_defaults_and_shorthand_resolution(monkeypatch):
    monkeypatch.chdir(SPECS)
    ep = load_episodes(["valid/minimal.yaml"]).episodes[0]  # root defaults to the working directory
    assert ep.path == SPECS / "valid" / "minimal.yaml"
    assert ep.output.path == SPECS / "build" / "minimal.mp3"  # relative to the root, not to the spec
    assert (ep.output.format, ep.output.gap, ep.model, ep.version) == ("mp3", 0.25, "gemini-3.8-flash-tts", 1)
    assert ep.speakers[0].name == "Host"
    seg = ep.segments[0]
    assert (seg.kind, seg.id, seg.index, seg.take, seg.line) == ("speech", "s1", 0, 1, 6)
    assert seg.turns[0].speaker == "host" and seg.turns[0].text == "Hello." and seg.turns[0].line == 6


def test_full_spec_fields(monkeypatch):
    monkeypatch.chdir(SPECS)
    ep = load_episodes(["valid/full.yaml"], root=SPECS).episodes[0]
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


def test_extends_deep_merge(monkeypatch):
    monkeypatch.chdir(SPECS)
    ep = load_episodes(["valid/extends_merge.yaml"], root=SPECS).episodes[0]
    host = ep.speaker("host")
    assert (host.voice, host.name, host.style) == ("Puck", "Alex", "bright")  # mapping merged, episode wins
    assert [s.id for s in ep.speakers] == ["host", "cohost", "guest"]
    assert len(ep.segments) == 2  # lists replace: the show file's segment is gone
    assert (ep.show, ep.author, ep.language, ep.temperature) == ("The Fixture Hour", "Podpipe Tests", "en-GB", 1.1)
    # output.path without a suffix gets the format's; the show file's format and gap are inherited
    assert (ep.output.path, ep.output.format, ep.output.gap) == (SPECS / "build" / "merged.wav", "wav", 0.5)


def test_extends_chain_resolves_sounds_relative_to_the_file_that_names_them(monkeypatch):
    monkeypatch.chdir(SPECS)
    result = load_episodes(["valid/extends_chain.yaml", "valid/extends_nested_show.yaml"], root=SPECS)
    chain, nested = result.episodes
    assert (chain.show, chain.author, chain.style) == ("Chain Top", "Middle Author", "From the top of the chain")
    assert (chain.speaker("host").voice, chain.speaker("host").name) == ("Leda", "Top Host")
    assert chain.segments[1].sound.path == SPECS / "assets" / "ding.wav"
    assert chain.output.gap == 0.1 and chain.output.format == "wav"
    assert nested.segments[0].sound.path == SPECS / "assets" / "ding.wav"


def test_yaml_anchors_and_merge_keys(monkeypatch):
    monkeypatch.chdir(SPECS)
    ep = load_episodes(["valid/anchors.yaml"], root=SPECS).episodes[0]
    guest = ep.speaker("guest")
    assert (guest.voice, guest.style, guest.name) == ("Puck", "calm", "Guest Star")
    assert [s.turns[0].text for s in ep.segments] == ["Said twice."] * 3
    assert [s.id for s in ep.segments] == ["s1", "s2", "third"] and ep.segments[2].take == 2


def test_output_format_follows_the_suffix_case_insensitively(monkeypatch):
    monkeypatch.chdir(SPECS)
    ep = load_episodes(["valid/yaml_quirks.yaml"], root=SPECS).episodes[0]
    assert ep.output.format == "mp3" and ep.output.path.name == "quirks.MP3"
    assert ep.title == "2024-05-01 Review" and ep.episode == 16
    assert ep.segments[0].turns[0].text == "1984" and ep.segments[1].turns[0].speaker == "yes"


# ------------------------------------------------------------------------------------ loading edge cases

def test_tags_are_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    _write(tmp_path / "evil.yaml", f'title: !!python/object/apply:os.system ["touch {marker}"]\n'
                                   "speakers: {host: {voice: Zephyr}}\nsegments: [{host: hi}]\n")
    with pytest.raises(SpecError) as info:
        load_episodes(["evil.yaml"])
    assert not marker.exists()
    (d,) = info.value.diagnostics
    assert (d.line, d.column, d.field) == (1, 8, "title") and "not allowed" in d.message


def test_missing_unreadable_and_directory_paths_are_clean_diagnostics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir.yaml").mkdir()
    locked = _write(tmp_path / "locked.yaml", MINIMAL)
    locked.chmod(0)
    try:
        with pytest.raises(SpecError) as info:
            load_episodes(["nope.yaml", "adir.yaml", "locked.yaml"])
    finally:
        locked.chmod(0o644)
    messages = {d.file: d.message for d in info.value.diagnostics}
    assert messages["nope.yaml"] == "no such file"
    assert messages["adir.yaml"] == "is a directory, not a spec file"
    if os.geteuid() != 0:  # root reads anything
        assert messages["locked.yaml"].startswith("cannot read the file: Permission denied")
    assert all(d.line == 0 for d in info.value.diagnostics)


def test_line_and_column_survive_bom_and_crlf(tmp_path):
    text = ("title: T\r\nspeakers:\r\n  host: {voice: Zephyr}\r\nsegments:\r\n  - host: Hi\r\n"
            "  - gust: Hello\r\n")
    path = tmp_path / "crlf.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    with pytest.raises(SpecError) as info:
        load_episodes([path], root=tmp_path)
    (d,) = info.value.diagnostics
    assert (d.file, d.line, d.column, d.field) == (str(path), 6, 5, "segments[1].gust")


def test_positions_are_exact_for_flow_and_block_styles(tmp_path):
    path = _write(tmp_path / "pos.yaml", "title: T\nspeakers: {host: {voice: Zephyr}, guest: {voice: Pck}}\n"
                                        "segments:\n  -   speaker:   nobody\n      text: hi\n")
    with pytest.raises(SpecError) as info:
        load_episodes([path], root=tmp_path)
    where = {(d.field, d.line, d.column) for d in info.value.diagnostics}
    assert where == {("speakers.guest.voice", 2, 50), ("segments[0].speaker", 4, 18)}


def test_a_path_given_twice_is_loaded_once(monkeypatch):
    monkeypatch.chdir(SPECS)
    result = load_episodes(["valid/minimal.yaml", Path("valid/minimal.yaml"), SPECS / "valid/minimal.yaml"])
    assert len(result.episodes) == 1


def test_all_files_are_checked_and_diagnostics_sorted_by_file_then_line(monkeypatch):
    monkeypatch.chdir(SPECS)
    with pytest.raises(SpecError) as info:
        load_episodes(["invalid/voices.yaml", "valid/minimal.yaml", "invalid/ranges.yaml",
                       "invalid/low_temperature_error.yaml"], root=SPECS)
    err = info.value
    keys = [(d.file, d.line, d.column) for d in err.diagnostics]
    assert keys == sorted(keys)
    assert {d.file for d in err.diagnostics} == {"invalid/voices.yaml", "invalid/ranges.yaml",
                                                 "invalid/low_temperature_error.yaml"}
    # low temperature on 2.5 (two), temperature on a 3.8 model (once per spec: ranges.yaml)
    assert len(err.warnings) == 3 and all(w.severity == "warning" for w in err.warnings)
    assert str(err).endswith(f"{len(err.diagnostics)} errors in 3 files")


def test_warnings_come_back_with_a_valid_load(monkeypatch):
    monkeypatch.chdir(SPECS)
    result = load_episodes(["valid/low_temperature.yaml", "valid/future_model.yaml"], root=SPECS)
    assert [e.title for e in result.episodes] == ["Low temperature", "Future model"]
    assert [(w.file, w.field, w.severity) for w in result.warnings] == [
        ("valid/future_model.yaml", "temperature", "warning"),
        ("valid/low_temperature.yaml", "temperature", "warning"),
        ("valid/low_temperature.yaml", "segments[0].temperature", "warning")]
    # a model newer than 3.8 follows the 3.8 rule: no sampling settings (and no low-temperature warning)
    assert "gemini-4.0-flash-tts does not take temperature" in result.warnings[0].message


def test_paths_are_shown_as_given(tmp_path):
    path = _write(tmp_path / "abs.yaml", MINIMAL.replace("host: Hello.", "hots: Hello."))
    with pytest.raises(SpecError) as info:
        load_episodes([path], root=tmp_path)
    assert info.value.diagnostics[0].file == str(path)


def test_load_result_is_frozen(monkeypatch):
    monkeypatch.chdir(SPECS)
    result = load_episodes(["valid/minimal.yaml"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.episodes = ()


# ------------------------------------------------------------------------------------- paths and root

def test_symlinked_sound_pointing_outside_the_root_is_rejected(tmp_path):
    root, outside = tmp_path / "project", tmp_path / "elsewhere"
    secret = _write(outside / "secret.wav", "not really audio")
    (root / "assets").mkdir(parents=True)
    (root / "assets" / "link.wav").symlink_to(secret)
    (root / "assets" / "inside.wav").write_bytes(b"RIFF")
    (root / "assets" / "alias.wav").symlink_to(root / "assets" / "inside.wav")
    spec_path = _write(root / "ep.yaml", MINIMAL + "  - sound: assets/link.wav\n  - sound: assets/alias.wav\n"
                                                  f"  - sound: {root / 'assets' / 'inside.wav'}\n")
    with pytest.raises(SpecError) as info:
        load_episodes([spec_path], root=root)
    (d,) = info.value.diagnostics
    assert d.field == "segments[1].sound" and "symlink to a file outside the project root" in d.message
    (spec_path.parent / "assets" / "link.wav").unlink()
    spec_path.write_text(MINIMAL + "  - sound: assets/alias.wav\n"
                                   f"  - sound: {root / 'assets' / 'inside.wav'}\n")
    ep = load_episodes([spec_path], root=root).episodes[0]
    assert ep.segments[1].sound.path == root / "assets" / "alias.wav"  # a symlink inside is fine
    assert ep.segments[2].sound.path == root / "assets" / "inside.wav"  # so is an absolute path inside


def test_two_episodes_writing_the_same_output_or_manifest_clash(tmp_path):
    a = _write(tmp_path / "a.yaml", MINIMAL)
    b = _write(tmp_path / "sub" / "a.yaml", MINIMAL)  # same stem -> same default output
    c = _write(tmp_path / "c.yaml", MINIMAL + "output: {path: build/a.wav}\n")  # same manifest as a
    d = _write(tmp_path / "d.yaml", MINIMAL + "output: {path: build/d.mp3}\n")
    with pytest.raises(SpecError) as info:
        load_episodes([a, b, c, d], root=tmp_path)
    clashes = [(Path(x.file).relative_to(tmp_path).as_posix(), x.line, x.field) for x in info.value.diagnostics]
    assert clashes == [("c.yaml", 6, "output.path"), ("sub/a.yaml", 1, "output.path")]
    assert all(f"of {a}" in x.message for x in info.value.diagnostics)


def test_output_paths_are_relative_to_the_root_not_the_spec(tmp_path):
    root = tmp_path / "project"
    spec_path = _write(root / "episodes" / "ep.yaml", MINIMAL + "output: {path: out/ep.wav}\n")
    ep = load_episodes([spec_path], root=root).episodes[0]
    assert ep.output.path == root / "out" / "ep.wav" and ep.output.format == "wav"


def test_sound_escaping_the_root_through_dotdot_inside_the_path(tmp_path):
    root = tmp_path / "project"
    _write(tmp_path / "outside.wav", "x")
    spec_path = _write(root / "ep.yaml", MINIMAL + "  - sound: assets/../../outside.wav\n")
    (root / "assets").mkdir()
    with pytest.raises(SpecError) as info:
        load_episodes([spec_path], root=root)
    assert "outside the project root" in info.value.diagnostics[0].message


# ------------------------------------------------------------------------------------------------ schema

def test_schema_is_draft_2020_12_with_id_and_is_the_packaged_file():
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://podpipe.dev/schemas/episode.schema.json"
    link = REPO / "schemas" / "episode.schema.json"
    assert link.is_symlink() and not os.path.isabs(os.readlink(link))
    assert link.resolve() == (REPO / "podpipe" / "schemas" / "episode.schema.json").resolve()
    assert json.loads(link.read_text()) == schema


def test_load_schema_returns_a_fresh_copy():
    load_schema()["$id"] = "mutated"
    assert load_schema()["$id"].startswith("https://")


def _walk(node, where=""):
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{where}/{i}")


def test_every_property_has_a_description_and_objects_reject_unknown_keys():
    schema = load_schema()
    for where, node in _walk(schema):
        if "/examples" in where:
            continue
        for name, prop in node.get("properties", {}).items():
            assert prop.get("description"), f"{where}/properties/{name} has no description"
        if "properties" in node:
            assert "additionalProperties" in node, f"{where} lets unknown keys through"


def test_schema_examples_are_valid():
    schema = load_schema()
    assert schema["examples"]
    validator = Draft202012Validator(schema)
    for example in schema["examples"]:
        assert not list(validator.iter_errors(example))
    checked = 0
    for name, definition in schema["$defs"].items():
        sub = Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": schema["$defs"]})
        for example in definition.get("examples", []):
            assert sub.is_valid(example), (name, example)
            checked += 1
        for prop_name, prop in definition.get("properties", {}).items():
            prop_validator = Draft202012Validator({**prop, "$defs": schema["$defs"]})
            for example in prop.get("examples", []):
                assert prop_validator.is_valid(example), (name, prop_name, example)
                checked += 1
    assert checked > 30


def test_segment_fields_and_formats_come_from_the_schema():
    assert {"speaker", "text", "dialogue", "pause", "sound", "id", "chapter"} <= schema.segment_fields()
    assert schema.formats() == ("wav", "mp3", "m4a", "ogg", "flac")


# -------------------------------------------------------------------- fast checker vs jsonschema verdicts

def _documents():
    """Every fixture and example that parses, as data."""
    for path in sorted([*SPECS.rglob("*.yaml"), *(REPO / "episodes").rglob("*.yaml")]):
        doc, _ = load_yaml(path, path.name)
        if doc is not None:
            yield doc.data


_REPLACEMENTS = [None, True, 0, -1, 1.5, 2.5, "", " ", "x", "Zephyr", "mp3", "host", [], {}, [{}],
                 {"host": "x"}, {"voice": "Kore"}, [{"host": "hi"}], {"pause": 1}, {"dialogue": []}]


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _paths(value, (*prefix, i))


def _mutate(data, path, how, rng):
    data = json.loads(json.dumps(data))
    if not path:
        return data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "add" and isinstance(parent[last], dict):
        parent[last][rng.choice(["zzz", "voice", "text", "pause", "sound", "style", "id"])] = rng.choice(
            _REPLACEMENTS)
    else:
        parent[last] = rng.choice(_REPLACEMENTS)
    return data


def test_fast_checker_agrees_with_jsonschema_on_fixtures_and_thousands_of_mutations():
    schema = load_schema()
    show_schema = {k: v for k, v in schema.items() if k != "required"}
    pairs = [(compile_schema(schema), Draft202012Validator(schema)),
             (compile_schema(show_schema), Draft202012Validator(show_schema))]
    rng = random.Random(20261123)
    documents = list(_documents())
    assert len(documents) > 40
    checked = invalid = 0
    for data in documents:
        paths = list(_paths(data))
        variants = [data] + [_mutate(data, rng.choice(paths), rng.choice(["replace", "delete", "add"]), rng)
                             for _ in range(40)]
        for variant in variants:
            for fast, slow in pairs:
                expected = slow.is_valid(variant)
                assert fast(variant) == expected, json.dumps(variant)[:500]
                checked += 1
                invalid += not expected
    assert checked > 4000 and 0.2 < invalid / checked < 0.95


_KEYWORD_SCHEMAS = [
    {"minimum": 0}, {"maximum": 2}, {"exclusiveMinimum": 0}, {"exclusiveMaximum": 0}, {"minLength": 1},
    {"maxLength": 2}, {"pattern": "\\S"}, {"pattern": "^[a-z]+$"}, {"const": 1}, {"const": "a"},
    {"enum": ["a", 1, None]}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"},
    {"type": ["string", "null"]}, {"type": "object"}, {"type": "array"}, {"required": ["a"]},
    {"minProperties": 1}, {"maxProperties": 1}, {"properties": {"a": {"type": "string"}}},
    {"additionalProperties": False, "properties": {"a": {}}}, {"additionalProperties": {"type": "number"}},
    {"propertyNames": {"pattern": "^[a-z]+$"}}, {"items": {"type": "number"}}, {"minItems": 1},
    {"maxItems": 1}, {"not": {"type": "string"}}, {"anyOf": [{"type": "string"}, {"minimum": 2}]},
    {"allOf": [{"type": "number"}, {"minimum": 1}]}, {"oneOf": [{"type": "number"}, {"minimum": 1}]},
    {"if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"required": ["c"]}},
    {"if": {"type": "string"}, "then": {"minLength": 2}}, {"type": "string", "pattern": "x", "minLength": 3},
]
_VALUES = [None, True, False, 0, -1, 0.0, -0.5, 1, 1.0, 1.5, 2, 2.5, "", " ", "a", "ab", "abc", "A", "x y",
           [], [1], [1, 2], ["a"], [None], {}, {"a": 1}, {"a": "x"}, {"b": 1}, {"a": 1, "b": 2}, {"A": 1},
           {"c": 0}, {"a": True}]


@pytest.mark.parametrize("schema", _KEYWORD_SCHEMAS, ids=lambda s: json.dumps(s)[:40])
def test_fast_checker_matches_jsonschema_keyword_by_keyword(schema):
    fast, slow = compile_schema(schema), Draft202012Validator(schema)
    for value in _VALUES:
        assert fast(value) == slow.is_valid(value), value


def test_fast_checker_matches_jsonschema_for_every_single_change_to_a_full_spec():
    """Every value of the richest fixture replaced by every probe value, each key deleted: same verdicts."""
    schema = load_schema()
    fast, slow = compile_schema(schema), Draft202012Validator(schema)
    doc, _ = load_yaml(SPECS / "valid" / "full.yaml", "full.yaml")
    rng = random.Random(0)
    checked = 0
    for path in list(_paths(doc.data))[1:]:
        for how in ["delete", "add", *["replace"] * 6]:
            variant = _mutate(doc.data, path, how, rng)
            assert fast(variant) == slow.is_valid(variant), (path, how, json.dumps(variant)[:300])
            checked += 1
    assert checked > 400


def test_fast_checker_json_semantics():
    check = compile_schema({"type": "object", "properties": {"n": {"type": "integer"}, "c": {"const": 1},
                                                             "x": {"type": "number"}},
                            "additionalProperties": False})
    assert check({"n": 2.0}) and not check({"n": 2.5}) and not check({"n": True})
    assert check({"c": 1.0}) and not check({"c": True})
    assert not check({"x": False}) and check({"x": 3})
    assert not check({"other": 1}) and not check([])
    recursive = compile_schema({"$defs": {"node": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                                "$ref": "#/$defs/node"})
    assert recursive([[], [[]]]) and not recursive([[], [1]])


@pytest.mark.parametrize("schema", [{"patternProperties": {"a": {}}, "additionalProperties": False},
                                    {"uniqueItems": True}, {"$ref": "https://example.com/other.json"}])
def test_fast_checker_refuses_what_it_does_not_implement(schema):
    with pytest.raises(Unsupported):
        compile_schema(schema)


def test_without_the_fast_checker_the_results_are_the_same(monkeypatch):
    monkeypatch.chdir(SPECS)
    paths = [f"invalid/{n}.yaml" for n in INVALID] + [f"valid/{n}.yaml" for n in VALID]

    def run():
        try:
            return [str(w) for w in load_episodes(paths, root=SPECS).warnings]
        except SpecError as err:
            return [str(d) for d in _sorted(err)]
    with_fast = run()
    monkeypatch.setattr(schema, "fast_checks", lambda: None)
    assert run() == with_fast and len(with_fast) > 100


def test_valid_specs_import_nothing_heavy():
    code = ("import sys; from podpipe.spec.load import load_episodes; "
            "r = load_episodes(['valid/full.yaml', 'valid/extends_merge.yaml']); assert len(r.episodes) == 2; "
            "heavy = [m for m in ('jsonschema', 'pydub', 'numpy', 'google.genai', 'click') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=SPECS, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -------------------------------------------------------------------------------------------- helpers

def test_format_path():
    assert format_path(()) == ""
    assert format_path(("segments", 3, "speaker")) == "segments[3].speaker"
    assert format_path(("speakers", "co_host-2", "voice")) == "speakers.co_host-2.voice"
    assert format_path(("segments", 0, "odd key")) == "segments[0]['odd key']"


@pytest.mark.parametrize("word, candidates, expected", [
    ("zephyr", ["Zephyr", "Puck"], "Zephyr"), ("Puk", ["Zephyr", "Puck"], "Puck"),
    ("gust", ["host", "guest"], "guest"), ("narrator", ["host", "guest"], None), ("host", ["host"], None)])
def test_did_you_mean(word, candidates, expected):
    assert suggest(word, candidates) == expected


# ------------------------------------------------------------------------------------------- examples

EXAMPLES = sorted((REPO / "episodes").glob("*.yaml"))


def test_example_episodes_are_valid_and_real(monkeypatch):
    monkeypatch.chdir(REPO)
    result = load_episodes([p.relative_to(REPO) for p in EXAMPLES])
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


def test_spec_reference_documents_every_field():
    doc = (REPO / "docs" / "spec.md").read_text(encoding="utf-8")
    schema = load_schema()
    names = set()
    for _, node in _walk(schema["$defs"]):
        names.update(node.get("properties", {}))
    missing = sorted(n for n in names if f"`{n}`" not in doc)
    assert not missing, f"docs/spec.md does not mention {missing}"


def test_yaml_merge_key_priorities_and_positions(tmp_path):
    path = _write(tmp_path / "merge.yaml", (
        "title: T\n"
        "speakers:\n"
        "  one: &a {voice: Zephyr, name: One}\n"
        "  two: &b {voice: Puck, name: Two, style: bold}\n"
        "  three:\n"
        "    <<: [*a, *b]\n"
        "    name: Three\n"
        "segments:\n"
        "  - three: Hi\n"))
    three = load_episodes([path], root=tmp_path).episodes[0].speaker("three")
    assert (three.voice, three.style, three.name) == ("Zephyr", "bold", "Three")  # earlier source wins
    path.write_text(path.read_text().replace("voice: Zephyr", "voice: Zephy"))
    with pytest.raises(SpecError) as info:
        load_episodes([path], root=tmp_path)
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
            load_episodes([target], root=tmp_path)
            outcomes["valid"] += 1
        except SpecError as err:
            assert err.diagnostics
            outcomes["invalid"] += 1
    assert outcomes["invalid"] > 100
