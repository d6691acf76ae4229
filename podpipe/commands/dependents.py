"""``podpipe validate --with-dependents`` (the pre-commit hook): a commit that changes only a show file
still breaks the episodes that extend it, so those are what gets validated.

Given the changed files, the episodes to check are: every changed file that no spec uses (an episode; a file
in a ``shows/`` directory that no spec uses yet is a show file nothing depends on, and is skipped), plus
every spec in the same tree that uses a changed file that is used, directly or along its chain: a show file
it ``extends``, a lexicon file its ``lexicon:`` names. The tree is the top directory of the changed file
(``episodes/`` for ``episodes/shows/x.yaml``), read recursively; the paths are relative to the file that
names them, as the loader reads them. Files that cannot be read or parsed are left to the loader (validated
if they were given, to report them).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

_SUFFIXES = (".yaml", ".yml")


def _uses(path: Path) -> list[Path]:
    """The files ``path`` names: the show file it extends and its lexicon files."""
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    if not isinstance(doc, dict):
        return []
    lexicon = doc.get("lexicon")
    names = [doc.get("extends"), *(lexicon if isinstance(lexicon, list) else [lexicon])]
    return [Path(os.path.normpath(path.parent / n.strip())) for n in names
            if isinstance(n, str) and n.strip().lower().endswith(_SUFFIXES)]


def _chain(path: Path, uses: dict[Path, list[Path]]) -> set[Path]:
    """Every file ``path`` uses, directly or through the files it uses (cycles are the loader's to report)."""
    found: set[Path] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        if current not in uses:
            uses[current] = _uses(current) if current.is_file() else []
        for used in uses[current]:
            if used not in found and used != path:
                found.add(used)
                todo.append(used)
    return found


def with_dependents(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The episode specs to validate for a change to ``paths``, in a stable order (given ones first)."""
    given = [Path(os.path.normpath(p)) for p in paths]
    roots = sorted({Path(p.parts[0]) if len(p.parts) > 1 else Path(".") for p in given})
    candidates = sorted({Path(os.path.normpath(f)) for root in roots if root.is_dir()
                         for f in root.rglob("*") if f.suffix in _SUFFIXES and f.is_file()} | set(given))
    uses: dict[Path, list[Path]] = {}
    chains = {c: _chain(c, uses) for c in candidates}
    extended = {p for chain in chains.values() for p in chain}
    changed_shows = {p for p in given if p in extended}
    picked = [p for p in given if p not in extended and "shows" not in p.parts[:-1]]
    picked += [c for c in candidates if c not in picked and c not in extended
               and changed_shows.intersection(chains[c])]
    return picked
