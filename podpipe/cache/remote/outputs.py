"""Finished episodes in the remote cache: the exported output and its sidecars under the mix's
``inputs_digest`` (a mix is a pure function of its inputs), so a fresh machine with a warm remote downloads
the episode instead of mixing it.

Layout below the remote's root::

    outputs/<digest[:2]>/<digest>/<sha256 of a file>   each file of the output, named by its content
    outputs/<digest[:2]>/<digest>.json                  the index: written last, it commits the output

The index names every file with its size and sha256::

    {"format": 1, "digest": "<inputs_digest>", "created": "2026-12-01T14:00:00.000+00:00",
     "files": [{"name": "ep12.mp3", "size": 3441234, "sha256": "…"}, …], "meta": {…}}

Files go up first and the index last, so an output whose upload was interrupted has no index and is never
served; an index naming a file that is missing or does not match is rejected as a whole. Content names make
a repeated upload of the same bytes a no-op and let two machines upload the same output at once without
mixing their files. The index comes from the store, so it is checked like any untrusted input: names are
plain file names (no directories, no ``..``), sizes and hashes well-formed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from podpipe.cache.entry import Damaged
from podpipe.cache.layout import validate_key

OUTPUT_DIR = "outputs"
INDEX_FORMAT = 1
MAX_INDEX_BYTES = 1 << 20
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class OutputFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class OutputIndex:
    digest: str
    files: tuple[OutputFile, ...]
    meta: dict[str, Any]


@dataclass(frozen=True)
class FetchedOutput:
    """A finished episode downloaded from the remote cache: ``files`` maps each stored name to where it
    now is; ``meta`` is what ``put_output`` was given."""

    digest: str
    files: dict[str, Path]
    meta: dict[str, Any]


def index_path(digest: str) -> str:
    return f"{OUTPUT_DIR}/{digest[:2]}/{digest}.json"


def blob_path(digest: str, sha256: str) -> str:
    return f"{OUTPUT_DIR}/{digest[:2]}/{digest}/{sha256}"


def check_digest(digest: object) -> str:
    """An ``inputs_digest`` is a sha256 hex digest, like a cache key (it becomes part of object names)."""
    try:
        return validate_key(digest)
    except ValueError:
        raise ValueError(f"invalid output digest {digest!r}: expected 64 lowercase hex digits (a sha256)") from None


def check_name(name: object) -> str:
    """A stored output file's name: a plain file name, so it can only land inside the target directory."""
    if not (isinstance(name, str) and 0 < len(name) <= 255 and not name.startswith(".")
            and not any(c in name for c in "/\\\0") and name.isprintable()):
        raise ValueError(f"invalid output file name {name!r}: expected a plain file name (no directories, "
                         f"not hidden)")
    return name


def file_facts(path: Path) -> tuple[int, str]:
    """``(size, sha256)`` of a local file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def index_bytes(digest: str, files: list[OutputFile], meta: Mapping[str, Any]) -> bytes:
    doc = {"format": INDEX_FORMAT, "digest": digest,
           "created": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
           "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in files], "meta": dict(meta)}
    return (json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")


def parse_index(raw: bytes, digest: str) -> OutputIndex:
    """The index of output ``digest``; raises ``Damaged`` for anything else."""
    if len(raw) > MAX_INDEX_BYTES:
        raise Damaged("output index too large")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise Damaged("output index is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT or doc.get("digest") != digest:
        raise Damaged("output index has another format or belongs to another digest")
    entries, meta = doc.get("files"), doc.get("meta", {})
    if not isinstance(entries, list) or not entries or not isinstance(meta, dict):
        raise Damaged("output index lists no files")
    files = []
    for entry in entries:
        try:
            name, size, sha256 = check_name(entry["name"]), entry["size"], entry["sha256"]
        except (TypeError, KeyError, ValueError) as exc:
            raise Damaged(f"output index has a bad file entry ({exc})") from None
        if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0 and isinstance(sha256, str)
                and len(sha256) == 64 and _HEX.issuperset(sha256)):
            raise Damaged(f"output index entry {name!r} has a bad size or sha256")
        files.append(OutputFile(name, size, sha256))
    if len({f.name for f in files}) != len(files):
        raise Damaged("output index names a file twice")
    return OutputIndex(digest, tuple(files), meta)
