"""click is the CLI's concern alone: the library (``podpipe.commands`` and below) reports progress through
``commands.build.Progress``, and only ``podpipe/cli/`` imports click."""

from __future__ import annotations

import ast

from tests.support import REPO


def _imports_click(path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        if any(n == "click" or n.startswith("click.") for n in names):
            return True
    return False


def test_only_the_cli_imports_click():
    package = REPO / "podpipe"
    outside = [str(p.relative_to(REPO)) for p in sorted(package.rglob("*.py"))
               if package / "cli" not in p.parents and _imports_click(p)]
    assert outside == []
    assert _imports_click(package / "cli" / "progress.py")  # the check sees an import where there is one
