"""What the CI recipes promise: the pre-commit hook this repository offers, run the way a user's project
runs it (``pre-commit try-repo``, which installs podpipe from this checkout into its own environment)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

VALID = "title: T\nspeakers:\n  host: {voice: Kore}\nsegments:\n  - host: Hello.\n"
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=ci@example.invalid", "-c", "user.name=ci", *args], cwd=cwd,
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")  # the hook's environment is built once per module


def _try_repo(project: Path, home: Path, *files: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
    env.pop("PODPIPE_CACHE_DIR", None)
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "podpipe-validate",
                           "--files", *files], cwd=project, env=env, capture_output=True, text=True, timeout=600)


def test_pre_commit_hook_passes_valid_specs_and_stops_invalid_ones(tmp_path, pre_commit_home):
    project = tmp_path / "show"
    (project / "episodes" / "shows").mkdir(parents=True)
    (project / "episodes" / "ep01.yaml").write_text(VALID, encoding="utf-8")
    (project / "episodes" / "ep02.yaml").write_text(VALID.replace("Kore", "Kora"), encoding="utf-8")
    (project / "episodes" / "shows" / "show.yaml").write_text("author: Somebody\n", encoding="utf-8")
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "commit", "-qm", "episodes")

    ok = _try_repo(project, pre_commit_home, "episodes/ep01.yaml", "episodes/shows/show.yaml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "podpipe validate" in ok.stdout and "Passed" in ok.stdout

    bad = _try_repo(project, pre_commit_home, "episodes/ep01.yaml", "episodes/ep02.yaml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "episodes/ep02.yaml:3:17: speakers.host.voice: unknown voice 'Kora'; did you mean 'Kore'?" in bad.stdout
