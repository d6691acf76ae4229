"""Chapters beside the output: the Podcasting 2.0 JSON chapters file (version 1.2.0), from the chapters of the
mixed episode (``context.chapters``: where each of the spec's ``chapter:`` marks starts and ends). The
chapters inside the file are written by the exporter (FFMETADATA, from which ffmpeg writes ID3 CHAP + CTOC
frames for MP3 and a chapter list for m4a) or by ``steps.tags`` (CHAPTERxxx Vorbis comments, ogg and flac)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from podpipe.compile import CompiledEpisode
from podpipe.files import write_atomic
from podpipe.formats import SIDECARS
from podpipe.mix.context import Chapter, MixContext, MixStep, chapters

JSON_VERSION = "1.2.0"


def podcasting20_json(marks: Sequence[Chapter]) -> bytes:
    """``{"version": "1.2.0", "chapters": [{"startTime": 0, "title": ...}, ...]}``, ascending startTime."""
    doc = {"version": JSON_VERSION,
           "chapters": [{"startTime": round(c.start, 3), "endTime": round(c.end, 3), "title": c.title}
                        for c in marks]}
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


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
