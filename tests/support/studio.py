"""A small project for the studio's tests, built for real with the offline voice, and ``podpipe studio``
running on it as a process (its URL, with the token, read from its first line).

Segment ids: s1 a line of the host's, s2 the guest's, s3 a dialogue, s4 a pause, s5 the host's last line
(with a style). The guest's voice is held to a noise threshold no take can meet, with no re-rolls, so the
guest's lines are flagged by take review at no extra cost. The spec carries comments and quoting the studio must keep."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

EPISODE = """\
# The studio's test episode: comments, quoting and key order must survive every edit.
title: "Studio test"
speakers:
  host: {voice: Zephyr, name: Alex}   # the host
  guest: {voice: Puck, name: Sam}
review:
  retakes: 0
  voices:
    Puck: {noise: 0.0001}   # every take of Sam's is flagged
output:
  path: build/studio-test.mp3
  format: mp3
segments:
  - chapter: Hello
    host: Welcome to the studio test.
  - guest: 'Thanks for having me here.'
  - dialogue:
      - host: So, what brings you to the studio?
      - guest: The takes, mostly. And the coffee.
  - pause: 0.5
  - chapter: Goodbye
    host: That is all for today. Goodbye.
    style: warm and slow
"""

CLEAN = {"GEMINI_API_KEY", "GOOGLE_API_KEY", "PODPIPE_CACHE_DIR", "PODPIPE_REMOTE_CACHE"}


def write_project(project: Path) -> Path:
    """The test episode in ``project``; returns its spec."""
    spec = project / "ep.yaml"
    spec.write_text(EPISODE, encoding="utf-8")
    return spec


def built_project(tmp_path_factory) -> Path:
    """The test episode written and built (``podpipe build``, offline voice, the project's own cache) in a
    fresh folder; for a module-scoped fixture."""
    import pytest

    from tests.support.cli import run

    project = tmp_path_factory.mktemp("studio") / "project"
    project.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        for var in CLEAN:
            mp.delenv(var, raising=False)
        write_project(project)
        run("build", "ep.yaml")
    return project


def offline_env() -> dict[str, str]:
    """The environment without API keys or cache settings: the offline voice, the project's own cache."""
    return {k: v for k, v in os.environ.items() if k not in CLEAN}


@contextmanager
def studio_process(project: Path, *specs: str):
    """``podpipe studio SPECS --no-browser`` in ``project`` on a free port; yields its URL (with the token)."""
    process = subprocess.Popen([sys.executable, "-m", "podpipe", "studio", *specs, "--no-browser"], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=offline_env())
    try:
        line = process.stdout.readline()  # blocks until the server listens and says where
        found = re.search(r"(http://127\.0\.0\.1:\d+/\?token=[\w-]+)", line)
        if not found:
            process.kill()
            raise AssertionError(f"podpipe studio did not start: {line!r} {process.stderr.read()}")
        yield found.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
