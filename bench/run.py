"""`make bench`: run every benchmark in one process tree and write BENCHMARKS.md with their results."""

from __future__ import annotations

import datetime
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHES = ["noop.py", "demo.py", "stitch.py", "production.py", "remix.py", "gemini.py", "remote.py", "fleet.py",
           "review.py", "quota.py"]


def main() -> None:
    sections = []
    for name in BENCHES:
        script = HERE / name
        if not script.exists():
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        sys.stderr.write(proc.stderr)
        body = proc.stdout if proc.returncode == 0 else f"FAILED (exit {proc.returncode}):\n```\n{proc.stderr[-2000:]}\n```\n"
        sections.append(body.strip())
        print(body, flush=True)
    header = (f"# Benchmarks\n\nProduced by `make bench` (= `.venv/bin/python bench/run.py`) on "
              f"{datetime.date.today()}, Python {platform.python_version()}, {platform.machine()}, "
              f"2 shared cores: figures are medians or ratios measured within one run.\n")
    (HERE.parent / "BENCHMARKS.md").write_text(header + "\n" + "\n\n".join(sections) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
