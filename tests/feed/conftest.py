"""The feed tests' show: built once per session with the offline voice, copied for each test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.show import write_show


@pytest.fixture(scope="session")
def built_show(tmp_path_factory) -> Path:
    """The show built once per session (renders cached inside it); copy it with ``show_copy`` to change it."""
    project = tmp_path_factory.mktemp("show")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "PODPIPE_CACHE_DIR"):
            mp.delenv(var, raising=False)
        run("build", *write_show(project))
    return project


@pytest.fixture
def show(built_show, tmp_path, monkeypatch) -> Path:
    """A private copy of the built show, made the working directory (offline voice, no keys)."""
    project = tmp_path / "project"
    shutil.copytree(built_show, project, copy_function=shutil.copy2)
    monkeypatch.chdir(project)
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "PODPIPE_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)
    return project
