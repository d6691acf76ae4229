"""Adaptive rate control (AIMD, ``render.limiter.AdaptiveLimiter``) and waiting for quota (the scheduler's
retry path): on a fake clock where the policy is pure, with the scripted backend where threads run."""

from __future__ import annotations

import pytest

from podpipe.cache import FileStore
from podpipe.errors import BackendError
from podpipe.render import RenderOptions, Scheduler
from podpipe.render.limiter import AdaptiveLimiter
from podpipe.compile import Target, compile_episode
from tests.support.backends import ScriptedBackend, scripted_requests
from tests.support.episodes import episode, line


def quota(retry_after: float = 0.01) -> BackendError:
    return BackendError("429 quota", retryable=True, retry_after=retry_after, status=429)


def test_slow_start_doubles_per_window_of_successes_until_the_first_refusal():
    lim = AdaptiveLimiter("m", 10, clock=lambda: 0.0)
    for _ in range(10):
        lim.succeeded()
    assert lim.rate == 20 and lim.limit == 20
    lim.refused_at(lim.epoch)
    assert lim.rate == 10 and lim.decreases == 1
    for _ in range(10):  # after a refusal: one request per window for each window's worth of successes
        lim.succeeded()
    assert 10.9 < lim.rate < 11.0


def test_one_cut_per_epoch_several_refusals_in_flight_halve_once():
    lim = AdaptiveLimiter("m", 40, clock=lambda: 0.0)
    granted = lim.epoch
    for _ in range(4):  # four attempts sent at the old rate come back refused together
        lim.refused_at(granted)
    assert lim.rate == 20 and lim.refused == 4 and lim.decreases == 1
    lim.refused_at(lim.epoch)  # one granted after the cut is news
    assert lim.rate == 10 and lim.decreases == 2


def test_the_ceiling_caps_the_climb_and_the_floor_is_one_per_window():
    lim = AdaptiveLimiter("m", 12, ceiling=12, clock=lambda: 0.0)
    assert not lim.slow_start  # started at the ceiling: nothing to search for
    for _ in range(50):
        lim.succeeded()
    assert lim.rate == 12 and lim.peak == 12
    for _ in range(10):
        lim.refused_at(lim.epoch)
    assert lim.rate == 1.0 and lim.limit == 1
    summary = lim.summary().as_dict()
    assert summary["settled_rpm"] == 1.0 and summary["ceiling_rpm"] == 12 and summary["refused"] == 10


def test_the_limit_follows_the_rate_on_a_fake_clock():
    clock = [0.0]
    lim = AdaptiveLimiter("m", 2, window=1.0, clock=lambda: clock[0])
    assert lim.delay() == 0 and lim.delay() == 0 and lim.delay() > 0  # 2 per window
    lim.succeeded()
    lim.succeeded()  # slow start: 4 per window now
    assert lim.delay() == 0 and lim.delay() == 0 and lim.delay() > 0


def test_a_quota_refusal_does_not_use_up_an_attempt(tmp_path):
    """Five 429s with a retry delay, then success, with --retries 2: waiting for quota is not failing."""
    backend = ScriptedBackend({"Line number 0.": [quota() for _ in range(5)]})
    options = RenderOptions(jobs=1, rpm=None, attempts=2, backoff_base=0.01, rate_window=1.0)
    scheduler = Scheduler(backend, FileStore(tmp_path), options)
    result = scheduler.run(scripted_requests(1))
    assert not result.failed
    (outcome,) = result.outcomes
    assert outcome.attempts == 6 and len(outcome.failures) == 5
    assert result.quota_wait_seconds > 0


def test_other_failures_still_count_against_the_attempts(tmp_path):
    failures = [quota(), BackendError("HTTP 500", retryable=True, status=500), quota(),
                BackendError("HTTP 500", retryable=True, status=500)]
    backend = ScriptedBackend({"Line number 0.": failures})
    options = RenderOptions(jobs=1, attempts=2, backoff_base=0.01, backoff_max=0.02)
    (outcome,) = Scheduler(backend, FileStore(tmp_path), options).run(scripted_requests(1)).outcomes
    assert not outcome.ok and outcome.attempts == 4 and outcome.error == "HTTP 500"


def test_past_the_quota_wait_budget_a_refusal_fails_and_says_so(tmp_path):
    backend = ScriptedBackend({"Line number 0.": [quota(0.05) for _ in range(100)]})
    options = RenderOptions(jobs=1, attempts=5, quota_wait=0.2)
    result = Scheduler(backend, FileStore(tmp_path), options).run(scripted_requests(1))
    (outcome,) = result.failed
    assert "--quota-wait" in outcome.error and "waiting" in outcome.error
    assert 4 <= outcome.attempts <= 6  # 0.2 s of budget at 0.05 s a pause: it gave up, never spent attempts
    assert result.quota_wait_seconds <= 0.2 + 1e-9


