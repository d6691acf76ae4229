"""Chapters from the spec's ``chapter:`` marks: where each starts and ends in the mixed episode, as the
Podcasting 2.0 JSON chapters file (version 1.2.0) and as ffmpeg's FFMETADATA, from which ffmpeg writes ID3
CHAP + CTOC frames (MP3), a chapter list (m4a) and CHAPTERxxx Vorbis comments (ogg, flac)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podpipe.compile import CompiledEpisode
from podpipe.files import write_atomic
from podpipe.formats import SIDECARS
from podpipe.mix.context import MixContext, MixStep

JSON_VERSION = "1.2.0"


@dataclass(frozen=True)
class Chapter:
    start: float  # seconds
    end: float
    title: str


def chapters(pieces: Sequence, duration: float) -> list[Chapter]:
    """Chapters in playback order; each runs to the next one's start, the last to the end of the episode.
    ``pieces`` are the mix's placed pieces (anything with ``.piece.chapter`` and ``.start``)."""
    marks = [(placed.start, placed.piece.chapter) for placed in pieces if placed.piece.chapter]
    out = []
    for i, (start, title) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else duration
        out.append(Chapter(start, max(start, end), title))
    return out


def podcasting20_json(marks: Sequence[Chapter]) -> bytes:
    """``{"version": "1.2.0", "chapters": [{"startTime": 0, "title": ...}, ...]}``, ascending startTime."""
    doc = {"version": JSON_VERSION,
           "chapters": [{"startTime": round(c.start, 3), "endTime": round(c.end, 3), "title": c.title}
                        for c in marks]}
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _escape(value: str) -> str:
    for ch in "\\=;#\n":
        value = value.replace(ch, "\\" + ch)
    return value


def ffmetadata(marks: Sequence[Chapter]) -> str:
    """FFMETADATA1 with one [CHAPTER] per chapter, times in milliseconds."""
    lines = [";FFMETADATA1"]
    for c in marks:
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={round(c.start * 1000)}",
                  f"END={round(c.end * 1000)}", f"title={_escape(c.title)}"]
    return "\n".join(lines) + "\n"


class ChaptersStep(MixStep):
    """``<stem>.chapters.json`` (Podcasting 2.0) beside an output whose episode has chapters; the chapters
    inside the file are written by the encoder or by ``steps.tags`` (see ``formats.Format.chapters``)."""

    name = "chapters"

    def settings(self, compiled: CompiledEpisode) -> Any:
        return {"json": JSON_VERSION}  # the marks themselves are in every piece record

    def sidecars(self, ctx: MixContext, output: Path) -> list[Path]:
        marks = chapters(ctx.pieces, ctx.seconds)
        if not marks:
            return []
        path = SIDECARS["chapters"].path(output)
        write_atomic(path, podcasting20_json(marks))
        return [path]
