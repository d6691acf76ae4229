"""The checks table, measures and norms on real audio (tones, silence, noise), and the scheduler's accept path
with a scripted backend: re-rolls, best take, repeatable backends, a re-roll that fails outright."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from podpipe.audio_types import Audio
from podpipe.backends.base import Rendered, Usage
from podpipe.cache import FileStore
from podpipe.errors import BackendError
from podpipe.render import RenderOptions, Scheduler
from podpipe.review import CHECKS, Norm, Reviewer, Thresholds, measure, take_status
from podpipe.review.checks import expectation, judge
from tests.support.backends import ScriptedBackend, scripted_requests
from tests.support.standin import answer_pcm, bad_take

RATE = 24000


def _speech(seconds: float) -> bytes:
    """A 'voice': a 150 Hz tone switched on and off like syllables (200 ms on, 60 ms off), fading at the end."""
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = ((t % 0.26) < 0.2).astype(float)
    envelope *= np.clip((seconds - t) / 0.15, 0, 1)  # the last 150 ms fade out
    return (6000 * np.sin(2 * math.pi * 150 * t) * envelope).astype("<i2").tobytes()


def _verdict(pcm: bytes, text: str = "x" * 56, norm: Norm = Norm(), rate: float | None = 14.0,
             thresholds: Thresholds = Thresholds()):
    m, _ = measure(Audio(pcm, RATE))
    return {r.check: r for r in judge(m, expectation([text], norm, rate), thresholds)}


def test_the_table_names_each_check_once_and_every_threshold_is_a_field():
    assert [name for name, _ in CHECKS] == ["duration", "dead_air", "ending", "noise", "clipping"]
    assert set(Thresholds.names()) == {"longest", "shortest", "dead_air", "ending", "noise", "clipping"}


def test_a_good_take_passes_every_check():
    results = _verdict(_speech(4.0))
    assert all(r.ok for r in results.values()), results
    assert 0.9 < results["duration"].score < 1.1


@pytest.mark.parametrize("kind, check, reason", [("read-thrice", "duration", "runaway"),
                                                 ("cut", "duration", "truncated"),
                                                 ("dead-air", "dead_air", "dead_air"),
                                                 ("noise", "noise", "noise")])
def test_each_take_fault_fails_its_check(kind, check, reason):
    results = _verdict(bad_take(kind, _speech(4.0)))
    assert not results[check].ok and results[check].reason == reason
    failed = [r.check for r in results.values() if not r.ok]
    assert set(failed) <= {check, "duration"}  # five seconds of dead air also make a 4 s take far too long


def test_clipping_and_pause_tags():
    loud = np.frombuffer(_speech(4.0), dtype="<i2").astype(np.int32) * 8
    assert _verdict(np.clip(loud, -32767, 32767).astype("<i2").tobytes())["clipping"].reason == "clipping"
    gap = _speech(2.0) + bytes(int(3.5 * RATE) * 2) + _speech(2.0)
    assert _verdict(gap, "x" * 84)["dead_air"].reason == "dead_air"
    assert _verdict(gap, "x" * 80 + " [long pause]")["dead_air"].ok  # the text asks for a pause
    assert _verdict(gap, "x" * 84, thresholds=Thresholds(dead_air=4.0))["dead_air"].ok


def test_a_voice_is_judged_against_its_own_norm():
    # a steady tone ends on full sound; with no norm the ending is not judged, nor for a voice that does that
    assert _verdict(answer_pcm(4.0))["ending"].ok
    quiet = Norm(count=8, seconds_per_char=4.0 / 56, crossings=0.012, ends_in_speech=0.0, end_db=-60.0,
                 end_db_mad=2.0)
    cut = _speech(4.0)[: int(2.6 * RATE) * 2 - 4000]  # stops inside a syllable
    assert _verdict(cut, norm=quiet)["ending"].reason == "cut_off"
    assert _verdict(answer_pcm(4.0), norm=quiet)["ending"].ok  # full length: it said everything, whatever its end
    # a learned rate replaces the prior: this voice is slow, so 10 s for 56 characters is normal for it
    slow = Norm(count=8, seconds_per_char=10.0 / 56, seconds_per_char_mad=0.002, crossings=0.012, end_db=-60)
    assert not _verdict(_speech(10.0), rate=14.0)["duration"].ok
    assert _verdict(_speech(10.0), norm=slow, rate=14.0)["duration"].ok
    # a voice whose takes cross zero often raises its own noise limit, static still fails
    hissy = Norm(count=8, crossings=0.33, crossings_mad=0.01)
    assert _verdict(_speech(4.0), norm=hissy)["noise"].threshold == pytest.approx(0.39)
    assert not _verdict(bad_take("noise", _speech(4.0)), norm=hissy)["noise"].ok


def test_no_prior_and_no_norm_leaves_duration_unjudged():
    assert _verdict(bad_take("read-thrice", _speech(4.0)), rate=None)["duration"].score is None


class _Takes(ScriptedBackend):
    """Answers each text with the takes queued for it, in order (then good takes)."""

    def __init__(self, takes, repeatable=False):
        super().__init__()
        self.takes = {k: list(v) for k, v in takes.items()}
        self.repeatable = repeatable

    def render(self, request):
        super().render(request)
        queued = self.takes.get(request.turns[0].text)
        take = queued.pop(0) if queued else _speech(4.0)
        if isinstance(take, Exception):
            raise take
        return Rendered(Audio(take, RATE), Usage(10, 20, 30))


def _run(tmp_path, backend, retakes=2, **options):
    requests = scripted_requests(3, text="Line {i} " + "x" * 50)
    store = FileStore(tmp_path / "cache")
    reviewer = Reviewer(prior_rate=lambda request: 14.0, retakes=retakes)
    result = Scheduler(backend, store, RenderOptions(jobs=1, backoff_base=0.0, **options), review=reviewer).run(requests)
    return requests, store, {o.request.key: o for o in result.outcomes}


def test_scheduler_rerolls_until_a_take_passes_and_counts_every_take(tmp_path):
    text = "Line 1 " + "x" * 50
    backend = _Takes({text: [bad_take("noise", _speech(4.0)), bad_take("cut", _speech(4.0))]})
    requests, store, outcomes = _run(tmp_path, backend)
    o = outcomes[requests[1].key]
    assert (o.ok, o.retakes, o.flagged, o.reasons) == (True, 2, False, ("noise", "truncated"))
    assert o.usage == Usage(30, 60, 90) and o.attempts == 3
    assert [t for _, t in backend.calls].count(text) == 3 and len(backend.calls) == 5
    meta = store.meta(requests[1].key)
    assert meta["review"]["status"] == "accepted" and meta["review"]["take"] == 3
    assert [store.meta(r["key"])["review"]["take"] for r in meta["review"]["rejected"]] == [1, 2]
    assert store.analysis(requests[1].key)["version"] >= 1  # the mix's figures were stored with the take
    assert take_status(meta)["status"] == "accepted"


def test_scheduler_keeps_the_best_take_and_flags_it_when_all_fail(tmp_path):
    text = "Line 0 " + "x" * 50
    worst, best = bad_take("noise", bad_take("read-thrice", _speech(4.0))), bad_take("cut", _speech(4.0))
    backend = _Takes({text: [worst, best, worst]})
    requests, store, outcomes = _run(tmp_path, backend)
    o = outcomes[requests[0].key]
    assert o.flagged and o.retakes == 2 and o.reasons == ("truncated",)
    assert store.get(requests[0].key).pcm == best
    assert store.meta(requests[0].key)["review"]["take"] == 2


def test_a_repeatable_backend_never_rerolls_and_a_failed_reroll_keeps_the_take(tmp_path):
    text = "Line 2 " + "x" * 50
    backend = _Takes({text: [bad_take("dead-air", _speech(4.0))]}, repeatable=True)
    requests, store, outcomes = _run(tmp_path / "a", backend)
    assert outcomes[requests[2].key].flagged and len(backend.calls) == 3

    refused = BackendError("refused", retryable=False)
    backend = _Takes({text: [bad_take("dead-air", _speech(4.0)), refused]})
    requests, store, outcomes = _run(tmp_path / "b", backend)
    o = outcomes[requests[2].key]
    assert o.ok and o.flagged and o.retakes == 0 and "refused" in o.failures
    assert store.meta(requests[2].key)["review"]["status"] == "flagged"


def test_a_cached_take_rendered_again_numbers_its_new_takes_past_those_set_aside(tmp_path):
    """``build --review-cached --retakes``: a cached key is rendered again (``rerender``), and its new takes are
    numbered around the takes set aside before (``Reviewer(earlier=...)``), which the record lists with them."""
    from podpipe.cache.takes import rejected_key

    [request] = scripted_requests(1, text="Line {i} " + "x" * 50)
    store = FileStore(tmp_path / "cache")
    store.put(request.key, Audio(_speech(4.0), RATE), {})  # the cached take: rendered again all the same
    backend = _Takes({request.turns[0].text: [bad_take("cut", _speech(4.0)), _speech(4.0)]})
    reviewer = Reviewer(prior_rate=lambda r: 14.0, retakes=1, earlier={request.key: {1: ["noise"], 3: ["runaway"]}})
    result = Scheduler(backend, store, RenderOptions(jobs=1), review=reviewer, rerender={request.key}).run([request])
    [o] = result.outcomes
    assert o.ok and o.retakes == 1 and not o.flagged and len(backend.calls) == 2
    review = store.meta(request.key)["review"]
    assert review["status"] == "accepted" and review["take"] == 4  # the free numbers: 2 (the cut take), 4
    assert [(r["key"], r["take"], r["reasons"]) for r in review["rejected"]] == [
        (rejected_key(request.key, 1), 1, ["noise"]), (rejected_key(request.key, 2), 2, ["truncated"]),
        (rejected_key(request.key, 3), 3, ["runaway"])]
    assert store.meta(rejected_key(request.key, 2))["review"]["take"] == 2
    assert store.meta(rejected_key(request.key, 1)) is None  # set aside by the caller, not by the render
