"""The fast yes/no checker (``podpipe.spec.schemacheck``) gives jsonschema's verdicts: keyword by keyword, on
every fixture and example, and on thousands of mutations of them."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from podpipe.spec import load_schema
from podpipe.spec.schema import show_schema
from podpipe.spec.schemacheck import Unsupported, compile_schema
from podpipe.spec.yamldoc import load_yaml

SPECS = Path(__file__).resolve().parent / "specs"
REPO = Path(__file__).resolve().parents[2]


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
    show = show_schema(schema)
    pairs = [(compile_schema(schema), Draft202012Validator(schema)),
             (compile_schema(show), Draft202012Validator(show))]
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
    # fields stated once and referred to: a reference's properties count as evaluated, valid or not
    {"$defs": {"f": {"properties": {"a": {"type": "number"}}}}, "$ref": "#/$defs/f", "properties": {"b": {}},
     "unevaluatedProperties": False},
    {"$defs": {"f": {"$ref": "#/$defs/g", "properties": {"b": {"const": 2}}}, "g": {"properties": {"a": {}}}},
     "$ref": "#/$defs/f", "unevaluatedProperties": {"type": "number"}},
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
                                    {"uniqueItems": True}, {"$ref": "https://example.com/other.json"},
                                    {"anyOf": [{"properties": {"a": {}}}], "unevaluatedProperties": False},
                                    {"$defs": {"f": {"$ref": "#/$defs/f"}}, "$ref": "#/$defs/f",
                                     "unevaluatedProperties": False}])
def test_fast_checker_refuses_what_it_does_not_implement(schema):
    with pytest.raises(Unsupported):
        compile_schema(schema)
