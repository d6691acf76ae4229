"""Golden files: the exact diagnostics of every invalid fixture and the resolved episode of every valid one.

Every ``tests/spec/specs/invalid/NAME.yaml`` has ``NAME.expected`` with the exact diagnostics (errors and
warnings, sorted), every ``tests/spec/specs/valid/NAME.yaml`` has ``NAME.json`` with the resolved episode.
Regenerate after an intended change with ``PODPIPE_UPDATE_GOLDEN=1 pytest tests/spec/test_golden.py`` and
review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from podpipe import backends
from podpipe.errors import Diagnostic, SpecError
from podpipe.spec import LoadResult, load_episodes, schema

SPECS = Path(__file__).resolve().parent / "specs"
UPDATE = os.environ.get("PODPIPE_UPDATE_GOLDEN") == "1"
INVALID = sorted(p.stem for p in (SPECS / "invalid").glob("*.yaml"))
VALID = sorted(p.stem for p in (SPECS / "valid").glob("*.yaml"))


def _sorted(error: SpecError) -> list[Diagnostic]:
    return sorted(error.diagnostics + error.warnings, key=lambda d: (d.file, d.line, d.column))


def _plain(value, root: Path):
    """An Episode as JSON-able data, paths relative to ``root`` so goldens are machine-independent."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name), root) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        assert value.is_absolute(), value
        return value.relative_to(root).as_posix()
    if isinstance(value, (list, tuple)):
        return [_plain(v, root) for v in value]
    return value


def _golden(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path.name}: run with PODPIPE_UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", INVALID)
def test_invalid_spec_reports_exactly_the_expected_diagnostics(name, monkeypatch):
    monkeypatch.chdir(SPECS)
    with pytest.raises(SpecError) as info:
        load_episodes([f"invalid/{name}.yaml"], root=SPECS, rules=backends)
    assert info.value.diagnostics, "an invalid fixture must produce at least one error"
    lines = "".join(f"{d}\n" for d in _sorted(info.value))
    _golden(SPECS / "invalid" / f"{name}.expected", lines)


@pytest.mark.parametrize("name", VALID)
def test_valid_spec_resolves_to_the_golden_episode(name, monkeypatch):
    monkeypatch.chdir(SPECS)
    result = load_episodes([f"valid/{name}.yaml"], root=SPECS, rules=backends)
    assert isinstance(result, LoadResult) and len(result.episodes) == 1
    golden = {"episode": _plain(result.episodes[0], SPECS), "warnings": [str(w) for w in result.warnings]}
    _golden(SPECS / "valid" / f"{name}.json", json.dumps(golden, indent=2, ensure_ascii=False) + "\n")


def test_every_fixture_has_its_golden_file_and_no_golden_is_orphaned():
    for folder, suffix in (("invalid", ".expected"), ("valid", ".json")):
        specs = {p.stem for p in (SPECS / folder).glob("*.yaml")}
        goldens = {p.name[: -len(suffix)] for p in (SPECS / folder).glob(f"*{suffix}")}
        assert specs == goldens, folder


def test_without_the_fast_checker_the_results_are_the_same(monkeypatch):
    monkeypatch.chdir(SPECS)
    paths = [f"invalid/{n}.yaml" for n in INVALID] + [f"valid/{n}.yaml" for n in VALID]

    def run():
        try:
            return [str(w) for w in load_episodes(paths, root=SPECS, rules=backends).warnings]
        except SpecError as err:
            return [str(d) for d in _sorted(err)]
    with_fast = run()
    monkeypatch.setattr(schema, "fast_checks", lambda: None)
    assert run() == with_fast and len(with_fast) > 100
