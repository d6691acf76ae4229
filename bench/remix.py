"""Re-mix benchmark (issue 12): every render cached, the output stale, how long until the MP3 is written,
as a ratio to a bare ``ffmpeg`` MP3 encode of the same output audio at the same bit rate (the floor).

    .venv/bin/python bench/remix.py [--runs 5]

1. Offline voice: a 4-minute two-speaker spec rendered with the real espeak backend by ``podpipe build``;
   then ``podpipe build --force`` (a fresh process: start-up, spec, cache, mix, MP3, sidecars).
2. Gemini-like: a 4-minute episode of 24 kHz renders from two speakers 8 dB apart, every fourth render a
   dialogue holding both, in a real cache directory; a fresh process runs ``mix_episode`` to MP3 from it.
3. 1 h, 1000 pieces of the same kind to MP3, with and without a music bed under the whole hour: wall vs
   the bare encode, and peak RSS as a multiple of the episode's PCM (24 kHz mono).

Each run is a new process, timed from spawn to exit; podpipe and the bare encode alternate (medians). The
first mix of each episode (which computes the renders' analysis once) is not timed: that is the point.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from production import compiled_episode, dialogue, is_dialogue  # noqa: E402
from stitch import RATE, gain, make_segments  # noqa: E402

from podpipe.audio import ffmpeg_exe, write_wav  # noqa: E402

PODPIPE = [sys.executable, "-m", "podpipe"]
TARGET = 2.0
SENTENCES = [
    "The harbour was quiet when the boats came back, and nobody on the quay said a word about the weather.",
    "I asked her how long she had been keeping bees on the roof, and she laughed and said longer than I think.",
    "Every map of the coast from that century is wrong in the same way, and the reason is a clock.",
    "We tried the cargo bike for a month, in the rain, up the hill, with two children and the shopping.",
]


def offline_spec(root: Path, lines: int) -> Path:
    body = ["title: Re-mix benchmark", "show: Bench", "speakers:", "  host: {voice: Sulafat, name: Maya}",
            "  guest: {voice: Charon, name: Tom}", "output: {format: mp3, gap: 0.3}", "segments:"]
    for i in range(lines):
        body.append(f"  - {'host' if i % 2 == 0 else 'guest'}: \"{SENTENCES[i % len(SENTENCES)]} ({i})\"")
    path = root / "remix.yaml"
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path


def timed(cmd: list[str], **kw) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t


def bare_encode(mp3: Path, work: Path) -> list[str]:
    """The bare encode of ``mp3``'s audio: decoded once to WAV at its own rate, then encoded at 96 kbit/s."""
    wav = work / "bare-input.wav"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(mp3), "-y", str(wav)], check=True)
    return [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(wav), "-c:a", "libmp3lame", "-b:a", "96k",
            "-f", "mp3", "-y", str(work / "bare.mp3")]


def compare(ours: list[str], bare: list[str], runs: int, **kw) -> tuple[float, float, list[float]]:
    mine, floor = [], []
    for _ in range(runs):  # interleaved, so a noisy neighbour slows both sides alike
        mine.append(timed(ours, **kw))
        floor.append(timed(bare))
    return statistics.median(mine), statistics.median(floor), [a / b for a, b in zip(mine, floor)]


def ebur128(path: Path) -> tuple[str, str]:
    err = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-i", str(path), "-filter_complex",
                          "ebur128=peak=true", "-f", "null", "-"], capture_output=True, text=True).stderr
    summary = err[err.rindex("Summary:"):]
    lufs = summary.split("I:")[1].split("LUFS")[0].strip()
    peak = summary.split("Peak:")[-1].split("dBFS")[0].strip()
    return lufs, peak


def bench_offline(root: Path, runs: int) -> str:
    root.mkdir()
    spec = offline_spec(root, 36)  # ~4 minutes
    env = {**os.environ, "PODPIPE_CACHE_DIR": str(root / "cache")}
    env.pop("GEMINI_API_KEY", None)
    env.pop("GOOGLE_API_KEY", None)
    subprocess.run([*PODPIPE, "build", spec.name], check=True, env=env, cwd=root, capture_output=True)
    out = root / "build" / "remix.mp3"
    duration = json.loads((root / "build" / "remix.manifest.json").read_text())["duration"]
    bare = bare_encode(out, root)
    ours, floor, ratios = compare([*PODPIPE, "build", "--force", spec.name], bare, runs, env=env, cwd=root)
    lufs, peak = ebur128(out)
    return (f"| offline voice (espeak, 22.05 kHz), {duration / 60:.1f} min, 2 speakers | {ours:.2f} s vs "
            f"{floor:.2f} s = **{ours / floor:.2f}×** ({', '.join(f'{r:.2f}' for r in ratios)}); "
            f"{lufs} LUFS, {peak} dBTP | ≤ {TARGET}× |")


