"""FileStore: round trips, the layout on disk, entries written by earlier versions, atomic puts, keys."""

from __future__ import annotations

import hashlib
import json
import os
import wave
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from podpipe.audio_types import Audio
from podpipe.cache import FileStore, cache_info, verify
from podpipe.cache.maintenance import VerifyResult

SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"


# -- round trip ---------------------------------------------------------------------------------------------


def test_round_trip_layout_and_metadata(store: FileStore, key, tone, render_meta, files_under) -> None:
    k, audio = key(1), tone(seconds=0.25)
    store.put(k, audio, render_meta)

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
    assert meta["backend"] == "espeak"
    assert meta["request"] == render_meta["request"] and meta["usage"] == render_meta["usage"]
    assert meta["format"] == 1 and meta["key"] == k
    assert meta["rate"] == 24000 and meta["channels"] == 1 and meta["duration"] == pytest.approx(0.25)
    assert meta["bytes"] == wav.stat().st_size == 44 + len(audio.pcm)
    assert meta["sha256"] == hashlib.sha256(wav.read_bytes()).hexdigest()
    created = datetime.fromisoformat(meta["created"])
    assert created.utcoffset() == timedelta(0)
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 60
    assert list(store.keys()) == [k]


def test_stereo_round_trip(store: FileStore, key, tone) -> None:
    audio = tone(seconds=0.1, rate=44100, channels=2)
    store.put(key("stereo"), audio, {})
    assert store.get(key("stereo")) == audio
    assert store.meta(key("stereo"))["channels"] == 2


def test_cachedir_tag(store: FileStore, key, tone) -> None:
    store.put(key(1), tone(), {})
    tag = (store.root / "CACHEDIR.TAG").read_bytes()
    assert tag.startswith(SIGNATURE + b"\n")  # the spec: the file must begin with exactly these 43 bytes
    assert b"bford.info/cachedir" in tag


def test_missing_entries_are_misses_and_reads_create_nothing(tmp_path: Path, key) -> None:
    store = FileStore(tmp_path / "nowhere")
    k = key("absent")
    assert not store.has(k)
    assert store.get(k) is None
    assert store.meta(k) is None
    assert list(store.keys()) == []
    store.delete(k)
    assert verify(store) == VerifyResult(ok=0)
    assert cache_info(store).entries == 0
    assert not (tmp_path / "nowhere").exists()



def test_update_meta_sets_fields_of_the_record_and_never_the_stores_own_facts(store: FileStore, key, tone,
                                                                              render_meta) -> None:
    k, audio = key(7), tone(seconds=0.1)
    store.put(k, audio, render_meta)
    before = store.meta(k)
    wav_bytes = store.entry_paths(k)[0].read_bytes()
    assert store.update_meta(k, {"review": {"status": "flagged"}, "sha256": "0" * 64, "bytes": 1})
    after = store.meta(k)
    assert after["review"] == {"status": "flagged"}
    assert {f: after[f] for f in ("sha256", "bytes", "created")} == {f: before[f] for f in ("sha256", "bytes", "created")}
    assert store.get(k) == audio and store.entry_paths(k)[0].read_bytes() == wav_bytes
    assert not store.update_meta(key(8), {"review": {}})  # no such entry: nothing written
    assert not store.has(key(8))

# -- atomicity ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("failing_call", [1, 2], ids=["audio-rename", "record-rename"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "overwrite"])
def test_failed_put_leaves_no_entry_and_no_temp_file(store: FileStore, monkeypatch, failing_call: int,
                                                     existing: bool, key, tone, render_meta, files_under,
                                                     temp_files) -> None:
    k = key(1)
    if existing:
        store.put(k, tone(freq=300), render_meta)
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
        store.put(k, tone(freq=500), render_meta)
    monkeypatch.undo()

    assert len(calls) == failing_call
    assert not store.has(k)
    assert store.get(k) is None
    assert temp_files(store.root) == []
    assert [f for f in files_under(store.root) if f.startswith("v1/")] == ["v1/.commit.lock"]
    assert verify(store) == VerifyResult(ok=0)
    store.put(k, tone(freq=500), render_meta)  # and the next put works
    assert store.get(k) == tone(freq=500)


def test_interrupted_temp_write_leaves_nothing(store: FileStore, monkeypatch, key, tone, render_meta,
                                               temp_files) -> None:
    store.put(key(0), tone(), render_meta)  # directories and tag exist already

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.put(key(1), tone(), render_meta)
    monkeypatch.undo()
    assert temp_files(store.root) == []
    assert list(store.keys()) == [key(0)]


