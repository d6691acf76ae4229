"""Gemini backend benchmarks against the loopback stand-in (real google-genai client, no network).

1. 64 requests at 200 ms latency: `podpipe build -j 8` render wall vs the ideal 64 x 0.2 / 8 s (target
   <= 1.15x), and the ratio to -j 1. The build runs as a subprocess (the product path, client and server in
   separate processes); wall is the report's render phase, median of 5 runs with a fresh cache each.
2. --rpm 120 at zero latency: the most requests the server saw in any window never exceeds the limit, and the
   run is no slower than the limit requires. Scaled 10x: a 6 s window (120 per 6 s) over 300 requests, run
   in-process through the library's Scheduler (the CLI has no window knob by design).
3. 30 % of first attempts failing (mixed 429 / 500 / finishReason OTHER): every episode completes, and the
   report's attempt counts match what the server saw.

Run: .venv/bin/python bench/gemini.py   (or `make bench`)
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

from tests.support.standin import StandIn  # noqa: E402

VOICES = ["Zephyr", "Puck", "Kore", "Charon"]


def write_episodes(root: Path, episodes: int, lines: int, tag: str, fmt: str = "wav") -> list[str]:
    """``episodes`` two-speaker specs of ``lines`` one-line segments in ``root``; their file names."""
    root.mkdir(parents=True, exist_ok=True)
    names = []
    for e in range(episodes):
        body = [f"title: Bench {tag} {e}", "speakers:", "  host: {voice: Zephyr, name: Alex}",
                "  guest: {voice: Puck, name: Sam}", f"output: {{format: {fmt}}}", "segments:"]
        body += [f"  - {'host' if i % 2 else 'guest'}: Run {tag}, episode {e}, line {i} of the benchmark."
                 for i in range(lines)]
        name = f"{tag}{e:02d}.yaml"
        (root / name).write_text("\n".join(body) + "\n", encoding="utf-8")
        names.append(name)
    return names


def run_build(server: StandIn, root: Path, names: list[str], *args: str) -> tuple[dict, int, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_API_KEY",)}
    env.update(GOOGLE_GEMINI_BASE_URL=server.url, GEMINI_API_KEY=server.api_key)
    shutil.rmtree(root / "build", ignore_errors=True)  # an up-to-date output would skip rendering
    cache = tempfile.mkdtemp(dir=root, prefix="cache-")
    report = root / f"report-{time.monotonic_ns()}.json"
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "podpipe", "build", "-q", "--backend", "gemini", "--cache-dir",
                           cache, "--report", str(report), *args, *names], cwd=root, env=env,
                          capture_output=True, text=True)
    process_wall = time.monotonic() - t
    if not report.exists():
        raise SystemExit(f"build failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(report.read_text()), proc.returncode, process_wall


def bench_parallel(root: Path) -> str:
    names = write_episodes(root, 1, 64, "par")
    ideal8, ideal1 = 64 * 0.2 / 8, 64 * 0.2
    walls, whole = {}, {}
    with StandIn(latency=0.2) as server:
        for jobs in (8, 1):
            runs, processes = [], []
            for _ in range(5 if jobs == 8 else 1):
                report, code, process_wall = run_build(server, root, names, "-j", str(jobs), "--rpm", "0")
                assert code == 0 and report["totals"]["rendered"] == 64, report["totals"]
                runs.append(report["totals"]["render_wall_seconds"])
                processes.append(process_wall)
            walls[jobs], whole[jobs] = runs, statistics.median(processes)
    m8, m1 = statistics.median(walls[8]), statistics.median(walls[1])
    return f"""### Parallel rendering: 64 requests, 200 ms stand-in latency

Command: `.venv/bin/python bench/gemini.py` (run by `make bench`); `podpipe build --backend gemini -j N --rpm 0`
as a subprocess against the stand-in (in the benchmark's process; each answer leaves 200 ms after its request
arrived); render-phase wall from `--report` (first attempt to last entry stored); -j 8 median of 5, -j 1 one
run. The whole `podpipe build` process (interpreter start, imports, client set-up, mixing the 64 lines into
a WAV) is shown for comparison.

