"""Builders for hand-made episodes, so compile/render/mix tests don't depend on the YAML loader."""

from __future__ import annotations

from pathlib import Path

from podpipe.spec import Episode, Output, Segment, Speaker, Turn

SPEAKERS = (
    Speaker("host", "Zephyr", "Alex", "bright"),
    Speaker("guest", "Puck", "Sam"),
    Speaker("third", "Kore", "Kim"),
)


def line(index: int, speaker: str, text: str, **kw) -> Segment:
    return Segment(index=index, id=kw.pop("id", f"s{index + 1}"), kind="speech", turns=(Turn(speaker, text),), **kw)


def dialogue(index: int, *turns: tuple[str, str], **kw) -> Segment:
    return Segment(index=index, id=kw.pop("id", f"s{index + 1}"), kind="dialogue",
                   turns=tuple(Turn(s, t) for s, t in turns), **kw)


def pause(index: int, seconds: float, **kw) -> Segment:
    return Segment(index=index, id=f"s{index + 1}", kind="pause", pause=seconds, **kw)


def episode(*segments: Segment, tmp: Path = Path("/project"), **kw) -> Episode:
    fmt = kw.pop("format", "wav")
    gap = {"gap": kw.pop("gap")} if "gap" in kw else {}  # else Output's own default
    return Episode(path=tmp / "ep.yaml", title=kw.pop("title", "Test"), speakers=SPEAKERS,
                   segments=tuple(segments), output=Output(tmp / "build" / f"ep.{fmt}", fmt, **gap), **kw)
