"""The render cache: round trips, every kind of damage as a miss, atomic writes, maintenance, concurrency."""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import threading
import time
import wave
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from podpipe.audio_types import Audio
from podpipe.cache import FileStore, cache_info, prune, resolve_cache_dir
from podpipe.cache import store as cache
from podpipe.cache import verify
from podpipe.errors import UsageError

SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"
REPO = Path(__file__).resolve().parents[2]


def key(n: object) -> str:
    return hashlib.sha256(repr(n).encode()).hexdigest()


def tone(seconds: float = 0.05, rate: int = 24000, freq: float = 440.0, channels: int = 1) -> Audio:
    frames = int(seconds * rate)
    samples = [int(12000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(frames) for _ in range(channels)]
    return Audio(pcm=struct.pack(f"<{len(samples)}h", *samples), rate=rate, channels=channels)


META = {"backend": "espeak", "model": "espeak-ng", "request": {"speakers": ["Alex"], "text": "Hello there."},
        "usage": {"prompt_tokens": 0, "output_tokens": 0, "total_tokens": 0}}


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "cache")


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def temp_files(root: Path) -> list[str]:
    return [f for f in files_under(root) if f.rsplit("/", 1)[-1].startswith(".") and f.endswith(".tmp")]


def edit_meta(store: FileStore, k: str, **changes) -> None:
    record = store.entry_paths(k)[1]
    meta = json.loads(record.read_text())
    meta.update(changes)
    record.write_text(json.dumps(meta))


def match_meta_to_wav(store: FileStore, k: str) -> None:
    """Make the record agree with whatever the WAV now holds, as a buggy writer would have."""
    data = store.entry_paths(k)[0].read_bytes()
    edit_meta(store, k, bytes=len(data), sha256=hashlib.sha256(data).hexdigest())


# -- round trip ---------------------------------------------------------------------------------------------


def test_round_trip_layout_and_metadata(store: FileStore) -> None:
    k, audio = key(1), tone(0.25)
    store.put(k, audio, META)

    assert store.has(k)
    assert store.get(k) == audio
    wav, record = store.entry_paths(k)
    assert wav == store.root / "v1" / k[:2] / f"{k}.wav"
    assert record == store.root / "v1" / k[:2] / f"{k}.json"
    assert files_under(store.root) == sorted(["CACHEDIR.TAG", f"v1/{k[:2]}/{k}.wav", f"v1/{k[:2]}/{k}.json",
                                              "v1/.commit.lock"])
    with wave.open(str(wav), "rb") as w:  # a plain WAV any tool can play
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 24000, 6000)
        assert w.readframes(6000) == audio.pcm

    meta = store.meta(k)
    assert meta["backend"] == "espeak" and meta["request"] == META["request"] and meta["usage"] == META["usage"]
    assert meta["format"] == 1 and meta["key"] == k
    assert meta["rate"] == 24000 and meta["channels"] == 1 and meta["duration"] == pytest.approx(0.25)
    assert meta["bytes"] == wav.stat().st_size == 44 + len(audio.pcm)
    assert meta["sha256"] == hashlib.sha256(wav.read_bytes()).hexdigest()
    created = datetime.fromisoformat(meta["created"])
    assert created.utcoffset() == timedelta(0)
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 60
    assert list(store.keys()) == [k]


def test_stereo_round_trip(store: FileStore) -> None:
    audio = tone(0.1, rate=44100, channels=2)
    store.put(key("stereo"), audio, {})
    assert store.get(key("stereo")) == audio
    assert store.meta(key("stereo"))["channels"] == 2


def test_cachedir_tag(store: FileStore) -> None:
    store.put(key(1), tone(), {})
    tag = (store.root / "CACHEDIR.TAG").read_bytes()
    assert tag.startswith(SIGNATURE + b"\n")  # the spec: the file must begin with exactly these 43 bytes
    assert b"bford.info/cachedir" in tag


