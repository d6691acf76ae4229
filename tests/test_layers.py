"""The floors of docs/architecture.md, held: a package imports only from its own floor or below, never from a
package that stands on it, and no package but a backend names a vendor.

Imports are read from the source (module level and inside functions alike: a lazy import is still a
dependency), so a package that reaches up, even once and lazily, fails here with the line that does it.
"""

from __future__ import annotations

import ast
import re
import sys

import pytest

from tests.support import REPO

PACKAGE = REPO / "podpipe"

# Lowest first. A package may import the packages of its own rank and of every lower rank.
FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "formats", "files", "secrets", "audio_types", "categories", "__version__"}),
    frozenset({"audio", "storage"}),
    frozenset({"spec"}),
    frozenset({"compile"}),
    frozenset({"backends"}),
    frozenset({"cache"}),
    frozenset({"render", "mix"}),
    frozenset({"review"}),
    frozenset({"commands"}),
    frozenset({"feed", "publish", "sitecheck", "studio"}),
    frozenset({"cli"}),
    frozenset({"__main__"}),
)
RANK = {name: rank for rank, names in enumerate(FLOORS) for name in names}
# What a package may take from another package of its own floor (the ground floor's modules may use each
# other; on the other floors, packages are independent of each other unless listed here).
SIDEWAYS = {("mix", "render"): False, ("render", "mix"): False, ("publish", "feed"): True}
# Features on top that commands run for the CLI (podpipe feed, podpipe publish): commands may call them.
COMMANDS_RUN = {"feed", "publish", "sitecheck"}


def _package(path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    return rel.parts[0] if rel.parts[0] != "__init__" else "__version__"


def _imports(path):
    """(line, top-level podpipe package) for every podpipe import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "podpipe":
                names = [f"podpipe.{a.name}" for a in node.names]
            elif node.module.startswith("podpipe."):
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("podpipe.")]
        for name in names:
            yield node.lineno, name.split(".")[1]


def _violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = _package(path)
        assert here in RANK, f"{path.relative_to(REPO)}: package {here!r} is on no floor of this test"
        for line, there in _imports(path):
            if there == here or there not in RANK:
                continue
            allowed = RANK[there] < RANK[here] or RANK[there] == RANK[here] == 0 or SIDEWAYS.get((here, there), False) or (
                here == "commands" and there in COMMANDS_RUN)
            if not allowed:
                found.append(f"{path.relative_to(REPO)}:{line}: {here} imports {there}")
    return found


def test_every_package_imports_only_its_floor_or_below():
    assert _violations() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The check itself can fail: a spec module that imports the render stage is reported."""
    fake = tmp_path / "podpipe"
    (fake / "spec").mkdir(parents=True)
    (fake / "render").mkdir()
    (fake / "spec" / "x.py").write_text("def f():\n    from podpipe.render import Scheduler\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert _violations() == ["podpipe/spec/x.py:2: spec imports render"]


VENDOR = re.compile(r"\b(gemini|google|espeak)\b", re.IGNORECASE)


@pytest.mark.parametrize("package", ["spec", "compile", "render", "commands", "cache", "mix"])
def test_no_stage_names_a_vendor_in_code(package):
    """Vendor names stay in backends/: code (strings and names, not comments or docstrings) elsewhere
    never names one."""
    found = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            text = (node.value if isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings else
                    node.id if isinstance(node, ast.Name) else
                    node.attr if isinstance(node, ast.Attribute) else
                    node.module if isinstance(node, ast.ImportFrom) else None)
            if text and VENDOR.search(text):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {text[:60]!r}")
    assert found == []
