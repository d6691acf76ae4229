"""http(s):// remote caches are read only (GET and HEAD, like ccache's HTTP storage): a directory a
writable remote filled, served by http.server on 127.0.0.1, serves entries and finished outputs; nothing is
ever written to it, no lease is taken, and a server that goes away costs misses, not the build."""

from __future__ import annotations

import socket

import pytest

from podpipe.cache import FileStore, TieredStore, open_remote
from podpipe.errors import UsageError
from tests.cache.remote.conftest import FAST, Shared


def test_entries_and_outputs_are_read_over_http_and_nothing_is_written(file_shared: Shared, http_server, tmp_path,
                                                                       key, tone, render_meta,
                                                                       entry_files) -> None:
    writer = file_shared.machine(tmp_path, "writer")
    writer.put(key("served"), tone(), render_meta)
    episode = tmp_path / "ep.mp3"
    episode.write_bytes(b"ID3" + bytes(range(256)) * 8)
    assert writer.remote.put_output(key("digest"), {"ep.mp3": episode}, {"duration": 2.5})
    before = file_shared.objects()

    warnings: list[str] = []
    url = http_server(file_shared.root)
    remote = open_remote(url, on_warning=warnings.append, **FAST)
    assert remote.mode == "read" and not remote.writable  # the default for http
    reader = TieredStore(FileStore(tmp_path / "reader"), remote)
    assert reader.has(key("served")) and not reader.has(key("absent"))
    assert reader.get(key("served")) == tone()
    assert entry_files(reader.local, key("served"))[0] == entry_files(writer.local, key("served"))[0]
    assert reader.get(key("absent")) is None

    fetched = remote.get_output(key("digest"), tmp_path / "build")
    assert fetched is not None and fetched.meta == {"duration": 2.5}
    assert fetched.files["ep.mp3"].read_bytes() == episode.read_bytes()

    with reader.lock(key("new")):  # no lease over http
        reader.put(key("new"), tone(freq=900.0), render_meta)
    with remote.lease(key("x")) as held:
        assert not held
    info = remote.info()
    assert not info.listed and "cannot be listed" in info.problem

    assert file_shared.objects() == before
    stats = remote.stats()
    assert (stats.hits, stats.misses, stats.errors, stats.uploads, stats.outputs_down) == (1, 1, 0, 0, 1)
    assert not warnings


def test_an_http_remote_that_goes_away_costs_misses(file_shared: Shared, tmp_path, key, tone, render_meta) -> None:
    file_shared.machine(tmp_path, "writer").put(key(1), tone(), render_meta)
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    warnings: list[str] = []
    reader = TieredStore(FileStore(tmp_path / "reader"),
                         open_remote(f"http://127.0.0.1:{port}/cache", on_warning=warnings.append, **FAST))
    assert not reader.has(key(1)) and reader.get(key(1)) is None
    assert reader.remote.stats().errors == 2
    assert len(warnings) == 1 and "Connection refused" in warnings[0]


def test_http_cannot_be_opened_for_writing(monkeypatch) -> None:
    with pytest.raises(UsageError, match=r"read only .*use read"):
        open_remote("https://cache.example.invalid/podpipe", "write")
    monkeypatch.setenv("PODPIPE_REMOTE_CACHE_MODE", "write")
    with pytest.raises(UsageError, match="PODPIPE_REMOTE_CACHE_MODE write"):
        open_remote("https://cache.example.invalid/podpipe")
    assert open_remote("https://cache.example.invalid/podpipe", "read").mode == "read"
