"""Everything the studio's page shows of one episode, as one JSON-able dict (``episode_view``), and the file of
a take to play (``take_audio``).

The view is read, never rendered: the spec (validated as ``podpipe validate`` would), the requests a build
would make with the backend it would use (``compile_for``), the cache's records (statuses, take review's
verdicts, every take of every line: ``podpipe.studio.takes``) and the built output's manifest (durations,
chapters, where each line is heard). Waveforms come from the loudness figures kept beside each take
(``podpipe.studio.waves``).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

from podpipe.cache.takes import take_id
from podpipe.errors import SpecError, UsageError
from podpipe.studio.edits import sha256_of
from podpipe.studio.takes import Take, line_status, list_takes, segment_keys
from podpipe.studio.waves import episode_waveform, take_waveform

# take id -> cache key of every take a view listed, so ``take_audio`` finds one without reading the cache
_known: dict[str, str] = {}
_known_lock = threading.Lock()
_TAKE_ID = re.compile(r"[0-9a-f]{8,64}")


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:
        return path.as_posix()


def open_episode(spec_path: str | Path, *, root: Path, cache_dir: str | Path | None = None,
                 backend: str | None = None):
    """(episode, backend class, compile function, local store, warnings) for ``spec_path``; SpecError when
    it is invalid. The backend is the one ``podpipe build`` would use (``--backend``, else the default:
    the offline voice without an API key)."""
    from podpipe import backends
    from podpipe.cache import FileStore, resolve_cache_dir
    from podpipe.commands.build import compile_for
    from podpipe.spec import load_episodes

    cache_root = resolve_cache_dir(cache_dir, cwd=root)
    loaded = load_episodes([spec_path], root=root, cache_root=cache_root, rules=backends)
    if not loaded.episodes:
        raise UsageError(f"{spec_path}: no episode")
    episode = loaded.episodes[0]
    cls = backends.backend_class(backend or backends.default_backend_name())
    return episode, cls, (lambda ep: compile_for(cls, ep)), FileStore(cache_root), loaded.warnings


def _manifest(output: Path) -> dict[str, Any] | None:
    from podpipe.mix import ManifestError, read_manifest

    try:
        return read_manifest(output)
    except ManifestError:
        return None


def remember_takes(takes: list[Take]) -> None:
    with _known_lock:
        for t in takes:
            _known[t.id] = t.key
            if len(_known) > 100_000:
                _known.pop(next(iter(_known)))


def episode_view(spec_path: str | Path, *, root: str | Path, cache_dir: str | Path | None = None,
                 backend: str | None = None) -> dict[str, Any]:
    """What the page shows of the episode at ``spec_path`` (see the module doc). An invalid spec gives the
    view of what can be read (path, sha256) with ``errors`` (the validation messages) and no lines."""
    root = Path(os.path.abspath(root))
    path = Path(os.path.abspath(spec_path))
    raw = path.read_bytes()
    view: dict[str, Any] = {"spec": _rel(path, root), "sha256": sha256_of(raw), "title": None, "backend": None,
                            "output": None, "duration": None, "fresh": False, "state": None, "chapters": [],
                            "waveform": None, "lines": [], "errors": [], "warnings": []}
    try:
        episode, cls, compile_, store, warnings = open_episode(path, root=root, cache_dir=cache_dir, backend=backend)
    except SpecError as exc:
        view["errors"] = [str(d) for d in exc.diagnostics]
        return view
    from podpipe.mix.freshness import freshness

    compiled = compile_(episode)
    state = freshness(compiled, has=store.has)
    output = compiled.rundown.output
    manifest = _manifest(output) if output.exists() else None
    fresh = state.up_to_date and manifest is not None
    view.update(title=episode.title, backend=cls.name, fresh=fresh, state=state.describe(),
                warnings=[str(w) for w in warnings])
    built: dict[str, list[dict[str, Any]]] = {}
    if manifest is not None:
        view.update(output=_rel(output, root), duration=float(manifest.get("duration") or 0.0),
                    waveform=episode_waveform(manifest, store))
        for piece in manifest.get("pieces", []):
            if isinstance(piece, dict):
                built.setdefault(str(piece.get("segment_id")), []).append(piece)
                if piece.get("chapter"):  # set on the first piece of a segment that starts a chapter
                    view["chapters"].append({"title": piece["chapter"], "start": float(piece.get("start") or 0.0),
                                             "segment_id": piece.get("segment_id")})
    keys = segment_keys(compiled)
    takes = list_takes(episode, compile_, store)
    chapter = None
    for segment in episode.segments:
        chapter = segment.chapter or chapter
        if not segment.turns:
            continue
        mine = keys.get(segment.id, [])
        built_keys = [p["key"] for p in built.get(segment.id, []) if isinstance(p.get("key"), str)]
        status, reasons, scores = line_status(mine, store, segment.accept, built_keys or None)
        listed = takes.get(segment.id, [])
        remember_takes(listed)
        current = [t for t in listed if t.current and t.part == 0]
        where = [p for p in built.get(segment.id, []) if p.get("key")] if fresh else []
        names = [episode.speaker(t.speaker).name for t in segment.turns]
        meta = store.meta(mine[0]) if mine and store.has(mine[0]) else None
        view["lines"].append({
            "segment_id": segment.id, "index": segment.index, "kind": segment.kind, "line": segment.line,
            "speaker": names[0], "speakers": list(dict.fromkeys(names)),
            "turns": [{"speaker": n, "speaker_id": t.speaker, "text": t.text} for n, t in zip(names, segment.turns)],
            "text": "\n".join(t.text for t in segment.turns) if segment.kind == "dialogue" else segment.turns[0].text,
            "chapter": chapter, "starts_chapter": segment.chapter, "style": segment.style,
            "take_number": segment.take, "accept": list(segment.accept),
            "status": status, "reasons": list(reasons), "scores": scores,
            "start": min(float(p["start"]) for p in where) if where else None,
            "end": max(float(p["end"]) for p in where) if where else None,
            "take": current[0].id if current else (take_id(meta) if meta else None),
            "waveform": take_waveform(store, current[0].key) if current else None,
            "takes": [t.to_json() for t in listed],
        })
    return view


def take_audio(root: str | Path, cache_dir: str | Path | None, take: str) -> Path:
    """The WAV of the take with id ``take`` (as a view lists it), inside the cache directory; LookupError
    when the cache holds no such take."""
    from podpipe.cache import FileStore, resolve_cache_dir

    if not isinstance(take, str) or not _TAKE_ID.fullmatch(take):
        raise LookupError(f"not a take id: {take!r}")
    cache_root = resolve_cache_dir(cache_dir, cwd=Path(os.path.abspath(root)))
    store = FileStore(cache_root)
    with _known_lock:
        key = _known.get(take)
    if key is None or not (store.meta(key) or {}).get("sha256", "").startswith(take):
        key = next((k for k in store.keys() if str((store.meta(k) or {}).get("sha256", "")).startswith(take)), None)
    if key is None or not store.has(key):
        raise LookupError(f"no take {take} in the cache")
    wav = store.entry_paths(key)[0].resolve()
    if not wav.is_relative_to(cache_root.resolve()):
        raise LookupError(f"no take {take} in the cache")
    return wav


__all__ = ["episode_view", "open_episode", "remember_takes", "take_audio"]
