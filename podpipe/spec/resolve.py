"""Resolution: an ``Episode`` built from a spec that passed every check.

Nothing here validates: ``load`` calls it only when the episode and its show files have no errors, so the
data has the shape the schema describes and every speaker, segment id and file is known to be sound.
Defaults are not written here either: only the fields a spec writes are passed on, and the dataclasses in
``episode`` supply the rest.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from podpipe.spec.episode import (Episode, Feed, Funding, MusicBed, Output, Owner, Person, PriceOverride,
                                  ReviewSettings, Segment,
                                  Sound, Speaker, Turn, default_name)
from podpipe.spec.schema import segment_fields, segment_kind
from podpipe.spec.schemacheck import is_number
from podpipe.spec.text import LexiconEntry
from podpipe.spec.view import View
from podpipe.spec.yamldoc import DocPath, YamlDoc


def episode(view: View, doc: YamlDoc, segment_ids: list[str], output: tuple[Path, str],
            lexicon: tuple[LexiconEntry, ...]) -> Episode:
    """The episode ``doc`` (merged as ``view``), with the segment ids and output the checks settled on."""
    data = view.data
    path, fmt = output
    out = data.get("output", {})
    written = _given(data, _text, "language", "style", "description", "author", "show", "date", "model")
    written |= _given(data, float, "temperature") | _given(data, int, "episode", "version", "season")
    written |= _given(data, _text, "episode_type", "guid") | _given(data, bool, "explicit")
    return Episode(
        path=doc.path,
        title=data["title"].strip(),
        speakers=tuple(_speaker(sid, spec) for sid, spec in data["speakers"].items()),
        segments=tuple(_segment(view, i, seg, segment_ids[i]) for i, seg in enumerate(data["segments"])),
        output=Output(path=path, format=fmt, **_given(out, _float, "gap", "loudness", "true_peak", "crossfade"),
                      **_given(out, int, "bitrate", "sample_rate", "channels")),
        artwork=_file(view, ("artwork",), data["artwork"]) if "artwork" in data else None,
        music=tuple(_music_bed(view, i, bed, segment_ids) for i, bed in enumerate(data.get("music", ()))),
        lexicon=lexicon,
        feed=_feed(view, data) if "feed" in data else None,
        prices=tuple(PriceOverride(model, *(None if p.get(k) is None else float(p[k]) for k in ("input", "output")))
                     for model, p in data.get("prices", {}).items()),
        review=_review(data.get("review") or {}),
        **written,
    )


def _given(mapping: dict, convert: Callable[[Any], Any], *names: str) -> dict[str, Any]:
    """The fields among ``names`` the spec writes, converted; the others keep their dataclass defaults."""
    return {name: convert(mapping[name]) for name in names if name in mapping}


def _review(data: dict) -> ReviewSettings:
    def thresholds(d: dict) -> tuple[tuple[str, float], ...]:
        return tuple((k, float(v)) for k, v in sorted(d.items()) if k not in ("strict", "retakes", "voices"))

    voices = sorted((data.get("voices") or {}).items())
    return ReviewSettings(strict=bool(data.get("strict", False)), retakes=data.get("retakes"),
                          thresholds=thresholds(data), voices=tuple((voice, thresholds(d)) for voice, d in voices))


def _text(value: str) -> str:
    return value.strip()


def _take_ids(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _float(value: Any) -> float | None:
    return float(value) if is_number(value) else None  # None stays None (loudness: null switches it off)


def _file(view: View, path: DocPath, name: str) -> Path:
    """The file ``name`` written at ``path`` names, absolute (relative to the file it was written in)."""
    return Path(os.path.normpath(view.origin(path).target(name)))


def _feed(view: View, data: dict) -> Feed:
    feed = data["feed"]
    fallback = {"title": "show", "language": "language", "author": "author"}  # the top-level field each defaults to
    given = {name: feed.get(name, data.get(top)) for name, top in fallback.items()}
    return Feed(
        artwork=_file(view, ("feed", "artwork"), feed["artwork"]),
        owner=Owner(feed["owner"]["name"].strip(), feed["owner"]["email"]) if "owner" in feed else None,
        persons=tuple(Person(**{k: v.strip() for k, v in p.items()}) for p in feed.get("persons", ())),
        funding=tuple(Funding(f["url"], f["text"].strip()) for f in feed.get("funding", ())),
        **_given({k: v for k, v in given.items() if v is not None}, _text, *fallback),
        **_given(feed, _text, "description", "category", "link", "subcategory", "type", "copyright", "guid",
                 "timezone"),
        **_given(feed, bool, "explicit", "locked"),
    )


def _speaker(sid: str, spec: dict) -> Speaker:
    name = spec["name"].strip() if "name" in spec else default_name(sid)
    return Speaker(id=sid, voice=spec["voice"], name=name, **_given(spec, _text, "style", "role"))


def _segment(view: View, i: int, seg: dict, seg_id: str) -> Segment:
    where = ("segments", i)
    loc = view.loc(where)
    common = dict(index=i, id=seg_id, line=loc.line, column=loc.column, **_given(seg, _text, "chapter"))
    kind = segment_kind(seg)
    if kind == "pause":
        return Segment(kind="pause", pause=float(seg["pause"]), **common)
    if kind == "sound":
        sound = Sound(path=_file(view, (*where, "sound"), seg["sound"]),
                      **_given(seg, float, "gain_db", "fade_in", "fade_out"))
        return Segment(kind="sound", sound=sound, **common)
    if kind == "dialogue":
        turns = tuple(Turn(sid, text.strip(), view.loc((*where, "dialogue", j, sid), key=True).line)
                      for j, turn in enumerate(seg["dialogue"]) for sid, text in turn.items())
    elif kind == "line":
        turns = (Turn(seg["speaker"], seg["text"].strip(), view.loc((*where, "text")).line),)
    else:
        sid = next(k for k in seg if k not in segment_fields())
        turns = (Turn(sid, seg[sid].strip(), view.loc((*where, sid), key=True).line),)
    return Segment(kind="dialogue" if kind == "dialogue" else "speech", turns=turns, **common,
                   **_given(seg, _text, "style"), **_given(seg, float, "temperature"), **_given(seg, int, "take"),
                   **_given(seg, _take_ids, "accept"))


def _music_bed(view: View, i: int, bed: dict, segment_ids: list[str]) -> MusicBed:
    return MusicBed(
        path=_file(view, ("music", i, "file"), bed["file"]),
        start_segment=segment_ids.index(bed["from"]) if "from" in bed else 0,
        end_segment=segment_ids.index(bed["to"]) if "to" in bed else len(segment_ids) - 1,
        **_given(bed, float, "gain_db", "duck_db", "fade_in", "fade_out"), **_given(bed, bool, "loop"))
