"""Builders, servers and helpers shared by the test packages (no tests here)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the repository root (examples, docs, schemas)
