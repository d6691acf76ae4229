"""Waveforms for the page, drawn from the loudness figures the mix keeps beside each take (true peak per 10 ms
window, ``podpipe.mix.loudness.figures``), never from decoding the episode.

A take's figures are read from its stored analysis; a take without one (rendered before take review stored
them, or a take review rejected) gets them as the mix would: computed once from its cached audio and stored
beside it, so every later view reads them. The episode's waveform places each speech take's figures at its
position in the manifest, as the mix's loudness model places them (``figures.place``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TAKE_POINTS = 100
EPISODE_POINTS = 1000


def figures(store: Any, key: str) -> Any:
    """The loudness figures of the cached take under ``key``; None when the cache does not hold it."""
    from podpipe.mix.loudness.figures import analyze, from_record, to_record

    record = store.analysis(key)
    if isinstance(record, Mapping):
        found = from_record(record, record.get("rate"), record.get("frames"))
        if found is not None:
            return found
    audio = store.get(key)
    if audio is None:
        return None
    found = analyze(audio)
    try:
        store.put_analysis(key, to_record(found))
    except OSError:
        pass  # a read-only cache: computed again next time
    return found


def peaks(values: Any, points: int) -> list[float]:
    """``values`` (a peak per 10 ms window) reduced to ``points`` maxima, scaled so the loudest is 1."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return [0.0] * points
    edges = np.linspace(0, values.size, points + 1).astype(np.int64)
    out = np.zeros(points)
    for i in range(points):
        lo, hi = edges[i], max(edges[i + 1], edges[i] + 1)
        out[i] = values[lo:min(hi, values.size)].max() if lo < values.size else 0.0
    top = out.max()
    return [round(float(v / top), 3) if top > 0 else 0.0 for v in out]


def take_waveform(store: Any, key: str, points: int = TAKE_POINTS) -> list[float] | None:
    found = figures(store, key)
    return None if found is None else peaks(found.peak, points)


def episode_waveform(manifest: Mapping[str, Any], store: Any, points: int = EPISODE_POINTS) -> list[float] | None:
    """The built episode's waveform: each speech piece's take figures at its place in the manifest (sounds
    and music beds, which have no take figures, show as silence)."""
    import numpy as np

    from podpipe.mix.loudness.figures import WINDOWS_PER_SECOND, place

    try:
        duration = float(manifest["duration"])
        pieces = list(manifest["pieces"])
    except (KeyError, TypeError, ValueError):
        return None
    windows = max(1, int(np.ceil(duration * WINDOWS_PER_SECOND)))
    energy, peak = np.zeros(windows), np.zeros(windows, dtype=np.float32)
    for piece in pieces:
        if not isinstance(piece, Mapping) or not isinstance(piece.get("key"), str):
            continue
        found = figures(store, piece["key"])
        if found is not None:
            place(energy, peak, found, float(piece.get("start") or 0.0))
    return peaks(peak, points)


__all__ = ["EPISODE_POINTS", "TAKE_POINTS", "episode_waveform", "figures", "peaks", "take_waveform"]
