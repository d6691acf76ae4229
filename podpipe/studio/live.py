"""What the studio tells the page as it happens, by server-sent events: specs changed on disk (watched with
``watchfiles``), and the progress of renders and builds, which run in a worker thread, off the event loop.

``Bus`` fans events out to every open page; ``Jobs`` runs one heavy action at a time (renders share the cache
and the API's rate) and reports it through the library's ``Progress`` protocol; ``watch`` reports every change
to a spec file or a built output with the file's sha256, and whether the studio wrote it itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from podpipe.commands.build import Progress

HEARTBEAT = 15.0  # seconds between comments on an idle event stream, so proxies and browsers keep it open


def sha256_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class Bus:
    """Events to every subscriber (an open page's event stream); ``publish`` is safe from any thread."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, event: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._put(event)
        else:
            loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: dict[str, Any]) -> None:
        for queue in list(self._queues):
            queue.put_nowait(event)

    async def stream(self, closed: Callable[[], Any]) -> AsyncIterator[str]:
        """The text/event-stream of one subscriber, until ``closed()`` (awaitable) says the client left."""
        queue: asyncio.Queue = asyncio.Queue()
        self._queues.add(queue)
        try:
            yield "retry: 1000\n\n"
            yield _event({"type": "hello"})
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), HEARTBEAT)
                except TimeoutError:
                    if await closed():
                        return
                    yield ": idle\n\n"
                    continue
                if event.get("type") == "bye":
                    return
                yield _event(event)
        finally:
            self._queues.discard(queue)

    def close(self) -> None:
        """End every open stream (at shutdown, from a signal handler too: it only schedules the end)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._put, {"type": "bye"})


def _event(data: dict[str, Any]) -> str:
    return f"event: {data['type']}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class JobProgress(Progress):
    """The library's ``Progress`` hooks of one job, as ``job`` events on the bus."""

    def __init__(self, bus: Bus, job: dict[str, Any]) -> None:
        self.bus, self.job = bus, job
        self.total = 0
        self.done = 0

    def _say(self, **fields: Any) -> None:
        self.job.update(fields)
        self.bus.publish({"type": "job", **self.job})

    def note(self, message: str) -> None:
        self._say(message=message)

    def rendering(self, total: int) -> None:
        self.total = total
        self._say(done=self.done, total=total, message=f"rendering {total} take{'s' * (total != 1)}")

    def attempt(self, request, attempt: int) -> None:
        if attempt > 1:
            self._say(message=f"attempt {attempt}")

    def rendered(self, outcome) -> None:
        self.done += 1
        self._say(done=self.done, total=max(self.total, self.done), message=f"rendered {self.done}")

    def episode(self, status) -> None:
        self._say(message="mixed the episode")


class Jobs:
    """Heavy actions, one at a time, in a worker thread; each reports ``job`` events (state running, done or
    failed) with its id, so the page that started it can follow it."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="podpipe-studio")
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, kind: str, spec: str, work: Callable[[JobProgress], Any], *,
              line: str | None = None, describe: Callable[[Any], dict[str, Any]] = lambda result: {}) -> dict:
        with self._lock:
            job = {"id": next(self._ids), "kind": kind, "spec": spec, "line": line, "state": "queued",
                   "message": "waiting for the job before it", "done": 0, "total": 0}
        self.bus.publish({"type": "job", **job})

        def run() -> None:
            progress = JobProgress(self.bus, job)
            progress._say(state="running", message="starting")
            try:
                result = work(progress)
            except Exception as exc:  # noqa: BLE001 - shown to the user; the server goes on
                progress._say(state="failed", message=str(exc) or type(exc).__name__)
                return
            progress._say(**({"state": "done", "message": "done"} | describe(result)))

        self._pool.submit(run)
        return dict(job)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Own:
    """The sha256s of the files the studio itself wrote, so the watcher can tell them from outside edits."""

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def add(self, sha256: str) -> None:
        self._seen[sha256] = None
        while len(self._seen) > 256:
            self._seen.pop(next(iter(self._seen)))

    def __contains__(self, sha256: object) -> bool:
        return sha256 in self._seen


async def watch(paths: Callable[[], dict[Path, str]], bus: Bus, own: Own, stop: asyncio.Event) -> None:
    """Publish a ``changed`` event for every change to one of ``paths()`` (file → what it is: ``spec`` or
    ``output``, with the spec it belongs to), until ``stop`` is set."""
    from watchfiles import awatch

    watched = paths()
    folders = sorted({str(p.parent) for p in watched if p.parent.is_dir()})
    if not folders:
        return

    def relevant(change, name: str) -> bool:
        return Path(name) in paths()

    async for changes in awatch(*folders, watch_filter=relevant, stop_event=stop, recursive=False,
                                debounce=200, step=50):
        current = paths()
        for _, name in sorted(changes):
            path = Path(name)
            if path not in current:
                continue
            what, spec = current[path].split(":", 1)
            digest = sha256_of(path)
            bus.publish({"type": "changed", "what": what, "spec": spec, "sha256": digest,
                         "own": digest is not None and digest in own})
