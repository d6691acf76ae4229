"""``podpipe plan``: what a build would render, what it would take from the cache, and why.

Whether an episode is mixed again, and why, is printed from the very status a build acts on
(``Prepared.freshness``, i.e. ``mix.freshness``), so plan and build cannot disagree: a render missing from the
cache is rendered only for an output that must be mixed again; for an up-to-date output it is not needed.

The "why" of a render compares each request with what the last build of the same segment used (the output's
manifest names the keys; the cache metadata of those keys records their inputs), so an author sees "text
changed" or "take 2" instead of an opaque hash.
"""

from __future__ import annotations

import dataclasses

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from podpipe import backends
from podpipe.cache.takes import rejected_candidates
from podpipe.commands.build import BuildOptions, Prepared, compile_for, prepare
from podpipe.commands.cost import estimate, price_basis, spec_prices
from podpipe.compile import RenderRequest, SpeechPiece, request_material
from podpipe.spec import load_episodes

if TYPE_CHECKING:  # the mix stage is imported only when a plan is made
    from podpipe.mix.freshness import Freshness

_FIELDS = (("backend", "backend"), ("model", "model"), ("temperature", "temperature"),
           ("language", "language"), ("take", "take"))


CACHED, RENDER, SKIP = "cached", "render", "skip"  # skip: not in the cache, and its output is up to date


@dataclass(frozen=True)
class PlannedRequest:
    request: RenderRequest
    episode: str
    segment: str
    action: str  # CACHED, RENDER or SKIP
    reason: str
    input_tokens: int
    output_tokens: int
    cost_usd: float

    @property
    def cached(self) -> bool:
        return self.action == CACHED


@dataclass(frozen=True)
class EpisodePlan:
    spec: str
    output: str
    freshness: Freshness  # what a build does with the output, and why
    requests: tuple[PlannedRequest, ...]

    @property
    def up_to_date(self) -> bool:
        return self.freshness.up_to_date


@dataclass(frozen=True)
class PlanResult:
    backend: str
    episodes: tuple[EpisodePlan, ...]
    warnings: tuple = ()
    paid: bool = False  # the backend's renders cost money (``Backend.paid``)
    prices: tuple[str, ...] = ()  # which price each model's cost uses: its dates and source, or the override
    notes: tuple[str, ...] = ()  # what the remote cache had to say (a misconfiguration, faults)

    def _unique(self, action: str) -> dict[str, PlannedRequest]:
        return {r.request.key: r for e in self.episodes for r in e.requests if r.action == action}

    def to_json(self) -> dict:
        to_render = self._unique(RENDER)
        skipped = self._unique(SKIP).keys() - to_render.keys()  # a request shared with a stale episode is rendered
        return {
            "backend": self.backend,
            "totals": {
                "render": len(to_render),
                "cached": len(self._unique(CACHED)),
                "skip": len(skipped),
                "characters": sum(r.request.characters for r in to_render.values()),
                "input_tokens": sum(r.input_tokens for r in to_render.values()),
                "output_tokens": sum(r.output_tokens for r in to_render.values()),
                "cost_usd": round(sum(r.cost_usd for r in to_render.values()), 4),
            },
            "prices": list(self.prices),
            "episodes": [{
                "spec": e.spec, "output": e.output, "up_to_date": e.up_to_date, "state": e.freshness.state,
                "reasons": list(e.freshness.reasons),
                "requests": [{
                    "key": r.request.key, "segment": r.segment, "speakers": list(r.request.speakers),
                    "characters": r.request.characters, "action": r.action,
                    "reason": r.reason, "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
                    "cost_usd": round(r.cost_usd, 6),
                } for r in e.requests],
            } for e in self.episodes],
        }

    def to_text(self) -> str:
        lines = []
        for e in self.episodes:
            state = e.freshness.describe() if e.up_to_date else f"→ {e.output} ({e.freshness.describe()})"
            lines.append(f"{e.spec}: {state}")
            for r in e.requests:
                who = "+".join(r.request.speakers)
                lines.append(f"  {r.segment:<8} {r.action:<6} {who:<20} {r.request.characters:>6} chars  {r.reason}")
        t = self.to_json()["totals"]
        if self.paid:
            cost = (f", ~{t['input_tokens']:,} input + ~{t['output_tokens']:,} audio tokens, "
                    f"~${t['cost_usd']:.4f}")
        else:
            cost = f", offline with {self.backend}: no API cost"
        skip = f", {t['skip']} not needed (their outputs are up to date)" if t["skip"] else ""
        lines.append(f"{t['render']} to render ({t['characters']:,} characters{cost}), {t['cached']} cached{skip}")
        if self.paid and t["render"]:
            lines += [f"  price: {basis}" for basis in self.prices]
        return "\n".join(lines)