def child(cache: Path, n: int, out: str, bed: str) -> None:
    from podpipe.cache import FileStore
    from podpipe.mix import mix_episode

    store = FileStore(cache)
    compiled = compiled_episode(n, Path(out), "mp3", bed=Path(bed) if bed != "-" else None)
    result = mix_episode(compiled, store.get, analyses=store)
    report = json.loads(result.manifest.read_text())["steps"]["loudness"]
    print(json.dumps({"peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "lufs": report["integrated_lufs"], "tp": report["true_peak_dbtp"],
                      "encodes": 2 if "encoder_correction_db" in report else 1,
                      "spread": max((abs(s["integrated_lufs"] - report["integrated_lufs"])
                                     for s in report.get("speakers", {}).values()), default=0.0)}))


def gemini_like(root: Path, n: int, seconds: float, runs: int, bed: bool = False) -> tuple[str, dict, float]:
    from podpipe.audio_types import Audio
    from podpipe.cache import FileStore

    root.mkdir(exist_ok=True)
    cache = root / "cache"
    if not cache.exists():
        store = FileStore(cache)
        for i, seg in enumerate(make_segments(n, seconds)):
            audio = dialogue(seg) if is_dialogue(i) else gain(seg, -8.0) if i % 2 else seg
            store.put(f"{i:064x}", Audio(audio.pcm, RATE), {"bench": True})
        write_wav(gain(make_segments(1, 10.0)[0], -6.0), root / "bed.wav")
    out = root / ("bed.mp3" if bed else "ep.mp3")
    cmd = [sys.executable, __file__, "--child", str(cache), str(n), str(out), str(root / "bed.wav") if bed else "-"]
    first = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)  # analyses made here
    bare = bare_encode(out, root)
    ours, floor, ratios = compare(cmd, bare, runs)
    figures = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    figures["first_peak_kib"] = first["peak_kib"]
    pcm = round(seconds * RATE) * 2 * n
    text = (f"{ours:.2f} s vs {floor:.2f} s = **{ours / floor:.2f}×** ({', '.join(f'{r:.2f}' for r in ratios)}); "
            f"{figures['lufs']} LUFS, {figures['tp']} dBTP, speakers within {figures['spread']:.2f} LU, "
            f"{figures['encodes']} encode")
    return text, figures, pcm


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hour", type=int, default=1000, help="pieces of the long episode (0: skip it)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows.append(bench_offline(tmp / "offline", args.runs))
        text, _, _ = gemini_like(tmp / "gemini", 67, 3.6, args.runs)
        rows.append(f"| Gemini-like (24 kHz), 4.0 min, 2 speakers 8 dB apart, every 4th render a dialogue | {text} "
                    f"| ≤ {TARGET}× |")
        if args.hour:
            for bed in (False, True):
                text, figures, pcm = gemini_like(tmp / "hour", args.hour, 3.6, 3, bed=bed)
                rss = max(figures["peak_kib"], figures["first_peak_kib"]) * 1024 / pcm
                rows.append(f"| Gemini-like, {args.hour * 3.6 / 60:.0f} min, {args.hour} pieces"
                            f"{', music bed under all of it' if bed else ''} | {text}; peak RSS "
                            f"{rss:.1f}× the PCM ({pcm / 1e6:.0f} MB) | ≤ {TARGET}×, RSS ≤ 4× |")
    print("## Re-mix to MP3 at the encoder's speed (bench/remix.py)\n")
    print(f"Command: `.venv/bin/python bench/remix.py` (run by `make bench`). Every render cached and analysed, "
          f"output stale; each run a fresh process timed from spawn to exit, against a bare `ffmpeg` MP3 encode "
          f"(96 kbit/s) of the same output audio; medians of interleaved runs; {os.cpu_count()} cores.\n")
    print("| Episode | Re-mix vs bare encode | Target |\n|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
