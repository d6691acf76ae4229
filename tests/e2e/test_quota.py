"""One quota, many machines: builds sharing a project-wide quota on the loopback stand-in (the real
google-genai client), with the quota's minute scaled down to WINDOW seconds so a test runs in seconds.

Assertions are on counts (requests answered and refused, the limiter's recorded rates), never on how fast a
loaded machine ran; the builds finishing is the event the tests wait on."""

from __future__ import annotations

import threading

import pytest

from podpipe.commands import BuildOptions, build
from podpipe.commands.build import Progress
from podpipe.commands.shard import parse_shard, select
from podpipe.errors import RenderError

WINDOW = 0.5  # seconds that stand for the quota's minute
MODEL = "gemini-3.8-flash-tts"
CATALOG_RPM = 10.0  # the catalog's rate for MODEL: tests/backends hold the catalog; here it is the start


def write_show(root, episodes: int, lines: int) -> list[str]:
    paths = []
    for e in range(episodes):
        body = "\n".join(f"  - host: Episode {e}, line {i} of the quota show." for i in range(lines))
        path = root / f"ep{e:02d}.yaml"
        path.write_text(f"title: Episode {e}\nmodel: {MODEL}\nspeakers:\n  host: {{voice: Zephyr}}\n"
                        f"segments:\n{body}\noutput: {{format: wav}}\n", encoding="utf-8")
        paths.append(path.name)
    return paths


