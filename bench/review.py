"""Take review benchmark: review 1 h of takes (360 takes of 10 s), as a build does for new renders, and
re-judge them from their stored measures, as a build with --review-cached or a threshold change does.

    .venv/bin/python bench/review.py [--takes 360] [--seconds 10]

Takes are synthetic speech-like audio (``bench/stitch.py``'s voice), 24 kHz mono 16-bit, each distinct.
"New takes" times ``Reviewer.review`` (the mix's loudness figures, zero crossings, clipping, the checks
table), the whole cost a render pays before its take is accepted; the figures it computes are the ones the
mix would compute anyway, stored beside the take. "Cached takes" times judging stored measures again
(no audio read). Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stitch import speech_like  # noqa: E402
from podpipe.audio_types import Audio  # noqa: E402
from podpipe.compile import RenderRequest, RequestTurn  # noqa: E402
from podpipe.review import Measures, Reviewer, Thresholds  # noqa: E402
from podpipe.review.checks import expectation, judge  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--takes", type=int, default=360)
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args()
    source = speech_like(args.seconds * 2)
    frames = int(args.seconds * 24000)
    takes, requests = [], []
    for i in range(args.takes):
        start = (i * 997) % frames  # a distinct window of the source for each take
        takes.append(Audio(source[start * 2:(start + frames) * 2], 24000))
        text = f"Take {i}: " + "words " * int(args.seconds * 14 / 6)
        requests.append(RenderRequest(f"{i:064x}", "bench", "m", (RequestTurn("Host", "Zephyr", text),)))
    reviewer = Reviewer(prior_rate=lambda request: 14.0)
    reviewer.review(requests[0], takes[0])  # imports (numpy, the K-weighting filters) outside the timing
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        verdicts = [reviewer.review(r, a) for r, a in zip(requests, takes)]
        runs.append(time.perf_counter() - t0)
    fresh = statistics.median(runs)
    from podpipe.mix.loudness.figures import analyze
    from podpipe.review import measure

    figures = [analyze(a) for a in takes]  # what the mix computes of every take anyway
    own = []
    for _ in range(3):
        t0 = time.perf_counter()
        for r, a, f in zip(requests, takes, figures):
            m, _ = measure(a, f)
            judge(m, reviewer.expect(r), Thresholds())
        own.append(time.perf_counter() - t0)
    extra = statistics.median(own)
    records = [v.measures.to_record() for v in verdicts]
    rerun = []
    for _ in range(3):
        t0 = time.perf_counter()
        for record, request in zip(records, requests):
            judge(Measures.from_record(record), reviewer.expect(request), Thresholds())
        rerun.append(time.perf_counter() - t0)
    cached = statistics.median(rerun)
    hours = args.takes * args.seconds / 3600
    flagged = sum(not v.ok for v in verdicts)
    print(f"""## Take review: {hours:.2f} h of takes ({args.takes} x {args.seconds:g} s)

`.venv/bin/python bench/review.py` — {args.takes} distinct takes of synthetic speech-like audio, 24 kHz mono
16-bit; median of 3 runs.

| what | time | per hour of audio |
|---|---|---|
| review of new takes, all in (loudness figures, zero crossings, clipping, checks) | {fresh:.2f} s | {fresh / hours:.2f} s |
| ... of which review's own work (the figures are the mix's, computed once and reused) | {extra:.2f} s | {extra / hours:.2f} s |
| re-judging cached takes from their stored measures | {cached * 1000:.1f} ms | {cached / hours * 1000:.1f} ms |

{flagged} of {args.takes} takes flagged (expected 0: the audio is clean). The figures review computes are the
mix's loudness figures, stored beside each accepted take, so the mix does not compute them again.
""")


if __name__ == "__main__":
    main()
