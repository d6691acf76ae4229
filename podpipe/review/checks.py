"""The checks a take must pass, declared once (``CHECKS``), and the thresholds they are judged against.

Each check reads a take's ``Measures`` (and what is expected of this text and voice) and yields one
``Result``: the check's name, a reason code when it fails, the score and the threshold it was held to.
Thresholds have defaults here (``Thresholds``); a ``review:`` section of a show, an episode or a voice
overrides them field by field. The voice's own norm (``Norm``: learned from the takes of that voice already
accepted) widens the limits that depend on how a voice sounds, so an unusual voice (the offline draft voice,
the test stand-in's tone) is judged against itself, never flagged for being itself.

=========  ==========================  ==========================================================  ==========
check      reasons                     score                                                        default
=========  ==========================  ==========================================================  ==========
duration   runaway, truncated          seconds / expected seconds (text length × voice's s/char)    0.5 .. 2.0
dead_air   dead_air                    longest silence inside the take, seconds                     2.5 s + pauses
ending     cut_off                     level of the last 30 ms relative to the speech, dB (a take   -15 dB
                                       shorter than expected, of a voice that ends quietly)
noise      noise                       median zero-crossing rate of the speech windows              0.3
clipping   clipping                    fraction of samples at full scale                            0.001
=========  ==========================  ==========================================================  ==========
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from podpipe.review.measure import Measures

# a vocal tag asking for a pause, in any model's form: [pause], <short pause>, [long pause] ...
_PAUSE_TAG = re.compile(r"[\[<][^\]>]*\bpause\b[^\]>]*[\]>]", re.IGNORECASE)
PAUSE_TAG_SECONDS = 2.0  # what each pause tag adds to the silence a take may hold
DURATION_SLACK = 0.35  # seconds either side that a short line is not judged by (a breath, a lead-in)


@dataclass(frozen=True)
class Thresholds:
    """The limits a take is held to; every field can be set in a ``review:`` section."""

    longest: float = 2.0  # duration: at most this many times the expected length (a text read twice: 2×)
    shortest: float = 0.5  # duration: at least this fraction of the expected length
    dead_air: float = 2.5  # seconds of silence inside a take, plus PAUSE_TAG_SECONDS per pause tag
    ending: float = -15.0  # dB: a last 30 ms louder than this, relative to the speech, is a cut-off
    noise: float = 0.3  # zero crossings per sample; white noise crosses at ~0.5, voiced speech < 0.15
    clipping: float = 0.001  # fraction of samples at full scale

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def updated(self, values: Mapping[str, Any]) -> Thresholds:
        return replace(self, **{k: float(v) for k, v in values.items() if k in self.names()})


@dataclass(frozen=True)
class Norm:
    """What a voice's accepted takes look like (medians and MADs); ``count`` takes were seen."""

    count: int = 0
    seconds_per_char: float | None = None
    seconds_per_char_mad: float = 0.0
    crossings: float | None = None
    crossings_mad: float = 0.0
    ends_in_speech: float | None = None  # share of accepted takes whose last 30 ms are speech
    end_db: float | None = None  # median level of accepted takes' last 30 ms, relative to their speech
    end_db_mad: float = 0.0


@dataclass(frozen=True)
class Expectation:
    """What this take should be like: its text's length, the pause tags in it, the voice's norm and the
    backend's prior speaking rate for the language (characters per second; None: no prior)."""

    characters: int
    pause_tags: int
    norm: Norm
    prior_rate: float | None


def expectation(texts: list[str], norm: Norm, prior_rate: float | None) -> Expectation:
    text = " ".join(texts)
    return Expectation(len(_PAUSE_TAG.sub("", text)), len(_PAUSE_TAG.findall(text)), norm, prior_rate)


@dataclass(frozen=True)
class Result:
    check: str
    ok: bool
    score: float | None  # None: not judged (nothing to judge against yet)
    threshold: float | None
    reason: str | None = None  # the reason code when the check fails

    def to_record(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "reason": self.reason,
                "score": None if self.score is None else round(self.score, 4),
                "threshold": None if self.threshold is None else round(self.threshold, 4)}

    @property
    def excess(self) -> float:
        """How far past its threshold a failed check is (0 when it passed), for picking the best bad take."""
        if self.ok or self.score is None or self.threshold is None:
            return 0.0
        return abs(self.score - self.threshold) / max(abs(self.threshold), 1e-9)


