"""Minimal edits of a YAML text: ruamel.yaml locates the exact span of a node, and only that span is spliced.

A ``Doc`` is a text and its node tree (ruamel's composer keeps every node's start and end offset). Each
operation (``set``, ``remove``, ``append``) rewrites the smallest span that carries the change and keeps every
other byte: comments, key order, quoting, flow or block style, indentation. A new scalar is written in the
style of the one it replaces when that still reads back as the same value (a plain text stays plain, a
folded block stays folded at its indentation), else as the next safe style (single, then double quotes).

Every operation is checked: the new text is read back (PyYAML, as podpipe's loader reads it) and must equal
the old data with exactly that one change. Anything else (an anchor shared elsewhere, a value YAML would
read as another type, a layout this module does not know) is an ``EditError``, never a silent surprise.
"""

from __future__ import annotations

import copy
import json
import re
import textwrap
from typing import Any

import yaml

from podpipe.studio import require

Path_ = tuple  # a value's path in the document: str keys and int indexes


class EditError(ValueError):
    """The edit cannot be written as a minimal, faithful change of this text."""


def _compose(text: str):
    ruamel = require("ruamel.yaml")
    try:
        return ruamel.YAML(typ="rt").compose(text)
    except ruamel.YAMLError as exc:
        raise EditError(f"the file is not valid YAML: {exc}") from None


def _load(text: str) -> Any:
    try:
        return yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader: plain data only
    except yaml.YAMLError as exc:
        raise EditError(f"the file is not valid YAML: {exc}") from None


def _is_block_scalar(node) -> bool:
    return _kind(node) == "scalar" and node.style in ("|", ">")


def _kind(node) -> str:
    name = type(node).__name__
    return {"ScalarNode": "scalar", "MappingNode": "map", "SequenceNode": "seq"}.get(name, name)


