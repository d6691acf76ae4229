"""The ``spec`` stage's entry point: spec files in, validated and resolved ``Episode`` objects out.

Every file is read, every ``extends`` chain merged, and every problem of every file collected before
anything fails, so one run shows the user everything to fix. Problems are located in the file the offending
value was written in (an episode or one of its show files) as ``file:line:col: field: message``.

This module runs a load: it reads each file once (``yamldoc``), follows ``extends`` chains and merges them,
and hands the merged episode to the schema (``schema``, explained by ``messages``), to the rules a schema
cannot express (``checks``) and, when all of that passed, to ``resolve``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from podpipe.errors import Diagnostic, SpecError
from podpipe.spec import lexicon, resolve
from podpipe.spec.checks import Checker
from podpipe.spec.rules import ModelRules
from podpipe.spec.episode import Episode
from podpipe.spec.messages import report_schema_errors
from podpipe.spec.view import View
from podpipe.spec.yamldoc import SPEC_TOP, YamlDoc, load_yaml


@dataclass(frozen=True)
class LoadResult:
    episodes: tuple[Episode, ...]  # in the order the paths were given (duplicates dropped)
    warnings: tuple[Diagnostic, ...]


def _merge(base: Any, over: Any) -> Any:
    """Deep merge for ``extends``: mappings merge recursively and ``over`` wins; anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    return over


class _Session:
    """One ``load_episodes`` call: files are read once, show files validated once."""

    def __init__(self, checker: Checker):
        self.checker = checker
        self.diagnostics: list[Diagnostic] = []
        self._docs: dict[Path, YamlDoc | None] = {}
        self._shows_checked: set[Path] = set()

    def read(self, path: Path, file: str, top: str = SPEC_TOP) -> YamlDoc | None:
        """The document at ``path`` (absolute), named ``file`` in messages; None when unusable."""
        real = path.resolve()
        if real not in self._docs:
            doc, problems = load_yaml(path, file, top)
            self._docs[real] = doc
            self.diagnostics.extend(problems)
        return self._docs[real]

    def check_alone(self, doc: YamlDoc) -> None:
        """The structural problems of a file on its own, as a show file (nothing required)."""
        view = View(doc.data, [doc])
        report_schema_errors(view, show=True)
        self.diagnostics.extend(view.diagnostics)

    def chain(self, doc: YamlDoc) -> tuple[list[YamlDoc], bool]:
        """The document and its show files (nearest first); False when the chain is broken."""
        docs = [doc]
        seen = [doc.path.resolve()]
        while isinstance(docs[-1].data.get("extends"), str) and docs[-1].data["extends"].strip():
            current = docs[-1]
            name = current.data["extends"]
            target, shown = current.target(name), current.shown(name)
            loc = current.loc(("extends",))
            real = target.resolve()
            if real in seen:
                cycle = " -> ".join([d.file for d in docs] + [shown])
                self.diagnostics.append(Diagnostic(loc.file, loc.line, loc.column, "extends",
                                                   f"extends cycle: {cycle}; remove one of these extends"))
                return docs, False
            if not self.checker.inside(target):
                # A show file outside the project could be any file on the machine, quoted back in messages.
                self.diagnostics.append(Diagnostic(
                    loc.file, loc.line, loc.column, "extends",
                    f"show file '{shown}' is outside the project root; keep show files inside the project"))
                return docs, False
            if not target.is_file():
                problem = "is a directory" if target.is_dir() else "not found"
                self.diagnostics.append(Diagnostic(
                    loc.file, loc.line, loc.column, "extends",
                    f"show file '{shown}' {problem} (extends paths are relative to the file that names them)"))
                return docs, False
            show = self.read(target, shown)
            if show is None:
                return docs, False
            if real not in self._shows_checked:
                self._shows_checked.add(real)
                self.check_alone(show)
            docs.append(show)
            seen.append(real)
        return docs, True

    def load(self, path: Path, file: str) -> Episode | None:
        doc = self.read(path, file)
        if doc is None:
            return None
        docs, whole = self.chain(doc)
        if not whole:  # still report this file's own structural problems
            self.check_alone(doc)
            return None
        data = doc.data
        for show in docs[1:]:
            data = _merge(show.data, data)
        view = View(data, docs)
        placed = lexicon.resolve(docs, lambda p, shown: self.read(p, shown, lexicon.TOP), self.checker.inside,
                                 view.diagnostics)
        segment_ids, output = self.checker.check(view, doc)
        self.diagnostics.extend(view.diagnostics)
        files = {d.file for d in docs}  # a problem anywhere in the chain (even one the merge hides) means
        if view.failed or any(d.severity == "error" and d.file in files for d in self.diagnostics):
            return None  # the data is not known to be sound: resolving it could only go wrong
        if output is None:  # every way check_output gives none reports an error
            raise AssertionError("output unresolved in a spec without errors")
        episode = resolve.episode(view, doc, segment_ids, output, tuple(p.entry for p in placed))
        self.diagnostics.extend(lexicon.unused(placed, [t.text for s in episode.segments for t in s.turns]))
        return episode


def load_episodes(paths: Sequence[str | Path], *, root: Path | None = None, allow_outside: bool = False,
                  cache_root: Path | None = None, strict: bool = False,
                  feed: bool = False, rules: ModelRules | None = None) -> LoadResult:
    """Load, validate and resolve every spec in ``paths``.

    ``root`` is the project root (default: the working directory): sound and output paths must stay
    inside it and relative output paths are relative to it. Every file is read and every problem of every
    file collected; if any is an error, raises ``SpecError`` with all of them (warnings included), sorted
    by file, line and column. A path given twice is loaded once. ``allow_outside`` lifts the project-root
    confinement of show files, sounds, artwork and outputs (the CLI's explicit ``--allow-outside-root``).
    ``cache_root`` is the cache directory, where a backend may keep a voice list it fetched (``podpipe
    voices``), so voices are checked against it (None: only what backends know without one). ``strict`` turns every warning into an error (``--strict``, for CI).
    ``rules`` judges each spec's model and voices (``podpipe.backends``, which the commands pass; None: they
    are not judged, since the spec stage imports no backend).
    ``feed`` also requires what a feed item needs (a ``feed:`` section, a ``date``), for ``podpipe feed``.
    """
    root = Path(os.path.abspath(root if root is not None else os.getcwd()))
    session = _Session(Checker(root, allow_outside, cache_root, feed, rules))
    episodes = []
    seen: set[Path] = set()
    for given in paths:
        real = Path(os.path.abspath(given))
        if real in seen:
            continue
        seen.add(real)
        episode = session.load(real, os.fspath(given))
        if episode is not None:
            episodes.append(episode)
    diagnostics = sorted(dict.fromkeys(session.diagnostics),
                         key=lambda d: (d.file, d.line, d.column, d.severity != "error", d.field, d.message))
    if strict:
        diagnostics = [replace(d, severity="error", message=f"{d.message} (an error under --strict)")
                       if d.severity == "warning" else d for d in diagnostics]
    if any(d.severity == "error" for d in diagnostics):
        raise SpecError(diagnostics)
    return LoadResult(tuple(episodes), tuple(diagnostics))
