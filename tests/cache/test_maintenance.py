"""``podpipe cache info | verify | prune``: what each finds, what each removes, and what each must leave alone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from podpipe.cache import FileStore, cache_info, prune, verify
from podpipe.cache.maintenance import STALE_TEMP_SECONDS, scan
from podpipe.errors import UsageError


def test_verify_finds_every_kind_of_damage_and_repairs(store: FileStore, key, tone, render_meta, age_file) -> None:
    good, truncated, flipped, corrupt, orphan_wav, orphan_json = (key(n) for n in range(6))
    for k in (good, truncated, flipped, corrupt, orphan_wav, orphan_json):
        store.put(k, tone(), render_meta)
    wav = store.entry_paths(truncated)[0]
    wav.write_bytes(wav.read_bytes()[:60])
    wav = store.entry_paths(flipped)[0]
    wav.write_bytes(wav.read_bytes()[:-1] + b"\x7f")
    store.entry_paths(corrupt)[1].write_text("{")
    store.entry_paths(orphan_wav)[1].unlink()
    store.entry_paths(orphan_json)[0].unlink()
    fan = store.entry_paths(good)[0].parent
    stale = fan / f".{good}.wav.123-456.abcdef.tmp"
    stale.write_bytes(b"RIFF")
    age_file(stale, 2 * 3600)
    fresh = fan / f".{good}.json.123-456.ghijkl.tmp"
    fresh.write_bytes(b"{")
    stray = store.root / "v1" / "notes.txt"
    stray.write_text("mine")

    result = verify(store)
    problems = dict(result.problems)
    assert result.ok == 1 and not result.clean
    assert problems[truncated].startswith("audio file is 60 bytes")
    assert problems[flipped] == "audio sha256 does not match metadata"
    assert problems[corrupt] == "metadata is not valid JSON"
    assert problems[orphan_wav] == "audio without metadata (a write was interrupted)"
    assert problems[orphan_json] == "metadata without audio"
    assert problems[stale.relative_to(store.root).as_posix()].startswith("stale temp file")
    assert len(problems) == 6
    assert result.in_progress == 1
    assert result.unexpected == ("v1/notes.txt",)
    assert result.removed == ()
    assert stale.exists() and store.entry_paths(orphan_wav)[0].exists()  # a plain verify changes nothing

    repaired = verify(store, remove=True)
    assert repaired.problems == result.problems
    assert sorted(repaired.removed) == sorted([truncated, flipped, corrupt, orphan_wav, orphan_json,
                                               stale.relative_to(store.root).as_posix()])
    assert not stale.exists() and fresh.exists() and stray.exists()
    assert store.get(good) == tone()
    for k in (truncated, flipped, corrupt, orphan_wav, orphan_json):
        assert not any(p.exists() for p in store.entry_paths(k))
    again = verify(store)
    assert again.clean and again.ok == 1 and again.in_progress == 1


def test_cache_info(store: FileStore, key, tone, edit_record) -> None:
    store.put(key(1), tone(seconds=1.0), {"backend": "espeak", "model": "espeak-ng"})
    store.put(key(2), tone(seconds=0.5), {"request": {"backend": "gemini", "model": "gemini-3.8-flash-tts"}})
    store.put(key(3), tone(seconds=0.25), {"backend": "gemini", "model": "gemini-3.8-flash-tts"})
    store.put(key(5), tone(seconds=0.5), {"note": "no backend recorded"})
    store.put(key(4), tone(seconds=0.25), {})
    edit_record(store, key(2), created="2026-01-02T03:04:05+00:00")
    store.entry_paths(key(4))[1].write_text("nope")

    info = cache_info(store)
    assert info.root == store.root
    assert info.entries == 4 and info.unreadable == 1
    assert info.total_seconds == pytest.approx(2.25)
    assert info.backends == {"espeak": 1, "gemini": 2, "unknown": 1}
    assert info.models == {"espeak-ng": 1, "gemini-3.8-flash-tts": 2, "unknown": 1}
    assert info.by_backend_model == {("espeak", "espeak-ng"): 1, ("gemini", "gemini-3.8-flash-tts"): 2,
                                     ("unknown", "unknown"): 1}
    assert info.oldest == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert info.newest > info.oldest
    assert info.total_bytes == sum(p.stat().st_size for p in store.root.rglob("*") if p.is_file())


def test_prune_by_keep_set(store: FileStore, key, tone, render_meta) -> None:
    for n in range(4):
        store.put(key(n), tone(), render_meta)
    doomed = [key(2), key(3)]
    expected_bytes = sum(p.stat().st_size for k in doomed for p in store.entry_paths(k))
    result = prune(store, keep={key(0), key(1), key("unrelated")})
    assert result.removed == tuple(sorted(doomed))
    assert result.bytes_freed == expected_bytes
    assert result.kept == 2 and not result.dry_run
    assert sorted(store.keys()) == sorted([key(0), key(1)])
    assert store.get(key(0)) == tone() and store.get(key(1)) == tone()
    assert verify(store).clean


def test_prune_by_age_uses_created_and_falls_back_to_mtime(store: FileStore, key, tone, render_meta, edit_record,
                                                           age_file) -> None:
    day = 86400
    for n in range(4):
        store.put(key(n), tone(), render_meta)
    old = (datetime.now(timezone.utc) - timedelta(days=10)).isoformat()
    edit_record(store, key(0), created=old)
    age_file(store.entry_paths(key(1))[0], 10 * day)  # mtime alone does not make a recorded entry old
    store.entry_paths(key(2))[1].unlink()  # orphan audio: no record, so its age is its mtime
    age_file(store.entry_paths(key(2))[0], 10 * day)
    result = prune(store, older_than=7 * day)
    assert result.removed == tuple(sorted([key(0), key(2)]))
    assert sorted(store.keys()) == sorted([key(1), key(3)])
    assert prune(store, older_than=7 * day).removed == ()


def test_prune_with_both_criteria_removes_only_unreferenced_and_old(store: FileStore, key, tone, render_meta,
                                                                    edit_record) -> None:
    old = (datetime.now(timezone.utc) - timedelta(days=30)).isoformat()
    for n in range(4):
        store.put(key(n), tone(), render_meta)
    edit_record(store, key(0), created=old)  # referenced and old: kept
    edit_record(store, key(1), created=old)  # unreferenced and old: removed
    # key(2): unreferenced but new: kept; key(3): referenced and new: kept
    result = prune(store, keep={key(0), key(3)}, older_than=7 * 86400)
    assert result.removed == (key(1),)
    assert sorted(store.keys()) == sorted([key(0), key(2), key(3)])


def test_prune_dry_run_changes_nothing(store: FileStore, key, tone, render_meta, files_under, age_file) -> None:
    for n in range(3):
        store.put(key(n), tone(), render_meta)
    stale = store.root / "v1" / key(0)[:2] / ".x.wav.1-2.zzz.tmp"
    stale.write_bytes(b"12345")
    age_file(stale, 7200)
    before = {f: (store.root / f).read_bytes() for f in files_under(store.root)}
    result = prune(store, keep={key(0)}, dry_run=True)
    assert result.dry_run
    assert result.removed == tuple(sorted([key(1), key(2)]))
    assert result.temp_files_removed == (stale.relative_to(store.root).as_posix(),)
    assert result.bytes_freed == 5 + sum(p.stat().st_size for k in (key(1), key(2)) for p in store.entry_paths(k))
    assert {f: (store.root / f).read_bytes() for f in files_under(store.root)} == before

    real = prune(store, keep={key(0)})
    assert real.removed == result.removed and real.bytes_freed == result.bytes_freed
    assert not stale.exists()


def test_prune_refuses_to_wipe_by_accident(store: FileStore, key, tone, render_meta) -> None:
    for n in range(2):
        store.put(key(n), tone(), render_meta)
    with pytest.raises(ValueError, match="refusing to empty"):
        prune(store)
    with pytest.raises(ValueError, match="reference no cache entries"):
        prune(store, keep=set())
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="age must be a number"):
            prune(store, older_than=bad)
    with pytest.raises(UsageError):  # the CLI shows the message and exits 2 instead of a traceback
        prune(store, keep=set())
    assert len(list(store.keys())) == 2
    assert prune(store, keep=set(), older_than=0).removed == tuple(sorted([key(0), key(1)]))  # on purpose
    assert list(store.keys()) == []


def test_prune_leaves_fresh_temp_files(store: FileStore, key, tone, render_meta) -> None:
    store.put(key(0), tone(), render_meta)
    fresh = store.root / "v1" / key(0)[:2] / ".y.wav.1-2.abc.tmp"
    fresh.write_bytes(b"in flight")
    assert prune(store, older_than=0).temp_files_removed == ()
    assert fresh.exists()


def test_scan_sorts_every_file_by_what_it_is(store: FileStore, key, tone, render_meta, age_file) -> None:
    store.put(key(0), tone(), render_meta)
    store.put(key(1), tone(), render_meta)
    store.entry_paths(key(1))[1].unlink()  # audio without its record
    with store.lock(key(0)):
        pass  # leaves its (free) lock file
    fan = store.entry_paths(key(0))[0].parent
    temp = fan / f".{key(0)}.wav.1-2.abc.tmp"
    temp.write_bytes(b"RIFF")
    age_file(temp, 60)
    tag_temp = store.root / ".CACHEDIR.TAG.1-2.abc.tmp"
    tag_temp.write_bytes(b"Sig")
    (store.root / "v1" / "zz").mkdir()
    (fan / "stray.wav").write_bytes(b"")

    found = scan(store)
    assert found.entries == {key(0): {"wav", "json"}, key(1): {"wav"}}
    assert sorted(p for p, _age in found.temps) == sorted([temp, tag_temp])
    assert 59 < dict(found.temps)[temp] < STALE_TEMP_SECONDS
    assert found.locks == [store.lock_path(key(0))]
    assert sorted(found.unexpected) == sorted([store.root / "v1" / "zz", fan / "stray.wav"])
    assert found.total_bytes == sum(p.stat().st_size for p in store.root.rglob("*") if p.is_file())


def test_prune_removes_the_lock_files_nobody_holds(store: FileStore, key, tone, render_meta) -> None:
    for n in range(2):
        store.put(key(n), tone(), render_meta)
        with store.lock(key(n)):
            pass
    with store.lock(key(1)):
        assert prune(store, keep={key(0), key(1)}).removed == ()
        assert not store.lock_path(key(0)).exists()
        assert store.lock_path(key(1)).exists()  # held: a render is running
    assert prune(store, keep={key(0), key(1)}, dry_run=True).removed == ()
    assert store.lock_path(key(1)).exists()  # a dry run removes nothing