def test_missing_entries_are_misses_and_reads_create_nothing(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "nowhere")
    k = key("absent")
    assert not store.has(k)
    assert store.get(k) is None
    assert store.meta(k) is None
    assert list(store.keys()) == []
    store.delete(k)
    assert verify(store) == cache.VerifyResult(ok=0)
    assert cache_info(store).entries == 0
    assert not (tmp_path / "nowhere").exists()


# -- damage is a miss ---------------------------------------------------------------------------------------


def test_truncated_wav_is_a_miss(store: FileStore) -> None:
    k = key(1)
    store.put(k, tone(), META)
    wav = store.entry_paths(k)[0]
    wav.write_bytes(wav.read_bytes()[:-100])
    assert not store.has(k)
    assert store.get(k) is None


def test_truncated_wav_with_consistent_metadata_fails_the_header_check(store: FileStore) -> None:
    k = key(1)
    store.put(k, tone(), META)
    wav = store.entry_paths(k)[0]
    wav.write_bytes(wav.read_bytes()[:-100])
    match_meta_to_wav(store, k)
    assert store.has(k)  # has() only compares sizes
    assert store.get(k) is None  # the data chunk is shorter than its header says
    assert "truncated" in dict(verify(store).problems)[k]


@pytest.mark.parametrize("garble", [
    lambda b: b"JUNK" + b[4:],  # not RIFF
    lambda b: b[:8] + b"WAVX" + b[12:],  # not WAVE
    lambda b: b[:20] + struct.pack("<H", 3) + b[22:],  # IEEE float, not PCM
    lambda b: b[:34] + struct.pack("<H", 8) + b[36:],  # 8-bit samples
    lambda b: b[:22] + struct.pack("<H", 2) + b[24:],  # header says stereo, record says mono
    lambda b: b[:24] + struct.pack("<I", 16000) + b[28:],  # header says 16 kHz
    lambda b: b[:40] + struct.pack("<I", 10 ** 6) + b[44:],  # data chunk claims more than the file has
    lambda b: b[:40] + struct.pack("<I", 0) + b[44:],  # empty data chunk
    lambda b: b[:44],  # header only
    lambda b: b"\x00" * len(b),
], ids=["riff", "wave", "float", "8bit", "channels", "rate", "data-length", "empty-data", "header-only", "zeros"])
def test_garbled_header_is_a_miss(store: FileStore, garble) -> None:
    k = key(1)
    store.put(k, tone(), META)
    wav = store.entry_paths(k)[0]
    wav.write_bytes(garble(wav.read_bytes()))
    assert store.get(k) is None  # caught by the sha256 check
    match_meta_to_wav(store, k)
    assert store.get(k) is None  # and by the header checks when the record was written to match
    assert k in dict(verify(store).problems)


def test_size_mismatch_makes_has_false(store: FileStore) -> None:
    k = key(1)
    store.put(k, tone(), META)
    with open(store.entry_paths(k)[0], "ab") as f:
        f.write(b"\x00\x00")
    assert not store.has(k)
    assert store.get(k) is None


def test_sha256_mismatch_makes_get_none(store: FileStore) -> None:
    k = key(1)
    store.put(k, tone(), META)
    wav = store.entry_paths(k)[0]
    data = bytearray(wav.read_bytes())
    data[1000] ^= 0xFF  # one flipped sample byte: header and size still fine
    wav.write_bytes(bytes(data))
    assert store.has(k)  # stat only, by design
    assert store.get(k) is None
    assert dict(verify(store).problems)[k] == "audio sha256 does not match metadata"


@pytest.mark.parametrize("content", [
    None, b"", b"{not json", b"[1, 2]", b"\xff\xfe garbage", b"[" * 100_000,
    json.dumps({"format": 1}).encode(),
    json.dumps({"format": 2, "bytes": 1, "rate": 1, "channels": 1, "sha256": "", "created": ""}).encode(),
    b'{"pad": "' + b"x" * (1 << 20) + b'"}',
], ids=["missing", "empty", "broken", "array", "binary", "deep", "fields-missing", "other-format", "huge"])
def test_bad_metadata_is_a_miss(store: FileStore, content) -> None:
    k = key(1)
    store.put(k, tone(), META)
    record = store.entry_paths(k)[1]
    if content is None:
        record.unlink()
    else:
        record.write_bytes(content)
    assert not store.has(k)
    assert store.get(k) is None
    assert store.meta(k) is None


