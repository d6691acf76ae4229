"""Production-audio benchmark: a 1 h episode of 1000 pieces from two speakers 8 dB apart; every fourth piece
is a two-speaker dialogue render (both voices in one render, a pause between them).

    .venv/bin/python bench/production.py [--segments 1000] [--seconds 3.6]

Measures, each in a fresh process started before anything is allocated (so ru_maxrss is its own):
- stitch + speaker leveling + loudness normalization + true-peak limiting + WAV export + transcripts
  (the whole ``mix_episode`` to WAV, default steps): wall time and peak RSS as a multiple of the PCM size;
- MP3 export of the finished audio (``export.export``; loudness off, so no re-check) as a ratio to a bare
  ``ffmpeg`` encode of the same WAV with the same encoder settings (the encoder is the floor): medians of
  three runs of each, interleaved.
Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from stitch import RATE, gain, make_segments  # noqa: E402

from podpipe.audio import ffmpeg_exe, read_wav, write_wav  # noqa: E402
from podpipe.audio_types import Audio  # noqa: E402
from podpipe.compile import CompiledEpisode, RequestTurn, Rundown, SpeechPiece  # noqa: E402
from podpipe.mix import MixContext, episode_tags, export, mix_episode  # noqa: E402
from podpipe.spec import Episode, MusicBed, Output  # noqa: E402

TARGET_RSS = 4.0
RUNS = 3


def is_dialogue(i: int) -> bool:
    return i % 4 == 3


def dialogue(seg: Audio) -> Audio:
    """Sam, a 0.4 s pause, then Alex 8 dB quieter: one render as long as ``seg``."""
    pause = round(0.4 * seg.rate) * 2
    half = (len(seg.pcm) - pause) // 4 * 2
    alex = gain(Audio(seg.pcm[len(seg.pcm) - half:], seg.rate), -8.0).pcm
    return Audio(seg.pcm[:len(seg.pcm) - half - pause] + bytes(pause) + alex, seg.rate)


def compiled_episode(n: int, out: Path, fmt: str = "wav", loudness: float | None = -16.0,
                     bed: Path | None = None) -> CompiledEpisode:
    pieces = []
    for i in range(n):
        names = ("Sam", "Alex") if is_dialogue(i) else ("Alex",) if i % 2 else ("Sam",)
        turns = tuple(RequestTurn(name, "Zephyr", f"Sentence number {i} of the benchmark, spoken by {name}.")
                      for name in names)
        pieces.append(SpeechPiece(f"{i:064x}", f"s{i + 1}", i, names, turns,
                                  chapter=f"Part {i // 100 + 1}" if i % 100 == 0 else None))
    ep = Episode(path=out.parent / "bench.yaml", title="Production benchmark", speakers=(), segments=(),
                 output=Output(out, fmt, loudness=loudness, sample_rate=RATE),
                 music=() if bed is None else (MusicBed(bed),))  # a bed under the whole episode, looped
    return CompiledEpisode(ep, (), Rundown(tuple(pieces), out, fmt))


def child(cache: Path, n: int, out: Path, task: str) -> None:
    sys.stdin.readline()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if task in ("wav", "bed"):
        compiled = compiled_episode(n, out, bed=cache / "bed.wav" if task == "bed" else None)
        t = time.perf_counter()
        result = mix_episode(compiled, lambda key: read_wav((cache / f"{int(key, 16)}.wav").read_bytes()))
        seconds = time.perf_counter() - t
        report = json.loads(result.manifest.read_text())["steps"]["loudness"]
        spread = max(abs(s["integrated_lufs"] - report["integrated_lufs"]) for s in report["speakers"].values())
        extra = {"duration": result.duration, "lufs": report["integrated_lufs"], "tp": report["true_peak_dbtp"],
                 "spread": round(spread, 2), "before": {k: v["input_lufs"] for k, v in report["speakers"].items()}}
    else:  # mp3: podpipe's exporter on the finished WAV's audio
        audio = read_wav(Path(task).read_bytes())
        compiled = compiled_episode(n, out, "mp3", loudness=None)
        ctx = MixContext(compiled, (), audio.rate, audio.channels, [audio.pcm])
        t = time.perf_counter()
        export.export(ctx, out, episode_tags(compiled))
        seconds = time.perf_counter() - t
        extra = {}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kib": before, "peak_kib": peak, "seconds": seconds, **extra}))


def run_child(cache: Path, n: int, out: Path, task: str) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(cache), str(n), str(out), task],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    stdout, _ = proc.communicate("go\n")
    if proc.returncode != 0:
        raise SystemExit(f"child {task} failed")
    return json.loads(stdout)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--segments", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.6)
    args = parser.parse_args()
    n = args.segments
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        cache.mkdir()
        for i, seg in enumerate(make_segments(n, args.seconds)):
            # two speakers ~8 dB apart, alone or in one render
            write_wav(dialogue(seg) if is_dialogue(i) else gain(seg, -8.0) if i % 2 else seg, cache / f"{i}.wav")
        pcm_bytes = int(round(args.seconds * RATE)) * 2 * n
        write_wav(gain(make_segments(1, 10.0)[0], -6.0), cache / "bed.wav")  # 10 s of "music", looped
        wav = run_child(cache, n, tmp / "out" / "ep.wav", "wav")
        bedded = run_child(cache, n, tmp / "out" / "bed.wav", "bed")
        ours, bares = [], []
        for _ in range(RUNS):  # interleaved, so a noisy neighbour slows both sides alike
            ours.append(run_child(cache, n, tmp / "out" / "ep.mp3", str(tmp / "out" / "ep.wav"))["seconds"])
            t = time.perf_counter()
            subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(tmp / "out" / "ep.wav"),
                            "-c:a", "libmp3lame", "-b:a", "96k", "-f", "mp3", "-y", str(tmp / "bare.mp3")],
                           check=True)
            bares.append(time.perf_counter() - t)
        mp3, bare = statistics.median(ours), statistics.median(bares)
    rss = wav["peak_kib"] * 1024 / pcm_bytes
    print("## Production audio (bench/production.py)\n")
    print("Command: `.venv/bin/python bench/production.py` (run by `make bench`); each measure in a fresh "
          "process.\n")
    print(f"{n} pieces, {wav['duration'] / 60:.1f} min at {RATE} Hz mono ({pcm_bytes / 1e6:.0f} MB of PCM), "
          "two speakers 8 dB apart; every fourth piece is a dialogue render holding both.\n")
    print("| Measure | Result | Target |\n|---|---|---|")
    print(f"| stitch + level + normalize + limit + WAV export + transcripts, a first mix (every render analysed "
          f"once on the way; bench/remix.py times the re-mix) | {wav['seconds']:.1f} s "
          f"(→ {wav['lufs']} LUFS, {wav['tp']} dBTP) | – |")
    before = ", ".join(f"{k} {v} LUFS" for k, v in sorted(wav["before"].items()))
    print(f"| speakers as rendered → largest speaker − episode difference after leveling | {before} → "
          f"{wav['spread']} LU | ≤ 1 LU |")
    print(f"| MP3 export vs bare ffmpeg encode, medians of {RUNS} interleaved runs | {mp3:.1f} s vs {bare:.1f} s = "
          f"{mp3 / bare:.2f}× (ratios of the pairs: {', '.join(f'{a / b:.2f}' for a, b in zip(ours, bares))}) "
          "| ≈ 1× |")
    print(f"| peak RSS of the WAV build | {wav['peak_kib'] / 1024:.0f} MiB = {rss:.1f}× PCM | ≤ {TARGET_RSS}× |")
    print(f"| the same with a music bed under the whole hour: wall, peak RSS | {bedded['seconds']:.1f} s, "
          f"{bedded['peak_kib'] / 1024:.0f} MiB = {bedded['peak_kib'] * 1024 / pcm_bytes:.1f}× PCM | ≤ {TARGET_RSS}× |")


if __name__ == "__main__":
    main()
