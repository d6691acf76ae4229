"""Whether an output must be mixed again, and why: the one answer ``podpipe build`` acts on and ``podpipe
plan`` prints, so the two never disagree.

Modelled on doit's ``DependencyStatus``: a status with the reasons behind it. An output is up to date when
the manifest beside it says it was mixed from exactly these inputs (``inputs_digest``) and the file and its
sidecars are intact. Renders missing from the cache do not make an intact output stale (re-rendering would
spend API quota to replace audio that is already mixed, and a new take would sound different); they are
looked up only for an output that must be mixed again, and listed, because those are what a build renders.

Stdlib only, no audio: a no-op build runs this for every episode, so it stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from podpipe.compile import CompiledEpisode
from podpipe.errors import PodpipeError
from podpipe.mix.context import MixStep
from podpipe.mix.inputs import inputs_digest
from podpipe.mix.manifest import ManifestError, file_sha256, manifest_path, read_manifest
from podpipe.mix.steps import DEFAULT_STEPS

UP_TO_DATE = "up to date"
STALE = "stale"


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