@pytest.mark.parametrize("field,value", [("bytes", "44"), ("rate", True), ("rate", 0), ("sha256", None),
                                         ("key", "0" * 64)])
def test_wrong_metadata_fields_are_a_miss(store: FileStore, field: str, value) -> None:
    k = key(1)
    store.put(k, tone(), META)
    edit_meta(store, k, **{field: value})
    assert store.get(k) is None


def test_rate_disagreeing_with_header_is_a_miss(store: FileStore) -> None:
    k = key(1)
    store.put(k, tone(), META)
    edit_meta(store, k, rate=22050)
    assert store.get(k) is None


def test_unreadable_wav_is_a_miss(store: FileStore) -> None:
    k = key(1)
    store.put(k, tone(), META)
    wav = store.entry_paths(k)[0]
    wav.unlink()
    wav.mkdir()  # open() fails with IsADirectoryError even for root, unlike chmod 000
    assert not store.has(k)
    assert store.get(k) is None


def test_put_overwrites_a_damaged_entry(store: FileStore) -> None:
    k, audio = key(1), tone(freq=300)
    store.put(k, tone(), META)
    wav = store.entry_paths(k)[0]
    wav.write_bytes(wav.read_bytes()[:100])
    store.entry_paths(k)[1].write_text("{")
    store.put(k, audio, META)
    assert store.get(k) == audio
    assert verify(store).clean


def test_put_replaces_a_valid_entry(store: FileStore) -> None:
    k = key(1)
    store.put(k, tone(freq=300), META)
    store.put(k, tone(freq=500, seconds=0.1), {"backend": "gemini"})
    assert store.get(k) == tone(freq=500, seconds=0.1)
    assert store.meta(k)["backend"] == "gemini"
    assert temp_files(store.root) == []


# -- atomicity ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("failing_call", [1, 2], ids=["audio-rename", "record-rename"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "overwrite"])
def test_failed_put_leaves_no_entry_and_no_temp_file(store: FileStore, monkeypatch, failing_call: int,
                                                     existing: bool) -> None:
    k = key(1)
    if existing:
        store.put(k, tone(freq=300), META)
    real_replace, calls = os.replace, []

    def flaky_replace(src, dst):
        if Path(dst).suffix not in (".wav", ".json"):  # CACHEDIR.TAG on a first put
            return real_replace(src, dst)
        calls.append(dst)
        if len(calls) == failing_call:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(OSError, match="No space"):
        store.put(k, tone(freq=500), META)
    monkeypatch.undo()

    assert len(calls) == failing_call
    assert not store.has(k)
    assert store.get(k) is None
    assert temp_files(store.root) == []
    assert [f for f in files_under(store.root) if f.startswith("v1/")] == ["v1/.commit.lock"]
    assert verify(store) == cache.VerifyResult(ok=0)
    store.put(k, tone(freq=500), META)  # and the next put works
    assert store.get(k) == tone(freq=500)


def test_interrupted_temp_write_leaves_nothing(store: FileStore, monkeypatch) -> None:
    store.put(key(0), tone(), META)  # directories and tag exist already

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.put(key(1), tone(), META)
    monkeypatch.undo()
    assert temp_files(store.root) == []
    assert list(store.keys()) == [key(0)]


def test_invalid_input_writes_nothing(store: FileStore) -> None:
    with pytest.raises(TypeError):
        store.put(key(1), tone(), {"obj": object()})
    with pytest.raises(ValueError):
        store.put(key(1), tone(), {"x": float("nan")})
    for bad in (Audio(b"", 24000), Audio(b"\x00\x00\x00", 24000), Audio(b"\x00\x00", 24000, channels=2),
                Audio(b"\x00\x00", 0), Audio(b"\x00\x00", 24000, channels=0)):
        with pytest.raises(ValueError):
            store.put(key(1), bad, {})
    assert not store.root.exists()


