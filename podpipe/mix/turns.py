"""Who speaks when inside a multi-speaker render: where its turns meet, in seconds from its start.

The boundaries are not known from the render, so they are placed on silences detected in the audio: every
pause of at least ``MIN_PAUSE`` is a candidate, and the turns' text-proportional positions pick the best
candidates in order (a small dynamic programme that prefers long pauses near the expected place). Only when
there are fewer pauses than boundaries does placement fall back to text proportion alone. The stitch finds
them once per render (``locate_turns``), so speaker leveling (``loudness``) and the transcript
(``steps.transcript``) agree on who speaks when; ``PlacedPiece.turn_spans`` reads them. Stdlib only (audioop
for the level, imported when a mix runs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from podpipe.audio_types import SAMPLE_WIDTH, Audio

WINDOW = 0.010  # seconds per level measurement
MIN_PAUSE = 0.12  # seconds of quiet that may separate two turns
QUIET_DB = -30.0  # a window this far under the render's loudest windows counts as quiet


def pauses(audio: Audio, start: float, end: float) -> list[tuple[float, float]]:
    """Quiet stretches (start, end) of at least ``MIN_PAUSE`` inside [start, end) of ``audio``, excluding
    silence touching either edge."""
    from podpipe.audio import audioop_module

    audioop = audioop_module()
    frame = SAMPLE_WIDTH * audio.channels
    step = max(1, round(WINDOW * audio.rate))
    a, b = round(start * audio.rate), round(end * audio.rate)
    # audioop on frame windows, not pydub's slices: those are whole milliseconds (22.05 frames at 22.05 kHz)
    levels = [audioop.rms(audio.pcm[i * frame:min(i + step, b) * frame], SAMPLE_WIDTH) for i in range(a, b, step)]
    if not levels:
        return []
    loud = sorted(levels)[int(len(levels) * 0.95)] or 1
    threshold = loud * 10 ** (QUIET_DB / 20)
    found, run = [], None
    for i, level in enumerate(levels + [threshold + 1]):
        if level <= threshold:
            run = i if run is None else run
        elif run is not None:
            if run > 0 and i < len(levels) and (i - run) * step >= MIN_PAUSE * audio.rate:
                found.append(((a + run * step) / audio.rate, (a + i * step) / audio.rate))
            run = None
    return found


def turn_bounds(start: float, end: float, texts: Sequence[str], quiet: Sequence[tuple[float, float]]
                ) -> tuple[list[float], str]:
    """Boundaries between consecutive turns (len(texts) - 1 of them) and the method used."""
    need = len(texts) - 1
    total = sum(len(t) for t in texts) or 1
    span = end - start
    expected, acc = [], 0
    for t in texts[:-1]:
        acc += len(t)
        expected.append(start + span * acc / total)
    if need == 0:
        return [], "exact"
    if len(quiet) < need:
        return expected, "text"
    mids = [(a + b) / 2 for a, b in quiet]
    lengths = [b - a for a, b in quiet]
    # cost[i][j]: best total with boundary j on pause i (pauses and boundaries both in order)
    inf = math.inf
    cost = [[inf] * need for _ in quiet]
    back = [[-1] * need for _ in quiet]
    for i, mid in enumerate(mids):
        for j in range(min(i + 1, need)):
            here = abs(mid - expected[j]) - 0.5 * lengths[i]
            if j == 0:
                cost[i][j] = here
                continue
            best, arg = inf, -1
            for k in range(j - 1, i):
                if cost[k][j - 1] < best:
                    best, arg = cost[k][j - 1], k
            if arg >= 0:
                cost[i][j], back[i][j] = best + here, arg
    last = min(range(len(quiet)), key=lambda i: cost[i][need - 1])
    chosen = [last]
    for j in range(need - 1, 0, -1):
        chosen.append(back[chosen[-1]][j])
    return [mids[i] for i in reversed(chosen)], "silence"


def locate_turns(audio: Audio, texts: Sequence[str]) -> tuple[tuple[float, ...], str]:
    """Where the turns of one render meet, in seconds from its start, and how they were found ("exact" for a
    single turn, "silence" or "text"). Run on the render as it came from the cache, before any mixing: a
    music bed or leveling cannot move them, and speaker leveling and the transcript use the same ones."""
    if len(texts) < 2:
        return (), "exact"
    quiet = pauses(audio, 0.0, audio.seconds)
    bounds, method = turn_bounds(0.0, audio.seconds, texts, quiet)
    return tuple(bounds), method
