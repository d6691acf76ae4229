"""``build --report FILE``: one JSON record per request plus the run's totals (rate, latency, errors, cost)."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path

from podpipe import __version__
from podpipe.commands.cost import cost_usd
from podpipe.commands.results import BuildResult
from podpipe.compile import SpeechPiece
from podpipe.files import write_atomic

REPORT_VERSION = 1


def _uses(result: BuildResult) -> dict[str, list[dict]]:
    uses: dict[str, list[dict]] = {}
    for status in result.episodes:
        for piece in status.compiled.rundown.pieces:
            if isinstance(piece, SpeechPiece):
                uses.setdefault(piece.key, []).append(
                    {"episode": status.compiled.episode.path.name, "segment": piece.segment_id})
    return uses


def _picked(result: BuildResult) -> list[dict]:
    return [{"episode": status.compiled.episode.path.name, "segment": piece.segment_id,
             "request": piece.picked_from, "key": piece.key, "accept": list(piece.accept)}
            for status in result.episodes for piece in status.compiled.rundown.pieces
            if isinstance(piece, SpeechPiece) and piece.picked_from is not None]


def build_report(result: BuildResult) -> dict:
    outcomes = {o.request.key: o for o in result.render.outcomes}
    prices = result.prices
    uses = _uses(result)
    records = []
    for request in result.needed:
        o = outcomes.get(request.key)
        usage = o.usage if o else None
        records.append({
            "key": request.key,
            "uses": uses.get(request.key, []),
            "backend": request.backend,
            "model": request.model,
            "speakers": list(request.speakers),
            "voices": sorted({t.voice for t in request.turns}),
            "characters": request.characters,
            "outcome": "cached" if o is None else ("rendered" if o.ok else "failed"),
            "attempts": o.attempts if o else 0,
            # requests the audio was rendered as: more than 1 when a take cut off at the output cap was split
            "parts": o.parts if o else None,
            "seconds": round(o.seconds, 3) if o else 0.0,
            "audio_seconds": round(o.audio_seconds, 3) if o else None,
            "tokens": None if usage is None else {  # every attempt's, failed ones included (all are billed)
                "prompt": usage.prompt_tokens, "output": usage.output_tokens, "total": usage.total_tokens},
            "cost_usd": None if usage is None else round(
                cost_usd(request, usage.prompt_tokens, usage.output_tokens, prices), 6),
            "error": o.error if o and not o.ok else None,
            "failed_attempts": list(o.failures) if o else [],
            # take review: re-rolls, whether the kept take is flagged, its checks and the rejected takes
            "retakes": o.retakes if o else 0,
            "flagged": bool(o and o.flagged),
            "review": o.review if o else None,
        })
    done = list(outcomes.values())
    attempts = sum(o.attempts for o in done)
    failed_attempts = sum(len(o.failures) for o in done)
    wall = result.render.wall_seconds
    latencies = [o.seconds / o.attempts for o in done if o.attempts]
    return {
        "report_version": REPORT_VERSION,
        "podpipe": __version__,
        "backend": result.backend,
        "totals": {
            "requests": len(result.needed),
            "rendered": len(result.render.rendered),
            "cached": result.cached,
            "failed": len(result.render.failed),
            "attempts": attempts,
            "failed_attempts": failed_attempts,
            "retakes": sum(o.retakes for o in done),
            "flagged": sum(1 for o in done if o.flagged),
            "error_rate": round(failed_attempts / attempts, 4) if attempts else 0.0,
            "render_wall_seconds": round(wall, 3),
            "requests_per_minute": round(attempts / wall * 60, 2) if wall > 0 else 0.0,
            "median_seconds_per_attempt": round(statistics.median(latencies), 3) if latencies else 0.0,
            "tokens": sum(o.usage.total_tokens for o in done),
            "cost_usd": round(sum(r["cost_usd"] or 0.0 for r in records), 6),
            "voice_usage": dict(Counter(t.voice for o in done if o.ok for t in o.request.turns)),
        },
        "episodes": [{"spec": s.compiled.episode.path.name, "state": s.state, "detail": s.detail,
                      "output": str(s.output) if s.output else None, "duration": s.duration}
                     for s in result.episodes],
        "requests": records,
        # lines whose accept: picks a rejected take of their request: the mix uses that take's entry (key), and the
        # request is not rendered
        "picked": _picked(result),
        # build --review-cached: the cached takes judged again, newly flagged, cleared and re-rolled (keys); None
        # without it
        "review_cached": result.rejudged.as_dict() if result.rejudged else None,
        # per model: the adaptive rate (requests per minute) it started at, peaked at and settled on
        "rates": [r.as_dict() for r in result.render.rates],
        "quota_wait_seconds": round(result.render.quota_wait_seconds, 3),
        # the shared remote cache's counters (hits, misses, rejected, errors, bytes, leases, outputs), or None
        "remote_cache": result.remote.as_dict() if result.remote else None,
    }


def write_report(path: Path, result: BuildResult) -> None:
    text = json.dumps(build_report(result), indent=2, ensure_ascii=False) + "\n"
    write_atomic(Path(path), text.encode("utf-8"))