def test_rates_are_per_model_and_reported(tmp_path):
    class TwoModels(ScriptedBackend):
        @classmethod
        def rpm_for(cls, model):
            return {"m": 1000.0}.get(model, 500.0)

    other = list(compile_episode(episode(line(0, "host", "Another model.")), Target("scripted", "n")).requests)
    backend = TwoModels({"Line number 1.": [quota()]})
    scheduler = Scheduler(backend, FileStore(tmp_path), RenderOptions(jobs=2))
    result = scheduler.run(scripted_requests(4) + other)
    assert not result.failed
    rates = {r.model: r for r in result.rates}
    assert rates["m"].start == 1000 and rates["m"].refused == 1 and rates["m"].decreases == 1
    assert rates["n"].start == 500 and rates["n"].refused == 0 and rates["n"].settled == 501  # one success
    assert rates["m"].ceiling is None and rates["m"].settled == pytest.approx(scheduler.limiter_for("m").rate)


def test_rpm_given_is_the_start_and_the_ceiling_and_zero_is_no_limit(tmp_path):
    scheduler = Scheduler(ScriptedBackend(), FileStore(tmp_path), RenderOptions(rpm=30))
    limiter = scheduler.limiter_for("m")
    assert isinstance(limiter, AdaptiveLimiter) and limiter.rate == 30 and limiter.ceiling == 30
    unlimited = Scheduler(ScriptedBackend(), FileStore(tmp_path), RenderOptions(rpm=0)).limiter_for("m")
    assert not isinstance(unlimited, AdaptiveLimiter) and unlimited.delay() == 0 and not unlimited.limit
    fixed = Scheduler(ScriptedBackend(), FileStore(tmp_path), RenderOptions(rpm=7, adaptive=False))
    assert not isinstance(fixed.limiter_for("m"), AdaptiveLimiter) and fixed.limiter_for("m").limit == 7


def test_a_shard_starts_at_its_share_and_n_shards_climb_as_one_build():
    lim = AdaptiveLimiter("m", 120, ceiling=120, shares=8, clock=lambda: 0.0)
    assert lim.start == lim.rate == 15 and not lim.slow_start  # 8 shards told 120 start at 120 together
    for _ in range(15):  # a window's worth of successes adds an eighth of a request: the 8 together add one
        lim.succeeded()
    assert 15.12 < lim.rate < 15.13
    auto = AdaptiveLimiter("m", 10, shares=4, clock=lambda: 0.0)
    assert auto.rate == 2.5 and auto.slow_start  # the rate unknown: it searches up from a share of the catalog's
    assert AdaptiveLimiter("m", 10, shares=40, clock=lambda: 0.0).rate == 1  # never below one per window
    alone = AdaptiveLimiter("m", 40, clock=lambda: 0.0)  # followed a shared rate of 40, then Redis failed
    alone.alone(4)
    assert alone.rate == 10 and alone.shares == 4 and not alone.slow_start


def test_a_refusal_cuts_to_what_got_through_in_the_quotas_window_and_at_most_halves():
    clock = [9.5]
    lim = AdaptiveLimiter("m", 16, ceiling=16, window=1.0, clock=lambda: clock[0])
    for _ in range(4):  # sent in the quota's previous window
        assert lim.delay() == 0
    clock[0] = 10.0  # the quota's window begins (the server says so below: it ends at 11.0)
    for _ in range(12):
        assert lim.delay() == 0
    clock[0] = 10.2
    lim.refused_at(lim.epoch, retry_after=0.8)
    assert lim.rate == 11 and lim.decreases == 1  # 12 started in this window, 1 of them refused
    lim.refused_at(lim.epoch - 1, retry_after=0.8)  # granted before the cut: counted, no second cut
    assert lim.rate == 11 and lim.refused == 2
    lim.refused_at(lim.epoch, retry_after=5.0)  # a window that began later than anything we sent: nothing
    assert lim.rate == 5.5  # got through that we know of, so it halves, no more


def test_a_build_told_it_is_one_of_n_starts_at_its_share(tmp_path):
    limiter = Scheduler(ScriptedBackend(), FileStore(tmp_path), RenderOptions(rpm=30, shares=3)).limiter_for("m")
    assert isinstance(limiter, AdaptiveLimiter) and limiter.rate == 10 and limiter.ceiling == 30


def test_without_the_shared_limit_a_shard_takes_its_share_once(tmp_path):
    class Off:  # a shared limit that failed before this model's first start (a URL the library rejected)
        active = False

    scheduler = Scheduler(ScriptedBackend(), FileStore(tmp_path), RenderOptions(rpm=30, shares=3))
    scheduler.shared = Off()
    limiter = scheduler.limiter_for("m")
    scheduler.pacer.alone(limiter)  # what the scheduler does when it finds the shared limit off
    assert limiter.rate == 10
    scheduler = Scheduler(ScriptedBackend(), FileStore(tmp_path), RenderOptions(rpm=30, shares=3))
    scheduler.shared = Off()
    scheduler.shared.active = True  # working when the limiter was made: Redis shares, so the whole rate
    limiter = scheduler.limiter_for("m")
    assert limiter.rate == 30
    scheduler.shared.active = False  # then it failed: this build goes on alone from its share
    scheduler.pacer.alone(limiter)
    scheduler.pacer.alone(limiter)
    assert limiter.rate == 10
