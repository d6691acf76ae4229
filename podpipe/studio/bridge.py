"""The web app's one door to the studio's core (``view``, ``edits``, ``actions``): each endpoint's work as a
plain function of the ``Studio`` and JSON-able values, run in a worker thread by ``app``. The page's edit
records (``{"kind": "text", "line": …, "text": …}``) become the core's edits here, and its answers (saved,
refused, conflict) become JSON with an HTTP status.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from podpipe.studio import EXTRA

if TYPE_CHECKING:
    from podpipe.studio.project import Studio
    from podpipe.studio.live import JobProgress


def cache_dir(studio: Studio) -> Path:
    from podpipe.cache import resolve_cache_dir

    return resolve_cache_dir(studio.cache_dir, cwd=studio.root)


def episode_list(studio: Studio) -> list[dict[str, Any]]:
    """Each spec with its title (the file's name when it does not load, with the reason); notes where each
    is built, for the watcher."""
    from podpipe.errors import PodpipeError
    from podpipe.spec import load_episodes

    out = []
    for spec in studio.specs:
        entry: dict[str, Any] = {"spec": spec, "title": Path(spec).stem, "number": None}
        try:
            loaded = load_episodes([studio.root / spec], root=studio.root).episodes[0]
            entry["title"] = loaded.title
            entry["number"] = loaded.episode
            studio.outputs.setdefault(spec, Path(loaded.output.path))
        except PodpipeError as exc:
            entry["error"] = str(exc)
        out.append(entry)
    return out


def view(studio: Studio, spec: Path) -> dict[str, Any]:
    """The core's view of the episode, with what the page needs beside it: a version of the built output (its
    mtime) so the player reloads after a build, and positions as built (``_as_built``)."""
    from podpipe.studio.view import episode_view

    found = episode_view(spec, root=studio.root, cache_dir=cache_dir(studio))
    output = found.get("output")
    if output:
        path = studio.root / output
        _as_built(path, found)
        studio.outputs[studio.rel(spec)] = path
        try:
            found["output_version"] = str(path.stat().st_mtime_ns)
        except OSError:
            found["output_version"] = None
    return found


def _as_built(output: Path, found: dict[str, Any]) -> None:
    """Where each line and each turn of a dialogue is heard in the built episode, from its manifest: positions
    for the lines the view gives none (it gives them only while the episode is up to date; the player plays
    the built file, so these are right for seeking it even after the spec changed; such a line is marked
    ``as_built``), and ``turn_spans`` ([start, end] of each turn) for dialogues, so the page can follow a
    dialogue turn by turn."""
    lines = found.get("lines", [])
    if not any(line.get("start") is None or line.get("kind") == "dialogue" for line in lines):
        return
    from podpipe.mix import ManifestError, read_manifest

    try:
        manifest = read_manifest(output)
    except ManifestError:
        return
    spans: dict[str, tuple[float, float]] = {}
    turns: dict[str, list[list[float]]] = {}
    for piece in manifest.get("pieces", []):
        segment = piece.get("segment_id") if isinstance(piece, dict) else None
        if segment is None or piece.get("start") is None or piece.get("end") is None:
            continue
        start, end = float(piece["start"]), float(piece["end"])
        was = spans.get(segment)
        spans[segment] = (min(start, was[0]), max(end, was[1])) if was else (start, end)
        turns.setdefault(segment, []).extend([float(t["start"]), float(t["end"])] for t in piece.get("turns") or ()
                                             if isinstance(t, dict) and t.get("start") is not None)
    for line in lines:
        segment = str(line.get("segment_id"))
        span = spans.get(segment)
        if line.get("start") is None and span is not None:
            line["start"], line["end"], line["as_built"] = span[0], span[1], True
        if line.get("kind") == "dialogue" and len(turns.get(segment, ())) == len(line.get("turns") or ()):
            line["turn_spans"] = turns[segment]


def output_path(studio: Studio, spec: Path) -> Path | None:
    """The episode's built output, as the last view of it found (viewed now if it never was)."""
    rel = studio.rel(spec)
    if rel not in studio.outputs:
        view(studio, spec)
    return studio.outputs.get(rel)


