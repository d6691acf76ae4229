"""Our wording for problems: schema errors explained, and the "did you mean" that many messages end with.

``jsonschema``'s own messages describe the schema ("'txt' does not match any of the regexes"); ours
describe the spec and the fix ("unknown field 'txt' in a speaker/text segment; did you mean 'text'?"),
quote what the user wrote (``yes``, not True) and point at the key or value to change. The schema's
``examples``, ``errorMessage`` and ``patternErrorMessage`` annotations feed the wording, so a new field
gets a helpful message by being documented.
"""

from __future__ import annotations

import json
import re
from typing import Any

from podpipe.errors import suggest
from podpipe.spec import schema
from podpipe.spec.schemacheck import is_number
from podpipe.spec.view import View
from podpipe.spec.yamldoc import DocPath


def inline(value: Any) -> str:
    """A value as a short YAML flow snippet, for examples inside messages."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(inline(v) for v in value) + "]"
    if isinstance(value, str):
        plain = (value == value.strip() and value and not value.startswith(tuple("!&*|>'\"%@`-?#"))
                 and not re.search(r": | #|[,\[\]{}]|:$", value))
        return value if plain else json.dumps(value, ensure_ascii=False)
    return json.dumps(value)


def report_schema_errors(view: View, *, show: bool, skip: frozenset = frozenset()) -> None:
    """Add the schema's errors about ``view.data`` (as an episode, or a show file) to ``view``.

    Errors under a path in ``skip`` (checked and reported already) and about values YAML loading rejected
    are left out, so each problem is reported once.
    """
    found = [e for e in schema.errors(view.data, show=show)
             if tuple(e.absolute_path)[:3] not in skip and not view.broken(tuple(e.absolute_path))]
    # a misspelt required field shows up twice (unknown 'txt', missing 'text'): say it once
    misspelt = {(tuple(e.absolute_path), suggest(name, schema.allowed_fields(e.schema)))
                for e in found if e.validator in _UNKNOWN_KEYS for name in e.instance}
    for error in found:
        _explain(view, error, misspelt)


_UNKNOWN_KEYS = ("additionalProperties", "unevaluatedProperties")  # the keywords that reject unknown keys
_TYPE_NAMES = {"string": "text", "number": "a number", "integer": "a whole number", "object": "a mapping",
               "array": "a list", "boolean": "true or false", "null": "nothing"}
_DEF_NAMES = {"show": "at the top level", "speaker": "in a speaker", "output": "in output",
              "lineSegment": "in a speaker/text segment", "dialogueSegment": "in a dialogue segment",
              "pauseSegment": "in a pause segment", "soundSegment": "in a sound segment"}


def _describe(view: View, path: DocPath, value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{view.source(path, value)} (YAML reads it as {str(value).lower()})"
    if is_number(value):
        return f"the number {view.source(path, value)}"
    if isinstance(value, str):
        return f"the text {json.dumps(value, ensure_ascii=False)}" if len(value) <= 40 else "a text"
    return "a list" if isinstance(value, list) else "a mapping"


def _referenced(subschema: dict) -> dict:
    """The local definition a subschema refers to ({} when it refers to none)."""
    ref = subschema.get("$ref", "")
    return schema.definition(ref[len("#/$defs/"):]) if ref.startswith("#/$defs/") else {}


def _examples(subschema: dict) -> list:
    """A subschema's examples, or those of the local definition it refers to."""
    if "examples" in subschema:
        return subschema["examples"]
    return _referenced(subschema).get("examples", [])


def _properties(subschema: dict) -> dict:
    """A subschema's properties, or those of the local definition it refers to (the top level's)."""
    if "properties" in subschema:
        return subschema["properties"]
    return _referenced(subschema).get("properties", {})


def _example(subschema: dict) -> str:
    examples = _examples(subschema)
    return f", e.g. `{inline(examples[0])}`" if examples else ""


