"""Mixing the stale episodes of a build: in this process, or in a pool of worker processes that mixes each
episode as soon as its audio is complete, while the renders of the others are still in flight.

A mix is CPU work (numpy, then ffmpeg as a subprocess) that holds the GIL, so threads would not overlap it
with anything; processes do. Workers are *spawned*, never forked: the parent has render threads running
(a forked child would inherit their locks in whatever state they were), and a spawned interpreter starts
with the environment and working directory the build has at that moment. A worker imports this module, the
mix stage and what a compiled episode is made of; the audio libraries load with its first mix. Library
callers that run a build from a script need the usual ``if __name__ == "__main__":`` guard around it
(spawned workers import the main script), or ``BuildOptions(mix_jobs=1)``.

What crosses to a worker: the ``CompiledEpisode`` and the local cache directory (the worker opens its own
``FileStore``); what comes back: a ``Mixed`` (state, detail, the ``MixResult``). A remote cache stays in
the parent: a build downloads what it needs before anything is mixed, so workers read the local cache
only, and an entry damaged there is mixed again here, through the remote (see ``Mixer.result``).

``Readiness`` decides when: it settles each stale episode once the last render it waits for has finished
(mixed, or ``failed``/``not mixed`` without a mix).

Ctrl-C reaches the workers too (one process group): a worker busy mixing stops, removing its temporary
output, and no queued mix starts after it; the parent shuts the pool down. A parent leaving early without
the workers seeing a Ctrl-C (a bug, a signal to the parent alone) lets running mixes finish, whole, and
starts no other.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from podpipe.cache import FileStore, Store
from podpipe.commands.results import EpisodeStatus
from podpipe.compile import CompiledEpisode, RenderRequest
from podpipe.errors import PodpipeError
from podpipe.render import Outcome, RenderResult

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from podpipe.mix import MixResult


@dataclass(frozen=True)
class Mixed:
    """How one mix went: ``built`` with its ``result``, or ``not mixed`` / ``failed`` with the reason."""

    state: str
    detail: str = ""
    result: MixResult | None = None
    damaged: str | None = None  # the cache key whose entry could not be read, when that stopped the mix


def cpu_count() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    counted = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counted is not None:
        return counted() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no affinity masks (macOS, Windows)
        return os.cpu_count() or 1


def mix_one(compiled: CompiledEpisode, store: Store) -> Mixed:
    """Mix ``compiled`` from the renders in ``store``; the failures that belong to this episode alone (a bad
    sound file, an unwritable output, a damaged cache entry) come back as its state, anything else raises."""
    from podpipe.mix import mix_episode

    damaged: list[str] = []

    def audio_for(key: str):
        audio = store.get(key)
        if audio is None:
            damaged.append(key)
            raise LookupError(key)
        return audio

    try:
        mixed = mix_episode(compiled, audio_for, analyses=store)
    except LookupError:
        if not damaged:  # an IndexError or KeyError of the mix itself is a bug, not a damaged entry
            raise
        return Mixed("not mixed", f"cache entry {damaged[0][:12]} is damaged; build again to re-render it",
                     damaged=damaged[0])
    except PodpipeError as exc:
        # One episode's bad sound file or failed encode must not cost the others their (paid) mix.
        return Mixed("failed", str(exc))
    except OSError as exc:
        where = exc.filename or compiled.rundown.output
        return Mixed("failed", f"cannot write {where}: {exc.strerror or exc}")
    return Mixed("built", result=mixed)


# A worker's state: whether a mix is running (Ctrl-C may then stop it) and whether the build was interrupted
# (a mix queued before Ctrl-C must not start after it).
_mixing = False
_interrupted = False
_stopped = None  # the parent's Event, set when the build ends early (a Ctrl-C the workers did not see, a bug)


def _on_interrupt(signum, frame) -> None:
    global _interrupted
    _interrupted = True
    if _mixing:  # between mixes an exception would kill the worker mid-protocol instead
        raise KeyboardInterrupt


def _start_worker(stopped) -> None:
    global _stopped
    _stopped = stopped
    signal.signal(signal.SIGINT, _on_interrupt)
    if hasattr(signal, "pthread_sigmask"):  # started with SIGINT blocked (``_sigint_blocked``): a Ctrl-C
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # that came meanwhile is handled now
    import multiprocessing
    import threading

    parent = multiprocessing.parent_process()
    if parent is not None:
        # A parent that dies without shutting the pool down (killed, or a second Ctrl-C during shutdown)
        # would leave this worker waiting for work forever.
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True).start()


@contextlib.contextmanager
def _sigint_blocked():
    """Worker processes started inside this block inherit SIGINT blocked (the mask survives fork and exec),
    so a Ctrl-C that comes while one is still starting up waits until ``_start_worker`` has installed its
    handler, instead of killing a half-started worker with a traceback on the user's terminal."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _exit_with_parent(sentinel: int) -> None:
    from multiprocessing.connection import wait

    wait([sentinel])
    os._exit(1)


def _mix_in_worker(compiled: CompiledEpisode, cache_root: Path) -> Mixed:
    global _mixing
    _mixing = True
    try:
        if _interrupted or _stopped.is_set():
            raise KeyboardInterrupt
        return mix_one(compiled, FileStore(cache_root))
    finally:
        _mixing = False


