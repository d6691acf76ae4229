"""What one cache entry holds (format 1), and every check that decides whether it can be served.

An entry is the audio as a 16-bit PCM WAV plus a JSON record of facts about that file (size, sha256, rate,
channels, creation time) merged over the caller's metadata. The record is the commit: it is written last,
and an entry counts only when both files exist and agree. Anything else is damage, reported as
``Damaged`` with a reason for ``verify`` and read as a miss by the store, never an exception: a damaged
file must cost one re-render, not a failed build. The same checks judge an entry downloaded from a remote
cache (``parse_record``, ``audio_from_bytes``: the bytes in hand instead of a path), so a remote entry whose
audio does not match the sha256 its record carries is a miss too.

The WAV itself is written and parsed by ``podpipe.audio`` (``wav_bytes``, ``read_wav``), the one codec of
the project; the checks here are the cache's own facts about it. ``podpipe.audio`` is imported when audio
is encoded or decoded, not with this module: a no-op build only asks ``has`` (a stat and a small JSON
read), and the mix's up-to-date check imports this package without wanting any audio code.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from podpipe.audio_types import SAMPLE_WIDTH, Audio
from podpipe.cache.layout import FORMAT
from podpipe.secrets import without_secrets

# a record is ~1 KB and an analysis ~1 KB per second of audio (5.5 min at most per render); refusing huge
# files keeps a damaged one from eating memory
MAX_RECORD_BYTES = 1 << 20


class Damaged(Exception):
    """An entry that cannot be served; the message is the reason ``verify`` reports."""


def encode(key: str, audio: Audio, meta: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[bytes, bytes]:
    """The two files of an entry: ``(wav, record)``. Raises before anything is written when the audio
    cannot be cached or the metadata is not JSON, so a bad put leaves nothing behind."""
    from podpipe.audio import wav_bytes  # here, not at import time (see the module docstring)

    _check_cacheable(audio)
    data = wav_bytes(audio)
    record = without_secrets(dict(meta), environ)
    # Our facts about the stored file win over same-named caller fields.
    record.update(
        key=key,
        format=FORMAT,
        created=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        duration=round(audio.seconds, 6),
        rate=audio.rate,
        channels=audio.channels,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return data, record_bytes(record)


#: the fields of a record that are the store's own facts about the file (``encode``): a caller never sets them
FACTS = frozenset({"key", "format", "created", "duration", "rate", "channels", "bytes", "sha256"})


def record_bytes(record: Mapping[str, Any]) -> bytes:
    """A record as the file holds it."""
    return (json.dumps(record, indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")


def read_record(path: str | Path) -> dict[str, Any]:
    """The record at ``path`` if it is one this format wrote (the fields the checks rely on are there and
    sane); raises ``Damaged`` otherwise."""
    return parse_record(read_record_bytes(path))


def read_record_bytes(path: str | Path) -> bytes:
    """The bytes of a small JSON file of an entry (record or analysis); ``Damaged`` when missing, unreadable
    or too large to be one."""
    return _read(path, "metadata", lambda size: "metadata file too large" if size > MAX_RECORD_BYTES else None)


def parse_record(raw: bytes) -> dict[str, Any]:
    """``read_record`` for a record's bytes already in hand (a download from a remote cache)."""
    if len(raw) > MAX_RECORD_BYTES:
        raise Damaged("metadata file too large")
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise Damaged("metadata is not valid JSON") from None
    if not isinstance(meta, dict):
        raise Damaged("metadata is not a JSON object")
    if meta.get("format") != FORMAT:
        raise Damaged(f"metadata format is {meta.get('format')!r}, expected {FORMAT}")
    for name, kind in (("bytes", int), ("rate", int), ("channels", int), ("sha256", str), ("created", str)):
        value = meta.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise Damaged(f"metadata field {name!r} is missing or not {'an int' if kind is int else 'a string'}")
    if meta["bytes"] <= 0 or meta["rate"] <= 0 or meta["channels"] <= 0:
        raise Damaged("metadata has a non-positive size, rate or channel count")
    return meta