class Doc:
    """A YAML text and its nodes; every operation returns nothing and updates ``text`` in place."""

    def __init__(self, text: str):
        self.text = text
        self._parse()

    def _parse(self) -> None:
        self.root = _compose(self.text)
        self.data = _load(self.text)

    # -- finding nodes ------------------------------------------------------------------------------------------
    def node(self, path: Path_):
        """The node at ``path``, or None."""
        node = self.root
        for part in path:
            node = self._child(node, part)
            if node is None:
                return None
        return node

    @staticmethod
    def _child(node, part):
        if node is None:
            return None
        if isinstance(part, int):
            if _kind(node) != "seq" or not 0 <= part < len(node.value):
                return None
            return node.value[part]
        if _kind(node) != "map":
            return None
        for key, value in node.value:
            if _kind(key) == "scalar" and key.value == part:
                return value
        return None

    def _pair(self, path: Path_, key: str):
        parent = self.node(path)
        if parent is None or _kind(parent) != "map":
            raise EditError(f"no mapping at {_shown(path)}")
        for i, (k, v) in enumerate(parent.value):
            if _kind(k) == "scalar" and k.value == key:
                return parent, i, k, v
        return parent, -1, None, None

    # -- spans ----------------------------------------------------------------------------------------------
    def _end(self, node) -> int:
        """Where ``node``'s own text ends: a block collection's end mark runs on to the next token, and a
        block scalar's over the blank lines after it; neither belongs to it."""
        kind = _kind(node)
        if kind in ("map", "seq") and not node.flow_style:
            if not node.value:
                return node.end_mark.index
            last = node.value[-1]
            return self._end(last[1] if kind == "map" else last)
        end = node.end_mark.index
        if _is_block_scalar(node):
            while end > node.start_mark.index and self.text[end - 1] in " \n":
                end -= 1
        return end

    def _line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def _after_line(self, index: int) -> int:
        """The start of the line after the one holding ``index`` (the end of the text when none)."""
        found = self.text.find("\n", index)
        return len(self.text) if found < 0 else found + 1

    def _only_space_before(self, index: int) -> bool:
        return not self.text[self._line_start(index):index].strip()

    def _splice(self, start: int, end: int, new: str) -> str:
        return self.text[:start] + new + self.text[end:]

    # -- checking ---------------------------------------------------------------------------------------------
    def _commit(self, candidates: list[str], expected: Any, loose: Path_ | None = None) -> None:
        """Take the first candidate text that reads back as ``expected`` (``loose``: the text at that path may
        differ in surrounding whitespace, which podpipe drops)."""
        for text in candidates:
            try:
                got = _load(text)
            except EditError:
                continue
            if loose is not None:
                got_value, want_value = _get(got, loose), _get(expected, loose)
                if isinstance(got_value, str) and isinstance(want_value, str) \
                        and got_value.strip() == want_value.strip():
                    got = _put(got, loose, want_value)
            if got == expected:
                self.text = text
                self._parse()
                return
        raise EditError("the change cannot be written faithfully here (is the value shared through a YAML "
                        "anchor, or written in a form the studio does not edit?); edit the file by hand")

    # -- operations -------------------------------------------------------------------------------------------
    def set(self, path: Path_, key: str, value: Any, *, loose: bool = False) -> None:
        """``path.key = value`` (a scalar, or a mapping of scalars for a new key): the value's span replaced, or
        a new entry after the mapping's last one."""
        parent, _, k, v = self._pair(path, key)
        expected = _put(copy.deepcopy(self.data), (*path, key), value)
        if v is None:
            self._commit(self._added(parent, key, value), expected)
            return
        if _get(self.data, (*path, key)) == value:
            return
        if _kind(v) == "scalar" or v.flow_style:
            start, end = v.start_mark.index, self._end(v)
            column = start - self._line_start(start)
            texts = [self._splice(start, end, s) for s in _scalars(value, self.text, v, column, self._flow(parent))]
        else:  # a block collection becomes a scalar: rewrite from the key's colon
            start, end = k.end_mark.index, self._end(v)
            texts = [self._splice(start, end, ": " + s) for s in _scalars(value, self.text, None, 0, False)]
        self._commit(texts, expected, (*path, key) if loose else None)

    def remove(self, path: Path_, key: str) -> None:
        """Remove ``key`` (and its value) from the mapping at ``path``; nothing when absent."""
        parent, i, k, v = self._pair(path, key)
        if k is None:
            return
        expected = copy.deepcopy(self.data)
        del _get(expected, path)[key]
        pairs = parent.value
        if len(pairs) == 1:
            raise EditError(f"{key} is the only field of {_shown(path)}; it cannot be removed alone")
        if parent.flow_style:
            if i + 1 < len(pairs):
                start, end = k.start_mark.index, pairs[i + 1][0].start_mark.index
            else:
                start, end = self._end(pairs[i - 1][1]), self._end(v)
        elif not self._only_space_before(k.start_mark.index):  # the first key of "- key: value"
            start, end = k.start_mark.index, pairs[i + 1][0].start_mark.index
        else:
            start, end = self._line_start(k.start_mark.index), self._after_line(self._end(v))
        self._commit([self._splice(start, end, "")], expected)

    def append(self, path: Path_, item: Any) -> None:
        """Add ``item`` (a scalar or a mapping of scalars) at the end of the sequence at ``path``."""
        seq = self.node(path)
        if seq is None or _kind(seq) != "seq" or not seq.value:
            raise EditError(f"no list at {_shown(path)}")
        expected = copy.deepcopy(self.data)
        _get(expected, path).append(item)
        end = self._end(seq.value[-1])
        if seq.flow_style:
            texts = [self._splice(end, end, ", " + s) for s in _flow_values(item)]
        else:
            first = seq.value[-1].start_mark.index
            dash = self.text.rfind("-", self._line_start(first), first)
            indent = " " * (dash - self._line_start(first)) if dash >= 0 else ""
            at = self._after_line(end)
            lead = "" if self.text[at - 1:at] == "\n" else "\n"
            texts = [self._splice(at, at, f"{lead}{indent}- {s}\n") for s in _flow_values(item)]
        self._commit(texts, expected)

    def _flow(self, parent) -> bool:
        return bool(getattr(parent, "flow_style", False))

    def _added(self, parent, key: str, value: Any) -> list[str]:
        """Candidate texts with ``key: value`` added after the last entry of the mapping ``parent``."""
        keys = _plain_or_quoted(key)
        if parent.flow_style:
            end = self._end(parent.value[-1][1]) if parent.value else parent.start_mark.index + 1
            sep = ", " if parent.value else ""
            return [self._splice(end, end, f"{sep}{k}: {s}") for k in keys for s in _flow_values(value)]
        first = parent.value[0][0].start_mark.index
        indent = " " * (first - self._line_start(first))
        at = self._after_line(self._end(parent))
        lead = "" if self.text[at - 1:at] == "\n" else "\n"
        if isinstance(value, dict):
            inner = indent + " " * self.indent_step()
            bodies = ["\n" + "".join(f"{inner}{_plain_or_quoted(k2)[0]}: {_flow_values(v2)[0]}\n"
                                     for k2, v2 in value.items())]
            return [self._splice(at, at, f"{lead}{indent}{k}:{b}") for k in keys for b in bodies]
        return [self._splice(at, at, f"{lead}{indent}{k}: {s}\n") for k in keys for s in _flow_values(value)]

    def insert_before(self, key: str, new_key: str, value: dict) -> None:
        """A new top-level ``new_key`` holding the block mapping ``value``, on the lines before top-level
        ``key`` (after the last top-level entry when ``key`` is absent)."""
        _, i, k, _ = self._pair((), key)
        if k is None or self.root.flow_style:
            self.set((), new_key, value)
            return
        expected = copy.deepcopy(self.data)
        merged = {}
        for name, item in expected.items():
            if name == key:
                merged[new_key] = value
            merged[name] = item
        at = self._line_start(k.start_mark.index)
        inner = " " * self.indent_step()
        body = "".join(f"{inner}{_plain_or_quoted(k2)[0]}: {_flow_values(v2)[0]}\n" for k2, v2 in value.items())
        self._commit([self._splice(at, at, f"{_plain_or_quoted(new_key)[0]}:\n{body}")], merged)

    def indent_step(self) -> int:
        """The indentation this file nests block mappings by (the first nested block mapping's), else 2."""
        for _, v in self.root.value if _kind(self.root) == "map" else ():
            if _kind(v) == "map" and not v.flow_style and v.value:
                start = v.value[0][0].start_mark.index
                column = start - self._line_start(start)
                if column > 0:
                    return column
        return 2


