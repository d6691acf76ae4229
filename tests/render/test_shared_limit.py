"""The shared limit's controller (``render.shared.SharedLimit``) against a real redis-server on loopback: two
instances stand for two machines on one key, each test on a scope of its own in one server for the module.
Counts only; nothing waits on time."""

from __future__ import annotations

import pytest

from podpipe.render.shared import SharedLimit


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.support.redis import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.kill()


@pytest.fixture
def machines(server, request):
    warnings: list[str] = []
    make = lambda: SharedLimit(server.url, request.node.name, window=60.0, warn=warnings.append)  # noqa: E731
    yield make(), make()
    assert not warnings


def test_one_rate_for_every_machine_climbed_by_any_and_cut_once_per_epoch(machines):
    a, b = machines
    wait, epoch, rate = a.acquire("m", 10, None)  # the first start creates the controller at the start rate
    assert (wait, epoch, rate) == (0, 0, 10)
    for _ in range(5):  # slow start (no ceiling): each success adds one request per window
        a.succeeded("m", None)
    wait, epoch, rate = b.acquire("m", 10, None)  # the other machine reads the same rate
    assert (wait, epoch, rate) == (0, 0, 15)
    b.refused("m", 0, retry_after=59.5)  # 2 starts in the quota's window (a's and b's), this one refused
    _, epoch, rate = a.acquire("m", 10, None)
    assert epoch == 1 and rate == 7.5  # what got through (1) is below half: it halves, no more
    a.refused("m", 0, retry_after=59.5)  # granted before the cut, by another machine: no second cut
    _, epoch, rate = b.acquire("m", 10, None)
    assert epoch == 1 and rate == 7.5
    b.succeeded("m", None)  # after a cut: one request per window for a window's worth of successes
    assert a.acquire("m", 10, None)[2] == pytest.approx(7.5 + 1 / 7.5)


def test_a_ceiling_caps_the_window_and_the_climb_and_the_window_does_not_name_the_amount(machines):
    a, b = machines
    assert [a.acquire("n", 2, 2)[0] for _ in range(2)] == [0, 0]
    assert 0 < a.acquire("n", 2, 2)[0] <= 61  # the third start in a window waits
    a.succeeded("n", 2)  # at its ceiling: no climb
    assert b.acquire("n", 5, None)[2] == 2  # the key's rate is 2, whatever b's start
    b.succeeded("n", None)  # b has no ceiling: it climbs (gently: a created the controller with one)
    b.succeeded("n", None)
    assert b.acquire("n", 5, None)[:2] == (0, 0)  # 3 a window now; the 2 taken still count: one more
    assert b.acquire("n", 5, None)[0] > 0  # one window whatever the amount
    assert a.taken == 2 and b.taken == 1
