"""The publish index: what podpipe last published to a target, so the next publish compares hashes instead
of asking the store about every file.

``.podpipe-publish.json`` at the target's root, written after the feed (so it never claims a file an
interrupted publish did not finish)::

    {"format": 1, "files": {"ep12.mp3": {"sha256": "…", "size": 3456789,
                                          "content_type": "audio/mpeg", "cache_control": "public, max-age=86400"}}}

A file is trusted as published when its entry matches the local sha256 and headers and the store's listing
shows an object of that size. An index that is missing, unreadable or of another format is no index: then
every file is compared with what the store says of its object (``Blobs.stat``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

FORMAT = 1


@dataclass(frozen=True)
class Entry:
    sha256: str
    size: int
    content_type: str
    cache_control: str


def parse_index(data: bytes | None) -> dict[str, Entry] | None:
    """The entries of a stored index; None when there is none or it cannot be trusted."""
    if data is None:
        return None
    try:
        doc = json.loads(data)
        if doc.get("format") != FORMAT:
            return None
        return {str(path): Entry(str(e["sha256"]), int(e["size"]), str(e["content_type"]), str(e["cache_control"]))
                for path, e in doc["files"].items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def dump_index(entries: dict[str, Entry]) -> bytes:
    """The index as stored: sorted, so the same entries give the same bytes (no needless rewrite)."""
    doc = {"format": FORMAT, "files": {path: asdict(entries[path]) for path in sorted(entries)}}
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