def test_invalid_input_writes_nothing(store: FileStore, key, tone) -> None:
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
def test_bad_keys_are_rejected(store: FileStore, bad, tone) -> None:
    for call in (store.has, store.get, store.meta, store.delete, store.problem, store.lock, store.lock_path,
                 store.entry_paths, lambda k: store.put(k, tone(), {})):
        with pytest.raises(ValueError, match="invalid cache key"):
            call(bad)
    assert not store.root.exists()


def test_delete_and_keys(store: FileStore, key, tone, render_meta) -> None:
    for n in range(5):
        store.put(key(n), tone(), render_meta)
    store.delete(key(2))
    store.delete(key(2))
    assert sorted(store.keys()) == sorted(key(n) for n in (0, 1, 3, 4))
    assert not any(p.exists() for p in store.entry_paths(key(2)))
    assert store.get(key(2)) is None


# -- entries as earlier versions wrote them -----------------------------------------------------------------

# Written by podpipe before the cache shared podpipe.audio's WAV codec (its own ``wave``-based encoder), byte
# for byte. Existing caches must keep serving these, and new puts must write the same bytes: the cache format
# is pinned, not just "some valid WAV".
OLD_MONO = (Audio(bytes([1, 0, 2, 0, 0xFF, 0x7F, 0, 0x80, 0x10, 0x20]), 24000),
            "524946462e00000057415645666d74201000000001000100c05d000080bb000002001000"
            "646174610a00000001000200ff7f00801020")
OLD_STEREO = (Audio(bytes(range(12)), 44100, 2),
              "524946463000000057415645666d7420100000000100020044ac000010b1020004001000"
              "646174610c000000000102030405060708090a0b")
OLD_RECORD = """{
  "backend": "espeak",
  "bytes": 54,
  "channels": 1,
  "created": "2026-12-01T14:29:23.574+00:00",
  "duration": 0.000208,
  "format": 1,
  "key": "1111111111111111111111111111111111111111111111111111111111111111",
  "model": "espeak-ng",
  "rate": 24000,
  "request": {
    "text": "Hi."
  },
  "sha256": "1ed2bc5b58e5f7fd6cb28d5b7b219370a08a7d6426597b3be0d3524579913603"
}
"""


@pytest.mark.parametrize("audio,wav_hex", [OLD_MONO, OLD_STEREO], ids=["mono", "stereo"])
def test_put_writes_the_pinned_wav_bytes(store: FileStore, audio: Audio, wav_hex: str) -> None:
    k = "1" * 64
    store.put(k, audio, {})
    assert store.entry_paths(k)[0].read_bytes() == bytes.fromhex(wav_hex)
    assert store.meta(k)["sha256"] == hashlib.sha256(bytes.fromhex(wav_hex)).hexdigest()


def test_put_writes_the_pinned_record(store: FileStore) -> None:
    k, audio = "1" * 64, OLD_MONO[0]
    store.put(k, audio, {"backend": "espeak", "model": "espeak-ng", "request": {"text": "Hi."}})
    text = store.entry_paths(k)[1].read_text("utf-8")
    old = json.loads(OLD_RECORD)
    new = json.loads(text)
    assert {**new, "created": old["created"]} == old  # every field but the time of writing
    assert text == json.dumps(new, indent=2, sort_keys=True) + "\n"  # and the same formatting


def test_an_entry_written_by_an_earlier_version_reads_back_identically(store: FileStore) -> None:
    k, (audio, wav_hex) = "1" * 64, OLD_MONO
    wav, record = store.entry_paths(k)
    wav.parent.mkdir(parents=True)
    wav.write_bytes(bytes.fromhex(wav_hex))
    record.write_text(OLD_RECORD, "utf-8")
    assert store.has(k)
    assert store.get(k) == audio
    assert store.problem(k) is None
    assert store.meta(k) == json.loads(OLD_RECORD)
    assert verify(store) == VerifyResult(ok=1)


def test_new_files_are_private_and_lock_files_are_not(store: FileStore, key, tone, umask: int) -> None:
    store.put(key(1), tone(), {})
    with store.lock(key(1)):
        pass
    modes = {p.name: p.stat().st_mode & 0o777 for p in store.root.rglob("*") if p.is_file()}
    assert modes == {"CACHEDIR.TAG": 0o600, f"{key(1)}.wav": 0o600, f"{key(1)}.json": 0o600,
                     ".commit.lock": 0o644 & ~umask, f".{key(1)}.lock": 0o644 & ~umask}
