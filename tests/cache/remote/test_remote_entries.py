"""Entries in a shared remote cache, the same over file:// and s3:// (a real S3 server): two machines share
every entry byte for byte, a damaged or old remote entry is a warned miss that is rendered again, read
mode never writes, push and pull move exactly what is asked, and ``info`` counts what is there."""

from __future__ import annotations

import json

from podpipe.cache import FileStore, pull, push
from podpipe.cache.tiered import TieredStore
from tests.cache.remote.conftest import Shared


def _entry_paths(key: str) -> tuple[str, str]:
    return f"v1/{key[:2]}/{key}.wav", f"v1/{key[:2]}/{key}.json"


def test_a_second_machine_gets_every_entry_from_the_remote_byte_for_byte(shared: Shared, tmp_path, key, tone,
                                                                         render_meta, entry_files) -> None:
    first = shared.machine(tmp_path, "first")
    keys = [key(i) for i in range(4)]
    for i, k in enumerate(keys):
        first.put(k, tone(seconds=0.05, freq=300 + 50 * i), render_meta)
    # the remote holds exactly the local cache's files, in the local cache's layout
    objects = shared.objects()
    for k in keys:
        wav, record = entry_files(first.local, k)
        assert objects[_entry_paths(k)[0]] == wav and objects[_entry_paths(k)[1]] == record
    assert first.remote.stats().uploads == 4

    second = shared.machine(tmp_path, "second")
    assert all(second.has(k) for k in keys) and not second.has(key("never rendered"))
    for i, k in enumerate(keys):
        assert second.get(k) == tone(seconds=0.05, freq=300 + 50 * i)
        assert second.local.has(k)  # the hit was kept locally...
        assert entry_files(second.local, k)[0] == entry_files(first.local, k)[0]  # ...as the very same WAV
        mine, theirs = second.local.meta(k), first.local.meta(k)
        assert {**mine, "created": None} == {**theirs, "created": None}  # created: when it arrived here
    stats = second.remote.stats()
    assert (stats.hits, stats.misses, stats.errors, stats.rejected) == (4, 1, 0, 0)
    assert stats.bytes_down == sum(len(b) for p, b in objects.items() if p.startswith("v1/"))
    assert second.get(keys[0]) is not None and second.remote.stats().hits == 4  # now local: no download
    assert not shared.warnings


def test_damaged_remote_audio_is_a_warned_miss_and_the_re_render_repairs_it(shared: Shared, tmp_path, key, tone,
                                                                            render_meta) -> None:
    k = key("damaged")
    first = shared.machine(tmp_path, "first")
    first.put(k, tone(), render_meta)
    wav_path = _entry_paths(k)[0]
    data = bytearray(shared.read(wav_path))
    data[-10] ^= 0xFF  # same size, other samples: only the sha256 can tell
    shared.write(wav_path, bytes(data))

    second = shared.machine(tmp_path, "second")
    assert second.has(k)  # one HEAD cannot tell...
    assert second.get(k) is None  # ...the download can: never served
    assert not second.local.has(k)
    assert not second.has(k)  # and from now on this run renders it
    stats = second.remote.stats()
    assert (stats.hits, stats.misses, stats.rejected, stats.errors) == (0, 1, 1, 0)
    assert len(shared.warnings) == 1
    assert "failed verification (audio sha256 does not match metadata)" in shared.warnings[0]
    assert k[:12] in shared.warnings[0] and "rendered again" in shared.warnings[0]

    second.put(k, tone(freq=660.0), render_meta)  # the render stage's new render replaces the bad entry
    third = shared.machine(tmp_path, "third")
    assert third.get(k) == tone(freq=660.0)


def test_a_record_whose_sha256_is_wrong_or_missing_is_a_miss(shared: Shared, tmp_path, key, tone,
                                                             render_meta) -> None:
    first = shared.machine(tmp_path, "first")
    wrong, old = key("wrong sha"), key("old record")
    for k in (wrong, old):
        first.put(k, tone(), render_meta)
    record = json.loads(shared.read(_entry_paths(wrong)[1]))
    shared.write(_entry_paths(wrong)[1], json.dumps({**record, "sha256": "0" * 64}).encode())
    record = json.loads(shared.read(_entry_paths(old)[1]))
    del record["sha256"]  # as written before records carried it
    shared.write(_entry_paths(old)[1], json.dumps(record).encode())

    second = shared.machine(tmp_path, "second")
    assert second.get(wrong) is None and second.get(old) is None
    assert not second.local.has(wrong) and not second.local.has(old)
    assert second.remote.stats().rejected == 2
    assert any("sha256 does not match" in w for w in shared.warnings)
    assert any("'sha256' is missing" in w for w in shared.warnings)