def _reason(prepared: Prepared, request: RenderRequest, segment: str, previous: dict | None) -> str:
    if previous is None:
        return "never built"
    old_keys = previous.get(segment)
    if not old_keys:
        return "new segment"
    if request.key in old_keys:
        return "was built before, but its cache entry is gone or damaged"
    new = request_material(request)
    olds = [m.get("request") for k in old_keys if (m := prepared.store.meta(k)) and m.get("request")]
    if not olds:
        return "changed since the last build (its old render is no longer cached)"
    old = olds[0] if len(olds) == 1 else None
    changes = []
    if old is None or len(olds) != len(old_keys):
        changes.append("split differently")
    else:
        changes += [label for name, label in _FIELDS if old.get(name) != new[name]]
        old_turns, new_turns = old.get("turns", []), new["turns"]
        for name in ("text", "voice", "style", "speaker"):
            if [t.get(name) for t in old_turns] != [t[name] for t in new_turns]:
                changes.append(name)
    if changes == ["take"]:
        return f"new take {request.take}"
    return f"{', '.join(changes) or 'inputs'} changed"


def make_plan(paths: Sequence[str | Path], options: BuildOptions = BuildOptions()) -> PlanResult:
    prepared = prepare(paths, options)
    try:
        result = _plan(prepared, options)
    finally:
        prepared.close()
    return dataclasses.replace(result, notes=tuple(prepared.remote_notes))


def _plan(prepared: Prepared, options: BuildOptions) -> PlanResult:
    from podpipe.mix.manifest import segment_keys

    states = prepared.freshness(options.force)
    specs = spec_prices(c.episode for c in prepared.episodes)
    episodes = []
    for compiled in prepared.episodes:
        state = states[compiled.episode.path]
        previous = segment_keys(compiled.rundown.output)
        planned = []
        seen: set[str] = set()
        by_key = {r.key: r for r in compiled.requests}
        for piece in compiled.rundown.pieces:
            if not isinstance(piece, SpeechPiece) or piece.key in seen:
                continue
            if options.only and piece.segment_id not in options.only:
                continue
            seen.add(piece.key)
            request = by_key[piece.request_key]
            if piece.picked_from is not None:
                action, reason = CACHED, "a rejected take picked by accept:"
            elif prepared.store.has(request.key):
                action, reason = CACHED, "cached"
            elif state.up_to_date:
                action, reason = SKIP, "not in the cache, and not needed: the output is up to date"
            else:
                action, reason = RENDER, _reason(prepared, request, piece.segment_id, previous)
            guess = estimate(request, specs)
            paid = action == RENDER and backends.backend_class(request.backend).paid
            planned.append(PlannedRequest(
                request, compiled.episode.path.name, piece.segment_id, action, reason, guess.input_tokens,
                guess.output_tokens, guess.usd if paid else 0.0))
        episodes.append(EpisodePlan(str(compiled.episode.path.name), str(compiled.rundown.output), state,
                                    tuple(planned)))
    paid = backends.backend_class(prepared.backend).paid
    models = dict.fromkeys(r.request.model for e in episodes for r in e.requests if r.action == RENDER)
    prices = tuple(b for b in (price_basis(prepared.backend, m, specs) for m in models) if b) if paid else ()
    return PlanResult(prepared.backend, tuple(episodes), prepared.warnings, paid=paid, prices=prices)


def referenced_keys(paths: Sequence[str | Path]) -> set[str]:
    """Every key the specs use under any backend, so pruning by specs keeps drafts and paid renders alike, and
    the keys their rejected takes are kept under."""
    loaded = load_episodes(paths, rules=backends)
    keys: set[str] = set()
    for name in backends.names():
        cls = backends.backend_class(name)
        for episode in loaded.episodes:
            keys.update(r.key for r in compile_for(cls, episode).requests)
    # the takes review rejected beside them: a person listens to them, and accept: may pick one
    return keys | {rejected for key in keys for rejected in rejected_candidates(key)}
