"""Safe YAML loading that remembers where every value came from.

PyYAML's loaders throw positions away and silently keep the last of duplicate keys, and its full loaders
construct objects from tags. So we only let the parser *compose* a node tree (libyaml when available) and
build plain values from the nodes ourselves: every tag outside the JSON-like core is an error, every key is
checked for duplicates, and every value's and key's position is kept by its path (``("segments", 3,
"speaker")``) so a schema error path maps straight back to ``file:line:col``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from podpipe.errors import Diagnostic

_Loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

_CORE = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP = (_CORE + t for t in ("str", "int", "float", "bool", "null",
                                                                      "timestamp"))
_MAP, _SEQ, _MERGE = _CORE + "map", _CORE + "seq", _CORE + "merge"
_SCALAR_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP}

# Alias expansion can blow a tiny file up exponentially ("billion laughs"); real specs have a few thousand
# nodes, so this limit only ever stops an attack or an accident.
MAX_NODES = 100_000
# A long episode's spec is tens of KiB; refusing anything over 1 MiB before reading it keeps a stray media
# file or a generated monster from being decoded and parsed whole.
MAX_SPEC_BYTES = 1 << 20

DocPath = tuple  # a value's path in the document: str keys and int indices


@dataclass(frozen=True)
class Loc:
    file: str  # as the user named it
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class YamlDoc:
    """A loaded file: plain Python data plus the position of every value and every mapping key."""

    file: str  # display name: the path as the user gave it (or as derived from an ``extends``)
    path: Path  # absolute
    data: Any
    # path -> start mark of the value / of its mapping key (libyaml's marks, turned into a Loc on demand)
    marks: dict[DocPath, Any] = field(default_factory=dict)
    key_marks: dict[DocPath, Any] = field(default_factory=dict)
    # path -> the source text of every scalar YAML did not read as a string (`yes`, `1e3`, `~`), so a
    # message can say what the user wrote rather than what YAML made of it
    sources: dict[DocPath, str] = field(default_factory=dict)
    # paths whose value was rejected while loading (a forbidden tag, a bad number): already reported,
    # so later checks skip them instead of complaining that the value is missing
    broken: set[DocPath] = field(default_factory=set)

    def loc(self, path: DocPath) -> Loc | None:
        """Where the value at ``path`` starts, or None if the document has no such value."""
        mark = self.marks.get(path)
        return Loc(self.file, mark.line + 1, mark.column + 1) if mark is not None else None

    def key_loc(self, path: DocPath) -> Loc | None:
        """Where the mapping key of the value at ``path`` starts."""
        mark = self.key_marks.get(path)
        return Loc(self.file, mark.line + 1, mark.column + 1) if mark is not None else None

    # A path written in a document (a show file, a sound, a lexicon file) is relative to that document, so
    # a show file can be shared by episodes in other folders; messages spell it the way the user spelled
    # the document's own name, so it can be pasted into a shell where the user is.

    def target(self, name: str) -> Path:
        """The file a path written in this document names (absolute names stay as they are)."""
        return self.path.parent / name

    def shown(self, name: str) -> str:
        """A path written in this document, as messages show it."""
        if os.path.isabs(name):
            return name
        return os.path.normpath(os.path.join(os.path.dirname(self.file), name))


def format_path(path: DocPath) -> str:
    """``("segments", 3, "speaker")`` -> ``segments[3].speaker`` (the ``field`` of a Diagnostic)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part and all(c.isalnum() or c in "_-" for c in part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


class _Builder:
    """Turns a composed node tree into plain values, collecting positions and problems."""

    def __init__(self, file: str):
        self.file = file
        self.marks: dict[DocPath, Any] = {}
        self.key_marks: dict[DocPath, Any] = {}
        self.sources: dict[DocPath, str] = {}
        self.broken: set[DocPath] = set()
        self.problems: list[Diagnostic] = []
        self.nodes = 0
        self._active: set[int] = set()  # nodes on the current path, to catch recursive aliases
        self._constructor = yaml.constructor.SafeConstructor()

    def loc(self, node) -> Loc:
        return Loc(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, node, path: DocPath, message: str) -> None:
        self.broken.add(path)
        loc = self.loc(node)
        self.problems.append(Diagnostic(self.file, loc.line, loc.column, format_path(path), message))

    def build(self, node, path: DocPath) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooBig(node)
        self.marks[path] = node.start_mark
        if node.__class__ is ScalarNode:
            if node.tag == _STR:
                return node.value
            return self.scalar(node, path)
        if id(node) in self._active:
            self.problem(node, path, "recursive alias: an anchor cannot contain an alias to itself")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag != _SEQ:
                    return self.bad_tag(node, path)
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            if node.tag != _MAP:
                return self.bad_tag(node, path)
            return self.mapping(node, path)
        finally:
            self._active.discard(id(node))

    def bad_tag(self, node, path: DocPath) -> None:
        self.problem(node, path, f"tag {_short_tag(node.tag)!r} is not allowed: specs are loaded safely and "
                                 "never construct objects from tags; remove the tag")
        return None

    def scalar(self, node: ScalarNode, path: DocPath) -> Any:
        tag = node.tag
        if tag not in _SCALAR_TAGS:
            return self.bad_tag(node, path)
        if tag == _STR or tag == _TIMESTAMP:  # a date stays the text the user wrote
            return node.value
        self.sources[path] = node.value
        try:
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return self._constructor.construct_yaml_bool(node)
            if tag == _INT:
                return self._constructor.construct_yaml_int(node)
            value = self._constructor.construct_yaml_float(node)
        except (ValueError, LookupError, TypeError, ArithmeticError, yaml.YAMLError):
            self.problem(node, path, f"{node.value!r} is not a valid {tag[len(_CORE):]}; "
                                     "remove the tag or quote the value")
            return None
        if not math.isfinite(value):
            self.problem(node, path, f"{node.value!r} is not a finite number; use an ordinary number")
            return None
        return value

    def key(self, node, path: DocPath) -> str | None:
        if not isinstance(node, ScalarNode):
            self.problem(node, path, "mapping keys must be plain names, not lists or mappings")
            return None
        if node.tag not in _SCALAR_TAGS:
            self.bad_tag(node, path)
            return None
        return node.value  # keys are names: `yes:` means the name "yes", not True

    def mapping(self, node: MappingNode, path: DocPath) -> dict:
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                self.merge_into(merged, value_node, path)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                continue
            key = self.key(key_node, path)
            if key is None:
                continue
            sub = (*path, key)
            if key in out:
                first = self.key_marks[sub].line + 1
                self.problem(key_node, sub, f"duplicate key {key!r} (first defined at line {first}); "
                                            "YAML keeps only one of them: delete or rename one")
                continue
            if key in merged:  # the explicit value replaces the merged one entirely: forget where
                self.forget_below(sub)  # the merged one's parts were, before recording the new ones
            self.key_marks[sub] = key_node.start_mark
            out[key] = self.build(value_node, sub)
        if not merged:
            return out
        merged.update(out)  # explicit keys win over merged ones
        return merged

    def forget_below(self, path: DocPath) -> None:
        n = len(path)
        for table in (self.marks, self.key_marks, self.sources):
            for p in [p for p in table if len(p) > n and p[:n] == path]:
                del table[p]
        self.broken -= {p for p in self.broken if len(p) > n and p[:n] == path}

    def merge_into(self, merged: dict, value_node, path: DocPath) -> None:
        """``<<: *anchor`` or ``<<: [*a, *b]``: YAML merge keys; earlier sources win over later ones."""
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in reversed(sources):  # lowest priority first, so winners are built (and marked) last
            if not isinstance(source, MappingNode) or source.tag != _MAP:
                self.problem(source, path, "'<<' merges only mappings (an alias such as *defaults)")
                continue
            if id(source) in self._active:
                self.problem(source, path, "recursive alias: an anchor cannot merge itself")
                continue
            for key_node, _ in source.value:
                if isinstance(key_node, ScalarNode) and key_node.value in merged:
                    self.forget_below((*path, key_node.value))
            self._active.add(id(source))
            try:
                merged.update(self.mapping(source, path))
            finally:
                self._active.discard(id(source))


class _TooBig(Exception):
    def __init__(self, node):
        self.node = node


def _decode(raw: bytes, file: str) -> tuple[str | None, Diagnostic | None]:
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        before = raw[:exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        return None, Diagnostic(file, line, column, "", f"invalid UTF-8 (byte 0x{raw[exc.start]:02x}); "
                                                       "save the file as UTF-8")


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or "syntax error"
    context, start = exc.context, exc.context_mark
    if context and what.startswith("but "):  # "expected a single document..., but found another"
        what = f"{context}, {what}"
    elif context:
        where = f" started at line {start.line + 1}" if start and mark and start.line != mark.line else ""
        what += f" ({context}{where})"
    return Diagnostic(file, mark.line + 1 if mark else 0, mark.column + 1 if mark else 0, "",
                      f"invalid YAML: {what}")


SPEC_TOP = "a mapping of fields (title:, speakers:, segments:, ...)"


def load_yaml(path: Path, file: str, top: str = SPEC_TOP) -> tuple[YamlDoc | None, list[Diagnostic]]:
    """Read and compose ``path`` (named ``file`` in messages). Never raises for bad input: returns
    ``(None, problems)`` when nothing usable was read, else the document and any problems in it. ``top``
    says what the top level must be (a spec's fields; a lexicon's entries)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)
    except IsADirectoryError:
        return None, [Diagnostic(file, 0, 0, "", "is a directory, not a spec file")]
    except FileNotFoundError:
        return None, [Diagnostic(file, 0, 0, "", "no such file")]
    except OSError as exc:
        return None, [Diagnostic(file, 0, 0, "", f"cannot read the file: {exc.strerror or exc}")]
    if len(raw) > MAX_SPEC_BYTES:
        return None, [Diagnostic(file, 0, 0, "", f"the file is larger than {MAX_SPEC_BYTES // 1024} KiB, the limit "
                                 "for a spec; is it really an episode spec? Split a huge episode into several")]
    text, problem = _decode(raw, file)
    if problem:
        return None, [problem]
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_error(exc, file)]
    except yaml.YAMLError as exc:  # e.g. a reader error without a mark
        return None, [Diagnostic(file, 0, 0, "", f"invalid YAML: {exc}")]
    except RecursionError:
        return None, [Diagnostic(file, 0, 0, "", "invalid YAML: nested too deeply")]
    if node is None:
        return None, [Diagnostic(file, 0, 0, "", "the file is empty: a spec needs at least title:, "
                                                  "speakers: and segments:" if top == SPEC_TOP else
                                 f"the file is empty: it must hold {top}")]
    builder = _Builder(file)
    try:
        data = builder.build(node, ())
    except _TooBig as exc:
        loc = builder.loc(exc.node)
        return None, [Diagnostic(file, loc.line, loc.column, "", f"the document expands to more than "
                                 f"{MAX_NODES} values (through aliases?); simplify it")]
    except RecursionError:
        return None, [Diagnostic(file, 0, 0, "", "invalid YAML: nested too deeply")]
    if not isinstance(data, dict):
        if data is not None or not builder.problems:
            kind = {list: "a list", str: "a text"}.get(type(data), "a single value")
            loc = builder.loc(node)
            builder.problems.append(Diagnostic(file, loc.line, loc.column, "", (
                f"the top level must be {top}, not {kind}")))
        return None, builder.problems
    return YamlDoc(file, path, data, builder.marks, builder.key_marks, builder.sources, builder.broken), builder.problems
