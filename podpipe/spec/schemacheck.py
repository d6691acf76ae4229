"""A fast yes/no JSON Schema check for the keyword subset the episode schema uses.

``jsonschema`` finds and explains errors well but is slow (≈0.3 s for 50 episodes × 40 segments, plus
≈0.1 s to import), and a no-op build must finish in well under a second. Almost every spec is valid, so the
spec stage asks this compiled checker first and only runs ``jsonschema`` — for its error messages — when
the answer is no. The checker compiles the schema into closures once; any keyword it does not implement
raises ``Unsupported`` at compile time, and the caller then always uses ``jsonschema``, so extending the
schema can make validation slower but never wrong. Tests hold the two to the same verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never affect validity.
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description", "examples", "default",
                          "patternErrorMessage", "errorMessage", "deprecated", "readOnly", "writeOnly"})


class Unsupported(Exception):
    """The schema uses a keyword (or a form of one) this checker does not implement."""


def is_number(v: Any) -> bool:
    """A JSON number: an int or a float, never a bool (which Python counts as an int)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "number": is_number,
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float)
                                                                            and v.is_integer()),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if is_number(a) and is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _all(checks: list[Check]) -> Check:
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        a, b = checks
        return lambda v: a(v) and b(v)
    return lambda v: all(c(v) for c in checks)


def _only(kind: type | tuple, checks: list[Check]) -> list[Check]:
    """Keywords that constrain one JSON type and accept every other, behind a single isinstance test."""
    if not checks:
        return []
    inner = _all(checks)
    if kind is float:  # numbers: int or float, never bool
        return [lambda v: not is_number(v) or inner(v)]
    return [lambda v: not isinstance(v, kind) or inner(v)]


# keyword -> the Python type it constrains (None: any value)
_APPLIES_TO = {
    "type": None, "const": None, "enum": None, "$ref": None, "not": None, "anyOf": None, "allOf": None,
    "oneOf": None, "if": None,
    "pattern": str, "minLength": str, "maxLength": str,
    "minimum": float, "maximum": float, "exclusiveMinimum": float, "exclusiveMaximum": float,
    "required": dict, "properties": dict, "additionalProperties": dict, "unevaluatedProperties": dict,
    "propertyNames": dict, "minProperties": dict, "maxProperties": dict,
    "items": list, "minItems": list, "maxItems": list,
}