| jobs | render wall (s) | ideal (s) | ratio to ideal | whole process (s) |
|---|---|---|---|---|
| 8 | {m8:.2f} (runs: {", ".join(f"{w:.2f}" for w in walls[8])}) | {ideal8:.2f} | {m8 / ideal8:.3f}x | {whole[8]:.2f} |
| 1 | {m1:.2f} | {ideal1:.2f} | {m1 / ideal1:.3f}x | {whole[1]:.2f} |

Speed-up -j 8 over -j 1: {m1 / m8:.1f}x. Target -j 8 <= 1.15x ideal: {"met" if m8 / ideal8 <= 1.15 else "NOT met"}.
"""


def bench_rpm(root: Path) -> str:
    from podpipe.backends.gemini import GeminiBackend
    from podpipe.cache import FileStore
    from podpipe.compile import compile_episode
    from podpipe.render import RenderOptions, Scheduler
    from podpipe.spec import load_episodes

    count, rpm, window = 300, 120, 6.0
    names = write_episodes(root, 1, count, "rpm")
    episode = load_episodes([root / n for n in names], root=root).episodes[0]
    requests = compile_episode(episode, GeminiBackend.target(episode.model)).requests
    with StandIn(latency=0.0) as server:
        os.environ.update(GOOGLE_GEMINI_BASE_URL=server.url, GEMINI_API_KEY=server.api_key)
        os.environ.pop("GOOGLE_API_KEY", None)
        backend = GeminiBackend()
        backend.prepare()
        store = FileStore(Path(tempfile.mkdtemp(dir=root)))
        t = time.monotonic()
        result = Scheduler(backend, store, RenderOptions(jobs=8, rpm=rpm, rate_window=window)).run(requests)
        wall = time.monotonic() - t
        backend.close()
        worst = server.max_in_window(window)
        seen = len(server.generate_requests())
    assert not result.failed and seen == count
    floor = (-(-count // rpm) - 1) * window  # full windows the limit forces us to wait
    return f"""### Rate limit: --rpm {rpm}, zero latency (scaled 10x: {rpm} per {window:.0f} s window)

{count} requests, -j 8, in-process Scheduler + GeminiBackend against the stand-in.

| measure | value |
|---|---|
| most requests the server saw in any {window:.0f} s window | {worst} (limit {rpm}) |
| wall | {wall:.2f} s |
| least wall the limit allows | {floor:.2f} s |
| ratio wall / floor | {wall / floor:.3f}x (the limiter keeps a 1 s-per-minute arrival margin: 1.017x) |

Limit respected: {"yes" if worst <= rpm else "NO"}.
"""


def bench_faults(root: Path) -> str:
    names = write_episodes(root, 4, 16, "flt")
    with StandIn(latency=0.0) as server:
        server.fail_first_attempts(0.3, kinds=("429", "500", "other"))
        report, code, _ = run_build(server, root, names, "-j", "8", "--rpm", "0")
        seen = server.generate_requests()
        faulted = sum(1 for r in seen if r.fault)
    totals = report["totals"]
    complete = all(e["state"] == "built" for e in report["episodes"])
    matches = totals["attempts"] == len(seen) and totals["failed_attempts"] == faulted
    return f"""### Faults: 30 % of first attempts fail (mixed 429 / 500 / finishReason OTHER)

4 episodes x 16 lines, `podpipe build --backend gemini -j 8 --rpm 0 --report ...` (exit {code}).

| measure | report | server |
|---|---|---|
| requests | {totals["requests"]} | distinct bodies: {totals["requests"]} |
| attempts | {totals["attempts"]} | {len(seen)} |
| failed attempts | {totals["failed_attempts"]} | {faulted} |
| renders failed in the end | {totals["failed"]} | |

Every episode built: {"yes" if complete else "NO"}; report attempt counts match the server: {"yes" if matches else "NO"}.
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for bench in (bench_parallel, bench_rpm, bench_faults):
            sub = root / bench.__name__
            sub.mkdir()
            print(bench(sub), flush=True)


if __name__ == "__main__":
    main()
