"""Stitch benchmark: a 1 h episode of 1000 segments, podpipe's linear mix vs pydub's ``sum()``.

    .venv/bin/python bench/stitch.py [--segments 1000] [--seconds 3.6] [--pydub-budget 180]

Segments are synthetic speech-like audio (a gliding harmonic voice in syllable bursts with pauses and a
little noise), 24 kHz mono 16-bit, each a distinct buffer. podpipe's time is the whole ``mix_episode`` with
WAV export and manifest (median of 3); pydub's is only ``sum()`` of the same in-memory AudioSegments, no
export. pydub's sum is quadratic: it runs on all segments when a first measurement on a quarter of them
predicts it fits in the budget, otherwise on as many as fit and the full time is extrapolated (and said so).
Peak RSS is measured in a separate process that stitches the episode from WAV files, as a build does from
the cache. Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from podpipe.audio import read_wav, write_wav  # noqa: E402
from podpipe.audio_types import Audio  # noqa: E402
from podpipe.mix import mix_episode  # noqa: E402
from podpipe.mix.clips import from_audio, to_audio  # noqa: E402
from podpipe.spec import Episode, Output  # noqa: E402

# Issue 2's target is the stitch itself (join + WAV export + manifest); the production steps (loudness,
# transcripts, ...) on top of it are measured by bench/production.py.
STITCH_ONLY = ()
from podpipe.compile import CompiledEpisode, RequestTurn, Rundown, SpeechPiece  # noqa: E402

RATE = 24000
TARGET_SPEEDUP = 100
TARGET_RSS = 4.0


def speech_like(seconds: float, seed: int = 1) -> bytes:
    """A voice-like signal: 3-6 Hz syllables of a gliding 100-220 Hz harmonic tone, pauses, breath noise."""
    from array import array

    rng = random.Random(seed)
    out = array("h")
    t = 0
    total = int(seconds * RATE)
    while t < total:
        syllable = int(rng.uniform(0.12, 0.3) * RATE)
        f0 = rng.uniform(100, 220)
        glide = rng.uniform(-0.3, 0.3)
        amp = rng.uniform(0.2, 0.45) * 32767
        phase = 0.0
        for i in range(syllable):
            env = math.sin(math.pi * i / syllable)
            f = f0 * (1 + glide * i / syllable)
            phase += 2 * math.pi * f / RATE
            v = (math.sin(phase) + 0.5 * math.sin(2 * phase) + 0.25 * math.sin(3 * phase)) / 1.75
            out.append(int(amp * env * v + rng.gauss(0, 150)))
        pause = int(rng.choice((0.02, 0.05, 0.05, 0.25)) * RATE)
        out.extend(int(rng.gauss(0, 40)) for _ in range(pause))
        t += syllable + pause
    return out[:total].tobytes()


def gain(audio: Audio, db: float) -> Audio:
    """``audio`` ``db`` decibels louder, in a new buffer (pydub's apply_gain)."""
    return to_audio(from_audio(audio).apply_gain(db))


def make_segments(n: int, seconds: float) -> list[Audio]:
    """``n`` distinct segments cut from a 20 s source at different offsets and levels (C speed)."""
    source = speech_like(20.0)
    frames = int(round(seconds * RATE))
    span = len(source) // 2 - frames
    segments = []
    for i in range(n):
        start = (i * 7919) % span
        piece = Audio(source[2 * start:2 * (start + frames)], RATE)
        segments.append(gain(piece, -((i * 37) % 60) / 10))  # a fresh buffer per segment
    return segments


def compiled_episode(n: int, out: Path) -> CompiledEpisode:
    turn = RequestTurn("Host", "Zephyr", "synthetic")
    pieces = tuple(SpeechPiece(f"{i:064x}", f"s{i + 1}", i, ("Host",), (turn,)) for i in range(n))
    ep = Episode(path=out.parent / "bench.yaml", title="Stitch benchmark", speakers=(), segments=(),
                 output=Output(out, "wav"))
    return CompiledEpisode(ep, (), Rundown(pieces, out, "wav"))


def vm_hwm_kib() -> int | None:
    """Linux's per-process-image peak RSS, a cross-check of ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def child_rss(cache: Path, n: int, out: Path) -> None:
    """Stitch from WAV files in a fresh process; print peak RSS (KiB) before and after.

    Started before the parent allocates anything and then waits for "go" on stdin: on Linux ru_maxrss
    carries over the parent's high-water mark at exec time, so a late start would measure the parent.
    """
    sys.stdin.readline()
    compiled = compiled_episode(n, out)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    result = mix_episode(compiled, lambda key: read_wav((cache / f"{int(key, 16)}.wav").read_bytes()), steps=STITCH_ONLY)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kib": before, "peak_kib": peak, "vm_hwm_kib": vm_hwm_kib(), "seconds": seconds,
                      "duration": result.duration}))


def time_pydub(segments: list[Audio], budget: float) -> tuple[float, int, str]:
    """Seconds for ``sum()`` over all segments (measured or extrapolated), segments measured, how."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydub warns that it found no ffmpeg; audioop is deprecated on 3.11
        from pydub import AudioSegment
    segs = [AudioSegment(data=a.pcm, sample_width=2, frame_rate=a.rate, channels=1) for a in segments]
    n = len(segs)

    def run(count: int) -> float:
        t = time.perf_counter()
        total = sum(segs[:count])
        elapsed = time.perf_counter() - t
        assert len(total.raw_data) == sum(len(a.pcm) for a in segments[:count])
        return elapsed

    probe = max(1, n // 4)
    t_probe = run(probe)
    predicted = t_probe * (n / probe) ** 2
    if predicted <= budget:
        return run(n), n, f"measured on all {n} segments"
    count = max(probe, min(n, int(n * math.sqrt(budget / predicted))))
    t_count = run(count)
    return (t_count * (n / count) ** 2, count,
            f"extrapolated quadratically from {count} segments ({t_count:.1f} s); not run in full")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segments", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.6)
    parser.add_argument("--pydub-budget", type=float, default=180.0, help="seconds pydub may run in full")
    parser.add_argument("--child-rss", nargs=3, metavar=("CACHE", "N", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rss:
        cache, n, out = args.child_rss
        return child_rss(Path(cache), int(n), Path(out))

    n = args.segments
    tmp_dir = tempfile.TemporaryDirectory(prefix="podpipe-bench-")
    tmp_path = Path(tmp_dir.name)
    cache = tmp_path / "cache"
    rss_child = subprocess.Popen([sys.executable, __file__, "--child-rss", str(cache), str(n),
                                  str(tmp_path / "rss" / "episode.wav")],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    print(f"generating {n} segments of {args.seconds} s…", file=sys.stderr, flush=True)
    segments = make_segments(n, args.seconds)
    pcm_bytes = sum(len(a.pcm) for a in segments)
    hours = pcm_bytes / 2 / RATE / 3600
    with tmp_dir:
        compiled = compiled_episode(n, tmp_path / "out" / "episode.wav")
        by_key = {f"{i:064x}": a for i, a in enumerate(segments)}
        times = []
        for _ in range(3):
            t = time.perf_counter()
            result = mix_episode(compiled, by_key.__getitem__, steps=STITCH_ONLY)
            times.append(time.perf_counter() - t)
        podpipe_s = statistics.median(times)
        assert result.output.stat().st_size >= pcm_bytes

        cache.mkdir()
        for i, a in enumerate(segments):
            with open(cache / f"{i}.wav", "wb") as f:
                write_wav(a, f)
        print("peak RSS in a fresh process…", file=sys.stderr, flush=True)
        stdout, _ = rss_child.communicate("go\n")
        if rss_child.returncode:
            sys.exit(f"the RSS child process failed (exit {rss_child.returncode})")
        rss = json.loads(stdout)

    print("pydub sum()…", file=sys.stderr, flush=True)
    pydub_s, measured, how = time_pydub(segments, args.pydub_budget)
    speedup = pydub_s / podpipe_s
    peak_mb, base_mb, pcm_mb = rss["peak_kib"] / 1024, rss["before_kib"] / 1024, pcm_bytes / 2 ** 20
    ratio = rss["peak_kib"] * 1024 / pcm_bytes

    hwm = f"; VmHWM {rss['vm_hwm_kib'] / 1024:.0f} MiB" if rss.get("vm_hwm_kib") else ""
    ok = lambda good: "✓" if good else "✗"  # noqa: E731
    print(f"""## Stitch: {hours:.2f} h episode of {n} segments

Command: `.venv/bin/python bench/stitch.py --segments {n} --seconds {args.seconds}`

{n} distinct segments of {args.seconds} s synthetic speech-like audio, 24 kHz mono 16-bit
(PCM {pcm_mb:.1f} MiB).

| measurement | result | target |
|---|---|---|
| podpipe `mix_episode(steps=())` (stitch + WAV export + manifest), median of 3 | {podpipe_s:.3f} s | |
| pydub `sum()` of the same AudioSegments (no export) | {pydub_s:.1f} s ({how}) | |
| speed-up | **{speedup:.0f}×** | ≥ {TARGET_SPEEDUP}× {ok(speedup >= TARGET_SPEEDUP)} |
| peak RSS of a fresh process stitching from WAV files | {peak_mb:.0f} MiB = **{ratio:.2f}× PCM** (interpreter + imports before stitching: {base_mb:.0f} MiB{hwm}; stitch took {rss['seconds']:.2f} s) | ≤ {TARGET_RSS:.0f}× {ok(ratio <= TARGET_RSS)} |
""")


if __name__ == "__main__":
    main()