def load_audio(key: str, wav: str | Path, meta: Mapping[str, Any]) -> Audio:
    """Read the audio file ``wav`` of entry ``key`` and check it completely against its record ``meta``;
    raises ``Damaged`` with the reason."""
    _check_key(key, meta)
    return audio_from_bytes(key, _read(wav, "audio file", lambda size: _size_problem(size, meta)), meta)


def audio_from_bytes(key: str, data: bytes, meta: Mapping[str, Any]) -> Audio:
    """``load_audio`` for the audio file's bytes already in hand (a download from a remote cache): the same
    checks, the sha256 the record carries included; raises ``Damaged`` with the reason."""
    from podpipe.audio import read_wav, wav_bytes  # here, not at import time (see the module docstring)

    _check_key(key, meta)
    if (reason := _size_problem(len(data), meta)) is not None:
        raise Damaged(reason)
    if hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise Damaged("audio sha256 does not match metadata")
    try:
        audio = read_wav(data)
    except ValueError as e:  # truncated, garbled or not PCM: read_wav says which
        raise Damaged(f"audio header unreadable ({e})") from None
    except Exception as e:  # parsing untrusted bytes: whatever the parser trips over means "damaged"
        raise Damaged(f"audio header unreadable ({type(e).__name__}: {e})") from None
    if audio.channels != meta["channels"] or audio.rate != meta["rate"]:
        raise Damaged(f"audio header says {audio.rate} Hz x{audio.channels}, "
                      f"metadata says {meta['rate']} Hz x{meta['channels']}")
    if not audio.pcm:
        raise Damaged("audio truncated: header promises 0 bytes of samples, file holds 0")
    if wav_bytes(audio) != data:
        # read_wav accepts more than put writes (other sample widths, extra chunks, an "unknown length"
        # header); an entry is intact only as the exact file put wrote for these samples.
        raise Damaged("audio is not stored as the cache writes it (16-bit PCM, canonical 44-byte header)")
    return audio


def _check_key(key: str, meta: Mapping[str, Any]) -> None:
    if meta.get("key", key) != key:
        raise Damaged(f"metadata belongs to key {meta.get('key')!r}")


def _size_problem(size: int, meta: Mapping[str, Any]) -> str | None:
    return None if size == meta["bytes"] else f"audio file is {size} bytes, metadata says {meta['bytes']}"


def _read(path: str | Path, what: str, size_problem: Callable[[int], str | None]) -> bytes:
    """The bytes of ``path``, or ``Damaged`` saying that ``what`` is missing or unreadable. ``size_problem``
    judges the size first by stat, so a huge stray file is never read, and again after reading, so a file
    that grew or shrank meanwhile is caught too."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if (reason := size_problem(size)) is not None:
                raise Damaged(reason)
            data = f.read(size + 1)  # one byte more to notice growth; never read(limit), which allocates it all
    except FileNotFoundError:
        raise Damaged(f"{what} missing") from None
    except OSError as e:
        raise Damaged(f"{what} unreadable ({e.strerror or e})") from None
    if (reason := size_problem(len(data))) is not None:
        raise Damaged(reason)
    return data


def _check_cacheable(audio: Audio) -> None:
    if not isinstance(audio.pcm, (bytes, bytearray)):
        raise TypeError(f"Audio.pcm must be bytes, got {type(audio.pcm).__name__}")
    if not (isinstance(audio.rate, int) and audio.rate > 0 and isinstance(audio.channels, int)
            and audio.channels > 0):
        raise ValueError(f"invalid audio format: rate={audio.rate!r}, channels={audio.channels!r}")
    frame = SAMPLE_WIDTH * audio.channels
    if not audio.pcm or len(audio.pcm) % frame:
        # Empty audio is what a failed render looks like ("44-byte WAVs recorded as success"): never cache it.
        raise ValueError(f"refusing to cache {len(audio.pcm)} bytes of PCM: "
                         f"expected a non-zero multiple of {frame} (16-bit, {audio.channels} channel(s))")