def shard_builds(root, specs, count: int, window: float = WINDOW, **options) -> list[object]:
    """``count`` shard builds at once, each with its own cache directory (as on separate machines)."""
    results: list[object] = [None] * count

    def one(k: int) -> None:
        picked = select(specs, parse_shard(f"{k + 1}/{count}"))
        try:
            results[k] = build(picked, BuildOptions(cache_dir=root / f"cache-{k}", rate_window=window,
                                                    mix_jobs=1, **options))
        except RenderError as exc:
            results[k] = exc

    threads = [threading.Thread(target=one, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.fixture
def show(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PODPIPE_CACHE_DIR", raising=False)
    return tmp_path


@pytest.mark.parametrize("shards", [4, 8])
def test_shards_each_told_the_full_rate_share_one_quota(gemini_server, show, shards):
    """As ``build --shard K/N --rpm Q`` on N machines: each starts at its share, so together they start at the
    quota, not N times it (which refused about half of all requests before a build knew it was one of N)."""
    quota, window = 40, 1.0  # a longer window than the others': a loaded machine's lag from a start to its
    gemini_server.set_quota(quota, window)  # arrival is a smaller part of it (at 60 s it is nothing)
    gemini_server.latency = 0.02
    specs = write_show(show, 8, 15)
    results = shard_builds(show, specs, shards, window, rpm=quota, shares=shards)
    assert all(not isinstance(r, RenderError) for r in results), [str(r) for r in results]
    failed = sum(len(r.render.failed) for r in results)
    answered, refused = gemini_server.quota_answered, gemini_server.quota_refused
    assert failed == 0 and answered == 8 * 15
    assert refused <= 0.10 * answered, (answered, refused)
    assert gemini_server.busiest_window() <= quota
    for r in results:  # every shard started at its share of the rate it was told, and never passed that rate
        (rate,) = r.render.rates
        assert rate.start == quota / shards and rate.ceiling == quota and rate.settled <= quota


def test_auto_climbs_to_a_quota_ten_times_the_catalog_rate(gemini_server, show):
    quota = int(CATALOG_RPM * 10)
    gemini_server.set_quota(quota, WINDOW)
    specs = write_show(show, 1, 100)  # the rate passes the quota after 91 successes (slow start: +1 each)
    (result,) = shard_builds(show, specs, 1)
    assert not isinstance(result, RenderError), str(result)
    (rate,) = result.render.rates
    assert rate.start == CATALOG_RPM and rate.ceiling is None
    assert rate.peak >= quota  # it found the quota: the rate passed it before the first refusal
    assert rate.settled >= quota / 2  # and a refusal cuts it to what got through, never below half
    # (how many requests a window then really held depends on how fast this machine can send them: a busy
    # 2-core box sends fewer, so it is not asserted; the limiter's own record above is the proof)


class Notes(Progress):
    def __init__(self):
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


def test_with_redis_four_shards_share_one_limit_and_nothing_is_refused(gemini_server, redis_server, show):
    quota, window = 20, 1.0  # the shared limit counts whole seconds (2 here, past the arrival margin)
    gemini_server.set_quota(quota, window)
    specs = write_show(show, 8, 5)
    results = shard_builds(show, specs, 4, rpm=quota, rate_limit_url=redis_server.url, window=window, shares=4)
    assert all(not isinstance(r, RenderError) for r in results), [str(r) for r in results]
    assert gemini_server.quota_refused == 0 and gemini_server.quota_answered == 40
    for r in results:  # Redis does the sharing: each build starts at the key's whole rate, not a quarter of it
        (rate,) = r.render.rates
        assert rate.start == quota and rate.refused == 0
    import redis

    keys = redis.Redis.from_url(redis_server.url).keys("*")
    assert keys and all(gemini_server.api_key.encode() not in k for k in keys)  # a hash names it, not the key


def test_with_redis_and_rpm_auto_the_machines_find_the_rate_together(gemini_server, redis_server, show):
    """One controller for every machine, its rate in Redis: it climbs from the catalog's rate past a quota
    twice that, and any machine's refusal cuts it for all."""
    import redis

    quota, window = int(CATALOG_RPM * 2), 0.98  # a shared window of 1 s (whole seconds past the margin)
    gemini_server.set_quota(quota, window)
    specs = write_show(show, 4, 20)
    results = shard_builds(show, specs, 2, rate_limit_url=redis_server.url, window=window, shares=2)
    assert all(not isinstance(r, RenderError) for r in results), [str(r) for r in results]
    assert not any(r.render.failed for r in results) and gemini_server.quota_answered == 80
    for r in results:
        (rate,) = r.render.rates
        assert rate.start == CATALOG_RPM and rate.ceiling is None and rate.peak >= quota
    client = redis.Redis.from_url(redis_server.url)
    (state,) = [k for k in client.keys("podpipe/*") if k.endswith(b"/rate")]
    rate, epoch = (float(v) for v in client.hmget(state, "rate", "epoch"))
    assert rate >= CATALOG_RPM
    if gemini_server.quota_refused:  # the probe found the quota's edge: the shared rate was cut, once an epoch
        assert 1 <= epoch <= gemini_server.quota_refused


def test_redis_killed_mid_build_the_build_completes_with_one_warning(gemini_server, redis_server, show):
    gemini_server.set_quota(20, 1.0)
    specs = write_show(show, 2, 10)
    gemini_server.hold(after=3)
    notes = Notes()
    done: list[object] = []

    def run() -> None:
        try:
            done.append(build(specs, BuildOptions(cache_dir=show / "cache", rpm=20, rate_window=1.0, mix_jobs=1,
                                                  rate_limit_url=redis_server.url), notes))
        except RenderError as exc:
            done.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert gemini_server.wait_held(1), "no request reached the stand-in"  # the build is under way
    redis_server.kill()
    gemini_server.release()
    thread.join()
    (result,) = done
    assert not isinstance(result, RenderError), str(result)
    assert gemini_server.quota_answered == 20 and not result.render.failed
    warnings = [n for n in notes.notes if "--rate-limit-url" in n]
    assert len(warnings) == 1 and "adaptive" in warnings[0]


def test_a_redis_that_is_not_there_is_one_warning_not_a_failure(gemini_server, show):
    from tests.support.redis import free_port

    specs = write_show(show, 1, 3)
    notes = Notes()
    result = build(specs, BuildOptions(cache_dir=show / "cache", mix_jobs=1,
                                       rate_limit_url=f"redis://127.0.0.1:{free_port()}/0"), notes)
    assert not result.render.failed and len(result.render.rendered) == 3
    assert len([n for n in notes.notes if "--rate-limit-url" in n]) == 1


def test_the_cli_shows_and_reports_the_settled_rate_and_takes_auto_or_a_number(gemini_server, show):
    import json

    from tests.support.cli import run

    specs = write_show(show, 1, 3)
    result = run("build", "-v", "--rpm", "auto", "--quota-wait", "30", "--report", "report.json", *specs)
    assert f"rate for {MODEL}: settled at 13.0 requests/min (started at 10.0, peak 13.0" in result.output
    report = json.loads((show / "report.json").read_text(encoding="utf-8"))
    (rate,) = report["rates"]
    assert rate["model"] == MODEL and rate["start_rpm"] == 10.0 and rate["settled_rpm"] == 13.0
    assert rate["ceiling_rpm"] is None and rate["refused"] == 0 and report["quota_wait_seconds"] == 0
    bad = run("build", "--rpm", "fast", *specs, code=2)
    assert "neither 'auto' nor a number" in bad.output


def test_a_shard_of_n_starts_at_its_share_of_the_rate(gemini_server, show):
    import json

    from tests.support.cli import run

    specs = write_show(show, 2, 1)
    run("build", "--shard", "1/2", "--rpm", "30", "--report", "report.json", *specs)
    (rate,) = json.loads((show / "report.json").read_text(encoding="utf-8"))["rates"]
    assert rate["start_rpm"] == 15.0 and rate["ceiling_rpm"] == 30


def test_the_redis_extra_missing_is_named(gemini_server, show, monkeypatch):
    import sys

    from tests.support.cli import run

    monkeypatch.setitem(sys.modules, "limits", None)  # as if podpipe[redis] were not installed
    specs = write_show(show, 1, 1)
    result = run("build", "--rate-limit-url", "redis://127.0.0.1:1/0", *specs, code=2)
    assert "podpipe[redis]" in result.output
