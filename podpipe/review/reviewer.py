"""Review a take: measure it, judge it against the checks table, and keep each voice's norm.

``Reviewer`` is what the render stage is given (``podpipe.render.scheduler.TakeReview``): ``review`` a new take,
``accept`` the take that is kept, and ``retakes(request)``, how many new takes a failed one may get. A voice's norm
(median and MAD of seconds per character and of zero crossings, the share of takes that end in speech) is
learned from the takes already accepted in the cache, read once from their records when the first take of
a build is reviewed, and from each take accepted while the build runs.

A verdict is stored with its take, in the entry's record (``record``): the measures, every check's result,
whether the take was accepted or flagged, and the keys of the rejected takes kept beside it. Nothing is
reviewed twice: a cached take's verdict is read, not recomputed (``rejudge`` re-judges stored measures
against other thresholds without reading audio).
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podpipe.audio_types import Audio
from podpipe.cache.takes import ACCEPTED, FLAGGED, REJECTED, rejected_key
from podpipe.compile import RenderRequest
from podpipe.review.checks import Expectation, Norm, Result, Thresholds, ends_in_speech, expectation, judge
from podpipe.review.measure import Measures, measure

REVIEW_VERSION = 1
DEFAULT_RETAKES = 2


def voice_of(request: RenderRequest) -> str:
    """The voice a norm is kept for: backend, model, the voices of the request and its language."""
    voices = "+".join(sorted({t.voice for t in request.turns}))
    return f"{request.backend}/{request.model}/{voices}/{request.language or '-'}"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    results: tuple[Result, ...]
    measures: Measures
    voice: str
    characters: int
    figures: Any = field(default=None, compare=False, repr=False)  # the mix's loudness figures, to store

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r.reason for r in self.results if r.reason)

    @property
    def badness(self) -> tuple[int, float]:
        """Lower is better: failed checks first, then how far past their thresholds."""
        failed = [r for r in self.results if not r.ok]
        return len(failed), sum(r.excess for r in failed)

    def to_record(self) -> dict[str, Any]:
        return {"ok": self.ok, "reasons": list(self.reasons), "voice": self.voice, "characters": self.characters,
                "measures": self.measures.to_record(), "checks": [r.to_record() for r in self.results]}


def record(verdict: Verdict, take: int, rejected: Iterable[tuple[str, int, Sequence[str]]]) -> dict[str, Any]:
    """The ``review`` field of an entry's record: the kept take's verdict (take number ``take``) and the
    rejected takes beside it, each ``(key, take number, reasons)``."""
    return {"version": REVIEW_VERSION, "status": ACCEPTED if verdict.ok else FLAGGED, "take": take,
            **verdict.to_record(),
            "rejected": [{"key": key, "take": n, "reasons": list(reasons)} for key, n, reasons in rejected]}


def rejected_record(of: str, take: int, verdict: Verdict) -> dict[str, Any]:
    """The ``review`` field of the record of rejected take ``take`` of request ``of``."""
    return {"version": REVIEW_VERSION, "status": REJECTED, "of": of, "take": take, **verdict.to_record()}


def _median_mad(values: list[float]) -> tuple[float, float]:
    median = statistics.median(values)
    return median, statistics.median(abs(v - median) for v in values)


class _Samples:
    def __init__(self) -> None:
        self.per_char: list[float] = []
        self.crossings: list[float] = []
        self.ends: list[bool] = []
        self.end_db: list[float] = []

    def add(self, measures: Measures, characters: int) -> None:
        if characters > 0:
            self.per_char.append(measures.seconds / characters)
        self.crossings.append(measures.crossings)
        self.ends.append(ends_in_speech(measures))
        self.end_db.append(measures.end_db)

    def norm(self) -> Norm:
        if not self.crossings:
            return Norm()
        spc, spc_mad = _median_mad(self.per_char) if self.per_char else (None, 0.0)
        zc, zc_mad = _median_mad(self.crossings)
        end, end_mad = _median_mad(self.end_db)
        return Norm(len(self.crossings), spc, spc_mad, zc, zc_mad, sum(self.ends) / len(self.ends), end, end_mad)


class Reviewer:
    """Reviews takes for one build. Thread-safe: render workers call it concurrently."""

    def __init__(self, *, prior_rate: Callable[[RenderRequest], float | None] = lambda request: None,
                 thresholds: Callable[[RenderRequest], Thresholds] = lambda request: Thresholds(),
                 retakes: int | Callable[[RenderRequest], int] = DEFAULT_RETAKES,
                 accepted: Callable[[], Iterable[Mapping[str, Any]]] = tuple,
                 earlier: Mapping[str, Mapping[int, Sequence[str]]] | None = None):
        self._retakes = retakes
        self._earlier = dict(earlier or {})  # per request key: its takes set aside (number -> reasons)
        self._prior_rate = prior_rate
        self._thresholds = thresholds
        self._accepted = accepted  # the review records of takes accepted before this build
        self._lock = threading.Lock()
        self._voices: dict[str, _Samples] | None = None

    def _learned(self) -> dict[str, _Samples]:
        if self._voices is None:
            voices: dict[str, _Samples] = {}
            for rec in self._accepted():
                measures = Measures.from_record(rec.get("measures"))
                if rec.get("status") == ACCEPTED and measures is not None and isinstance(rec.get("voice"), str):
                    voices.setdefault(rec["voice"], _Samples()).add(measures, int(rec.get("characters") or 0))
            self._voices = voices
        return self._voices

    def earlier(self, request: RenderRequest) -> Mapping[int, Sequence[str]]:
        """Takes of ``request`` set aside before this render (a cached take re-rolled): number -> reasons."""
        return self._earlier.get(request.key, {})

    def retakes(self, request: RenderRequest) -> int:
        """New takes a failed take of ``request`` may get."""
        return max(0, self._retakes(request) if callable(self._retakes) else self._retakes)

    def norm(self, voice: str) -> Norm:
        with self._lock:
            found = self._learned().get(voice)
            return found.norm() if found else Norm()

    def expect(self, request: RenderRequest) -> Expectation:
        return expectation([t.text for t in request.turns], self.norm(voice_of(request)),
                           self._prior_rate(request))

    def review(self, request: RenderRequest, audio: Audio) -> Verdict:
        measures, figures = measure(audio)
        return self.rejudge(request, measures, figures)

    def rejudge(self, request: RenderRequest, measures: Measures, figures: Any = None) -> Verdict:
        """The verdict on a take of ``request`` measured ``measures``, by the thresholds and norms of now:
        how a cached take is judged again from its stored measures, without reading its audio."""
        e = self.expect(request)
        results = judge(measures, e, self._thresholds(request))
        return Verdict(all(r.ok for r in results), results, measures, voice_of(request), e.characters, figures)

    # -- what the render stage stores (podpipe.render.scheduler.TakeReview) ---------------------------------
    record = staticmethod(record)
    rejected_key = staticmethod(rejected_key)

    rejected_record = staticmethod(rejected_record)

    @staticmethod
    def analysis(verdict: Verdict) -> dict[str, Any] | None:
        from podpipe.mix.loudness.figures import to_record

        return None if verdict.figures is None else to_record(verdict.figures)

    def accept(self, request: RenderRequest, verdict: Verdict) -> None:
        """``verdict``'s take is kept: an accepted one teaches its voice's norm."""
        if verdict.ok:
            with self._lock:
                self._learned().setdefault(verdict.voice, _Samples()).add(verdict.measures, verdict.characters)


def stored_reviews(store: Any) -> Iterable[Mapping[str, Any]]:
    """The review records of every entry of ``store`` (records only: no audio is read)."""
    for key in store.keys():
        meta = store.meta(key)
        review = (meta or {}).get("review")
        if isinstance(review, dict):
            yield review