def _shown(path: Path_) -> str:
    return ".".join(str(p) for p in path) or "the top level"


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def _put(data: Any, path: Path_, value: Any) -> Any:
    _get(data, path[:-1])[path[-1]] = value
    return data


def _double(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _single(text: str) -> str | None:
    return None if "\n" in text else "'" + text.replace("'", "''") + "'"


def _plain(text: str) -> str | None:
    return text if text and "\n" not in text and text == text.strip() else None


def _plain_or_quoted(text: str) -> list[str]:
    """Ways to write ``text`` on one line, most natural first; the last escapes everything but ASCII."""
    return [s for s in (_plain(text), _single(text), _double(text), _escaped(text)) if s is not None]


def _escaped(text: str) -> str:
    """``text`` double-quoted with everything but printable ASCII escaped (YAML's escapes, which unlike JSON's
    write a character beyond the BMP as one ``\\U`` escape)."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _flow_values(value: Any) -> list[str]:
    """Ways to write ``value`` on one line (a mapping as a flow mapping), most natural first."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (int, float)):
        return [repr(value)]
    if isinstance(value, list):
        return ["[" + ", ".join(_flow_values(v)[0] for v in value) + "]",
                "[" + ", ".join(_flow_values(v)[-1] for v in value) + "]"]
    if isinstance(value, dict):
        return ["{" + ", ".join(f"{_plain_or_quoted(k)[0]}: {_flow_values(v)[0]}" for k, v in value.items()) + "}",
                "{" + ", ".join(f"{_double(k)}: {_flow_values(v)[-1]}" for k, v in value.items()) + "}"]
    return _plain_or_quoted(str(value))


def _scalars(value: Any, text: str, old, column: int, flow: bool) -> list[str]:
    """Ways to write ``value`` in place of the scalar ``old`` (None: a new value), the old style first."""
    if not isinstance(value, str):
        return _flow_values(value)
    out: list[str] = []
    style = getattr(old, "style", None) if old is not None else None
    if old is not None and _kind(old) == "scalar" and style in ("|", ">") and not flow:
        out += _block(value, text, old, column)
    elif style == "'":
        out.append(_single(value))
    elif style == '"':
        out.append(_double(value))
    out += _plain_or_quoted(value)
    return [s for s in dict.fromkeys(out) if s is not None]


def _block(value: str, text: str, old, column: int) -> list[str]:
    """``value`` as a block scalar with ``old``'s header and content indentation. The span replaced ends at
    the old text's last character (``Doc._end``): the line break and blank lines after it stay."""
    span = text[old.start_mark.index:old.end_mark.index]
    header, _, body = span.partition("\n")
    content = [line for line in body.split("\n") if line.strip()]
    indent = min((len(line) - len(line.lstrip(" ")) for line in content), default=column + 2)
    width = max((len(line) for line in content), default=80)
    pad = " " * indent
    out = []
    if old.style == ">" and "\n" not in value:
        wrapped = textwrap.wrap(value, width=max(80, width) - indent, break_long_words=False,
                                break_on_hyphens=False) or [""]
        if " ".join(wrapped) == value:  # only single spaces were broken: folding gives them back
            out.append(header + "\n" + "\n".join(pad + line for line in wrapped))
    literal = "\n".join(pad + line if line else "" for line in value.split("\n"))
    out.append(re.sub(r"^>", "|", header) + "\n" + literal)
    return out


__all__ = ["Doc", "EditError"]
