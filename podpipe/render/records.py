"""What the render stage is given and gives back: the options of a run, each request's ``Outcome``, the
``RenderResult`` of a run, and ``TakeReview``, what the scheduler asks of take review (``podpipe.review``
answers it; the render stage imports none of it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from podpipe.backends.base import Rendered, Usage
from podpipe.compile import RenderRequest
from podpipe.render.limiter import QUOTA_WAIT, WINDOW, RateSummary


@dataclass(frozen=True)
class RenderOptions:
    jobs: int | None = None  # None: the backend's default_jobs
    rpm: float | None = None  # None: auto (the backend's rate per model, adapted); 0: unlimited; N: a ceiling
    adaptive: bool = True  # False: a fixed limit of rpm (or the backend's rate)
    quota_wait: float = QUOTA_WAIT  # seconds the whole run may wait for quota (server pauses), then refusals fail
    rate_limit_url: str | None = None  # redis://host:port/db: one limit per quota and model for every machine
    shares: int = 1  # builds that share the key's quota at once, this one included (--shard K/N: N): its start
    attempts: int = 5  # per request, first try included
    backoff_base: float = 1.0  # seconds before the 2nd attempt; doubles each time
    backoff_max: float = 60.0
    rate_window: float = WINDOW  # seconds the rpm limit is counted over; shorter only in tests/benchmarks


@dataclass(frozen=True)
class Outcome:
    request: RenderRequest
    ok: bool
    attempts: int
    seconds: float  # wall time from the first attempt's start to the end of the last
    usage: Usage = field(default_factory=Usage)  # every attempt's billed tokens, failed ones included
    error: str | None = None  # why the last attempt failed, when not ok
    failures: tuple[str, ...] = ()  # every failed attempt's reason, in order
    audio_seconds: float = 0.0
    parts: int = 1  # requests the audio was rendered as (more than 1: split after a take was cut off)
    retakes: int = 0  # takes sent again because review rejected one (their tokens are in ``usage``)
    flagged: bool = False  # no take passed review: the best one is kept and flagged
    reasons: tuple[str, ...] = ()  # why the kept take failed review (flagged) or the rejected takes did
    review: dict[str, Any] | None = field(default=None, compare=False)  # the verdict stored with the take


class TakeReview(Protocol):
    """What the render stage needs of take review (``podpipe.review.Reviewer``)."""

    def retakes(self, request: RenderRequest) -> int:
        """New takes a failed take of ``request`` may get."""

    def review(self, request: RenderRequest, audio: Any) -> Any:
        """A verdict on a new take: has ``ok``, ``reasons`` and ``badness`` (lower is better)."""

    def accept(self, request: RenderRequest, verdict: Any) -> None:
        """The take with ``verdict`` is the one kept."""

    def record(self, verdict: Any, take: int, rejected: list[tuple[str, int, list[str]]]) -> dict[str, Any]:
        """The ``review`` field of the kept take's record (take number ``take``); ``rejected``: every rejected
        take beside it as ``(key, take number, reasons)``."""

    def earlier(self, request: RenderRequest) -> Mapping[int, Sequence[str]]:
        """Takes of ``request`` already set aside as rejected (a cached take re-rolled): take number -> its
        reasons. New takes are numbered past them and the kept take's record lists them too."""

    def rejected_record(self, of: str, take: int, verdict: Any) -> dict[str, Any]:
        """The ``review`` field of a rejected take's record."""

    def rejected_key(self, key: str, take: int) -> str:
        """Where rejected take ``take`` of ``key`` is stored."""

    def analysis(self, verdict: Any) -> dict[str, Any] | None:
        """What to store beside the kept take for the mix (its loudness figures), or None."""


@dataclass(frozen=True)
class RenderResult:
    outcomes: tuple[Outcome, ...]  # requests this run sent to the backend (API calls), ok or not
    wall_seconds: float = 0.0
    # requests another process rendered while we waited for their lock: served from the cache, no API call
    skipped: tuple[RenderRequest, ...] = ()
    rates: tuple[RateSummary, ...] = ()  # per model: where the adaptive rate started, peaked and settled
    quota_wait_seconds: float = 0.0  # how long the server's quota pauses held the pool

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.ok)

    @property
    def rendered(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.ok)


@dataclass(frozen=True)
class Taken:
    """A request's audio as the scheduler got it, before it is stored: the take kept, what it cost, and the
    takes review rejected beside it."""

    rendered: Rendered  # its usage: every attempt's billed tokens
    attempts: int
    seconds: float
    failures: tuple[str, ...]
    verdict: Any = None  # take review's verdict on ``rendered`` (None: not reviewed)
    take: int = 1  # which take this is
    rejected: tuple[tuple[Rendered, Any], ...] = ()  # the other takes and their verdicts, in order
    usage: Usage | None = None  # every take's tokens (None: ``rendered.usage``)
    parts: int = 1  # requests the audio was rendered as (more than 1: split after a take was cut off)


def add_usage(a: Usage, b: object) -> Usage:
    """``a`` plus ``b`` when ``b`` is a ``Usage`` (a failed attempt may carry none)."""
    if not isinstance(b, Usage):
        return a
    return Usage(a.prompt_tokens + b.prompt_tokens, a.output_tokens + b.output_tokens,
                 a.total_tokens + b.total_tokens)
