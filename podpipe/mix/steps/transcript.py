"""Transcripts beside the output: WebVTT with ``<v Speaker Name>`` voice spans (what Apple Podcasts ingests)
and SRT with ``Name:`` prefixes.

Timings are exact at piece boundaries (the mix knows where every render starts and ends, to the sample).
Inside a multi-speaker render the turn boundaries are not known, so they are placed on silences detected in
the audio: every pause of at least ``MIN_PAUSE`` is a candidate, and the turns' text-proportional positions
pick the best candidates in order (a small dynamic programme that prefers long pauses near the expected
place). Only when there are fewer pauses than boundaries does placement fall back to text proportion alone.
The boundaries are found once per render, when the episode is stitched (``locate_turns``), so speaker leveling
(``podpipe.mix.steps.loudness``) and the transcript agree on who speaks when.
Long turns are split into cues of at most ``MAX_CUE_CHARS`` characters (two lines of ``LINE_CHARS``) and
``MAX_CUE_SECONDS``, at sentence ends where possible. Stdlib only (audioop for the level), so the freshness
check of a no-op build can import it for its settings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podpipe.audio_types import SAMPLE_WIDTH, Audio
from podpipe.compile import CompiledEpisode
from podpipe.files import write_atomic
from podpipe.formats import SIDECARS
from podpipe.mix.context import MixContext, MixStep

WINDOW = 0.010  # seconds per level measurement
MIN_PAUSE = 0.12  # seconds of quiet that may separate two turns
QUIET_DB = -30.0  # a window this far under the render's loudest windows counts as quiet
LINE_CHARS = 42
MAX_CUE_CHARS = 2 * LINE_CHARS
MAX_CUE_SECONDS = 7.0


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    speaker: str
    text: str


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


def _chunks(text: str) -> list[str]:
    """The text in pieces of at most MAX_CUE_CHARS, split after sentences, then between words."""
    sentences = re.split(r"(?<=[.!?…])\s+", text.strip())
    out: list[str] = []
    for sentence in sentences:
        words = sentence.split()
        current = ""
        for word in words:
            candidate = f"{current} {word}".strip()
            if len(candidate) > MAX_CUE_CHARS and current:
                out.append(current)
                current = word
            else:
                current = candidate
        if current:
            if out and len(out[-1]) + 1 + len(current) <= MAX_CUE_CHARS // 2:
                out[-1] = f"{out[-1]} {current}"  # join very short sentences
            else:
                out.append(current)
    return out or [text.strip()]


def wrap(text: str) -> str:
    """At most two lines of about LINE_CHARS, broken at the space nearest the middle when needed."""
    if len(text) <= LINE_CHARS:
        return text
    middle = len(text) // 2
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    if not spaces:
        return text
    cut = min(spaces, key=lambda i: abs(i - middle))
    return text[:cut] + "\n" + text[cut + 1:]


def turn_cues(start: float, end: float, speaker: str, text: str) -> list[Cue]:
    chunks = _chunks(text)
    # a chunk longer than MAX_CUE_SECONDS of speech is split further by words
    total = sum(len(c) for c in chunks) or 1
    cues, t = [], start
    for i, chunk in enumerate(chunks):
        stop = end if i == len(chunks) - 1 else t + (end - start) * len(chunk) / total
        pieces = max(1, math.ceil((stop - t) / MAX_CUE_SECONDS))
        if pieces > 1:
            words = chunk.split()
            per = max(1, math.ceil(len(words) / pieces))
            parts = [" ".join(words[k:k + per]) for k in range(0, len(words), per)]
            part_total = sum(len(p) for p in parts) or 1
            u = t
            for k, part in enumerate(parts):
                v = stop if k == len(parts) - 1 else u + (stop - t) * len(part) / part_total
                cues.append(Cue(u, v, speaker, part))
                u = v
        else:
            cues.append(Cue(t, stop, speaker, chunk))
        t = stop
    return cues


def locate_turns(audio: Audio, texts: Sequence[str]) -> tuple[tuple[float, ...], str]:
    """Where the turns of one render meet, in seconds from its start, and how they were found ("exact" for a
    single turn, "silence" or "text"). Run on the render as it came from the cache, before any mixing: a
    music bed or leveling cannot move them, and speaker leveling and the transcript use the same ones."""
    if len(texts) < 2:
        return (), "exact"
    quiet = pauses(audio, 0.0, audio.seconds)
    bounds, method = turn_bounds(0.0, audio.seconds, texts, quiet)
    return tuple(bounds), method


def cues(placed: Sequence) -> tuple[list[Cue], dict[str, int]]:
    """Cues for every speech piece of the mix (``PlacedPiece``s, with ``turn_spans()``), and how many turn
    boundaries were placed on silence vs by text."""
    out: list[Cue] = []
    methods = {"silence": 0, "text": 0}
    for p in placed:
        spans = p.turn_spans()
        if len(spans) > 1:
            method = p.bounds_method if p.bounds_method in methods else "text"
            methods[method] += len(spans) - 1
        for a, b, turn in spans:
            out.extend(turn_cues(a, b, turn.speaker, turn.shown))  # as written: tags as [cue]
    return out, methods


def _clock(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webvtt(all_cues: Sequence[Cue]) -> bytes:
    lines = ["WEBVTT", ""]
    for cue in all_cues:
        lines += [f"{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}",
                  f"<v {_escape(cue.speaker)}>{_escape(wrap(cue.text))}</v>", ""]
    return "\n".join(lines).encode("utf-8")


def srt(all_cues: Sequence[Cue]) -> bytes:
    lines = []
    for i, cue in enumerate(all_cues, 1):
        lines += [str(i), f"{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}",
                  wrap(f"{cue.speaker}: {cue.text}"), ""]
    return "\n".join(lines).encode("utf-8")


class TranscriptStep(MixStep):
    """``<stem>.vtt`` and ``<stem>.srt`` beside the output."""

    name = "transcript"
    VERSION = 2

    def settings(self, compiled: CompiledEpisode) -> Any:
        return {"version": self.VERSION, "min_pause": MIN_PAUSE, "quiet_db": QUIET_DB, "line": LINE_CHARS,
                "max_seconds": MAX_CUE_SECONDS}

    def sidecars(self, ctx: MixContext, output: Path) -> list[Path]:
        found, methods = cues(ctx.pieces)
        if not found:
            return []
        ctx.report[self.name] = {"cues": len(found), "turn_boundaries": methods}
        written = []
        for sidecar, render in ((SIDECARS["vtt"], webvtt), (SIDECARS["srt"], srt)):
            path = sidecar.path(output)
            write_atomic(path, render(found))
            written.append(path)
        return written
