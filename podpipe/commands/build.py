"""The library API behind ``podpipe build`` and ``podpipe plan``: specs in, episodes out.

    from podpipe.commands.build import BuildOptions, build
    result = build(["episodes/ep01.yaml"], BuildOptions(jobs=4))
    print(result.summary())

Order of work: load + validate every spec (nothing happens if any is invalid) → compile → skip episodes whose
output is up to date (``mix.freshness``: the state ``podpipe plan`` prints) → render the requests not in the
cache, each key once across all episodes → mix every episode whose audio is complete, each as soon as it is
(``mixing.Mixer``: in worker processes, while the renders of the others go on). Heavy modules (pydub,
google-genai) are imported only when there is something to render or mix.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from podpipe import backends
from podpipe.cache import FileStore, Store, resolve_cache_dir
from podpipe.cache.layout import ENV_URL as REMOTE_URL_VARIABLE
from podpipe.commands.results import BuildResult, EpisodeStatus, shown_path
from podpipe.commands.sharing import claim_outputs, releasing, share_output
from podpipe.compile import MAX_REQUEST_CHARS, CompiledEpisode, RenderRequest, SpeechPiece, compile_episode
from podpipe.errors import (Diagnostic, FlaggedError, FrozenMissError, RemoteConfigError, RenderError,
                            SpecError, UsageError)
from podpipe.render import QUOTA_WAIT, WINDOW, Outcome, RenderOptions, RenderResult, Scheduler
from podpipe.spec import Episode, load_episodes

if TYPE_CHECKING:  # the mix stage and the remote cache are imported only when a build gets that far
    from podpipe.backends.base import Backend
    from podpipe.cache import RemoteCache
    from podpipe.mix.freshness import Freshness

@dataclass(frozen=True)
class BuildOptions:
    backend: str | None = None  # None: the configured backend of highest priority (backends.default_backend_name)
    jobs: int | None = None
    rpm: float | None = None  # None: auto (each model's rate, adapted to the server); 0: no limit; N: a ceiling
    attempts: int = 5
    quota_wait: float = QUOTA_WAIT  # seconds a build may wait for quota in all (server-asked pauses), then fails
    rate_limit_url: str | None = None  # redis://host:port/db: a rate shared by every machine on the key
    shares: int = 1  # builds sharing the key's quota at once, this one included (--shard K/N: N); each starts
    # at its share of the rate (without --rate-limit-url, which shares one rate between them)
    rate_window: float = WINDOW  # seconds a rate is counted over; shorter only in tests and benchmarks
    timeout: float | None = None  # seconds per request attempt
    force: bool = False  # mix again even when the output is up to date (renders still come from the cache)
    frozen: bool = False  # fail with exit 3, rendering nothing, when any request is not cached
    cache_dir: str | Path | None = None
    only: tuple[str, ...] = ()  # segment ids: render just these (mix only if the episode is then complete)
    root: Path | None = None  # project root: sound/output paths may not leave it; default cwd
    allow_outside: bool = False  # let specs name files outside the root (explicit opt-in)
    strict: bool = False  # warnings are errors (exit 2 before anything is rendered); flagged takes fail (exit 4)
    retakes: int | None = None  # new takes for a take that fails review (0: none); None: the spec's review:, else 2
    # judge the cached kept takes again by today's review (``commands.rejudge``): flags set and cleared, nothing
    # rendered unless ``retakes`` is given too (then a take that passed before and fails now is re-rolled)
    review_cached: bool = False
    remote_cache: str | None = None  # URL of a shared cache (else $PODPIPE_REMOTE_CACHE); None and unset: none
    remote_mode: str | None = None  # read | write | off (else $PODPIPE_REMOTE_CACHE_MODE; default: the URL's)
    # seconds the remote cache may cost a build in operations that fail or get no answer, in all (else
    # $PODPIPE_REMOTE_CACHE_TIMEOUT, else 30); then it is switched off for the rest of the build
    remote_timeout: float | None = None
    # episodes mixed at once, each in a worker process, while renders go on; None: one per core; 1: in this
    # process after the renders (also what a build with a single stale episode does: no pool to start)
    mix_jobs: int | None = None


class Progress:
    """Progress hooks; the CLI draws with click, a library caller may log or ignore them."""

    def note(self, message: str) -> None: ...

    def rendering(self, total: int) -> None: ...

    def attempt(self, request: RenderRequest, attempt: int) -> None: ...

    def rendered(self, outcome: Outcome) -> None: ...

    def episode(self, status: EpisodeStatus) -> None: ...


class Notes(list):
    """What the remote cache has to say (faults, rejections, repairs), from any thread: kept until someone
    listens (``execute`` hands it the progress's ``note``), then passed on the moment it is said."""

    def __init__(self) -> None:
        super().__init__()
        self._listener: Callable[[str], None] | None = None
        self._lock = threading.Lock()

    def append(self, message: str) -> None:
        with self._lock:
            listener = self._listener
            if listener is None:
                super().append(message)
                return
        listener(message)

    def listen(self, listener: Callable[[str], None]) -> None:
        """Pass on what was said so far, and from now on every message as it comes."""
        with self._lock:
            pending = list(self)
            self.clear()
            self._listener = listener
        for message in pending:
            listener(message)


@dataclass(frozen=True)
class Prepared:
    backend: str
    backend_defaulted: bool
    episodes: tuple[CompiledEpisode, ...]
    warnings: tuple[Diagnostic, ...]
    store: Store  # the local cache, or the local cache in front of a remote one (``TieredStore``)
    local: FileStore
    remote: RemoteCache | None = None
    # what the remote cache has to say (faults, rejected downloads, repairs), from any thread: printed as it
    # happens once a build runs (``Notes.listen``), kept until then
    remote_notes: Notes = field(default_factory=Notes, compare=False)

    def close(self) -> None:
        """Let go of the remote cache (its lease renewals); the local cache needs nothing."""
        if self.remote is not None:
            self.remote.close()

    def freshness(self, force: bool = False) -> dict[Path, Freshness]:
        """Each episode's ``mix.freshness`` (spec path → state), renders looked up in this cache: what a build
        acts on and ``podpipe plan`` prints."""
        from podpipe.mix.freshness import freshness  # the mix stage loads only when a build gets this far

        return {c.episode.path: freshness(c, has=self.store.has, force=force) for c in self.episodes}

    def needed(self, episodes: Sequence[CompiledEpisode], only: Sequence[str] = ()) -> list[RenderRequest]:
        """Unique requests of ``episodes`` (restricted to segment ids in ``only``), in first-use order."""
        seen: dict[str, RenderRequest] = {}
        for compiled in episodes:
            wanted = {p.key for p in compiled.rundown.pieces
                      if isinstance(p, SpeechPiece) and (not only or p.segment_id in only)}
            for request in compiled.requests:
                if request.key in wanted:
                    seen.setdefault(request.key, request)
        return list(seen.values())


def prepare(paths: Sequence[str | Path], options: BuildOptions = BuildOptions()) -> Prepared:
    """Validate and compile every spec; raises SpecError (exit 2) before anything is rendered."""
    root = Path(options.root or os.getcwd()).resolve()
    cache_root = resolve_cache_dir(options.cache_dir, cwd=root)
    loaded = load_episodes(paths, root=root, allow_outside=options.allow_outside, strict=options.strict,
                           cache_root=cache_root, rules=backends)
    return prepare_episodes(loaded.episodes, options, loaded.warnings)


def _check_models(cls: type[Backend], episodes: Sequence[Episode]) -> None:
    """A backend renders only its own models' specs (a draft backend renders stand-ins for any)."""
    if cls.drafts:
        return
    for ep in episodes:
        owner = backends.model_owner(ep.model)
        if owner is not None and owner is not cls:
            model = ep.model or f"no model (so {owner.name}'s default, {owner.default_model})"
            raise UsageError(f"{ep.path.name} names {model}, which backend {owner.name!r} renders, not "
                             f"{cls.name!r}: build it with --backend {owner.name} (or a draft backend), or set "
                             f"model: to one of {cls.name}'s ({', '.join(cls.models()) or 'none known'})")


def prepare_episodes(episodes: Sequence[Episode], options: BuildOptions = BuildOptions(),
                     warnings: Sequence[Diagnostic] = ()) -> Prepared:
    """Compile already validated episodes (from specs, or built in memory like ``podpipe say``'s)."""
    root = Path(options.root or os.getcwd()).resolve()
    name = options.backend or backends.default_backend_name()
    cls = backends.backend_class(name)
    _check_models(cls, episodes)
    compiled = tuple(compile_for(cls, ep) for ep in episodes)
    if options.only:
        known = {p.segment_id for c in compiled for p in c.rundown.pieces if isinstance(p, SpeechPiece)}
        unknown = sorted(set(options.only) - known)
        if unknown:
            raise UsageError(f"--only {', '.join(unknown)}: no spoken segment has that id; spoken segment ids "
                             f"are: {', '.join(sorted(known, key=_natural)) or 'none'}")
    local = FileStore(resolve_cache_dir(options.cache_dir, cwd=root))
    notes = Notes()
    remote = None
    if options.remote_cache or os.environ.get(REMOTE_URL_VARIABLE):
        from podpipe.cache import open_remote, remote_timeout

        remote = open_remote(options.remote_cache, options.remote_mode, on_warning=notes.append,
                             deadline=remote_timeout(options.remote_timeout, os.environ))
        problem = remote.check() if remote is not None else None
        if problem is not None and options.strict:
            remote.close()
            raise RemoteConfigError(f"{problem.error}\n--strict: stopping before anything is rendered")
    store: Store = local
    if remote is not None:
        from podpipe.cache import TieredStore

        store = TieredStore(local, remote)
    from podpipe.commands.review import pick_all

    try:
        compiled, picks = pick_all(compiled, store, options.strict)
    except SpecError:
        if remote is not None:
            remote.close()
        raise
    return Prepared(name, options.backend is None, compiled, (*warnings, *picks), store, local, remote, notes)


def compile_for(cls: type[Backend], episode: Episode) -> CompiledEpisode:
    """``episode`` as requests for backend ``cls``: its target, and requests sized for the model and the
    episode's language (``Backend.request_chars``; the compiler's own limit when the backend has none)."""
    target = cls.target(episode.model)
    limit = cls.request_chars(target.model, episode.language) or MAX_REQUEST_CHARS
    return compile_episode(episode, target, limit=limit)


def _natural(segment_id: str) -> tuple:
    digits = "".join(ch for ch in segment_id if ch.isdigit())
    return (segment_id.rstrip("0123456789"), int(digits) if digits else 0, segment_id)


def build(paths: Sequence[str | Path], options: BuildOptions = BuildOptions(),
          progress: Progress | None = None) -> BuildResult:
    """Build every episode in ``paths``; raises FrozenMissError or RenderError (after mixing what it can)."""
    prepared = prepare(paths, options)
    try:
        return execute(prepared, options, progress)
    finally:
        prepared.close()


def execute(prepared: Prepared, options: BuildOptions = BuildOptions(),
            progress: Progress | None = None) -> BuildResult:
    """Render what ``prepared`` lacks and mix its episodes: everything ``build`` does once specs are read, so
    every front end gets the same caching, retries, rate limit and messages."""
    progress = progress or Progress()
    prepared.remote_notes.listen(progress.note)
    for warning in prepared.warnings:
        progress.note(str(warning))
    states = prepared.freshness(options.force)
    rejudged, earlier = None, {}
    if options.review_cached:
        from podpipe.commands.rejudge import rejudge_build

        rejudged, earlier, states = rejudge_build(prepared.backend, prepared.episodes,
                                                  prepared.needed(prepared.episodes, options.only), prepared.store,
                                                  prepared.local, options.retakes, states)
    stale = [c for c in prepared.episodes if not states[c.episode.path].up_to_date]
    statuses: dict[Path, EpisodeStatus] = {}
    for compiled in prepared.episodes:
        if states[compiled.episode.path].up_to_date:
            statuses[compiled.episode.path] = status = EpisodeStatus(compiled, "up to date")
            progress.episode(status)
    needed = prepared.needed(prepared.episodes, options.only)
    fetched, output_leases = (claim_outputs(prepared.remote, stale, fetch=not options.force) if prepared.remote
                              else ({}, {}))
    for path, status in fetched.items():
        statuses[path] = status
        progress.episode(status)
    stale = [c for c in stale if c.episode.path not in fetched]
    absent = {key for c in stale for key in states[c.episode.path].missing}
    if prepared.remote is not None:
        # Download (verified) what only the remote has before rendering, so a damaged remote entry is
        # simply missing and rendered now, not discovered by the mix.
        remote_only = {k for c in stale for k in c.rundown.keys if not prepared.local.has(k)}
        prepared.store.prefetch(remote_only)
        absent = {key for key in remote_only if not prepared.local.has(key)}
    absent.update(earlier)  # cached takes re-rolled: rendered again
    missing = [r for r in prepared.needed(stale, options.only) if r.key in absent]
    if options.frozen and missing:
        raise FrozenMissError(_frozen_message(prepared, missing))

    result = RenderResult(())
    from podpipe.commands.mixing import Mixer, Readiness, cpu_count

    with releasing(prepared.remote, output_leases), \
            Mixer(min(options.mix_jobs or cpu_count(), len(stale)), prepared.local, prepared.store) as mixer:
        ready = Readiness(stale, missing, prepared.store, mixer)
        if missing:
            notice = backends.backend_class(prepared.backend).default_notice
            if prepared.backend_defaulted and notice:
                progress.note(notice)
            result = _render(prepared, missing, options, progress, ready.rendered, earlier)
        ready.finish(result)
        # Reported after the renders (the progress bar is closed by then), in spec order, each as soon as its
        # mix is done: the same lines in the same order whatever order the workers finish in.
        for compiled in stale:
            statuses[compiled.episode.path] = status = ready.status(compiled)
            if status.state == "built" and prepared.remote is not None:
                share_output(prepared.remote, status, output_leases)
            progress.episode(status)
            for note in status.notes:
                progress.note(note)
    ordered = tuple(statuses[c.episode.path] for c in prepared.episodes)
    outcome = BuildResult(prepared.backend, ordered, result, tuple(needed), prepared.warnings,
                          prepared.remote.stats() if prepared.remote else None, rejudged)
    if result.failed or any(e.state == "failed" for e in ordered):
        raise RenderError(_failure_message(prepared, outcome), outcome)
    strict = [c for c in prepared.episodes if options.strict or c.episode.review.strict]
    if strict:
        from podpipe.commands.review import flag_message, review_lines

        flagged = review_lines(strict, prepared.local, flagged_only=True)
        if flagged:
            raise FlaggedError(flag_message(flagged), outcome)
    return outcome


def _render(prepared: Prepared, missing: list[RenderRequest], options: BuildOptions, progress: Progress,
            on_done: Callable[[Outcome], None], earlier: Mapping[str, Mapping[int, Sequence[str]]]) -> RenderResult:
    """Render ``missing``; ``earlier``: the cached takes re-rolled (``--review-cached``), per key the takes set
    aside (rendered again although cached, each with one re-roll fewer to come)."""
    cls = backends.backend_class(prepared.backend)
    backend = cls(timeout=options.timeout)
    progress.rendering(len(missing))

    def done(outcome: Outcome) -> None:
        progress.rendered(outcome)
        on_done(outcome)

    from podpipe.commands.review import reviewer_for

    try:
        scheduler = Scheduler(backend, prepared.store,
                              RenderOptions(jobs=options.jobs, rpm=options.rpm, attempts=options.attempts,
                                            quota_wait=options.quota_wait, rate_window=options.rate_window,
                                            rate_limit_url=options.rate_limit_url, shares=options.shares),
                              on_done=done, on_attempt=progress.attempt, on_note=progress.note,
                              review=reviewer_for(cls, prepared.store, prepared.episodes, options.retakes, earlier),
                              rerender=earlier)
        return scheduler.run(missing)
    finally:
        backend.close()


def _where(prepared: Prepared, key: str) -> str:
    """Where a request's text is written: ``file:line:col`` of its segment (as validation errors name
    places) and the segment's id; the key when no episode of this build holds it."""
    for compiled in prepared.episodes:
        for piece in compiled.rundown.pieces:
            if isinstance(piece, SpeechPiece) and piece.key == key:
                segment = compiled.episode.segments[piece.segment_index]
                where = shown_path(compiled.episode.path)
                if segment.line:
                    where += f":{segment.line}:{segment.column or 1}"
                return f"{where}: segment {piece.segment_id}"
    return key[:12]


def _frozen_message(prepared: Prepared, missing: list[RenderRequest]) -> str:
    lines = [f"--frozen: {len(missing)} request{'s are' if len(missing) != 1 else ' is'} not in the cache "
             f"({prepared.store.root}); nothing was rendered:"]
    lines += [f"  {_where(prepared, r.key)}: {r.turns[0].speaker}: {_preview(r)}" for r in missing[:20]]
    if len(missing) > 20:
        lines.append(f"  … and {len(missing) - 20} more")
    lines.append("Render them with `podpipe build` (without --frozen) and persist the cache directory.")
    return "\n".join(lines)


def _failure_message(prepared: Prepared, result: BuildResult) -> str:
    failed = result.render.failed
    lines = []
    if failed:
        lines.append(f"{len(failed)} render{'s' if len(failed) != 1 else ''} failed (everything else is cached; "
                     f"build again to retry only these):")
        for o in failed:
            lines.append(f"  {_where(prepared, o.request.key)}: {o.request.turns[0].speaker}: {_preview(o.request)}"
                         f" — {o.error} (after {attempts_text(o.attempts)})")
    for status in result.episodes:
        if status.state == "failed" and status.detail and not status.detail.endswith("failed"):
            lines.append(f"{status.compiled.episode.path.name}: could not be mixed: {status.detail}")
    return "\n".join(lines)


def attempts_text(n: int) -> str:
    return f"{n} attempt{'s' if n != 1 else ''}"


def _preview(request: RenderRequest, width: int = 48) -> str:
    text = request.turns[0].shown
    return text if len(text) <= width else text[: width - 1] + "…"
