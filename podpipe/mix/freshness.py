"""Whether an output must be mixed again, and why: the one answer ``podpipe build`` acts on and ``podpipe
plan`` prints, so the two never disagree.

Modelled on doit's ``DependencyStatus``: a status with the reasons behind it. An output is up to date when
the manifest beside it says it was mixed from exactly these inputs (``inputs_digest``) and the file and its
sidecars are intact. Renders missing from the cache do not make an intact output stale (re-rendering would
spend API quota to replace audio that is already mixed, and a new take would sound different); they are
looked up only for an output that must be mixed again, and listed, because those are what a build renders.

``inputs_digest`` reduces everything that determines a mixed output to one digest: the canonical JSON of
the render keys, gaps, pauses, sound contents and settings, the format, the tag metadata, ``MIX_VERSION``
and the settings of every post-stitch step. The manifest records it and this check compares it, so any
change there re-mixes (and never re-renders).

Stdlib only, no audio: a no-op build runs this for every episode, so it stays fast.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podpipe.compile import CompiledEpisode, Piece, SilencePiece, SpeechPiece
from podpipe.errors import PodpipeError
from podpipe.mix.context import KINDS, MixStep
from podpipe.mix.manifest import (MIX_VERSION, ManifestError, file_sha256, manifest_path, read_manifest, relative,
                                  sound_sha256)
from podpipe.mix.steps import DEFAULT_STEPS
from podpipe.mix.stitch import CHANNELS

UP_TO_DATE = "up to date"
STALE = "stale"


def episode_tags(compiled: CompiledEpisode) -> dict[str, str]:
    """Metadata written into the output's tags (ID3 for MP3)."""
    ep = compiled.episode
    tags = {"title": ep.title, "artist": ep.author, "album": ep.show or ep.author,
            "track": None if ep.episode is None else str(ep.episode), "comment": ep.description,
            "genre": "Podcast", "date": ep.date[:10] if ep.date else None}  # the day (a feed's time stays out)
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


@dataclass(frozen=True)
class Freshness:
    reasons: tuple[str, ...] = ()  # why the output must be mixed again; none: it is up to date
    # keys of the renders the mix needs that are not in the cache, in first-use order (looked up only when
    # the output must be mixed again: they are what a build renders first)
    missing: tuple[str, ...] = ()

    @property
    def up_to_date(self) -> bool:
        return not self.reasons

    @property
    def state(self) -> str:
        return UP_TO_DATE if self.up_to_date else STALE

    def describe(self) -> str:
        """"up to date", or the reasons: "inputs changed; 2 renders missing from the cache"."""
        if self.up_to_date:
            return UP_TO_DATE
        parts = list(self.reasons)
        if self.missing:
            n = len(self.missing)
            parts.append(f"{n} render{'s' if n != 1 else ''} missing from the cache")
        return "; ".join(parts)


def freshness(compiled: CompiledEpisode, steps: Sequence[MixStep] = DEFAULT_STEPS, *,
              has: Callable[[str], bool] | None = None, force: bool = False) -> Freshness:
    """The state of ``compiled``'s output. ``has(key)`` says whether the cache holds a render (renders are
    not looked up when it is None); ``force`` makes the output stale whatever its state ("forced")."""
    reasons = ["forced"] if force else stale_reasons(compiled, steps)
    if not reasons or has is None:
        return Freshness(tuple(reasons))
    return Freshness(tuple(reasons), tuple(key for key in dict.fromkeys(compiled.rundown.keys) if not has(key)))


def stale_reasons(compiled: CompiledEpisode, steps: Sequence[MixStep] = DEFAULT_STEPS) -> list[str]:
    """Why the output must be mixed again; [] when the manifest says it was mixed from exactly these inputs
    and the file and its sidecars are intact."""
    output = compiled.rundown.output
    try:
        st = os.stat(output)
    except OSError:
        st = None
    try:
        manifest = read_manifest(output)
        recorded = manifest["output"]
        digest = manifest["inputs_digest"]
        sidecars = [str(name) for name in manifest.get("sidecars", [])]
    except ManifestError as exc:
        return [str(exc)] + (["output missing"] if st is None else [])
    except (KeyError, TypeError, AttributeError):
        return ["manifest unreadable (not a manifest)"] + (["output missing"] if st is None else [])
    reasons = []
    try:
        if digest != inputs_digest(compiled, steps):
            reasons.append("inputs changed")
    except PodpipeError as exc:  # e.g. a sound file that is gone: the mix will say so too
        reasons.append(str(exc))
    if st is None:
        reasons.append("output missing")
    elif not reasons and not _intact(output, st, recorded):
        reasons.append("output changed since it was mixed")
    here = manifest_path(output).parent
    gone = [name for name in sidecars if not (here / name).is_file()]
    if gone:
        reasons.append(f"sidecar{'s' if len(gone) != 1 else ''} missing: {', '.join(gone)}")
    return reasons


def _intact(output, st: os.stat_result, recorded: dict) -> bool:
    try:
        if st.st_size != recorded["size"]:
            return False
        # an untouched file is trusted; a touched one (copied, checked out) must still hash the same
        return st.st_mtime_ns == recorded["mtime_ns"] or file_sha256(output) == recorded["sha256"]
    except (OSError, KeyError, TypeError):
        return False


def is_up_to_date(compiled: CompiledEpisode, steps: Sequence[MixStep] = DEFAULT_STEPS) -> bool:
    """True when the output need not be mixed again (``freshness`` without looking at the cache)."""
    return freshness(compiled, steps).up_to_date
