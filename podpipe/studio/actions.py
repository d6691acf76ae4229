"""What the studio's buttons do that costs time or money: the estimate shown before, one more take of a line,
and rebuilding the episode. Each reports through the library's ``Progress`` hooks
(``podpipe.commands.build.Progress``), so the page can show what the CLI shows.

The backend is the one ``podpipe build`` would use: ``backend`` when given, else the default (without an
API key, the offline voice, which costs nothing). A new take renders exactly as a build renders a request
(the same scheduler, retries, rate limit and take review), under the cache key of the next unused take
number, without editing the spec: picking it is an edit of its own (``edits.PickTake``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from podpipe.commands.build import BuildOptions, Progress
from podpipe.errors import RenderError, UsageError
from podpipe.studio.takes import list_takes, next_take, segment_keys, with_take
from podpipe.studio.view import open_episode, remember_takes


def _root(root: str | Path | None) -> Path:
    return Path(os.path.abspath(root if root is not None else os.getcwd()))


def _next(spec_path: str | Path, segment_id: str, root: Path, cache_dir: str | Path | None, backend: str | None):
    """(the opened episode, the episode with the segment at its next unused take, that take number)."""
    opened = open_episode(spec_path, root=root, cache_dir=cache_dir, backend=backend)
    segment = next((s for s in opened.episode.segments if s.id == segment_id), None)
    if segment is None or not segment.turns:
        spoken = ", ".join(s.id for s in opened.episode.segments if s.turns)
        raise UsageError(f"{segment_id!r}: no spoken segment has that id; spoken segment ids are: {spoken}")
    takes = list_takes(opened.episode, opened.compile, opened.store, [segment_id]).get(segment_id, [])
    number = next_take(takes, segment.take)
    return opened, with_take(opened.episode, [segment_id], number), number


def estimate_take(spec_path: str | Path, segment_id: str, *, root: str | Path | None = None,
                  cache_dir: str | Path | None = None, backend: str | None = None) -> dict[str, Any]:
    """What one more take of ``segment_id`` would cost, estimated by its backend as ``podpipe plan`` does:
    ``usd`` for one take and ``usd_max`` if review re-rolls it every time it may (0 for a free backend)."""
    from podpipe.commands.cost import estimate, price_basis, spec_prices

    root = _root(root)
    opened, episode, number = _next(spec_path, segment_id, root, cache_dir, backend)
    cls = opened.backend
    compiled = opened.compile(episode)
    keys = set(segment_keys(compiled).get(segment_id, ()))
    requests = [r for r in compiled.requests if r.key in keys]
    prices = spec_prices([episode])
    guesses = [estimate(r, prices) for r in requests]
    usd = sum(g.usd for g in guesses) if cls.paid else 0.0
    retakes = episode.review.retakes if episode.review.retakes is not None else _default_retakes()
    return {"segment_id": segment_id, "take": number, "backend": cls.name, "paid": bool(cls.paid),
            "requests": len(requests), "characters": sum(r.characters for r in requests),
            "input_tokens": sum(g.input_tokens for g in guesses),
            "output_tokens": sum(g.output_tokens for g in guesses),
            "usd": round(usd, 6), "usd_max": round(usd * (1 + retakes), 6), "retakes": retakes,
            "price": [b for b in dict.fromkeys(price_basis(cls.name, r.model, prices) for r in requests) if b]
            if cls.paid else []}


def _default_retakes() -> int:
    from podpipe.review import DEFAULT_RETAKES

    return DEFAULT_RETAKES


def render_take(spec_path: str | Path, segment_id: str, *, progress: Progress | None = None,
                root: str | Path | None = None, cache_dir: str | Path | None = None, backend: str | None = None,
                timeout: float | None = None, retakes: int | None = None) -> dict[str, Any]:
    """Render one more take of ``segment_id`` now, at its next unused take number, reviewed like any take,
    without editing the spec; returns its entry of the takes list (the kept take of that number; the takes
    review rejected beside it are listed in the view; ``current`` when it is the written take, which a line
    whose text changed renders first). ``RenderError`` when it could not be rendered."""
    from podpipe.commands.review import reviewer_for
    from podpipe.render import RenderOptions, Scheduler

    progress = progress or Progress()
    root = _root(root)
    opened, episode, number = _next(spec_path, segment_id, root, cache_dir, backend)
    cls, store = opened.backend, opened.store
    compiled = opened.compile(episode)
    keys = segment_keys(compiled).get(segment_id, [])
    missing = [r for r in compiled.requests if r.key in keys and not store.has(r.key)]
    if missing:
        progress.rendering(len(missing))
        instance = cls(timeout=timeout)
        try:
            scheduler = Scheduler(instance, store, RenderOptions(), on_done=progress.rendered,
                                  on_attempt=progress.attempt, on_note=progress.note,
                                  review=reviewer_for(cls, store, [compiled], retakes))
            result = scheduler.run(missing)
        finally:
            instance.close()
        if result.failed:
            reasons = "; ".join(f"{o.error}" for o in result.failed)
            raise RenderError(f"take {number} of {segment_id} could not be rendered: {reasons}")
    takes = list_takes(opened.episode, opened.compile, store, [segment_id]).get(segment_id, [])
    kept = [t for t in takes if t.take == number and not t.rejected]
    if not kept:
        raise RenderError(f"take {number} of {segment_id} was rendered but is not in the cache")
    remember_takes(takes)
    return kept[0].to_json()


def build_episode(spec_path: str | Path, *, progress: Progress | None = None, root: str | Path | None = None,
                  cache_dir: str | Path | None = None, backend: str | None = None,
                  timeout: float | None = None) -> dict[str, Any]:
    """Build the episode as ``podpipe build SPEC`` would (renders what is missing, mixes it when stale);
    returns its state (built, up to date, ...), output and the build's summary line. ``RenderError`` (and
    ``FlaggedError`` under ``review: strict``) as ``build`` raises them."""
    from podpipe.commands.build import build

    root = _root(root)
    result = build([spec_path], BuildOptions(backend=backend, cache_dir=cache_dir, root=root, timeout=timeout,
                                             mix_jobs=1), progress)
    status = result.episodes[0]
    return {"state": status.state, "detail": status.detail,
            "output": None if status.output is None else Path(os.path.relpath(status.output, root)).as_posix(),
            "duration": status.duration, "rendered": len(result.render.rendered), "summary": result.summary()}


__all__ = ["build_episode", "estimate_take", "render_take"]
