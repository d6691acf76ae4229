"""Transcripts beside the output: WebVTT with ``<v Speaker Name>`` voice spans (what Apple Podcasts ingests)
and SRT with ``Name:`` prefixes.

Timings are exact at piece boundaries (the mix knows where every render starts and ends, to the sample);
inside a multi-speaker render they are where the stitch found the turns to meet (``turns``).
Long turns are split into cues of at most ``MAX_CUE_CHARS`` characters (two lines of ``LINE_CHARS``) and
``MAX_CUE_SECONDS``, at sentence ends where possible. The SRT follows the Podcasting 2.0 transcript guidance
for its captions: at most ``SRT_LINES`` lines of ``SRT_LINE_CHARS`` characters a cue (``Name:`` included),
so a VTT cue becomes one or more SRT cues, its time shared out by characters. Stdlib only, so the freshness
check of a no-op build can import it for its settings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podpipe.compile import CompiledEpisode
from podpipe.files import write_atomic
from podpipe.formats import SIDECARS
from podpipe.mix.context import MixContext, MixStep
from podpipe.mix.turns import MIN_PAUSE, QUIET_DB

LINE_CHARS = 42
MAX_CUE_CHARS = 2 * LINE_CHARS
MAX_CUE_SECONDS = 7.0
SRT_LINE_CHARS = 32  # Podcasting 2.0 transcript guidance for SRT: 32 characters a line, 2 lines a cue
SRT_LINES = 2


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    speaker: str
    text: str


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


def srt_lines(text: str, width: int = SRT_LINE_CHARS) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken between words (a longer word is cut)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def srt_cues(cue: Cue) -> list[tuple[float, float, str]]:
    """``cue`` as SRT cues of at most SRT_LINES lines of SRT_LINE_CHARS, each led by ``Name:``; the cue's time
    is shared out by characters."""
    prefix = f"{cue.speaker}: "
    room = max(8, SRT_LINE_CHARS - len(prefix))  # a word longer than fits beside the name is cut to fit
    words = [w[k:k + room] for w in cue.text.split() for k in range(0, len(w), room)]
    blocks: list[str] = []
    while words:
        # as many words as fit in SRT_LINES lines after the prefix
        taken = len(words)
        while taken > 1 and len(srt_lines(prefix + " ".join(words[:taken]))) > SRT_LINES:
            taken -= 1
        blocks.append(" ".join(words[:taken]))
        words = words[taken:]
    if not blocks:
        blocks = [cue.text]
    total = sum(len(b) for b in blocks) or 1
    out, t = [], cue.start
    for k, block in enumerate(blocks):
        end = cue.end if k == len(blocks) - 1 else t + (cue.end - cue.start) * len(block) / total
        out.append((t, end, "\n".join(srt_lines(prefix + block))))
        t = end
    return out


def srt(all_cues: Sequence[Cue]) -> bytes:
    lines = []
    blocks = [block for cue in all_cues for block in srt_cues(cue)]
    for i, (start, end, text) in enumerate(blocks, 1):
        lines += [str(i), f"{_clock(start, ',')} --> {_clock(end, ',')}", text, ""]
    return "\n".join(lines).encode("utf-8")


class TranscriptStep(MixStep):
    """``<stem>.vtt`` and ``<stem>.srt`` beside the output."""

    name = "transcript"
    VERSION = 3  # 3: SRT cues of 2 lines of 32 characters (outputs are mixed again once; renders are kept)

    def settings(self, compiled: CompiledEpisode) -> Any:
        return {"version": self.VERSION, "min_pause": MIN_PAUSE, "quiet_db": QUIET_DB, "line": LINE_CHARS,
                "max_seconds": MAX_CUE_SECONDS, "srt_line": SRT_LINE_CHARS, "srt_lines": SRT_LINES}

    def sidecars(self, ctx: MixContext, output: Path) -> list[Path]:
        found, methods = cues(ctx.pieces)
        if not found:
            return []
        ctx.step_records[self.name] = {"cues": len(found), "srt_cues": sum(len(srt_cues(c)) for c in found),
                                       "turn_boundaries": methods}
        written = []
        for sidecar, render in ((SIDECARS["vtt"], webvtt), (SIDECARS["srt"], srt)):
            path = sidecar.path(output)
            write_atomic(path, render(found))
            written.append(path)
        return written
