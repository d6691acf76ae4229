"""The packaged JSON Schema (``podpipe.spec.schema``): well-formed, documented, its examples valid, its
facts (segment fields, formats, defaults) the ones the loader and the dataclasses use."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

from jsonschema import Draft202012Validator

from podpipe import backends
from podpipe.formats import FORMATS
from podpipe.review import Thresholds
from podpipe.spec import Episode, Feed, MusicBed, Output, Person, Segment, Sound, load_schema
from podpipe.spec.episode import ReviewSettings
from podpipe.spec.schema import SEGMENT_FORMS, form_fields, formats, segment_fields, segment_kind

SPECS = Path(__file__).resolve().parent / "specs"
REPO = Path(__file__).resolve().parents[2]


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
    """Every object rejects unknown keys, or is a set of fields (segmentFields) that only objects which reject
    the keys they do not evaluate (``unevaluatedProperties``) refer to."""
    schema = load_schema()
    closed = ("additionalProperties", "unevaluatedProperties")
    fields = {f"#/$defs/{name}" for name, d in schema["$defs"].items()
              if "properties" in d and not any(k in d for k in closed)}
    assert fields  # the segment fields, stated once
    for where, node in _walk(schema):
        if "/examples" in where:
            continue
        for name, prop in node.get("properties", {}).items():
            assert prop.get("description"), f"{where}/properties/{name} has no description"
        if "properties" in node:
            assert any(k in node for k in closed) or f"#{where}" in fields, f"{where} lets unknown keys through"
        if node.get("$ref") in fields:
            assert "unevaluatedProperties" in node or f"#{where}" in fields, f"{where} lets unknown keys through"


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
    assert {"speaker", "text", "dialogue", "pause", "sound", "id", "chapter"} <= segment_fields()
    assert formats() == tuple(FORMATS)  # every format the table describes, in its order


# Where a segment key ends up in a resolved ``Segment``: what is said becomes its turns, a sound its Sound.
_HELD_AS = {"speaker": "turns", "text": "turns", "dialogue": "turns", "sound": "sound"}


def test_segment_forms_reserved_names_and_the_dataclasses_hold_the_same_fields():
    """The one tie between the segment definitions, the names speaker ids may not take, and the dataclasses:
    a field added to a segment form must be reserved and must have a home in ``Segment`` (or its ``Sound``)."""
    schema = load_schema()
    forms = {form: form_fields(form) for form in SEGMENT_FORMS}
    assert all(len(set(fields)) == len(fields) for fields in forms.values())
    # the names speakerId reserves are exactly the fields of the segment forms
    assert segment_fields() == set().union(*forms.values())
    assert set(schema["$defs"]["speakerId"]["not"]["enum"]) == segment_fields()
    # the fields every form shares are stated once (segmentFields), and so are those every spoken form shares
    shared = set.intersection(*map(set, forms.values()))
    assert shared == set(schema["$defs"]["segmentFields"]["properties"]) == {"id", "chapter"}
    spoken = set.intersection(*(set(forms[f]) for f in ("line", "shorthand", "dialogue")))
    assert spoken - shared == set(schema["$defs"]["spokenSegmentFields"]["properties"])
    # every field lands in the dataclasses, and every dataclass field that the spec writes has its key
    held = {_HELD_AS.get(name, name) for fields in forms.values() for name in fields}
    segment = {f.name for f in dataclasses.fields(Segment)} - {"index", "kind", "line", "column"}  # resolution sets these
    sound = {f.name for f in dataclasses.fields(Sound)} - {"path"}  # the sound key's value
    assert held == segment | sound
    # segment_kind tells the forms apart as the schema does: each example goes to the form it is valid in
    validator = Draft202012Validator(schema)
    for example in schema["$defs"]["segment"]["examples"]:
        form = SEGMENT_FORMS[segment_kind(example)]
        assert validator.evolve(schema={"$ref": f"#/$defs/{form}", "$defs": schema["$defs"]}).is_valid(example)
        assert set(example) <= set(form_fields(segment_kind(example))) or segment_kind(example) == "shorthand"


# The dataclass that holds each definition's fields in an Episode (a sound segment's own fields are its Sound's).
_HOLDERS = {"show": (Episode,), "output": (Output,), "musicBed": (MusicBed,), "soundSegment": (Sound, Segment),
            "segmentFields": (Segment,), "spokenSegmentFields": (Segment,), "lineSegment": (Segment,),
            "shorthandSegment": (Segment,), "dialogueSegment": (Segment,), "pauseSegment": (Segment,),
            "feed": (Feed,), "person": (Person,), "reviewThresholds": (Thresholds,), "review": (ReviewSettings,)}


def _dataclass_default(holders: tuple, name: str):
    for holder in holders:
        for field in dataclasses.fields(holder):
            if field.name == name:
                assert field.default is not dataclasses.MISSING, f"{holder.__name__}.{name} has no default"
                return field.default
    raise AssertionError(f"no field {name!r} in {[h.__name__ for h in holders]}")


def test_schema_defaults_are_the_dataclass_defaults():
    """The schema's ``default`` annotations only document; the dataclasses decide. They must agree."""
    schema = load_schema()
    defs = schema["$defs"]
    annotated = {id(node) for where, node in _walk(schema) if "default" in node and "/examples" not in where}
    checked = set()
    for def_name, definition in defs.items():
        for name, prop in definition.get("properties", {}).items():
            node = prop if "default" in prop else defs.get(prop.get("$ref", "").removeprefix("#/$defs/"), {})
            if "default" not in node:
                continue
            assert def_name in _HOLDERS, f"$defs/{def_name}/properties/{name} has a default: which dataclass?"
            expected = _dataclass_default(_HOLDERS[def_name], name)
            documented = node["default"]
            assert documented == expected and isinstance(documented, bool) == isinstance(expected, bool), (
                f"$defs/{def_name}/properties/{name}: the schema says {documented!r}, the dataclass {expected!r}")
            checked.add(id(node))
    assert checked == annotated, "a default annotation the test does not reach: teach _HOLDERS about it"
    assert len(checked) >= 14
    assert _dataclass_default((Output,), "format") in formats()  # documented in words: "Default mp3"


def test_spec_reference_documents_every_field():
    doc = (REPO / "docs" / "spec.md").read_text(encoding="utf-8")
    schema = load_schema()
    names = set()
    for _, node in _walk(schema["$defs"]):
        names.update(node.get("properties", {}))
    missing = sorted(n for n in names if f"`{n}`" not in doc)
    assert not missing, f"docs/spec.md does not mention {missing}"


def test_valid_specs_import_nothing_heavy():
    """The fast checker answers for a valid spec, so jsonschema is never imported (nor any audio stack)."""
    code = ("import sys; from podpipe import backends; from podpipe.spec.load import load_episodes; "
            "r = load_episodes(['valid/full.yaml', 'valid/extends_merge.yaml'], rules=backends); "
            "assert len(r.episodes) == 2; "
            "heavy = ('jsonschema', 'pydub', 'numpy', 'scipy', 'google.genai', 'click'); "
            "print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=SPECS, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
