"""Damage is a miss: every way an entry's files can be wrong makes ``get`` (and, where it can tell, ``has``)
report a miss, and ``problem``/``verify`` say why; a put repairs it."""

from __future__ import annotations

import json
import struct

import pytest

from podpipe.cache import FileStore, verify


def test_truncated_wav_is_a_miss(store: FileStore, stored) -> None:
    k = stored
    wav = store.entry_paths(k)[0]
    wav.write_bytes(wav.read_bytes()[:-100])
    assert not store.has(k)
    assert store.get(k) is None


def test_truncated_wav_with_consistent_metadata_fails_the_header_check(store: FileStore, stored,
                                                                       match_record_to_wav) -> None:
    k = stored
    wav = store.entry_paths(k)[0]
    wav.write_bytes(wav.read_bytes()[:-100])
    match_record_to_wav(store, k)
    assert store.has(k)  # has() only compares sizes
    assert store.get(k) is None  # the data chunk is shorter than its header says
    assert "truncated" in dict(verify(store).problems)[k]


UNREADABLE = "audio header unreadable"
FOREIGN = "audio is not stored as the cache writes it"


@pytest.mark.parametrize("garble,reason", [
    (lambda b: b"JUNK" + b[4:], UNREADABLE),  # not RIFF
    (lambda b: b[:8] + b"WAVX" + b[12:], UNREADABLE),  # not WAVE
    (lambda b: b[:20] + struct.pack("<H", 3) + b[22:], UNREADABLE),  # IEEE float, not PCM
    (lambda b: b[:34] + struct.pack("<H", 8) + b[36:], FOREIGN),  # 8-bit samples (read_wav would convert them)
    (lambda b: b[:34] + struct.pack("<H", 24) + b[36:], FOREIGN),  # 24-bit samples
    (lambda b: b[:22] + struct.pack("<H", 2) + b[24:],  # header says stereo, record says mono
     "audio header says 24000 Hz x2, metadata says 24000 Hz x1"),
    (lambda b: b[:24] + struct.pack("<I", 16000) + b[28:],  # header says 16 kHz
     "audio header says 16000 Hz x1, metadata says 24000 Hz x1"),
    (lambda b: b[:40] + struct.pack("<I", 10 ** 6) + b[44:], UNREADABLE),  # data chunk claims more than there is
    (lambda b: b[:40] + struct.pack("<I", 0xFFFFFFFF) + b[44:], FOREIGN),  # "unknown length", as streams write
    (lambda b: b[:40] + struct.pack("<I", 0) + b[44:],  # empty data chunk
     "audio truncated: header promises 0 bytes of samples, file holds 0"),
    (lambda b: b[:44], UNREADABLE),  # header only
    (lambda b: b"\x00" * len(b), UNREADABLE),
    (lambda b: b[:4] + struct.pack("<I", len(b) + 4) + b[8:] + b"LIST" + struct.pack("<I", 4) + b"INFO",
     FOREIGN),  # a chunk after the samples: valid WAV, but not one the cache wrote
], ids=["riff", "wave", "float", "8bit", "24bit", "channels", "rate", "data-length", "unknown-length", "empty-data",
        "header-only", "zeros", "trailing-chunk"])
def test_garbled_header_is_a_miss(store: FileStore, stored, garble, reason: str, match_record_to_wav) -> None:
    k = stored
    wav = store.entry_paths(k)[0]
    wav.write_bytes(garble(wav.read_bytes()))
    assert store.get(k) is None  # caught by the size or sha256 check
    match_record_to_wav(store, k)
    assert store.get(k) is None  # and by the header checks when the record was written to match
    assert dict(verify(store).problems)[k].startswith(reason)


def test_size_mismatch_makes_has_false(store: FileStore, stored) -> None:
    k = stored
    with open(store.entry_paths(k)[0], "ab") as f:
        f.write(b"\x00\x00")
    assert not store.has(k)
    assert store.get(k) is None


def test_sha256_mismatch_makes_get_none(store: FileStore, stored) -> None:
    k = stored
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
def test_bad_metadata_is_a_miss(store: FileStore, stored, content) -> None:
    k = stored
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
def test_wrong_metadata_fields_are_a_miss(store: FileStore, stored, field: str, value, edit_record) -> None:
    k = stored
    edit_record(store, k, **{field: value})
    assert store.get(k) is None


def test_rate_disagreeing_with_header_is_a_miss(store: FileStore, stored, edit_record) -> None:
    k = stored
    edit_record(store, k, rate=22050)
    assert store.get(k) is None


def test_unreadable_wav_is_a_miss(store: FileStore, stored) -> None:
    k = stored
    wav = store.entry_paths(k)[0]
    wav.unlink()
    wav.mkdir()  # open() fails with IsADirectoryError even for root, unlike chmod 000
    assert not store.has(k)
    assert store.get(k) is None


def test_put_overwrites_a_damaged_entry(store: FileStore, key, tone, render_meta) -> None:
    k, audio = key(1), tone(freq=300)
    store.put(k, tone(), render_meta)
    wav = store.entry_paths(k)[0]
    wav.write_bytes(wav.read_bytes()[:100])
    store.entry_paths(k)[1].write_text("{")
    store.put(k, audio, render_meta)
    assert store.get(k) == audio
    assert verify(store).clean


def test_put_replaces_a_valid_entry(store: FileStore, key, tone, render_meta, temp_files) -> None:
    k = key(1)
    store.put(k, tone(freq=300), render_meta)
    store.put(k, tone(freq=500, seconds=0.1), {"backend": "gemini"})
    assert store.get(k) == tone(freq=500, seconds=0.1)
    assert store.meta(k)["backend"] == "gemini"
    assert temp_files(store.root) == []

