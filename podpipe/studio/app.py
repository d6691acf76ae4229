"""The studio's web app (Starlette): the page, its JSON endpoints over ``view``, ``edits`` and ``actions``, audio
with byte ranges, and the event stream. ``server`` runs it with uvicorn on the loopback address.

Every request passes ``guard.Guard`` (the token, CSRF on every state-changing request, the loopback Host).
Specs are named by their path relative to the project root (``?spec=episodes/ep01.yaml``) and must be one of
the specs the studio was started with; ``guard.inside`` refuses any path that leaves the root. Audio is read
only from the project root (built episodes) and the cache (takes). Views, renders and builds run in worker
threads, never on the event loop.

    GET  /                     the page (static/index.html; ?token=… sets the session cookie)
    GET  /static/{file}        studio.css, studio.js
    GET  /api/session          the CSRF token and the episodes
    GET  /api/episode?spec=    the episode's view (lines, takes, waveforms, chapters, output, sha256)
    GET  /api/audio?spec=      the built episode (byte ranges)
    GET  /api/take?spec=&take= one take's audio (byte ranges)
    GET  /api/events           server-sent events: changed files, job progress
    POST /api/edit?spec=       {"base": sha256, "edit": {...}} → saved (sha256, diff) | 422 refused | 409 conflict
    POST /api/estimate?spec=   {"line": id} → the cost of another take
    POST /api/render?spec=     {"line": id} → a job rendering another take
    POST /api/build?spec=      → a job re-rendering what is stale and mixing the episode
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from podpipe.formats import format_of
from podpipe.studio import bridge as core
from podpipe.studio.guard import Guard, PathRefused, csrf_for, within
from podpipe.studio.live import watch
from podpipe.studio.project import Studio

STATIC = Path(__file__).parent / "static"
TAKE_ID = re.compile(r"^[0-9a-f]{8,64}$")


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers={"cache-control": "no-store"})


def _handled(handler):
    """Answer a refused path with 403, an unknown spec with 404, a user-facing error with 422."""
    from podpipe.errors import PodpipeError

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except PathRefused as exc:
            return _error(403, f"refused: {exc}")
        except LookupError as exc:
            return _error(404, str(exc))
        except PodpipeError as exc:
            return _error(422, str(exc))
    return wrapped


def create_app(studio: Studio) -> Starlette:
    """The app for ``studio``; its lifespan binds the event bus to the loop and watches the specs."""

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    async def session(request: Request) -> Response:
        episodes = await run_in_threadpool(core.episode_list, studio)
        return JSONResponse({"csrf": csrf_for(studio.token), "root": studio.root.name, "episodes": episodes,
                             "extra": core.EXTRA}, headers={"cache-control": "no-store"})

    @_handled
    async def episode(request: Request) -> Response:
        spec = studio.spec_path(request)
        view = await run_in_threadpool(core.view, studio, spec)
        return JSONResponse(view, headers={"cache-control": "no-store"})

    @_handled
    async def audio(request: Request) -> Response:
        spec = studio.spec_path(request)
        output = await run_in_threadpool(core.output_path, studio, spec)
        if output is None or not output.is_file():
            return _error(404, f"{studio.rel(spec)} is not built yet")
        if not within(output, studio.root):
            return _error(403, "refused: the episode's output lies outside the project root")
        return _audio_file(output)

    @_handled
    async def take(request: Request) -> Response:
        studio.spec_path(request)
        take_id = request.query_params.get("take", "")
        if not TAKE_ID.match(take_id):
            return _error(400, "a take id is 8 to 64 hex digits")
        path = await run_in_threadpool(core.take_audio, studio, take_id)
        bases = [studio.root] + ([studio.cache_dir] if studio.cache_dir else [])
        if path is None or not path.is_file():
            return _error(404, f"no take {take_id} in the cache")
        if not within(path, *bases, core.cache_dir(studio)):
            return _error(403, "refused: the take lies outside the project root and the cache")
        return _audio_file(path)

    @_handled
    async def edit(request: Request) -> Response:
        spec = studio.spec_path(request)
        body = await _json(request)
        base = body.get("base")
        if not isinstance(base, str) or not isinstance(body.get("edit"), dict):
            return _error(400, 'send {"base": the spec\'s sha256, "edit": {"kind": …}}')
        outcome = await run_in_threadpool(core.edit, studio, spec, body["edit"], base)
        status = outcome.pop("status", 200)
        if status == 200:
            studio.own.add(outcome["sha256"])
        return JSONResponse(outcome, status_code=status, headers={"cache-control": "no-store"})

    @_handled
    async def estimate(request: Request) -> Response:
        spec = studio.spec_path(request)
        line = (await _json(request)).get("line")
        if not isinstance(line, str):
            return _error(400, 'send {"line": the line\'s id}')
        return JSONResponse(await run_in_threadpool(core.estimate, studio, spec, line))

    @_handled
    async def render(request: Request) -> Response:
        spec = studio.spec_path(request)
        line = (await _json(request)).get("line")
        if not isinstance(line, str):
            return _error(400, 'send {"line": the line\'s id}')
        job = studio.jobs.start("take", studio.rel(spec), lambda progress: core.render(studio, spec, line, progress),
                                line=line, describe=core.describe_take)
        return JSONResponse(job, status_code=202)

    @_handled
    async def build(request: Request) -> Response:
        spec = studio.spec_path(request)
        job = studio.jobs.start("build", studio.rel(spec), lambda progress: core.build(studio, spec, progress),
                                describe=core.describe_build)
        return JSONResponse(job, status_code=202)

    async def events(request: Request) -> Response:
        async def closed() -> bool:
            return await request.is_disconnected()
        return StreamingResponse(studio.bus.stream(closed), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        studio.bus.bind(asyncio.get_running_loop())
        await run_in_threadpool(core.episode_list, studio)  # where each episode is built: watched too
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(studio.watched, studio.bus, studio.own, stop))
        try:
            yield
        finally:
            stop.set()
            studio.bus.close()
            studio.jobs.close()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher

    routes = [
        Route("/", index),
        Route("/api/session", session),
        Route("/api/episode", episode),
        Route("/api/audio", audio, methods=["GET", "HEAD"]),
        Route("/api/take", take, methods=["GET", "HEAD"]),
        Route("/api/events", events),
        Route("/api/edit", edit, methods=["POST"]),
        Route("/api/estimate", estimate, methods=["POST"]),
        Route("/api/render", render, methods=["POST"]),
        Route("/api/build", build, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC, follow_symlink=False), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(Guard, token=studio.token)
    return app


def _audio_file(path: Path) -> FileResponse:
    """``path`` with byte ranges (Starlette's ``FileResponse`` answers ``Range``), never cached: a rebuild
    writes the same name."""
    found = format_of(path)
    return FileResponse(path, media_type=found.mime if found else "application/octet-stream",
                        headers={"cache-control": "no-cache"})


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


__all__ = ["Studio", "create_app"]
