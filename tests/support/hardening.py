"""Helpers shared by the test_hardening_* modules (no tests here): real ``podpipe`` processes, specs, checks.

The hardening tests run podpipe the way CI does, as separate processes (``python -m podpipe``), because
what they prove — locks between processes, kill -9, read-only directories — cannot be seen in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from podpipe.cache import FileStore, verify

# Environment that must not leak in from the developer's shell into a child podpipe.
_SCRUB = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "PODPIPE_CACHE_DIR", "PODPIPE_DEBUG",
          "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GENAI_API_VERSION",
          "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_GENAI_HTTP_CLIENT")

# Two episodes that share lines (one key used by both) so cross-episode dedup and locks are both exercised.
SPEC_A = """\
title: Hardening A
speakers:
  host: {voice: Zephyr, name: Alex}
  guest: {voice: Puck, name: Sam}
segments:
  - host: Welcome back to the show about concurrent builds.
  - guest: Thanks, glad to be here again.
  - dialogue:
      - host: Did two builds ever pay twice?
      - guest: Never once, the lock saw to that.
  - pause: 0.2
  - host: That is all for today.
output: {format: wav}
"""

SPEC_B = """\
title: Hardening B
speakers:
  host: {voice: Zephyr, name: Alex}
  third: {voice: Kore, name: Kim}
segments:
  - host: Welcome back to the show about concurrent builds.
  - third: Today we kill the build at random.
  - third: And then we build it again.
  - host: That is all for today.
output: {format: wav}
"""


def child_env(server=None, **extra: str) -> dict[str, str]:
    """The environment for a child podpipe: scrubbed, pointed at ``server`` (a StandIn) when given."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    if server is not None:
        env["GOOGLE_GEMINI_BASE_URL"] = server.url
        env["GEMINI_API_KEY"] = server.api_key
    env.update(extra)
    return env


def podpipe_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "podpipe", *args]


def run_podpipe(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(podpipe_cmd(*args), cwd=cwd, env=env if env is not None else child_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)


def spawn_podpipe(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(podpipe_cmd(*args), cwd=cwd, env=env if env is not None else child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def write_specs(project: Path) -> list[str]:
    project.mkdir(parents=True, exist_ok=True)
    (project / "a.yaml").write_text(SPEC_A, encoding="utf-8")
    (project / "b.yaml").write_text(SPEC_B, encoding="utf-8")
    return ["a.yaml", "b.yaml"]


def body_counts(server) -> dict[str, int]:
    """How many times the stand-in saw each distinct generateContent body (a body is one render's content)."""
    counts: dict[str, int] = {}
    for rec in server.generate_requests():
        body = json.dumps(rec.body, sort_keys=True)
        counts[body] = counts.get(body, 0) + 1
    return counts


def assert_cache_clean(cache_dir: Path) -> int:
    """``podpipe cache verify``'s check, in-process: no damaged entry, no orphan. Returns the entries ok."""
    result = verify(FileStore(cache_dir))
    assert result.clean, result.problems
    assert not result.unexpected, result.unexpected
    return result.ok


def assert_outputs_whole(project: Path) -> list[Path]:
    """Every output under build/ is complete: its manifest names it and its sha256/size match, and no temp
    file is left. Returns the outputs found (an output may be absent; a half-written one may not exist)."""
    import hashlib

    build = project / "build"
    found = []
    for manifest in sorted(build.glob("*.manifest.json")) if build.exists() else []:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        output = build / Path(data["output"]["path"]).name if isinstance(data.get("output"), dict) else None
        assert output is not None and output.exists(), (manifest, data.get("output"))
        digest = hashlib.sha256(output.read_bytes()).hexdigest()
        assert digest == data["output"]["sha256"], f"{output} does not match its manifest"
        found.append(output)
    for path in build.glob("*.wav") if build.exists() else []:
        assert path in found, f"{path} has no manifest"
    return found


def record_figure(name: str, value: int) -> None:
    """Add ``value`` to figure ``name`` in the JSON file ``$PODPIPE_HARDENING_FIGURES`` (when set).

    TESTING.md's figures come from a run with that variable set; without it nothing is written.
    """
    target = os.environ.get("PODPIPE_HARDENING_FIGURES")
    if not target:
        return
    path = Path(target)
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = data.get(name, 0) + value
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