MIN_NORM_TAKES = 5  # a voice's norm counts once this many of its takes were accepted
ENDING_SHORT = 0.7  # a take ending on full sound is cut off only when it is also this much shorter than expected
NORM_MADS = 6.0  # how many MADs from a voice's median still count as that voice


def _expected_seconds(e: Expectation, t: Thresholds) -> tuple[float | None, float, float]:
    """``(expected seconds, longest, shortest)`` for this text and voice: the voice's learned rate once it
    is known (its spread can only widen the limits), else the backend's prior; None: nothing to go by."""
    per_char = e.norm.seconds_per_char if e.norm.count >= MIN_NORM_TAKES else None
    longest, shortest = t.longest, t.shortest
    if per_char is None and e.prior_rate:
        per_char = 1.0 / e.prior_rate
    elif per_char is not None and e.norm.seconds_per_char_mad:
        spread = NORM_MADS * e.norm.seconds_per_char_mad / per_char
        longest, shortest = max(longest, 1 + spread), min(shortest, max(0.1, 1 - spread))
    if per_char is None or e.characters <= 0:
        return None, longest, shortest
    return e.characters * per_char, longest, shortest


def _duration(m: Measures, e: Expectation, t: Thresholds) -> Result:
    expected, longest, shortest = _expected_seconds(e, t)
    if expected is None:
        return Result("duration", True, None, None)
    ratio = m.seconds / expected
    slack = DURATION_SLACK / expected
    if ratio > longest + slack:
        return Result("duration", False, ratio, longest + slack, "runaway")
    if ratio < shortest - slack:
        return Result("duration", False, ratio, shortest - slack, "truncated")
    return Result("duration", True, ratio, longest + slack)


def _dead_air(m: Measures, e: Expectation, t: Thresholds) -> Result:
    limit = t.dead_air + PAUSE_TAG_SECONDS * e.pause_tags
    ok = m.longest_silence <= limit
    return Result("dead_air", ok, m.longest_silence, limit, None if ok else "dead_air")


def _ending(m: Measures, e: Expectation, t: Thresholds) -> Result:
    # Some voices stop on full sound (a draft voice, a test tone): only a voice whose accepted takes end
    # quietly is judged, once its norm is known, and against its own spread as well as the threshold. And
    # a voice cut mid-word has not said everything: only a take shorter than expected is a cut-off, so a
    # complete take that merely ends on a breath is never one.
    share = e.norm.ends_in_speech if e.norm.count >= MIN_NORM_TAKES else None
    expected, _longest, _shortest = _expected_seconds(e, t)
    if share is None or share > 0.1 or e.norm.end_db is None or expected is None \
            or m.seconds > ENDING_SHORT * expected:
        return Result("ending", True, m.end_db, None)
    limit = max(t.ending, e.norm.end_db + NORM_MADS * max(e.norm.end_db_mad, 1.0))
    ok = m.end_db <= limit
    return Result("ending", ok, m.end_db, limit, None if ok else "cut_off")


def _noise(m: Measures, e: Expectation, t: Thresholds) -> Result:
    limit = t.noise
    if e.norm.count >= MIN_NORM_TAKES and e.norm.crossings is not None:
        limit = max(limit, e.norm.crossings + NORM_MADS * e.norm.crossings_mad)
    ok = m.crossings <= limit
    return Result("noise", ok, m.crossings, limit, None if ok else "noise")


def _clipping(m: Measures, e: Expectation, t: Thresholds) -> Result:
    ok = m.clipped <= t.clipping
    return Result("clipping", ok, m.clipped, t.clipping, None if ok else "clipping")


#: every check, in the order results are reported
CHECKS: tuple[tuple[str, Callable[[Measures, Expectation, Thresholds], Result]], ...] = (
    ("duration", _duration),
    ("dead_air", _dead_air),
    ("ending", _ending),
    ("noise", _noise),
    ("clipping", _clipping),
)


def judge(m: Measures, e: Expectation, t: Thresholds) -> tuple[Result, ...]:
    return tuple(check(m, e, t) for _name, check in CHECKS)


def ends_in_speech(m: Measures, t: Thresholds = Thresholds()) -> bool:
    return m.end_db > t.ending