def _explain(view: View, error, misspelt: set) -> None:
    path = tuple(error.absolute_path)
    keyword, value, instance, sub = error.validator, error.validator_value, error.instance, error.schema
    where = schema.definition_name(sub)
    if "propertyNames" in error.absolute_schema_path:  # a bad key (speaker id): locate the key itself
        key_path = (*path, instance)
        if keyword == "not":
            view.add(key_path, f"{instance!r} cannot be a speaker id: it is the name of a segment field; "
                               "choose another id", key=True)
        else:
            view.add(key_path, f"{instance!r} {sub.get('patternErrorMessage', 'is not a valid name')}",
                     key=True)
        return
    if keyword == "type":
        wanted = value if isinstance(value, str) else value[0]
        message = f"expected {_TYPE_NAMES.get(wanted, wanted)}, got {_describe(view, path, instance)}"
        if wanted == "string" and (is_number(instance) or isinstance(instance, bool)):
            message += f"; put it in quotes if you mean the text: \"{view.source(path, instance)}\""
        elif instance is None:
            message += "; give it a value or delete the key"
        elif wanted in ("object", "array"):
            message += _example(sub)
        view.add(path, message)
    elif keyword == "required":
        for name in value:
            if isinstance(instance, dict) and name not in instance and (path, name) not in misspelt:
                examples = _examples(_properties(sub).get(name, {}))
                hint = f"; add e.g. `{name}: {inline(examples[0])}`" if examples else ""
                view.add(path, f"missing required field {name!r}{hint}", field=(*path, name))
    elif keyword in _UNKNOWN_KEYS:
        allowed = schema.allowed_fields(sub)
        for name in instance:
            if name in allowed:
                continue
            suggestion = suggest(name, allowed)
            context = f" {_DEF_NAMES[where]}" if where in _DEF_NAMES else ""
            if suggestion:
                message = f"unknown field {name!r}{context}; did you mean {suggestion!r}?"
            else:
                message = f"unknown field {name!r}{context} (allowed here: {', '.join(allowed)})"
            view.add((*path, name), message, key=True)
    elif keyword == "enum":
        suggestion = suggest(str(instance), [str(v) for v in value])
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        view.add(path, f"{inline(instance)} is not one of: {', '.join(map(str, value))}{hint}")
    elif keyword == "const":
        view.add(path, f"must be {inline(value)}, got {_describe(view, path, instance)}")
    elif keyword in ("minimum", "maximum"):
        low, high = sub.get("minimum"), sub.get("maximum")
        if low is not None and high is not None:
            bounds = f"between {low} and {high}"
        else:
            bounds = f"at least {low}" if keyword == "minimum" else f"at most {high}"
        view.add(path, f"must be {bounds}, got {view.source(path, instance)}")
    elif keyword == "exclusiveMinimum":
        view.add(path, f"must be more than {value}, got {view.source(path, instance)}")
    elif keyword == "minItems":
        what = {"dialogue": "turn", "segments": "segment"}.get(path[-1] if path else "", "item")
        examples = _examples(sub.get("items", {}))
        hint = f", e.g. `- {inline(examples[0])}`" if examples else ""
        view.add(path, f"needs at least one {what}{hint}")
    elif keyword == "minProperties":
        if where == "turn":
            view.add(path, "a dialogue turn is one `<speaker>: text` pair, e.g. `- host: Hello`")
        else:
            view.add(path, f"must not be empty{_example(sub)}")
    elif keyword == "maxProperties":
        names = ", ".join(map(repr, instance))
        view.add(path, f"a dialogue turn is one `<speaker>: text` pair, found {len(instance)} ({names}): "
                       "start each turn on its own line with '- '")
    elif keyword == "anyOf":
        # a value that is the right kind but wrong inside: report that, not "matches none of the forms"
        deepest = max((len(e.absolute_path) for e in error.context), default=0)
        keys = [e for e in error.context if "propertyNames" in e.absolute_schema_path]
        if keys or deepest > len(path):
            for inner in keys or [e for e in error.context if len(e.absolute_path) == deepest]:
                _explain(view, inner, misspelt)
        else:
            view.add(path, f"{sub.get('errorMessage', 'has the wrong form')}; got {_describe(view, path, instance)}")
    elif keyword == "pattern":
        message = sub.get("patternErrorMessage") or f"does not match {value}"
        view.add(path, f"{instance!r} {message}" if message.startswith("is ") else message)
    else:
        view.add(path, error.message)

