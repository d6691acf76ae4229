"""Everything the studio's page shows of one episode, as one JSON-able dict (``episode_view``), and the file of
a take to play (``take_audio``).

The view is read, never rendered: the spec (validated as ``podpipe validate`` would), the requests a build
would make with the backend it would use (``commands.build.prepare_episodes``), the cache's records
(statuses, take review's verdicts, every take of every line: ``podpipe.studio.takes``) and the built
output's manifest (durations, chapters, where each line is heard). Waveforms come from the loudness figures
kept beside each take (``podpipe.studio.waves``).
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podpipe.cache.takes import take_id
from podpipe.errors import SpecError, UsageError
from podpipe.studio.edits import sha256_of, shown_diagnostics
from podpipe.studio.takes import Take, line_status, list_takes, segment_keys
from podpipe.studio.waves import TAKE_POINTS, episode_waveform, take_waveform

if TYPE_CHECKING:
    from podpipe.cache import FileStore
    from podpipe.commands.build import Prepared
    from podpipe.compile import CompiledEpisode
    from podpipe.errors import Diagnostic
    from podpipe.mix.freshness import Freshness
    from podpipe.spec import Episode

# take id -> cache key of every take a view listed, so ``take_audio`` finds one without reading the cache
_known: dict[str, str] = {}
_known_lock = threading.Lock()
_TAKE_ID = re.compile(r"[0-9a-f]{8,64}")


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass(frozen=True)
class Opened:
    """An episode as a build of it would see it (``commands.build.prepare_episodes``, the local cache only)."""

    episode: Episode
    backend: type  # the backend class a build would render with
    compiled: CompiledEpisode  # its requests and rundown, as the build would mix them
    store: FileStore  # the local cache
    warnings: tuple[Diagnostic, ...]
    prepared: Prepared

    def compile(self, episode: Episode) -> CompiledEpisode:
        """Another version of the episode (e.g. another take of a line) compiled for the same backend."""
        from podpipe.commands.build import compile_for

        return compile_for(self.backend, episode)

    def freshness(self) -> Freshness:
        """What a build would do with the output (``mix.freshness``), as ``podpipe plan`` says it."""
        return self.prepared.freshness()[self.episode.path]


def open_episode(spec_path: str | Path, *, root: Path, cache_dir: str | Path | None = None,
                 backend: str | None = None) -> Opened:
    """The episode at ``spec_path`` as ``podpipe build`` would prepare it; SpecError when it is invalid. The
    backend is the one the build would use (``backend``, else the default: the offline voice without an API
    key); the remote cache is not used."""
    from podpipe import backends
    from podpipe.cache import resolve_cache_dir
    from podpipe.commands.build import BuildOptions, prepare_episodes
    from podpipe.spec import load_episodes

    loaded = load_episodes([spec_path], root=root, cache_root=resolve_cache_dir(cache_dir, cwd=root), rules=backends)
    if not loaded.episodes:
        raise UsageError(f"{spec_path}: no episode")
    prepared = prepare_episodes(loaded.episodes, BuildOptions(backend=backend, cache_dir=cache_dir, root=root,
                                                              remote_mode="off"), loaded.warnings)
    return Opened(loaded.episodes[0], backends.backend_class(prepared.backend), prepared.episodes[0],
                  prepared.local, prepared.warnings, prepared)


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
        opened = open_episode(path, root=root, cache_dir=cache_dir, backend=backend)
    except SpecError as exc:
        view["errors"] = shown_diagnostics(exc.diagnostics, path, root)
        return view
    episode, compiled, store = opened.episode, opened.compiled, opened.store
    state = opened.freshness()
    output = compiled.rundown.output
    manifest = _manifest(output) if output.exists() else None
    fresh = state.up_to_date and manifest is not None
    view.update(title=episode.title, backend=opened.backend.name, fresh=fresh, state=state.describe(),
                warnings=shown_diagnostics(opened.warnings, path, root))
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
    takes = list_takes(episode, opened.compile, store)
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
        waves = {t.key: take_waveform(store, t.key) for t in listed}
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
            "waveform": waves.get(current[0].key) if current else None,
            "takes": [{**t.to_json(), "waveform": waves[t.key], "duration": _duration(store, t.key)} for t in listed],
        })
    return view


def _find(root: str | Path, cache_dir: str | Path | None, take: str):
    """(store, cache key) of the take with id ``take``; LookupError when the cache holds no such take."""
    from podpipe.cache import FileStore, resolve_cache_dir

    if not isinstance(take, str) or not _TAKE_ID.fullmatch(take):
        raise LookupError(f"not a take id: {take!r}")
    store = FileStore(resolve_cache_dir(cache_dir, cwd=Path(os.path.abspath(root))))
    with _known_lock:
        key = _known.get(take)
    if key is None or not str((store.meta(key) or {}).get("sha256", "")).startswith(take):
        key = next((k for k in store.keys() if str((store.meta(k) or {}).get("sha256", "")).startswith(take)), None)
    if key is None or not store.has(key):
        raise LookupError(f"no take {take} in the cache")
    return store, key


def _duration(store: FileStore, key: str) -> float | None:
    seconds = (store.meta(key) or {}).get("duration")
    return float(seconds) if isinstance(seconds, (int, float)) else None


def take_audio(root: str | Path, cache_dir: str | Path | None, take: str) -> Path:
    """The WAV of the take with id ``take`` (as a view lists it), inside the cache directory; LookupError
    when the cache holds no such take."""
    store, key = _find(root, cache_dir, take)
    wav = store.entry_paths(key)[0].resolve()
    if not wav.is_relative_to(store.root.resolve()):
        raise LookupError(f"no take {take} in the cache")
    return wav


def take_wave(root: str | Path, cache_dir: str | Path | None, take: str, points: int = TAKE_POINTS) -> list[float]:
    """The waveform of any take by id (the view draws only each line's current take's), from its figures;
    LookupError when the cache holds no such take."""
    store, key = _find(root, cache_dir, take)
    wave = take_waveform(store, key, points)
    if wave is None:
        raise LookupError(f"no take {take} in the cache")
    return wave


__all__ = ["episode_view", "open_episode", "remember_takes", "take_audio", "take_wave"]