@pytest.mark.parametrize("bad", ["", "abc", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "../" + "0" * 61,
                                 "0" * 64 + "\n", "0" * 62 + "/x", None, 42, b"0" * 64])
def test_bad_keys_are_rejected(store: FileStore, bad) -> None:
    for call in (store.has, store.get, store.meta, store.delete, lambda k: store.put(k, tone(), {})):
        with pytest.raises(ValueError, match="invalid cache key"):
            call(bad)
    assert not store.root.exists()


def test_secrets_never_reach_the_metadata(store: FileStore, monkeypatch) -> None:
    canary = "AIza" "Canary-0123456789abcdef"  # split: a key-shaped literal trips secret scanners
    monkeypatch.setenv("GEMINI_API_KEY", canary)
    monkeypatch.setenv("SHORT_TOKEN", "1")  # too short to treat as a secret
    store.put(key(1), tone(), {
        "backend": "gemini",
        "error": f"401 for key {canary}",
        "request": {"url": f"https://example.invalid/v1?key={canary}", "text": "1 of 1"},
        "headers": ["Accept: audio/wav", f"x-goog-api-key: {canary}"],
        "api_key": "anything", "Authorization": "Bearer xyz", canary: "as a field name",
        "usage": {"prompt_tokens": 5, "output_tokens": 7, "total_tokens": 12},
    })
    text = store.entry_paths(key(1))[1].read_text()
    assert canary not in text
    meta = store.meta(key(1))
    assert "api_key" not in meta and "Authorization" not in meta and "error" not in meta
    assert meta["request"] == {"text": "1 of 1"}
    assert meta["headers"] == ["Accept: audio/wav"]
    assert meta["usage"] == {"prompt_tokens": 5, "output_tokens": 7, "total_tokens": 12}
    assert meta["backend"] == "gemini"


def test_delete_and_keys(store: FileStore) -> None:
    for n in range(5):
        store.put(key(n), tone(), META)
    store.delete(key(2))
    store.delete(key(2))
    assert sorted(store.keys()) == sorted(key(n) for n in (0, 1, 3, 4))
    assert not any(p.exists() for p in store.entry_paths(key(2)))
    assert store.get(key(2)) is None


# -- resolve_cache_dir --------------------------------------------------------------------------------------


def test_resolve_cache_dir_precedence(tmp_path: Path, monkeypatch) -> None:
    env = {"PODPIPE_CACHE_DIR": str(tmp_path / "from-env")}
    assert resolve_cache_dir("opt", env, tmp_path) == tmp_path / "opt"
    assert resolve_cache_dir(tmp_path / "abs", env, tmp_path / "elsewhere") == tmp_path / "abs"
    assert resolve_cache_dir(None, env, tmp_path) == tmp_path / "from-env"
    assert resolve_cache_dir(None, {"PODPIPE_CACHE_DIR": "rel"}, tmp_path) == tmp_path / "rel"
    assert resolve_cache_dir(None, {}, tmp_path) == tmp_path / ".podpipe-cache"
    assert resolve_cache_dir("", {"PODPIPE_CACHE_DIR": ""}, tmp_path) == tmp_path / ".podpipe-cache"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_cache_dir(None, {"PODPIPE_CACHE_DIR": "~/c"}, tmp_path) == tmp_path / "home" / "c"
    monkeypatch.setenv("PODPIPE_CACHE_DIR", str(tmp_path / "real-env"))
    monkeypatch.chdir(tmp_path / "..")
    assert resolve_cache_dir() == tmp_path / "real-env"


def test_resolve_cache_dir_rejects_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UsageError, match="--cache-dir .*afile: exists but is not a directory"):
        resolve_cache_dir("afile", {}, tmp_path)
    with pytest.raises(UsageError, match="PODPIPE_CACHE_DIR"):
        resolve_cache_dir(None, {"PODPIPE_CACHE_DIR": "afile"}, tmp_path)


