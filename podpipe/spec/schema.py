"""The packaged episode JSON Schema and the facts the spec stage reads from it.

The schema file (``podpipe/schemas/episode.schema.json``) is the one description of a spec's structure:
editors use it for completion, ``podpipe schema`` prints it, and the loader takes from it the names of the
segment fields, the output formats and the form of a speaker id rather than restating them.

Validity is decided in two steps. Almost every spec is valid, and ``jsonschema`` costs ≈0.1 s to import plus
its validation time, so a compiled yes/no checker (``schemacheck``) answers first; only a spec it rejects is
run through ``jsonschema``, whose errors ``messages`` turns into our wording.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from podpipe.spec.schemacheck import Check, Unsupported, compile_schema, evaluated_names


@cache
def _text() -> str:
    return resources.files("podpipe").joinpath("schemas", "episode.schema.json").read_text("utf-8")


@cache
def parsed() -> dict:
    """The schema, parsed once and shared: read it, never change it (``load_schema`` gives a copy)."""
    return json.loads(_text())


def load_schema() -> dict:
    """The episode JSON Schema (draft 2020-12) as shipped in the package; a fresh copy on every call."""
    return json.loads(_text())


def show_schema(episode: dict) -> dict:
    """The schema of a show file: an episode's, with nothing required (it only lends fields)."""
    return {k: v for k, v in episode.items() if k != "required"}


def definition(name: str) -> dict:
    """One of the schema's ``$defs`` ({} when there is no such definition)."""
    return parsed()["$defs"].get(name, {})


# Each form of a segment (``segment_kind``) and its definition. The fields every segment may have and those
# of every spoken segment are stated once (``segmentFields``, ``spokenSegmentFields``) and referred to.
SEGMENT_FORMS = {"line": "lineSegment", "shorthand": "shorthandSegment", "dialogue": "dialogueSegment",
                 "pause": "pauseSegment", "sound": "soundSegment"}


@cache
def segment_fields() -> frozenset[str]:
    """Keys with a meaning in a segment, which speaker ids may not be (``speakerId`` reserves them);
    everything else in a segment is a speaker id (shorthand)."""
    return frozenset(definition("speakerId")["not"]["enum"])


def form_fields(form: str) -> tuple[str, ...]:
    """The fields a segment of ``form`` (a ``segment_kind``) may have, its own first."""
    return tuple(allowed_fields(definition(SEGMENT_FORMS[form])))


def allowed_fields(subschema: dict) -> list[str]:
    """The keys an object definition takes: its properties and, where it rejects the rest with
    ``unevaluatedProperties``, those of the definitions it refers to."""
    if "unevaluatedProperties" in subschema:
        return evaluated_names(parsed(), subschema)
    return list(subschema.get("properties", {}))


@cache
def formats() -> tuple[str, ...]:
    """The output formats the schema allows, in its order."""
    return tuple(definition("output")["properties"]["format"]["enum"])


@cache
def _speaker_id() -> re.Pattern:
    return re.compile(definition("speakerId")["pattern"])


def is_speaker_id(name: str) -> bool:
    """Whether ``name`` has the form of a speaker id and is no segment field (which the shorthand reserves)."""
    return _speaker_id().fullmatch(name) is not None and name not in segment_fields()


def segment_kind(segment: dict) -> str:
    """The segment's form, decided exactly as the schema's if/then chain decides it."""
    if "dialogue" in segment:
        return "dialogue"
    if "pause" in segment:
        return "pause"
    if "sound" in segment:
        return "sound"
    if "speaker" in segment or "text" in segment:
        return "line"
    return "shorthand"


@cache
def fast_checks() -> tuple[Check, Check] | None:
    """(episode, show) yes/no checkers, or None when the schema uses a keyword they do not implement."""
    try:
        return compile_schema(parsed()), compile_schema(show_schema(parsed()))
    except Unsupported:
        return None


@cache
def _validators():
    """(episode, show) validators, built once per process; the schema itself is checked on the way."""
    from jsonschema import Draft202012Validator  # only an invalid spec pays for importing it

    Draft202012Validator.check_schema(parsed())
    return Draft202012Validator(parsed()), Draft202012Validator(show_schema(parsed()))


def errors(data: Any, *, show: bool) -> list:
    """``jsonschema``'s errors for ``data`` as an episode (or a show file); [] without importing it when
    the fast checker finds the data valid."""
    fast = fast_checks()
    if fast is not None and fast[show](data):
        return []
    validator = _validators()[show]
    return [e for error in validator.iter_errors(data) for e in _explained(validator, error)]


def _explained(validator, error) -> list:
    """``unevaluatedProperties`` with a schema (the shorthand's speaker keys) fails as one error about the
    object; what the messages need is why each value fails, as ``additionalProperties`` reports it: the
    errors of each unevaluated value against that schema."""
    value = error.validator_value
    if error.validator != "unevaluatedProperties" or not isinstance(value, dict):
        return [error]
    known = set(evaluated_names(parsed(), error.schema))
    found = []
    for key, item in error.instance.items():
        if key not in known:
            for inner in validator.descend(item, value, path=key, schema_path=key):
                inner.path.extendleft(reversed(error.path))
                inner.schema_path.extendleft(reversed(error.schema_path))
                found.append(inner)
    return found


def definition_name(subschema: dict) -> str | None:
    """The name under ``$defs`` of a subschema an error points at (``output``, ``turn``...), if it is one."""
    return _definition_names().get(id(subschema))


@cache
def _definition_names() -> dict[int, str]:
    return {id(v): k for k, v in parsed()["$defs"].items()}