def take_audio(studio: Studio, take_id: str) -> Path | None:
    from podpipe.studio.view import take_audio as find

    try:
        return find(studio.root, cache_dir(studio), take_id)
    except (KeyError, FileNotFoundError, LookupError):
        return None


def _edit_of(record: dict[str, Any]):
    """The core's edit for the page's record (``kind`` and its fields; a line is named by its segment id,
    ``line``); ValueError for a record that is not one."""
    from podpipe.studio import edits

    kind = record.get("kind")

    def text(name: str, *, empty: bool = False) -> str | None:
        value = record.get(name)
        if value is None and empty:
            return None
        if not isinstance(value, str):
            raise ValueError(f"edit {kind!r}: {name!r} must be text")
        return value

    def number(name: str) -> int | None:
        value = record.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"edit {kind!r}: {name!r} must be a whole number")
        return value

    if kind == "text":
        return edits.SetText(text("line"), text("text"), number("turn"))
    if kind == "style":
        return edits.SetStyle(text("line"), text("style", empty=True) or None)
    if kind == "pronunciation":
        return edits.SetPronunciation(text("word"), text("say", empty=True) or None)
    if kind == "chapter":
        return edits.MoveChapter(text("title"), text("line"))
    if kind == "take":
        return edits.PickTake(text("line"), number("take"), text("accept", empty=True))
    raise ValueError(f"unknown edit {kind!r}: one of text, style, pronunciation, chapter, take")


def edit(studio: Studio, spec: Path, record: dict[str, Any], base: str) -> dict[str, Any]:
    """Apply one edit: ``{"sha256", "diff"}``; or status 422 with the message (refused: the spec would be
    invalid, or the edit makes no sense), or 409 with both versions (the file changed since ``base``)."""
    from podpipe.studio.edits import EditConflict, EditRefused, apply_edit

    try:
        change = _edit_of(record)
    except ValueError as exc:
        return {"status": 422, "error": str(exc)}
    try:
        saved = apply_edit(spec, change, base_sha256=base, root=studio.root, cache_dir=cache_dir(studio))
    except EditRefused as exc:
        return {"status": 422, "error": exc.message}
    except EditConflict as exc:
        return {"status": 409, "error": str(exc), "mine": exc.mine, "theirs": exc.disk, "sha256": exc.sha256}
    return {"sha256": saved.sha256, "diff": saved.diff, "warnings": list(saved.warnings)}


def estimate(studio: Studio, spec: Path, line: str) -> dict[str, Any]:
    """The core's estimate of one more take, with the words the page shows (``text``, ``note``)."""
    from podpipe.studio.actions import estimate_take

    found = estimate_take(spec, line, root=studio.root, cache_dir=cache_dir(studio))
    found["text"] = f"${found['usd']:.2f}"
    if not found["paid"]:
        found["note"] = f"{found['backend']}: offline, no key, free"
    elif found["usd_max"] > found["usd"]:
        found["note"] = f"up to ${found['usd_max']:.2f} if review re-rolls it {found['retakes']} times"
    return found


def render(studio: Studio, spec: Path, line: str, progress: JobProgress) -> Any:
    from podpipe.studio.actions import render_take

    return render_take(spec, line, root=studio.root, cache_dir=cache_dir(studio), progress=progress)


def describe_take(result: dict[str, Any]) -> dict[str, Any]:
    """What a finished take job tells the page: the take, and its words."""
    verdict = {"accepted": "passed review", "flagged": "flagged by review"}.get(result.get("status"), result.get("status"))
    return {"result": _jsonable(result), "message": f"take {result.get('take')} rendered, {verdict}"}


def describe_build(result: dict[str, Any]) -> dict[str, Any]:
    return {"result": result, "message": str(result.get("summary") or result.get("state") or "built")}


def build(studio: Studio, spec: Path, progress: JobProgress) -> Any:
    from podpipe.studio.actions import build_episode

    return _jsonable(build_episode(spec, root=studio.root, cache_dir=cache_dir(studio), progress=progress))


def _jsonable(value: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


__all__ = ["EXTRA", "build", "cache_dir", "edit", "episode_list", "estimate", "output_path", "render",
           "take_audio", "view"]
