"""One project built once per test module against the loopback Gemini stand-in, and a fresh copy of it for each
test: the build is paid once, and every test may change the spec and build again without touching the others."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.standin import Fault, Recorded, StandIn

# A three-line episode, Puck reading the middle line (s2), the others Zephyr's; its output is eps/ep.wav.
SPEC = """\
title: Takes
model: gemini-3.8-flash-tts
speakers:
  host: {voice: Zephyr, name: Alex}
  guest: {voice: Puck, name: Sam}
segments:
  - host: Welcome back to the show, where we read the news of the week out loud.
  - guest: I counted eleven buses this morning and every single one of them was late.
  - host: Thank you all for listening, and we will be back at the same time next week.
output: {format: wav, path: eps/ep.wav}
"""

# Environment the SDK or podpipe reads that must not leak in from the developer's shell (as the root conftest's
# gemini_server fixture clears it).
CLEARED = ("GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GENAI_API_VERSION",
           "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_GENAI_HTTP_CLIENT", "PODPIPE_CACHE_DIR")


def _point_at(mp: pytest.MonkeyPatch, server: StandIn) -> None:
    for name in CLEARED:
        mp.delenv(name, raising=False)
    mp.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
    mp.setenv("GEMINI_API_KEY", server.api_key)


@contextlib.contextmanager
def built_project(root: Path, spec: str, *build_args: str,
                  fault_fn: Callable[[Recorded], Fault | None] | None = None) -> Iterator[tuple[Path, StandIn]]:
    """``root`` with ``eps/ep.yaml`` (``spec``) built by ``podpipe build --rpm 0 ARGS`` against a stand-in
    (answering through ``fault_fn``), which keeps running until the block ends."""
    (root / "eps").mkdir(parents=True)
    (root / "eps" / "ep.yaml").write_text(spec, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp, StandIn() as server:
        _point_at(mp, server)
        server.fault_fn = fault_fn
        mp.chdir(root)
        run("build", "--rpm", "0", *build_args, "eps/ep.yaml")
        yield root, server


def project_copy(built: tuple[Path, StandIn], to: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, StandIn, int]:
    """A copy of a ``built_project`` at ``to``, made the working directory; the stand-in, and how many
    speech requests it had answered when the copy was made."""
    root, server = built
    shutil.copytree(root, to)
    monkeypatch.chdir(to)
    _point_at(monkeypatch, server)
    return to, server, len(server.generate_requests())
