"""Render the missing requests in parallel over one backend: rate limited, retried, cached as they finish.

Backends make exactly one attempt per call and classify failures (``BackendError.retryable`` and
``retry_after``); everything about *when* to try again lives here, so every backend gets the same
behaviour:

- ``jobs`` worker threads share one limiter per model: no 60-second window ever holds more attempt starts
  than its rate (a sliding log, so a run is never slower than the limit requires). The rate adapts
  (``limiter.AdaptiveLimiter``, AIMD): it starts at the backend's rate for the model (``Backend.rpm_for``)
  or at ``rpm`` when given, which is then a ceiling, divided by ``shares`` (the builds sharing the key),
  grows while attempts succeed and is cut to what got through when the server refuses one for quota;
  ``adaptive=False`` keeps it fixed. With ``rate_limit_url`` the shared limit in Redis grants the starts
  and runs the controller once for every machine (``shared.SharedLimit``); the local limiter follows its
  rate, and takes over if Redis fails.
- A server-given ``retry_after`` (Gemini's ``RetryInfo.retryDelay`` on 429) pauses the whole pool, not just
  the worker that saw it: the other workers would only burn quota on more 429s. Such a refusal is waiting
  for quota, not failing: it does not use up one of the request's ``attempts``. ``quota_wait`` bounds the
  total time the pool is held so, and a refusal past it fails its request, saying so.
- Other retryable failures back off exponentially with full jitter, capped at ``backoff_max``.
- A success goes to the store at once, through one writer thread: the worker's next request goes out while
  the entry is fsynced (fsyncs from many threads queue up in the file system's journal and would hold
  every worker). The key's lock is held until the entry is committed. An interrupted run waits for the
  writer, so it keeps everything that finished; a failure is never stored.
- A failure is final at once when the backend says no attempt can help (``retryable`` False: a refusal is
  attempted exactly once), or when a ``final_if_repeated`` failure comes back identical twice in a row.
- A take cut off at the model's output cap (``BackendError.cut_off``) is never cached or used: the request
  is split at the sentence end nearest its middle (``compile.split_request``), each part rendered the same
  way (recursively, up to ``MAX_SPLIT_DEPTH`` levels), and the parts' audio joined end to end into the audio
  of the whole, which is stored under the whole's key. The parts have keys of their own but are never
  stored: the next build finds the whole and renders nothing, and editing the line re-renders it whole.
- Every attempt's billed tokens count (``BackendError.billed`` for failed ones): ``Outcome.usage`` is what
  the request cost, not only what its last attempt did.
- Every new take is reviewed before the store accepts it (``TakeReview``, given by the caller: the checks
  live in ``podpipe.review``). A take that fails is re-rolled, a new request, up to ``review.retakes(request)`` times
  (never on a ``repeatable`` backend, which would answer the same). The first take that passes is kept; if
  none does, the best-scoring one is kept and flagged. Rejected takes are stored too, under keys of their
  own that no spec compiles to, so a person can listen to them and no mix ever uses one.
- Each key is rendered under the store's per-key lock (``Store.lock``), and ``has(key)`` is asked again
  once the lock is held: when another build sharing the cache rendered the key meanwhile, it is taken from
  the cache (``RenderResult.skipped``), so concurrent builds never pay twice for one render.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from podpipe.backends.base import Backend, Rendered, Usage
from podpipe.cache import Store
from podpipe.audio_types import Audio
from podpipe.compile import RenderRequest, request_material, split_request
from podpipe.errors import BackendError
from podpipe.render.limiter import RateLimiter, RateSummary, backoff
from podpipe.render.pacing import Interrupted, Pacer
from podpipe.render.records import Outcome, RenderOptions, RenderResult, TakeReview, Taken, add_usage
from podpipe.render.shared import SharedLimit


MAX_SPLIT_DEPTH = 6  # a cut-off take is halved at most this often (64 parts): far past any output cap


class Scheduler:
    def __init__(self, backend: Backend, store: Store, options: RenderOptions = RenderOptions(), *,
                 on_done: Callable[[Outcome], None] | None = None,
                 on_attempt: Callable[[RenderRequest, int], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None,
                 review: TakeReview | None = None, on_note: Callable[[str], None] | None = None,
                 rerender: Collection[str] = ()):
        self.backend = backend
        self.rerender = frozenset(rerender)  # keys rendered again although cached (a cached take re-rolled)
        self.review = review
        self.store = store
        self.options = options
        self.jobs = max(1, options.jobs or backend.default_jobs)
        self._on_note = on_note or (lambda message: None)
        self._clock = clock
        self._rng = rng or random.Random()  # nosec B311  # backoff jitter, not a secret
        self._stop = threading.Event()
        self.pacer = Pacer(backend, options, clock, self._stop)  # when a request may start (``render.pacing``)
        self._on_done = on_done
        self._on_attempt = on_attempt

    def _sleep(self, seconds: float) -> None:
        self.pacer.sleep(seconds)

    # the pacer's parts, as tests and callers know them: a test may set ``limiter`` (one for every model) or
    # ``shared`` or ``gate``
    limiter = property(lambda self: self.pacer.limiter, lambda self, v: setattr(self.pacer, "limiter", v))
    shared = property(lambda self: self.pacer.shared, lambda self, v: setattr(self.pacer, "shared", v))
    gate = property(lambda self: self.pacer.gate, lambda self, v: setattr(self.pacer, "gate", v))

    def limiter_for(self, model: str) -> RateLimiter:
        return self.pacer.limiter_for(model)

    def rates(self) -> tuple[RateSummary, ...]:
        """What the adaptive control did, per model, so far."""
        return self.pacer.rates()

    def _backoff(self, attempt: int) -> float:
        return backoff(attempt, self.options.backoff_base, self.options.backoff_max, self._rng)

    def _render_one(self, request: RenderRequest) -> Outcome | Future | None:
        """Render under the key's lock; None when another process rendered it while we waited, a Future of
        the Outcome when the audio is on its way into the store (the lock goes with it)."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.store.lock(request.key, poll=self._sleep))
            except OSError as exc:
                # Checked before any API call: a render we could not cache would be paid for and lost.
                reason = f"cannot lock its cache entry, so it was not rendered: {exc.strerror or exc}"
                return Outcome(request, False, 0, 0.0, error=reason, failures=(reason,))
            if request.key not in self.rerender and self.store.has(request.key):
                return None
            result = self._take(request)
            if isinstance(result, Outcome):
                return result
            held = stack.pop_all()
        try:
            return self._writer.submit(self._commit, request, result, held)
        except RuntimeError:  # the writer was shut down (Ctrl-C): commit here, the render is paid for
            return self._commit(request, result, held)

    def _attempts(self, request: RenderRequest, depth: int = 0) -> Outcome | Taken:
        failures: list[str] = []
        started = None
        billed = Usage()
        limiter = self.limiter_for(request.model)
        attempt = spent = 0  # attempts made; attempts that count against ``options.attempts`` (not quota waits)
        while spent < self.options.attempts:
            attempt += 1
            grant = self.pacer.slot(limiter, request.model)
            started = self._clock() if started is None else started
            if self._on_attempt:
                self._on_attempt(request, attempt)
            try:
                rendered = self.backend.render(request)
            except Exception as exc:
                if not isinstance(exc, BackendError):
                    # A backend bug must not take the other renders down with it; it is reported, not retried.
                    exc = BackendError(f"{type(exc).__name__}: {exc}", retryable=False)
                billed = add_usage(billed, exc.billed)
                failures.append(str(exc))
                if exc.cut_off:
                    return self._split(request, depth, attempt, started, tuple(failures), billed)
                if exc.retryable and exc.retry_after:
                    gave_up = self.pacer.refused(exc, limiter, grant, request.model)
                    if gave_up is None:
                        continue
                    return Outcome(request, False, attempt, self._clock() - started, usage=billed,
                                   error=gave_up, failures=(*failures[:-1], gave_up))
                spent += 1
                repeated = exc.final_if_repeated and len(failures) > 1 and failures[-2] == failures[-1]
                if not exc.retryable or repeated or spent == self.options.attempts:
                    return Outcome(request, False, attempt, self._clock() - started, usage=billed,
                                   error=str(exc), failures=tuple(failures))
                self._sleep(self._backoff(spent))
                continue
            self.pacer.succeeded(limiter, grant, request.model)
            rendered = Rendered(rendered.audio, add_usage(billed, rendered.usage))
            return Taken(rendered, attempt, self._clock() - started, tuple(failures))
        raise AssertionError("unreachable: attempts >= 1")

    def _split(self, request: RenderRequest, depth: int, attempts: int, started: float,
               failures: tuple[str, ...], billed: Usage) -> Outcome | Taken:
        """The audio of a request whose take was cut off at the output cap: its two halves rendered (each
        split again if cut off too) and joined end to end. Fails when it cannot be cut any further."""
        parts = split_request(request) if depth < MAX_SPLIT_DEPTH else None
        if parts is None:
            reason = (f"{failures[-1]}; it cannot be split any further: shorten this line or split it into "
                      "several segments")
            return Outcome(request, False, attempts, self._clock() - started, usage=billed, error=reason,
                           failures=(*failures[:-1], reason))
        audio: list[Audio] = []
        count = 0
        for part in parts:
            done = self._attempts(part, depth + 1)
            attempts += done.attempts
            billed = add_usage(billed, done.usage if isinstance(done, Outcome) else done.rendered.usage)
            failures = (*failures, *done.failures)
            if isinstance(done, Outcome):
                return Outcome(request, False, attempts, self._clock() - started, usage=billed,
                               error=f"after a take cut off at the output cap, a part of it failed: {done.error}",
                               failures=failures)
            audio.append(done.rendered.audio)
            count += done.parts
        first = audio[0]
        if any((a.rate, a.channels) != (first.rate, first.channels) for a in audio):
            reason = "the parts of a split request came back in different audio formats"
            return Outcome(request, False, attempts, self._clock() - started, usage=billed, error=reason,
                           failures=(*failures, reason))
        joined = Audio(b"".join(a.pcm for a in audio), first.rate, first.channels)
        return Taken(Rendered(joined, billed), attempts, self._clock() - started, failures, parts=count)

    def _take(self, request: RenderRequest) -> Outcome | Taken:
        """A take that passed review, re-rolling a failed one up to ``review.retakes`` times; when none passes
        (or a re-roll fails outright), the best-scoring take, flagged. Without review: the first render."""
        done = self._attempts(request)
        if self.review is None or isinstance(done, Outcome):
            return done
        retakes = 0 if self.backend.repeatable else max(0, self.review.retakes(request))
        takes: list[tuple[Taken, Any]] = []
        lost: tuple[str, ...] = ()  # why a re-roll that failed outright failed
        lost_usage = Usage()  # what its attempts were billed
        while True:
            verdict = self.review.review(request, done.rendered.audio)
            takes.append((done, verdict))
            if verdict.ok or len(takes) > retakes:
                break
            again = self._attempts(request)
            if isinstance(again, Outcome):  # the re-roll itself failed: keep the best take we have
                lost, lost_usage = again.failures, again.usage
                break
            done = again
        ok = [i for i, (_, v) in enumerate(takes) if v.ok]
        best = ok[0] if ok else min(range(len(takes)), key=lambda i: takes[i][1].badness)
        kept, verdict = takes[best]
        usage = lost_usage
        for take, _ in takes:
            usage = add_usage(usage, take.rendered.usage)
        return Taken(kept.rendered, sum(t.attempts for t, _ in takes), sum(t.seconds for t, _ in takes),
                        (*(f for t, _ in takes for f in t.failures), *lost), verdict, best + 1,
                        tuple((t.rendered, v) for i, (t, v) in enumerate(takes) if i != best), usage,
                        parts=kept.parts)

    def _commit(self, request: RenderRequest, done: Taken, held: contextlib.ExitStack) -> Outcome:
        """Store a successful render (and its rejected takes), then release its key's lock."""
        with held:
            review = None
            try:
                review = self._store_takes(request, done)
                self._store(request, done.rendered, done.attempts, done.seconds, done.parts, review, done.usage)
                self._accepted(request, done)
            except (OSError, ValueError) as exc:
                # ValueError: the store refused the audio (empty, odd length): a bad render, never cached.
                detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                reason = f"rendered, but could not be written to the cache: {detail}"
                return Outcome(request, False, done.attempts, done.seconds, usage=done.usage or done.rendered.usage,
                               error=reason, failures=(*done.failures, reason))
        verdict = done.verdict
        flagged = verdict is not None and not verdict.ok
        reasons = tuple(verdict.reasons) if flagged else tuple(r for _, v in done.rejected for r in v.reasons)
        return Outcome(request, True, done.attempts, done.seconds, usage=done.usage or done.rendered.usage,
                       failures=done.failures, audio_seconds=done.rendered.audio.seconds,
                       parts=done.parts, retakes=len(done.rejected), flagged=flagged, reasons=reasons,
                       review=review)

    def _store_takes(self, request: RenderRequest, done: Taken) -> dict[str, Any] | None:
        """Store the rejected takes under their own keys; the ``review`` field of the kept take's record. Takes
        set aside before (a cached take re-rolled) keep their numbers; the new ones are numbered around them."""
        if self.review is None or done.verdict is None:
            return None
        earlier = dict(self.review.earlier(request))
        free = [n for n in range(1, len(earlier) + len(done.rejected) + 2) if n not in earlier]
        rejected = [(self.review.rejected_key(request.key, n), n, reasons) for n, reasons in earlier.items()]
        numbers = [n for i, n in enumerate(free[:len(done.rejected) + 1]) if i + 1 != done.take]
        for number, (rendered, verdict) in zip(numbers, done.rejected):
            key = self.review.rejected_key(request.key, number)
            self.store.put(key, rendered.audio, {"request": request_material(request),
                                                 "review": self.review.rejected_record(request.key, number, verdict)})
            self._put_analysis(key, verdict)  # a rejected take may be picked by accept:, and then mixed
            rejected.append((key, number, list(verdict.reasons)))
        return self.review.record(done.verdict, free[done.take - 1], sorted(rejected, key=lambda r: r[1]))

    def _accepted(self, request: RenderRequest, done: Taken) -> None:
        """The kept take is in the store: its loudness figures go beside it, its verdict to the voice's norm."""
        if self.review is None or done.verdict is None:
            return
        self._put_analysis(request.key, done.verdict)
        self.review.accept(request, done.verdict)

    def _put_analysis(self, key: str, verdict: Any) -> None:
        analysis = self.review.analysis(verdict)
        if analysis is not None:
            with contextlib.suppress(OSError):  # optional: the mix computes the figures itself when missing
                self.store.put_analysis(key, analysis)

    def _store(self, request: RenderRequest, rendered: Rendered, attempt: int, seconds: float,
               parts: int = 1, review: dict[str, Any] | None = None, usage: Usage | None = None) -> None:
        usage = usage or rendered.usage
        meta = {
            "request": request_material(request),
            "usage": {"prompt_tokens": usage.prompt_tokens,
                      "output_tokens": usage.output_tokens,
                      "total_tokens": usage.total_tokens},
            "attempts": attempt,
            "render_seconds": round(seconds, 3),
            **({"parts": parts} if parts > 1 else {}),
        }
        if review is not None:
            meta["review"] = review
        self.store.put(request.key, rendered.audio, meta)

    def run(self, requests: Sequence[RenderRequest]) -> RenderResult:
        """Render every request; KeyboardInterrupt stops new attempts and is re-raised after bookkeeping."""
        outcomes: list[Outcome] = []
        skipped: list[RenderRequest] = []
        if requests:
            try:
                self.backend.prepare()
            except BackendError as exc:
                return RenderResult(tuple(Outcome(r, False, 0, 0.0, error=str(exc), failures=(str(exc),))
                                          for r in requests))
        if requests and self.options.rate_limit_url:
            self.shared = SharedLimit(self.options.rate_limit_url, self.backend.quota_scope(),
                                      window=self.options.rate_window, warn=self._on_note)
        started = self._clock()
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="podpipe-render")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="podpipe-store")
        pending = {pool.submit(self._render_one, r): r for r in requests}
        try:
            while pending:
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    request = pending.pop(future)
                    try:
                        outcome = future.result()
                    except Interrupted:
                        continue
                    if isinstance(outcome, Future):  # rendered; being stored
                        pending[outcome] = request
                        continue
                    if outcome is None:
                        skipped.append(request)
                        continue
                    outcomes.append(outcome)
                    if self._on_done:
                        self._on_done(outcome)
        except KeyboardInterrupt:
            self._stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            self._writer.shutdown(wait=True)  # renders already paid for reach the store
            raise
        pool.shutdown(wait=True)
        self._writer.shutdown(wait=True)
        return RenderResult(tuple(outcomes), self._clock() - started, tuple(skipped), self.rates(), self.gate.held)