def test_read_mode_never_writes(shared: Shared, tmp_path, key, tone, render_meta) -> None:
    writer = shared.machine(tmp_path, "writer")
    writer.put(key("shared"), tone(), render_meta)
    before = shared.objects()
    writes_before = len(shared.bucket.server.writes(shared.bucket.name)) if shared.kind == "s3" else 0

    reader = shared.machine(tmp_path, "reader", mode="read")
    assert reader.remote.mode == "read" and not reader.remote.writable
    assert reader.get(key("shared")) == tone()  # reads work
    with reader.lock(key("new")):  # no lease in read mode
        assert not reader.has(key("new"))
        reader.put(key("new"), tone(freq=880.0), render_meta)  # a render goes to the local cache only
    assert reader.local.has(key("new"))
    assert reader.remote.put_from(reader.local, key("new")) is False
    assert reader.remote.put_output(key("out"), {"ep.wav": reader.local.entry_paths(key("new"))[0]}) is False

    assert shared.objects() == before
    if shared.kind == "s3":
        assert shared.bucket.server.writes(shared.bucket.name)[writes_before:] == []
    assert reader.remote.stats().uploads == 0 and not shared.warnings


def test_push_uploads_what_the_remote_lacks_and_pull_fetches_what_is_asked(shared: Shared, tmp_path, key, tone,
                                                                          render_meta, entry_files) -> None:
    local = FileStore(tmp_path / "ci")
    keys = [key(i) for i in range(5)]
    for i, k in enumerate(keys):
        local.put(k, tone(freq=200 + 40 * i), render_meta)
    remote = shared.open()
    remote.put_from(local, keys[0])  # one is there already
    local.entry_paths(keys[4])[0].write_bytes(b"RIFF damaged")  # and one is damaged locally

    assert remote.missing(keys) == keys[1:]
    result = push(local, remote)
    assert (result.transferred, result.present, result.failed) == (3, 1, 1)
    assert set(result.keys) == set(keys[1:4])
    assert remote.missing(keys) == [keys[4]]  # the damaged one was never uploaded
    assert shared.objects()[_entry_paths(keys[2])[0]] == entry_files(local, keys[2])[0]

    laptop = FileStore(tmp_path / "laptop")
    laptop.put(keys[1], tone(freq=240), render_meta)
    result = pull(laptop, shared.open(), [keys[0], keys[1], keys[2], keys[4], keys[2]])
    assert (result.transferred, result.present, result.failed) == (2, 1, 1)  # keys[4]: not on the remote
    assert sorted(laptop.keys()) == sorted(keys[:3])  # nothing beyond what was asked: no full sync


def test_prefetch_downloads_in_parallel_and_leaves_rejected_entries_missing(shared: Shared, tmp_path, key, tone,
                                                                            render_meta) -> None:
    first = shared.machine(tmp_path, "first")
    keys = [key(i) for i in range(6)]
    for k in keys[:5]:
        first.put(k, tone(), render_meta)
    shared.write(_entry_paths(keys[0])[0], b"RIFF" + b"\0" * 40)

    second = shared.machine(tmp_path, "second")
    result = second.prefetch(keys)
    assert (result.transferred, result.present, result.failed) == (4, 0, 2)
    assert [second.local.has(k) for k in keys] == [False, True, True, True, True, False]
    assert not second.has(keys[0]) and not second.has(keys[5])  # both get rendered
    assert TieredStore(FileStore(tmp_path / "alone")).prefetch(keys).failed == 6


def test_info_counts_entries_outputs_and_leases_by_listing(shared: Shared, tmp_path, key, tone,
                                                          render_meta) -> None:
    remote = shared.open()
    assert remote.info().entries == 0 and remote.info().listed
    machine = TieredStore(FileStore(tmp_path / "m"), remote)
    for i in range(3):
        machine.put(key(i), tone(), render_meta)
    output = tmp_path / "ep.mp3"
    output.write_bytes(b"ID3" + b"\1" * 997)
    assert remote.put_output(key("digest"), {"ep.mp3": output})
    with remote.lease(key("rendering")) as held:
        assert held
        info = remote.info()
    entry_bytes = sum(len(b) for p, b in shared.objects().items() if p.startswith("v1/"))
    assert (info.entries, info.entry_bytes, info.outputs, info.leases) == (3, entry_bytes, 1, 1)
    assert info.output_bytes > 1000 and info.url == shared.url and info.mode == "write"
    assert remote.info().leases == 0  # released


def test_the_remote_is_asked_once_per_key_per_run(s3_shared: Shared, tmp_path, key, tone, render_meta) -> None:
    s3_shared.machine(tmp_path, "writer").put(key("there"), tone(), render_meta)
    machine = s3_shared.machine(tmp_path, "reader")
    server = s3_shared.bucket.server
    before = len(server.requests)
    for _ in range(3):
        assert machine.has(key("there")) and not machine.has(key("absent"))
    heads = [r for r in server.requests[before:] if r.method == "HEAD"]
    assert len(heads) == 2 and len(server.requests) - before == 2


def test_without_a_remote_the_tiered_store_is_the_local_cache(tmp_path, key, tone, render_meta) -> None:
    store = TieredStore(FileStore(tmp_path / "local"))
    assert not store.has(key(1)) and store.get(key(1)) is None and store.meta(key(1)) is None
    with store.lock(key(1)):
        store.put(key(1), tone(), render_meta)
    assert store.has(key(1)) and store.get(key(1)) == tone() and list(store.keys()) == [key(1)]
    assert store.meta(key(1))["backend"] == "espeak" and store.root == tmp_path / "local"
    store.delete(key(1))
    assert not store.has(key(1))
