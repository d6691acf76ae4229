"""``<stem>.manifest.json`` beside every output: how it was made, written by the mix and read back by the
freshness check and by ``podpipe plan``, so the format is defined in one place.

It records every piece with its sample-exact start/end (speech with its key, speakers and turns), the output
file's size, sha256 and mtime, the sidecars written with it, the ``inputs_digest`` of what went into it and
what the post-stitch steps record. Paths are relative to the manifest (``relative``), so a manifest holds no
machine paths and a project can move; files an episode names are recorded by content hash (each sound hashed
once per process while it is unchanged, ``sound_sha256``), and the inputs digest hashes them the same way.

Stdlib only: the freshness check of every no-op build reads manifests and hashes every sound of every episode.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from podpipe import __version__
from podpipe.compile import CompiledEpisode, SilencePiece, SpeechPiece
from podpipe.errors import UsageError
from podpipe.formats import SIDECARS
from podpipe.mix.context import MixContext

MANIFEST_VERSION = 1

# Bump when the stitched audio or the manifest changes for the same inputs: every output becomes stale.
# 2: sound files are decoded, resampled and faded through pydub (fades in whole milliseconds, from and to
#    -120 dB): their samples differ by a few LSB from version 1's; timings and speech are unchanged.
MIX_VERSION = 2

_sound_hashes: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sound_sha256(path: Path) -> str:
    """Content hash of a sound file, computed once per process for a given (path, size, mtime)."""
    try:
        st = os.stat(path)
    except OSError:
        raise UsageError(f"{path}: sound file not found") from None
    key = (os.fspath(path), st.st_size, st.st_mtime_ns)
    if key not in _sound_hashes:
        _sound_hashes[key] = file_sha256(path)
    return _sound_hashes[key]


def relative(path: Path, base: Path) -> str:
    """``path`` relative to ``base``, with forward slashes."""
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(path).as_posix()


def manifest_path(output: Path) -> Path:
    return SIDECARS["manifest"].path(output)


def manifest_json(compiled: CompiledEpisode, ctx: MixContext, output: Path, digest: str, sha256: str | None,
                  sidecars: list[Path], reviews: Mapping[str, Any] | None = None) -> bytes:
    """The manifest of ``output`` just written from ``ctx``; ``sha256`` is the output's hash when the
    exporter knows it (else the file is hashed here). ``reviews``: per render key, what take review says
    of the take used (``podpipe.cache.takes.take_status``), recorded with its speech pieces."""
    here = manifest_path(output).parent
    st = os.stat(output)
    pieces = []
    for i, placed in enumerate(ctx.pieces):
        p = placed.piece
        entry: dict[str, Any] = {"index": i, "kind": placed.kind, "start": placed.start, "end": placed.end,
                                 "segment_id": p.segment_id, "segment_index": p.segment_index,
                                 "chapter": p.chapter}
        if isinstance(p, SpeechPiece):
            entry |= {"speakers": list(p.speakers), "key": p.key, "turns": [
                {"speaker": t.speaker, "text": t.shown, "start": a, "end": b} for a, b, t in placed.turn_spans()]}
            if len(p.turns) > 1:
                entry["turns_located_by"] = placed.bounds_method
            if reviews and reviews.get(p.key):
                entry["review"] = reviews[p.key]
        elif isinstance(p, SilencePiece):
            entry |= {"reason": p.reason}
        else:
            entry |= {"path": relative(p.path, here), "gain_db": p.gain_db, "fade_in": p.fade_in,
                      "fade_out": p.fade_out}
        pieces.append(entry)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "podpipe": __version__,
        "mix_version": MIX_VERSION,
        "spec": relative(compiled.episode.path, here),
        "title": compiled.episode.title,
        "output": {"path": relative(output, here), "format": compiled.rundown.format, "size": st.st_size,
                   "sha256": sha256 or file_sha256(output), "mtime_ns": st.st_mtime_ns},
        "sample_rate": ctx.out_rate,
        "channels": ctx.out_channels,
        "frames": ctx.frames,
        "duration": ctx.seconds,
        "inputs_digest": digest,
        "sidecars": [relative(p, here) for p in sidecars],
    }
    if ctx.step_records:
        manifest["steps"] = ctx.step_records
    # one piece per line: readable, diffable, and written by the C encoder (indent= would use the slow one)
    head = json.dumps(manifest, indent=1, ensure_ascii=False)[:-2]
    body = ",\n  ".join(json.dumps(p, ensure_ascii=False) for p in pieces)
    return f'{head},\n "pieces": [\n  {body}\n ]\n}}\n'.encode("utf-8")


class ManifestError(ValueError):
    """The manifest is missing, unreadable, of another version or not about this output."""


def read_manifest(output: Path) -> dict[str, Any]:
    """The manifest of ``output``, checked to be one this version wrote for this output path."""
    path = manifest_path(output)
    try:
        manifest = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ManifestError("no manifest") from None
    except (OSError, ValueError) as exc:
        raise ManifestError(f"manifest unreadable ({type(exc).__name__})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("output"), dict):
        raise ManifestError("manifest unreadable (not a manifest)")
    if manifest.get("manifest_version") != MANIFEST_VERSION:
        raise ManifestError("manifest of another podpipe version")
    if manifest["output"].get("path") != relative(output, path.parent):
        raise ManifestError("manifest of another output")
    return manifest


def segment_keys(output: Path) -> dict[str, list[str]] | None:
    """Segment id → render keys the last build of ``output`` used, or None when there was no (readable)
    build: what ``podpipe plan`` compares requests with to say why one must be rendered."""
    try:
        manifest = json.loads(manifest_path(output).read_text(encoding="utf-8"))
        previous: dict[str, list[str]] = {}
        for piece in manifest["pieces"]:
            if piece.get("key"):
                previous.setdefault(str(piece["segment_id"]), []).append(piece["key"])
        return previous
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
