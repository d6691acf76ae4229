"""No-op rebuild of 50 generated episodes x 40 segments (all cached, outputs up to date).

Target: <= 1.0 s wall including interpreter start; also reported as a ratio to `python -c pass`.
Run: .venv/bin/python bench/noop.py   (or `make bench`)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EPISODES, SEGMENTS, RUNS = 50, 40, 7
VOICES = ["Zephyr", "Puck", "Kore"]


def write_episodes(root: Path) -> list[str]:
    names = []
    for e in range(EPISODES):
        lines = [f"title: 'Bench episode {e}'", "speakers:", "  host: {voice: Zephyr, name: Alex}",
                 "  guest: {voice: Puck, name: Sam}", "output: {format: wav}", "segments:"]
        for s in range(SEGMENTS):
            if s % 10 == 9:
                lines += ["  - dialogue:", f"      - host: Episode {e}, question {s}?",
                          f"      - guest: Answer {s} to that, in episode {e}."]
            else:
                who = "host" if s % 2 else "guest"
                lines.append(f"  - {who}: Line {s} of episode {e}, short and to the point.")
        name = f"ep{e:02d}.yaml"
        (root / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        names.append(name)
    return names


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def main() -> None:
    podpipe = [sys.executable, "-m", "podpipe"]
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names = write_episodes(root)
        t = time.perf_counter()
        timed([*podpipe, "build", "-q", *names], root, env)
        first = time.perf_counter() - t
        noop = [timed([*podpipe, "build", *names], root, env) for _ in range(RUNS)]
        bare = [timed([sys.executable, "-c", "pass"], root, env) for _ in range(RUNS)]
        out = subprocess.run([*podpipe, "build", *names], cwd=root, env=env, capture_output=True, text=True).stdout
    m_noop, m_bare = statistics.median(noop), statistics.median(bare)
    assert out.count("up to date") >= EPISODES, out
    print(f"""### No-op rebuild: {EPISODES} episodes x {SEGMENTS} segments

Command: `.venv/bin/python bench/noop.py` (run by `make bench`); {RUNS} runs each, medians.

| measure | seconds |
|---|---|
| first build (espeak renders {EPISODES * SEGMENTS} segments + mix) | {first:.2f} |
| no-op `podpipe build` (median) | {m_noop:.3f} (min {min(noop):.3f}, max {max(noop):.3f}) |
| `python -c pass` (median) | {m_bare:.3f} |
| ratio no-op / bare interpreter | {m_noop / m_bare:.1f}x |

Target <= 1.0 s: {"met" if m_noop <= 1.0 else "NOT met"}.
""")


if __name__ == "__main__":
    main()
