"""The spec's ``lexicon:``, resolved along the ``extends`` chain: entries written inline or in YAML files.

A document's ``lexicon:`` is a mapping of entries, a path to a YAML file of entries (relative to the
document, inside the project root), or a list of both (later items win). Along the chain the nearer file
wins entry by entry: a show's entries apply unless the episode writes the same written form itself. An entry
is ``written: spoken`` or ``written: {say: spoken, ignore_case: true}``.

Inline entries are checked by the JSON Schema; entries in lexicon files are checked here, with positions
in the lexicon file. Overlapping entries (one matching inside another) are errors; entries written inline
in the episode's own file that match nothing in the episode are warnings, which entries from a show file or
a lexicon file never are (those serve many episodes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podpipe.errors import Diagnostic
from podpipe.spec.text import Lexicon, LexiconEntry, overlaps
from podpipe.spec.yamldoc import DocPath, Loc, YamlDoc, format_path

TOP = "a mapping of lexicon entries (written form: spoken form), e.g. `SQL: sequel`"
_SHAPE = "write `written: spoken` or `written: {say: spoken, ignore_case: true}`"


@dataclass(frozen=True)
class Placed:
    entry: LexiconEntry
    loc: Loc
    field: str  # as shown in messages: lexicon.SQL, or the key inside a lexicon file
    own: bool  # written inline in the episode's own file (not inherited, not from a shared lexicon file)


Reader = Callable[[Path, str], "YamlDoc | None"]  # (absolute path, shown name) -> document, reporting problems


def resolve(docs: list[YamlDoc], read: Reader, inside: Callable[[Path], bool],
            diagnostics: list[Diagnostic]) -> list[Placed]:
    """Every entry in force for the episode ``docs[0]`` (its show files follow it, nearest first)."""
    merged: dict[str, Placed] = {}
    for depth in range(len(docs) - 1, -1, -1):
        doc = docs[depth]
        value = doc.data.get("lexicon")
        items = value if isinstance(value, list) else [] if value is None else [value]
        for i, item in enumerate(items):
            path: DocPath = ("lexicon", i) if isinstance(value, list) else ("lexicon",)
            if isinstance(item, dict):
                found = _inline(doc, path, item, own=depth == 0)
            elif isinstance(item, str) and item.lower().endswith((".yaml", ".yml")):  # else: the schema says
                found = _from_file(doc, path, item, read, inside, diagnostics)
            else:
                continue  # the schema reports it
            merged.update((p.entry.written, p) for p in found)
    placed = list(merged.values())
    by_entry = {p.entry: p for p in placed}
    for a, b in overlaps(by_entry):
        pa, pb = by_entry[a], by_entry[b]
        diagnostics.append(Diagnostic(pa.loc.file, pa.loc.line, pa.loc.column, pa.field, (
            f"lexicon entry {a.written!r} also matches inside {b.written!r} ({pb.loc.file}:{pb.loc.line}), so "
            "that text could be read two ways: remove one of them, or give the longer one the whole phrase")))
    return placed


def unused(placed: list[Placed], texts: list[str]) -> list[Diagnostic]:
    """Warnings for the episode's own entries that match nothing in ``texts``."""
    used = Lexicon(p.entry for p in placed).used(" ".join(t.split()) for t in texts)  # as compile sees them
    return [Diagnostic(p.loc.file, p.loc.line, p.loc.column, p.field,
                       f"lexicon entry {p.entry.written!r} matches nothing in this episode (whole words"
                       f"{'' if p.entry.ignore_case else ', case-sensitive'}); remove it or fix its spelling",
                       severity="warning")
            for p in placed if p.own and p.entry not in used]


def _entry(written: Any, value: Any) -> LexiconEntry | None:
    if isinstance(value, dict):
        if set(value) - {"say", "ignore_case"}:
            return None
        say, ignore_case = value.get("say"), value.get("ignore_case", False)
    else:
        say, ignore_case = value, False
    if not (isinstance(written, str) and written.strip() == written and written and isinstance(say, str)
            and say.strip() and isinstance(ignore_case, bool)):
        return None
    return LexiconEntry(written, " ".join(say.split()), ignore_case)


def _loc(doc: YamlDoc, path: DocPath) -> Loc:
    return doc.key_loc(path) or doc.loc(path) or Loc(doc.file, 1, 1)


def _inline(doc: YamlDoc, path: DocPath, item: dict, *, own: bool) -> list[Placed]:
    out = []
    for written, value in item.items():
        entry = _entry(written, value)
        if entry is not None:  # anything else is reported by the schema
            out.append(Placed(entry, _loc(doc, (*path, written)), format_path((*path, written)), own))
    return out


def _from_file(doc: YamlDoc, path: DocPath, name: str, read: Reader, inside: Callable[[Path], bool],
               diagnostics: list[Diagnostic]) -> list[Placed]:
    target, shown = doc.target(name), doc.shown(name)
    where = doc.loc(path) or Loc(doc.file, 1, 1)

    def problem(message: str) -> list[Placed]:
        diagnostics.append(Diagnostic(where.file, where.line, where.column, format_path(path), message))
        return []

    if not inside(target):
        return problem(f"lexicon file '{shown}' is outside the project root; keep it inside the project")
    if not target.is_file():
        return problem(f"lexicon file '{shown}' {'is a directory' if target.is_dir() else 'not found'} "
                       "(lexicon paths are relative to the file that names them)")
    lexicon = read(target, shown)
    if lexicon is None:
        return []  # read() reported why
    out = []
    for written, value in lexicon.data.items():
        loc = _loc(lexicon, (written,))
        entry = _entry(written, value)
        if entry is None:
            diagnostics.append(Diagnostic(loc.file, loc.line, loc.column, str(written),
                                          _why(written, value)))
        else:
            out.append(Placed(entry, loc, str(written), own=False))  # a file is made to be shared
    return out


def _why(written: Any, value: Any) -> str:
    if not isinstance(written, str) or not written.strip():
        return f"a lexicon entry needs a written form; {_SHAPE}"
    if written.strip() != written:
        return f"the written form {written!r} starts or ends with spaces; remove them"
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"say", "ignore_case"})
        if unknown:
            return f"unknown field {unknown[0]!r} in a lexicon entry; {_SHAPE}"
        if not isinstance(value.get("ignore_case", False), bool):
            return "ignore_case must be true or false"
        value = value.get("say")
    if not isinstance(value, str):
        return f"the spoken form of {written!r} must be text; {_SHAPE}"
    return f"the spoken form of {written!r} is empty; say how to pronounce it, e.g. `{written}: …`"
