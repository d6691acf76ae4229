"""A fresh machine against a warm remote cache: `podpipe build` of 50 episodes on a new machine (empty local
cache, no outputs) whose team already built them, through a real S3 API server on loopback (moto, via s3fs).

Measured in one run, medians of 3: the wall time; the bytes fetched from the remote against the bytes the
build had to end up with (its outputs and sidecars: a ratio of 1.0 means nothing was transferred that the
build did not need); and the ratio to the same build on a machine with a warm local cache (renders cached,
outputs to mix) and to a no-op build (outputs up to date).
Run: .venv/bin/python bench/remote.py   (or `make bench`)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))

from gemini import write_episodes as write_specs  # noqa: E402

from tests.support.s3 import S3Server, environment  # noqa: E402

EPISODES, SEGMENTS, RUNS = 50, 10, 3


def write_episodes(root: Path) -> list[str]:
    return write_specs(root, EPISODES, SEGMENTS, "ep", fmt="mp3")


def build(project: Path, names: list[str], env: dict, *extra: str) -> tuple[float, dict]:
    report = project / "report.json"
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "podpipe", "build", "-q", "--report", str(report), *extra, *names],
                          cwd=project, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return wall, json.loads(report.read_text(encoding="utf-8"))


def outputs_bytes(project: Path) -> int:
    return sum(p.stat().st_size for p in (project / "build").iterdir() if p.is_file())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, S3Server() as server:
        tmp = Path(tmp)
        bucket = server.create_bucket()
        env = {k: v for k, v in os.environ.items()
               if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "PODPIPE_CACHE_DIR", "PODPIPE_REMOTE_CACHE")}
        env.update({k: v for k, v in environment(server.endpoint).items() if v is not None})
        env["PYTHONPATH"] = str(ROOT)
        remote = ["--remote-cache", f"s3://{bucket}/bench"]

        team = tmp / "team"
        names = write_episodes(team)
        t = time.perf_counter()
        build(team, names, env, *remote)  # the team's machine: renders (offline voice), mixes, shares
        first = time.perf_counter() - t

        fresh, fetched, needed = [], [], []
        for run in range(RUNS):
            machine = tmp / f"fresh-{run}"
            write_episodes(machine)
            wall, report = build(machine, names, env, *remote)
            fresh.append(wall)
            fetched.append(report["remote_cache"]["bytes_down"])
            needed.append(outputs_bytes(machine))
            assert report["totals"]["rendered"] == 0, report["totals"]

        # one run: mixing 50 episodes takes a minute, and its spread is small next to the ratio it gives
        machine = tmp / "local"
        write_episodes(machine)
        shutil.copytree(team / ".podpipe-cache", machine / ".podpipe-cache")
        mixing = [build(machine, names, env)[0]]  # warm local cache, outputs to mix
        noop = [build(machine, names, env)[0] for _ in range(RUNS)]  # and again: up to date
    m_fresh, m_mix, m_noop = (statistics.median(x) for x in (fresh, mixing, noop))
    ratio = statistics.median(f / n for f, n in zip(fetched, needed))
    print(f"""## Remote cache: a fresh machine against a warm remote, {EPISODES} episodes x {SEGMENTS} segments

Command: `.venv/bin/python bench/remote.py` (run by `make bench`); moto's S3 server on 127.0.0.1 through s3fs;
offline voice, MP3 outputs; medians of {RUNS} runs (fresh machines each on a new project directory and local
cache).

| measure | result |
|---|---|
| the team's first build (renders, mixes, uploads renders and episodes) | {first:.1f} s |
| fresh machine, warm remote: `podpipe build` wall | {m_fresh:.2f} s (runs: {', '.join(f'{x:.2f}' for x in fresh)}) |
| bytes fetched / bytes the build needed (outputs + sidecars) | {statistics.median(fetched) / 1e6:.2f} MB / {statistics.median(needed) / 1e6:.2f} MB = **{ratio:.3f}** |
| same build, warm local cache (renders cached, outputs mixed; one run) | {m_mix:.2f} s: the fresh machine takes **{m_fresh / m_mix:.2f}x** that |
| no-op build on a warm local cache (outputs up to date) | {m_noop:.2f} s: the fresh machine takes {m_fresh / m_noop:.1f}x that |

Renders on the fresh machine: 0 (every run). Target: bytes fetched / needed = 1.0 (nothing fetched that the
build did not need; the rest is the index of each finished episode).
""")


if __name__ == "__main__":
    main()