# -- maintenance --------------------------------------------------------------------------------------------


def age_file(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_verify_finds_every_kind_of_damage_and_repairs(store: FileStore) -> None:
    good, truncated, flipped, corrupt, orphan_wav, orphan_json = (key(n) for n in range(6))
    for k in (good, truncated, flipped, corrupt, orphan_wav, orphan_json):
        store.put(k, tone(), META)
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


def test_cache_info(store: FileStore) -> None:
    store.put(key(1), tone(1.0), {"backend": "espeak", "model": "espeak-ng"})
    store.put(key(2), tone(0.5), {"request": {"backend": "gemini", "model": "gemini-3.8-flash-tts"}})
    store.put(key(3), tone(0.25), {"backend": "gemini", "model": "gemini-3.8-flash-tts"})
    store.put(key(5), tone(0.5), {"note": "no backend recorded"})
    store.put(key(4), tone(0.25), {})
    edit_meta(store, key(2), created="2026-01-02T03:04:05+00:00")
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


def test_prune_by_keep_set(store: FileStore) -> None:
    for n in range(4):
        store.put(key(n), tone(), META)
    doomed = [key(2), key(3)]
    expected_bytes = sum(p.stat().st_size for k in doomed for p in store.entry_paths(k))
    result = prune(store, keep={key(0), key(1), key("unrelated")})
    assert result.removed == tuple(sorted(doomed))
    assert result.bytes_freed == expected_bytes
    assert result.kept == 2 and not result.dry_run
    assert sorted(store.keys()) == sorted([key(0), key(1)])
    assert store.get(key(0)) == tone() and store.get(key(1)) == tone()
    assert verify(store).clean


def test_prune_by_age_uses_created_and_falls_back_to_mtime(store: FileStore) -> None:
    day = 86400
    for n in range(4):
        store.put(key(n), tone(), META)
    old = (datetime.now(timezone.utc) - timedelta(days=10)).isoformat()
    edit_meta(store, key(0), created=old)
    age_file(store.entry_paths(key(1))[0], 10 * day)  # mtime alone does not make a recorded entry old
    store.entry_paths(key(2))[1].unlink()  # orphan audio: no record, so its age is its mtime
    age_file(store.entry_paths(key(2))[0], 10 * day)
    result = prune(store, older_than=7 * day)
    assert result.removed == tuple(sorted([key(0), key(2)]))
    assert sorted(store.keys()) == sorted([key(1), key(3)])
    assert prune(store, older_than=7 * day).removed == ()


def test_prune_with_both_criteria_removes_only_unreferenced_and_old(store: FileStore) -> None:
    old = (datetime.now(timezone.utc) - timedelta(days=30)).isoformat()
    for n in range(4):
        store.put(key(n), tone(), META)
    edit_meta(store, key(0), created=old)  # referenced and old: kept
    edit_meta(store, key(1), created=old)  # unreferenced and old: removed
    # key(2): unreferenced but new: kept; key(3): referenced and new: kept
    result = prune(store, keep={key(0), key(3)}, older_than=7 * 86400)
    assert result.removed == (key(1),)
    assert sorted(store.keys()) == sorted([key(0), key(2), key(3)])


def test_prune_dry_run_changes_nothing(store: FileStore) -> None:
    for n in range(3):
        store.put(key(n), tone(), META)
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


def test_prune_refuses_to_wipe_by_accident(store: FileStore) -> None:
    for n in range(2):
        store.put(key(n), tone(), META)
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


def test_prune_leaves_fresh_temp_files(store: FileStore) -> None:
    store.put(key(0), tone(), META)
    fresh = store.root / "v1" / key(0)[:2] / ".y.wav.1-2.abc.tmp"
    fresh.write_bytes(b"in flight")
    assert prune(store, older_than=0).temp_files_removed == ()
    assert fresh.exists()


# -- concurrency --------------------------------------------------------------------------------------------


def test_concurrent_puts_of_one_key_end_in_a_valid_entry(store: FileStore) -> None:
    k = key("shared")
    # Non-deterministic TTS: every writer has different audio for the same key.
    takes = [tone(0.02 + 0.01 * i, freq=200 + 50 * i) for i in range(6)]
    start = threading.Barrier(len(takes) + 2)
    seen: list[Audio | None] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(audio: Audio) -> None:
        try:
            start.wait()
            for _ in range(25):
                store.put(k, audio, META)
        except BaseException as e:  # surfaced below
            errors.append(e)

    def reader() -> None:
        start.wait()
        while not stop.is_set():
            seen.append(store.get(k))

    threads = [threading.Thread(target=writer, args=(a,)) for a in takes]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads + readers:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    for t in readers:
        t.join()

    assert errors == []
    assert store.get(k) in takes
    assert store.meta(k)["sha256"] == hashlib.sha256(store.entry_paths(k)[0].read_bytes()).hexdigest()
    assert verify(store) == cache.VerifyResult(ok=1)
    assert temp_files(store.root) == []
    assert all(a is None or a in takes for a in seen)  # a reader never gets a mix of two takes


def test_concurrent_puts_with_slow_renames_never_mix_takes(store: FileStore, monkeypatch) -> None:
    """A slow disk widens the window between the two renames that commit an entry; writers of one key must
    still never leave one take's audio under another take's record."""
    k = key("slow disk")
    takes = [tone(0.02, freq=200 + 100 * i) for i in range(4)]
    real_replace = os.replace
    renames: list[str] = []

    def slow_replace(src, dst):
        real_replace(src, dst)
        if str(dst).endswith(".wav"):
            # The earlier a writer's audio lands, the later its record would: the worst order for a race.
            renames.append(dst)
            time.sleep(0.004 * (len(takes) + 1 - len(renames)))

    monkeypatch.setattr(os, "replace", slow_replace)
    for _round in range(5):
        renames.clear()
        start = threading.Barrier(len(takes))
        errors: list[BaseException] = []

        def writer(audio: Audio) -> None:
            try:
                start.wait()
                store.put(k, audio, META)
            except BaseException as e:  # surfaced below
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(a,)) for a in takes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.get(k) in takes, f"round {_round}: entry damaged"
    monkeypatch.undo()
    assert verify(store) == cache.VerifyResult(ok=1)


