"""The shared cache under real faults (issue 24): a fleet building at once, and a store that never answers.

1. Concurrency: 3 machines (3 projects, 3 local caches) build the same 8 episodes at the same moment against
   one remote cache on a real S3 API server (moto on loopback, through s3fs), with the Gemini backend against
   the loopback stand-in at 200 ms latency, which counts what is paid for. Measured: renders paid against
   distinct keys (target: equal), finished-episode uploads against episodes (target: equal), and the
   fleet's wall time against one machine building alone. Median of 3 runs (a fresh bucket each).
2. Hung endpoint: the remote cache's endpoint accepts connections and never answers (a loopback socket).
   A 2-episode build with --remote-cache-timeout 5 against the same build with no remote cache: the extra
   time must stay within the deadline (it used to be 20+ minutes). Median of 3 runs.
Run: .venv/bin/python bench/fleet.py   (or `make bench`)
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gemini import write_episodes  # noqa: E402

from tests.support.blackhole import Blackhole  # noqa: E402
from tests.support.s3 import S3Server, environment  # noqa: E402
from tests.support.standin import StandIn  # noqa: E402

MACHINES, EPISODES, LINES, RUNS, DEADLINE = 3, 8, 6, 3, 5.0


def _env(server: StandIn, store_env: dict) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOOGLE_API_KEY", "PODPIPE_CACHE_DIR", "PODPIPE_REMOTE_CACHE", "PODPIPE_REMOTE_CACHE_MODE")}
    env.update({k: v for k, v in store_env.items() if v is not None})
    env.update(GOOGLE_GEMINI_BASE_URL=server.url, GEMINI_API_KEY=server.api_key, PYTHONPATH=str(ROOT))
    return env


def _start(project: Path, names: list[str], env: dict, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "podpipe", "build", "--backend", "gemini", "--rpm", "0", "-j", "4",
                             "--mix-jobs", "1", *extra, *names], cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> str:
    out = proc.communicate(timeout=900)[0]
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}):\n{out}")
    return out


def concurrency() -> dict:
    paid, keys, uploads, fleet, alone = [], [], [], [], []
    with S3Server() as s3, StandIn(latency=0.2) as gemini, tempfile.TemporaryDirectory() as tmp:
        env = _env(gemini, environment(s3.endpoint))
        for run in range(RUNS):
            base = Path(tmp) / f"run{run}"
            remote = ["--remote-cache", f"s3://{s3.create_bucket()}/fleet"]
            projects = [base / f"m{i}" for i in range(MACHINES)]
            names = [write_episodes(p, EPISODES, LINES, "fleet", fmt="mp3") for p in projects][0]
            gemini.reset()
            t = time.perf_counter()
            procs = [_start(p, names, env, *remote) for p in projects]
            outs = [_finish(p) for p in procs]
            fleet.append(time.perf_counter() - t)
            bodies = [str(r.body) for r in gemini.generate_requests() if r.status == 200]
            paid.append(len(bodies))
            keys.append(len(set(bodies)))
            uploads.append(sum(int(m.group(1)) for out in outs for m in re.finditer(r"(\d+) episodes? uploaded", out)))
            solo = base / "alone"
            write_episodes(solo, EPISODES, LINES, "fleet", fmt="mp3")
            gemini.reset()
            t = time.perf_counter()
            _finish(_start(solo, names, env))  # one machine, no remote cache (renders are the stand-in's again)
            alone.append(time.perf_counter() - t)
    return dict(paid=paid, keys=keys, uploads=uploads, fleet=fleet, alone=alone)


def hung() -> dict:
    with_hole, without = [], []
    with StandIn(latency=0.0) as gemini, tempfile.TemporaryDirectory() as tmp, Blackhole() as hole:
        env = _env(gemini, environment(hole.url))
        for run in range(RUNS):
            for label, extra, sink in (("hung", ["--remote-cache", "s3://hung-bucket/fleet", "--remote-cache-timeout",
                                                 str(DEADLINE)], with_hole), ("none", [], without)):
                project = Path(tmp) / f"{label}{run}"
                names = write_episodes(project, 2, LINES, f"hung{run}", fmt="mp3")
                t = time.perf_counter()
                out = _finish(_start(project, names, env, *extra))
                sink.append(time.perf_counter() - t)
                if label == "hung" and "no answer within" not in out:
                    raise SystemExit(f"no warning about the hung store:\n{out}")
    return dict(hung=with_hole, none=without)


def main() -> None:
    c = concurrency()
    h = hung()
    med = statistics.median
    runs = lambda xs: ", ".join(f"{x:.1f}" for x in xs)  # noqa: E731
    print(f"""## The shared cache under real faults: a fleet at once, a store that never answers

Command: `.venv/bin/python bench/fleet.py` (run by `make bench`); moto's S3 server on 127.0.0.1 through s3fs;
the Gemini backend against the loopback stand-in (it counts the requests paid for); MP3 outputs; medians of
{RUNS} runs.

{MACHINES} machines build the same {EPISODES} episodes x {LINES} lines at the same moment (-j 4 each, 200 ms
stand-in latency):

| measure | result |
|---|---|
| renders paid / distinct keys | {runs(c['paid'])} / {runs(c['keys'])} (target: equal, every run) |
| finished episodes uploaded (the fleet) / episodes | {', '.join(map(str, c['uploads']))} / {EPISODES} (target: equal) |
| the fleet's wall (all {MACHINES} done) | {med(c['fleet']):.1f} s (runs: {runs(c['fleet'])}) |
| one machine alone, no remote cache | {med(c['alone']):.1f} s (runs: {runs(c['alone'])}) |

A remote cache endpoint that accepts connections and never answers, 2 episodes x {LINES} lines,
`--remote-cache-timeout {DEADLINE:g}`:

| measure | result |
|---|---|
| build against the hung store (exit 0, warned) | {med(h['hung']):.1f} s (runs: {runs(h['hung'])}) |
| the same build without a remote cache | {med(h['none']):.1f} s (runs: {runs(h['none'])}) |
| time the hung store cost | **{med(h['hung']) - med(h['none']):.1f} s** (bound: the deadline, {DEADLINE:g} s) |
""")


if __name__ == "__main__":
    main()
