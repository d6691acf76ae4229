"""Remote faults never fail a build: a real S3 server stopped mid-run, denied writes (403), throttling,
timeouts, and a file:// remote that cannot be written. Every operation degrades to a miss or a skipped
upload, is counted, warns once, gives up on the remote after a few failures in a row, and never lets a
credential into a message or a log line."""

from __future__ import annotations

import logging

import pytest

from podpipe.cache import FileStore, TieredStore, open_remote
from tests.cache.remote.conftest import FAST, Shared
from tests.support.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, S3Server, point_at


@pytest.fixture
def own_s3_server(monkeypatch):
    """A server of its own, so a test may stop it."""
    with S3Server() as server:
        point_at(monkeypatch, server.endpoint)
        yield server


def _no_secrets(texts: list[str]) -> None:
    for text in texts:
        assert SECRET_ACCESS_KEY not in text and ACCESS_KEY_ID not in text


def test_the_s3_server_stopping_mid_run_degrades_every_operation(own_s3_server, tmp_path, key, tone, render_meta,
                                                                 caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="podpipe")
    bucket = own_s3_server.create_bucket()
    warnings: list[str] = []
    url = f"s3://{bucket}/cache"
    first = TieredStore(FileStore(tmp_path / "first"), open_remote(url, on_warning=warnings.append, **FAST))
    second = TieredStore(FileStore(tmp_path / "second"),
                         open_remote(url, on_warning=warnings.append, max_errors=2, **FAST))
    first.put(key("before"), tone(), render_meta)
    assert second.has(key("before"))  # the second machine has talked to the server: a warm client

    own_s3_server.stop()
    assert second.get(key("before")) is None  # on the remote, but unreachable: a miss
    assert not second.has(key("new"))
    with second.lock(key("new")):  # no lease to be had: render without one
        assert not second.has(key("new"))
        second.put(key("new"), tone(freq=500.0), render_meta)  # the local cache takes it all the same
    assert second.local.get(key("new")) == tone(freq=500.0)
    output = tmp_path / "ep.mp3"
    output.write_bytes(b"ID3 episode")
    assert second.remote.put_output(key("digest"), {"ep.mp3": output}) is False
    assert second.remote.get_output(key("digest"), tmp_path / "out") is None
    assert not second.remote.info().listed
    assert second.remote.missing([key("before")]) == [key("before")]
    # a few refused connections, then the remote is given up on: later operations are not even tried
    assert second.remote.stats().skipped > 0

    stats = second.remote.stats()
    assert stats.errors == 4 and stats.skipped >= 3  # max_errors in a row per direction, then no more tries
    assert (stats.hits, stats.uploads) == (0, 0)
    assert stats.misses == 2  # "before" and "new"
    failed = [w for w in warnings if "failed" in w]
    assert len(failed) == 1 and "going on with the local cache" in failed[0]  # warned once
    assert any("not reading it any more" in w for w in warnings)
    assert any("not writing it any more" in w for w in warnings)
    _no_secrets(warnings + [r.getMessage() for r in caplog.records])


def test_denied_writes_skip_uploads_and_leases_but_reads_go_on(s3_shared: Shared, tmp_path, key, tone,
                                                                render_meta) -> None:
    writer = s3_shared.machine(tmp_path, "writer")
    writer.put(key("there"), tone(), render_meta)
    server = s3_shared.bucket.server
    # credentials that may read but not write, while podpipe is in write mode
    server.fault = lambda method, path: ("403", f"Access Denied for {ACCESS_KEY_ID} ({SECRET_ACCESS_KEY})") \
        if method in ("PUT", "POST", "DELETE") else None
    machine = s3_shared.machine(tmp_path, "denied")
    for i in range(4):
        with machine.lock(key(i)):
            assert not machine.has(key(i))
            machine.put(key(i), tone(), render_meta)
        assert machine.local.has(key(i))
    assert machine.get(key("there")) == tone()  # reading is unaffected
    stats = machine.remote.stats()
    assert stats.errors == 3 and stats.skipped >= 4 and stats.uploads == 0 and stats.hits == 1
    assert [w for w in s3_shared.warnings if "failed" in w] == [s3_shared.warnings[0]]
    assert "AccessDenied" in s3_shared.warnings[0] and "***" in s3_shared.warnings[0]
    assert any("not writing it any more" in w for w in s3_shared.warnings)
    hints = [w for w in s3_shared.warnings if "--remote-cache-mode read" in w]
    assert len(hints) == 1 and "refused (AccessDenied)" in hints[0]  # said once, with the fix
    _no_secrets(s3_shared.warnings)


def test_throttling_is_retried_by_the_client_and_timeouts_are_bounded(s3_shared: Shared, tmp_path, key, tone,
                                                                       render_meta) -> None:
    writer = s3_shared.machine(tmp_path, "writer")
    writer.put(key("throttled"), tone(), render_meta)
    server = s3_shared.bucket.server
    slow_downs = [1]

    def throttle_once(method: str, path: str):
        if method == "GET" and slow_downs[0]:
            slow_downs[0] -= 1
            return "503"
        return None

    server.fault = throttle_once
    patient = s3_shared.machine(tmp_path, "patient", attempts=3)
    assert patient.get(key("throttled")) == tone()  # botocore's standard retry mode backed off and retried
    assert patient.remote.stats().errors == 0 and slow_downs == [0]

    for attempt in range(50):  # connected before the clock starts; on a busy machine even the warm-up may
        hasty = s3_shared.machine(tmp_path, f"hasty-{attempt}", timeout=0.25)  # miss 0.25 s: then a new machine
        if hasty.remote.missing([key("warm-up")]) and hasty.remote.stats().errors == 0:
            break
    assert hasty.remote.stats().errors == 0
    server.fault = lambda method, path: ("hang", 4.0) if method == "HEAD" else None
    # on the remote, so only a read timeout (not the server's late answer) makes it a miss
    assert not hasty.has(key("throttled"))
    assert hasty.remote.stats().errors == 1
    # botocore's read timeout, or the guard's own bound on the call when a busy machine gets there first:
    # either way the lookup was cut short and said so
    assert any(word in s3_shared.warnings[-1] for word in ("ReadTimeout", "no answer within"))


def test_a_file_remote_that_cannot_be_written_costs_uploads_not_the_build(tmp_path, key, tone, render_meta) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the remote's root should be")
    warnings: list[str] = []
    machine = TieredStore(FileStore(tmp_path / "m"),
                          open_remote(f"file://{blocked}", on_warning=warnings.append, **FAST))
    assert not machine.has(key(1))
    with machine.lock(key(1)):
        machine.put(key(1), tone(), render_meta)
    assert machine.get(key(1)) == tone()
    assert machine.remote.stats().errors >= 1 and machine.remote.stats().uploads == 0
    assert len([w for w in warnings if "failed" in w]) == 1
    assert blocked.read_text().startswith("a file")


def test_credentials_in_the_environment_never_reach_a_warning(tmp_path, key, monkeypatch) -> None:
    secret = "Azure" "StorageKeyFake0123456789=="
    monkeypatch.setenv("AZURE_STORAGE_KEY", secret)
    warnings: list[str] = []
    target = tmp_path / f"dir-{secret}"
    target.write_text("not a directory")
    remote = open_remote(f"file://{target}", on_warning=warnings.append, **FAST)
    assert remote.put_output(key(1), {"a.txt": target}) is False
    assert warnings and all(secret not in w for w in warnings)  # not even where the path repeats it
    assert any("***" in w for w in warnings)