WRITER = """
import math, os, struct, sys, time
from pathlib import Path
from podpipe.audio_types import Audio
from podpipe.cache import FileStore
store, key, freq = FileStore(Path(sys.argv[1])), sys.argv[2], float(sys.argv[3])
real_replace = os.replace
def slow_replace(src, dst):  # a slow disk: a wide window between the two renames of a commit
    real_replace(src, dst)
    if str(dst).endswith(".wav"):
        time.sleep(0.002)
os.replace = slow_replace
n = 480 + int(freq)
pcm = struct.pack(f"<{n}h", *(int(9000 * math.sin(2 * math.pi * freq * i / 24000)) for i in range(n)))
for _ in range(40):
    store.put(key, Audio(pcm, 24000), {"backend": "espeak", "writer": freq})
"""


def test_concurrent_puts_from_processes_end_in_a_valid_entry(store: FileStore) -> None:
    k = key("across processes")
    store.put(k, tone(), META)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(store.root), k, str(f)], env=env)
             for f in (300, 410, 520)]
    # Whoever holds the commit lock must always find the entry whole: no other process is mid-commit.
    checks = 0
    while any(p.poll() is None for p in procs):
        with store._commit_lock():
            assert cache._entry_problem(store, k) is None
        checks += 1
        time.sleep(0.001)
    assert [p.wait() for p in procs] == [0, 0, 0]
    assert checks > 0
    assert store.get(k) is not None
    assert store.meta(k)["writer"] in (300.0, 410.0, 520.0)
    assert verify(store) == cache.VerifyResult(ok=1)
    assert temp_files(store.root) == []