class _Compiler:
    def __init__(self, root: dict):
        self.root = root
        self.defs: dict[str, Check] = {}
        self.compiling: set[str] = set()

    def ref(self, ref: str) -> Check:
        prefix = "#/$defs/"
        name = ref[len(prefix):]
        if not ref.startswith(prefix) or "/" in name or name not in self.root.get("$defs", {}):
            raise Unsupported(f"$ref {ref!r}")
        if name in self.defs:
            return self.defs[name]
        if name in self.compiling:  # a recursive definition: look it up when called
            defs = self.defs
            return lambda v: defs[name](v)
        self.compiling.add(name)
        self.defs[name] = self.compile(self.root["$defs"][name])
        self.compiling.discard(name)
        return self.defs[name]

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        general: list[Check] = []
        typed: dict[type, list[Check]] = {str: [], float: [], dict: [], list: []}
        for keyword in sorted(schema, key=lambda k: k != "type"):  # the cheap type test first
            if keyword in _ANNOTATIONS or keyword in ("then", "else"):
                continue  # then/else are compiled with "if"
            if keyword == "properties" and "additionalProperties" in schema:
                continue  # compiled with additionalProperties
            if keyword not in _APPLIES_TO:
                raise Unsupported(f"keyword {keyword!r}")
            check = getattr(self, "k_" + keyword.lstrip("$"))(schema[keyword], schema)
            kind = _APPLIES_TO[keyword]
            (general if kind is None else typed[kind]).append(check)
        for kind, checks in typed.items():
            general.extend(_only(kind, checks))
        return _all(general)

    # --- keywords (each returns a check that may assume its JSON type where _APPLIES_TO says so) ------

    def k_ref(self, value, schema):
        return self.ref(value)

    def k_type(self, value, schema):
        names = [value] if isinstance(value, str) else list(value)
        if len(names) == 1:
            return _TYPES[names[0]]
        tests = [_TYPES[n] for n in names]
        return lambda v: any(t(v) for t in tests)

    def k_const(self, value, schema):
        return lambda v: _equal(v, value)

    def k_enum(self, value, schema):
        return lambda v: any(_equal(v, e) for e in value)

    def k_pattern(self, value, schema):
        search = re.compile(value).search
        return lambda v: search(v) is not None

    def k_minLength(self, value, schema):
        return lambda v: len(v) >= value

    def k_maxLength(self, value, schema):
        return lambda v: len(v) <= value

    def k_minimum(self, value, schema):
        return lambda v: v >= value

    def k_maximum(self, value, schema):
        return lambda v: v <= value

    def k_exclusiveMinimum(self, value, schema):
        return lambda v: v > value

    def k_exclusiveMaximum(self, value, schema):
        return lambda v: v < value

    def k_required(self, value, schema):
        names = tuple(value)
        return lambda v: all(n in v for n in names)

    def k_minProperties(self, value, schema):
        return lambda v: len(v) >= value

    def k_maxProperties(self, value, schema):
        return lambda v: len(v) <= value

    def k_properties(self, value, schema):
        props = [(k, self.compile(s)) for k, s in value.items()]

        def check(v):
            for k, c in props:
                if k in v and not c(v[k]):
                    return False
            return True
        return check

    def k_additionalProperties(self, value, schema):
        if "patternProperties" in schema:
            raise Unsupported("additionalProperties with patternProperties")
        props = {k: self.compile(s) for k, s in schema.get("properties", {}).items()}
        extra = self.compile(value)
        get = props.get

        def check(v):
            for k, item in v.items():
                c = get(k, extra)
                if not c(item):
                    return False
            return True
        return check

    def k_unevaluatedProperties(self, value, schema):
        known = frozenset(evaluated_names(self.root, schema))
        rest = self.compile(value)

        def check(v):
            for k, item in v.items():
                if k not in known and not rest(item):
                    return False
            return True
        return check

    def k_propertyNames(self, value, schema):
        names = self.compile(value)
        return lambda v: all(names(k) for k in v)

    def k_items(self, value, schema):
        if "prefixItems" in schema:
            raise Unsupported("items with prefixItems")
        item = self.compile(value)
        return lambda v: all(item(x) for x in v)

    def k_minItems(self, value, schema):
        return lambda v: len(v) >= value

    def k_maxItems(self, value, schema):
        return lambda v: len(v) <= value

    def k_not(self, value, schema):
        inner = self.compile(value)
        return lambda v: not inner(v)

    def k_anyOf(self, value, schema):
        subs = [self.compile(s) for s in value]
        return lambda v: any(s(v) for s in subs)

    def k_allOf(self, value, schema):
        return _all([self.compile(s) for s in value])

    def k_oneOf(self, value, schema):
        subs = [self.compile(s) for s in value]
        return lambda v: sum(1 for s in subs if s(v)) == 1

    def k_if(self, value, schema):
        test = self.compile(value)
        then = self.compile(schema.get("then", True))
        other = self.compile(schema.get("else", True))
        return lambda v: then(v) if test(v) else other(v)


_DYNAMIC = frozenset({"additionalProperties", "patternProperties", "dependentSchemas", "allOf", "anyOf", "oneOf",
                      "if", "then", "else", "$dynamicRef"})


def evaluated_names(root: dict, schema: dict) -> list[str]:
    """The names of the properties ``schema`` (inside ``root``) evaluates, which its ``unevaluatedProperties``
    leaves alone: its own ``properties``, then those of the ``$defs`` it refers to (each after the ones its own
    reference brings). Only this static form is implemented: a keyword that makes the names depend on the
    value (``if``, ``anyOf``, ``additionalProperties``...) raises ``Unsupported``."""
    return _names(root, schema, top=True, seen=())


def _names(root: dict, schema: Any, top: bool, seen: tuple[str, ...]) -> list[str]:
    dynamic = _DYNAMIC if top else _DYNAMIC | {"unevaluatedProperties"}
    if not isinstance(schema, dict) or dynamic & schema.keys():
        raise Unsupported(f"unevaluatedProperties with {schema!r}"[:200])
    own = list(schema.get("properties", {}))
    ref = schema.get("$ref")
    if ref is None:
        return own
    name = ref.removeprefix("#/$defs/")
    if not ref.startswith("#/$defs/") or name not in root.get("$defs", {}) or name in seen:
        raise Unsupported(f"$ref {ref!r}")
    inherited = _names(root, root["$defs"][name], top=False, seen=(*seen, name))
    return own + inherited if top else inherited + own


def compile_schema(schema: dict) -> Check:
    """A function telling whether a value is valid against ``schema``."""
    return _Compiler(schema).compile(schema)
