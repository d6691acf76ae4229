"""Everything that determines a mixed output, reduced to one digest.

``inputs_digest`` hashes the canonical JSON of the render keys, gaps, pauses, sound contents and settings,
the format, the tag metadata, ``MIX_VERSION`` and the settings of every post-stitch step. The manifest
records it; the freshness check compares it, so any change here re-mixes (and never re-renders). Stdlib
only: a no-op build computes it for every episode.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from podpipe.compile import CompiledEpisode, Piece, SilencePiece, SpeechPiece
from podpipe.mix.context import KINDS, MixStep
from podpipe.mix.manifest import MIX_VERSION, relative, sound_sha256
from podpipe.mix.steps import DEFAULT_STEPS
from podpipe.mix.stitch import CHANNELS


def episode_tags(compiled: CompiledEpisode) -> dict[str, str]:
    """Metadata written into the output's tags (ID3 for MP3)."""
    ep = compiled.episode
    tags = {"title": ep.title, "artist": ep.author, "album": ep.show or ep.author,
            "track": None if ep.episode is None else str(ep.episode), "comment": ep.description,
            "genre": "Podcast", "date": ep.date}
    return {k: v for k, v in tags.items() if v}


def piece_record(piece: Piece, spec_dir: Path) -> dict[str, Any]:
    """The identity of a piece for the digest: everything that changes the audio or the manifest."""
    base = {"kind": KINDS[type(piece)], "segment_id": piece.segment_id, "segment_index": piece.segment_index,
            "chapter": piece.chapter}
    if isinstance(piece, SpeechPiece):
        return {**base, "key": piece.key, "speakers": list(piece.speakers),
                "turns": [[t.speaker, t.shown] for t in piece.turns]}
    if isinstance(piece, SilencePiece):
        return {**base, "seconds": piece.seconds, "reason": piece.reason}
    return {**base, "path": relative(piece.path, spec_dir), "sha256": sound_sha256(piece.path),
            "gain_db": piece.gain_db, "fade_in": piece.fade_in, "fade_out": piece.fade_out}


def inputs_digest(compiled: CompiledEpisode, steps: Sequence[MixStep] = DEFAULT_STEPS) -> str:
    """sha256 of the canonical JSON of everything that determines the mixed output."""
    spec_dir = compiled.episode.path.parent
    doc = {
        "mix_version": MIX_VERSION,
        "format": compiled.rundown.format,
        "channels": CHANNELS,
        "tags": episode_tags(compiled),
        "pieces": [piece_record(p, spec_dir) for p in compiled.rundown.pieces],
        "steps": [[s.name, s.settings(compiled)] for s in steps],
    }
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
