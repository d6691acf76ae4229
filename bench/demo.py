"""`make demo`'s build step (`podpipe build episodes/*.yaml`: renders + mixes of the 3 examples, offline
voice, cold cache, no outputs) at the commit before parallel mixing against the code here.

The baseline is the tree of commit BASELINE (`git archive`), run by the same interpreter with
`PYTHONPATH=<that tree>`; this tree runs with its default `--mix-jobs` (one per core), with `--mix-jobs 1`
(what the parallel mixes alone give) and with `--mix-jobs 3` (more mixes than cores). They alternate, each
round in a rotated order so that none always runs first or after the same neighbour; medians of RUNS each
and the ratios of the medians, plus each round's own ratio (the machine is shared: only figures from one
run are compared).

Run: .venv/bin/python bench/demo.py   (or `make bench`)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASELINE = "6ce4673"  # before issue 12: episodes mixed one after another, after every render
RUNS = 3


def cores() -> str:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return f"{affinity} usable of {os.cpu_count()}" if affinity and affinity != os.cpu_count() else str(os.cpu_count())


def extract_baseline(into: Path) -> Path:
    tree = into / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", BASELINE], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def which_podpipe(project: Path, code_root: Path, env: dict) -> Path:
    """The package a build in ``project`` imports with ``code_root`` on the path (not the editable install)."""
    out = subprocess.run([sys.executable, "-c", "import podpipe; print(podpipe.__file__)"], cwd=project,
                         capture_output=True, text=True, check=True, env={**env, "PYTHONPATH": str(code_root)}).stdout
    return Path(out.strip()).parent


def timed_build(project: Path, code_root: Path, env: dict, args: list[str]) -> float:
    for cold in (project / ".podpipe-cache", project / "build"):
        shutil.rmtree(cold, ignore_errors=True)
    specs = sorted(str(p.relative_to(project)) for p in (project / "episodes").glob("*.yaml"))
    cmd = [sys.executable, "-m", "podpipe", "build", *args, *specs]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, env={**env, "PYTHONPATH": str(code_root)}, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or "3 episodes built" not in proc.stdout:
        raise SystemExit(f"{' '.join(cmd)} with {code_root} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def head_revision() -> str:
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "podpipe"], capture_output=True,
                           text=True).stdout.strip()
    return f"{rev or 'unknown'}{' + uncommitted changes' if dirty else ''}"


def main() -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY") and not k.startswith("PODPIPE_")}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        baseline = extract_baseline(root)
        project = root / "project"
        # the baseline's own copy of the examples: the same audio work for both (the later feed fields, which
        # the baseline's schema does not know, change no render and no mix)
        shutil.copytree(baseline / "episodes", project / "episodes")
        for code_root in (baseline, REPO):
            found = which_podpipe(project, code_root, env)
            if found != code_root / "podpipe":
                raise SystemExit(f"PYTHONPATH={code_root} imports {found}, not that tree")
        variants = {"baseline": (baseline, []), "head": (REPO, []), "head -j1": (REPO, ["--mix-jobs", "1"]),
                    "head -j3": (REPO, ["--mix-jobs", "3"])}
        load_before = os.getloadavg()[0]
        names = list(variants)
        times: dict[str, list[float]] = {name: [] for name in names}
        for run in range(RUNS):
            order = names[run % len(names):] + names[:run % len(names)]
            for name in order:
                code_root, args = variants[name]
                times[name].append(timed_build(project, code_root, env, args))
                print(f"round {run + 1}: {name}: {times[name][-1]:.2f} s", file=sys.stderr, flush=True)

    med = {name: statistics.median(t) for name, t in times.items()}
    load_after = os.getloadavg()[0]

    def runs(name: str) -> str:
        return ", ".join(f"{t:.2f}" for t in times[name])

    per_round = ", ".join(f"{b / h:.2f}x" for b, h in zip(times["baseline"], times["head"]))
    speedup = med["baseline"] / med["head"]
    print("## Parallel mixing: `make demo`'s build step, cold cache\n")
    print(f"Command: `.venv/bin/python bench/demo.py` (run by `make bench`); `podpipe build episodes/*.yaml` (the "
          f"3 examples, offline voice, 40 renders, MP3 outputs) in a fresh copy of `episodes/`, cache and outputs "
          f"deleted before every run; commit {BASELINE} (before parallel mixing, from `git archive`) against "
          f"this tree ({head_revision()}), same interpreter, {RUNS} rounds in rotated order, medians. "
          f"Cores: {cores()}; 1-minute load average {load_before:.1f} before, {load_after:.1f} after (what else "
          f"the shared machine was running).\n")
    print("| code | build wall, median (s) | runs (s) | baseline / this |")
    print("|---|---|---|---|")
    print(f"| {BASELINE}: renders, then mixes one after another | {med['baseline']:.2f} | {runs('baseline')} | 1.00x |")
    print(f"| this tree, default `--mix-jobs` (one per core) | {med['head']:.2f} | {runs('head')} | "
          f"**{speedup:.2f}x** |")
    print(f"| this tree, `--mix-jobs 1` | {med['head -j1']:.2f} | {runs('head -j1')} | "
          f"{med['baseline'] / med['head -j1']:.2f}x |")
    print(f"| this tree, `--mix-jobs 3` (all 3 episodes at once: more processes than cores) | {med['head -j3']:.2f} | "
          f"{runs('head -j3')} | {med['baseline'] / med['head -j3']:.2f}x |")
    print(f"\nEach round's own ratio baseline / this tree: {per_round}. Parallel mixing alone (`--mix-jobs 1` / "
          f"default): {med['head -j1'] / med['head']:.2f}x. Target: >= 2x on 2 cores: "
          f"{'met' if speedup >= 2 else 'not met'}.")


if __name__ == "__main__":
    main()