class Mixer:
    """Mixes episodes submitted as their audio completes; ``result`` hands each one's ``Mixed`` back.

    ``jobs`` 1: in this process, each mix run by ``result`` (so after the renders, as a one-episode build
    wants: no pool to start). More: up to ``jobs`` worker processes, started with the first ``submit``.
    Use it as a context manager: leaving it (normally, on Ctrl-C or on a bug) cancels the mixes not started
    and waits for the running ones, whose outputs are written atomically or not at all.
    """

    def __init__(self, jobs: int, local: FileStore, store: Store):
        self.jobs = jobs
        self.local = local
        self.store = store  # the local cache, or the local cache in front of a remote one
        self._pool: ProcessPoolExecutor | None = None
        self._started: dict[Path, Future | Callable[[], Mixed]] = {}

    def __enter__(self) -> Mixer:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._stopped.set()  # every mix the build waits for is done; any still queued is not wanted
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, compiled: CompiledEpisode) -> None:
        """Start mixing ``compiled`` (every render it needs is in the cache)."""
        if self.jobs <= 1:
            self._started[compiled.episode.path] = lambda: mix_one(compiled, self.store)
            return
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor  # loads multiprocessing: only for a pool

            context = multiprocessing.get_context("spawn")
            self._stopped = context.Event()
            self._pool = ProcessPoolExecutor(self.jobs, mp_context=context, initializer=_start_worker,
                                             initargs=(self._stopped,))
        with _sigint_blocked():  # a submit may start a worker process
            self._started[compiled.episode.path] = self._pool.submit(_mix_in_worker, compiled, self.local.root)

    def result(self, compiled: CompiledEpisode) -> Mixed:
        """Wait for the mix of a submitted episode. A bug in a worker is raised here (with the worker's
        traceback as its cause)."""
        started = self._started.pop(compiled.episode.path)
        if not isinstance(started, Future):
            return started()
        mixed = started.result()
        if mixed.damaged and self.store is not self.local:
            # The worker saw only the local cache; here the remote may still hold a good copy of the entry.
            mixed = mix_one(compiled, self.store)
        return mixed


class Readiness:
    """Which stale episode waits for which render. Each is settled once, when the last render it waits for
    has finished (or at once, when it waits for none): mixed if its audio is complete, else ``failed`` (a
    render failed) or ``not mixed`` (a segment is not rendered, e.g. with ``--only``)."""

    def __init__(self, stale: Sequence[CompiledEpisode], missing: Sequence[RenderRequest], store: Store,
                 mixer: Mixer):
        self.store, self.mixer = store, mixer
        self.stale = stale
        rendering = {r.key for r in missing}
        self.waiting = {c.episode.path: set(c.rundown.keys) & rendering for c in stale}
        self.waiters: dict[str, list[CompiledEpisode]] = {}
        for compiled in stale:
            for key in self.waiting[compiled.episode.path]:
                self.waiters.setdefault(key, []).append(compiled)
        self.failed: set[str] = set()
        self.verdicts: dict[Path, EpisodeStatus] = {}  # settled without a mix
        for compiled in stale:
            if not self.waiting[compiled.episode.path]:
                self._settle(compiled)

    def rendered(self, outcome: Outcome) -> None:
        """The scheduler's ``on_done``: called on the thread running the renders, once per request sent."""
        key = outcome.request.key
        if not outcome.ok:
            self.failed.add(key)
        for compiled in self.waiters.pop(key, ()):
            waiting = self.waiting[compiled.episode.path]
            waiting.discard(key)
            if not waiting:
                self._settle(compiled)

    def finish(self, result: RenderResult) -> None:
        """After the renders: settle the episodes still waiting, for keys another build rendered meanwhile
        or for renders that never started (the scheduler calls ``on_done`` for neither)."""
        self.failed.update(o.request.key for o in result.failed)
        for compiled in self.stale:
            if compiled.episode.path in self.waiting:
                self._settle(compiled)

    def _settle(self, compiled: CompiledEpisode) -> None:
        path = compiled.episode.path
        del self.waiting[path]
        keys = compiled.rundown.keys
        if failed := [k for k in keys if k in self.failed]:
            self.verdicts[path] = EpisodeStatus(compiled, "failed",
                                                f"{len(failed)} render{'s' if len(failed) != 1 else ''} failed")
        elif absent := [k for k in keys if not self.store.has(k)]:
            self.verdicts[path] = EpisodeStatus(
                compiled, "not mixed", f"{len(absent)} segment{'s' if len(absent) != 1 else ''} not rendered yet "
                                       f"(build without --only to render them)")
        else:
            self.mixer.submit(compiled)

    def status(self, compiled: CompiledEpisode) -> EpisodeStatus:
        """The episode's status, waiting for its mix when it has one."""
        if compiled.episode.path in self.verdicts:
            return self.verdicts[compiled.episode.path]
        mixed = self.mixer.result(compiled)
        if mixed.result is None:
            return EpisodeStatus(compiled, mixed.state, mixed.detail)
        result = mixed.result
        return EpisodeStatus(compiled, "built", output=result.output, duration=result.duration, notes=result.notes,
                             mixed=result)
