"""What review measures of a take, from the per-10 ms figures the mix keeps anyway plus two cheap counts.

``measure`` reduces a take to ``Measures``: a handful of numbers, stored with the verdict, from which every
check in ``podpipe.review.checks`` is judged. Re-judging a cached take (new thresholds, a newer review)
therefore reads its record, never its audio. The loudness figures (K-weighted energy per 10 ms window,
``podpipe.mix.loudness.figures``) are the ones the mix needs: review computes them first and the render stage
stores them beside the entry, so the mix does not compute them again. What the figures lack is read from
the samples in one vectorised pass: zero crossings per window (static crosses zero at half the samples,
voiced speech far less often) and full-scale samples (clipping).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from podpipe.audio_types import Audio

MEASURES_VERSION = 1  # bump when the same audio would measure differently
SILENCE_FLOOR_DB = -70.0  # windows quieter than this (dB of mean square, full scale = 0) are silence outright
SILENCE_BELOW_SPEECH_DB = 35.0  # ... and so are windows this far below the take's median speech level
END_WINDOWS = 3  # the last 30 ms decide whether a take stops in the middle of speech
FULL_SCALE = 32767


@dataclass(frozen=True)
class Measures:
    seconds: float  # the take's length
    speech_seconds: float  # from the first to the last window above silence
    longest_silence: float  # seconds: the longest run of silent windows between speech
    end_db: float  # level of the last 30 ms relative to the take's median speech level (0: as loud as speech)
    crossings: float  # median zero-crossing rate (per sample) over the windows holding speech
    clipped: float  # fraction of samples at full scale

    def to_record(self) -> dict[str, Any]:
        return {"version": MEASURES_VERSION, **{k: round(v, 6) for k, v in asdict(self).items()}}

    @classmethod
    def from_record(cls, record: Any) -> Measures | None:
        try:
            if record.get("version") != MEASURES_VERSION:
                return None
            values = {name: float(record[name]) for name in cls.__dataclass_fields__}
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        return cls(**values) if all(map(math.isfinite, values.values())) else None


def measure(audio: Audio, figures: Any = None) -> tuple[Measures, Any]:
    """``(measures, figures)`` of ``audio``; ``figures`` (the mix's loudness figures of this audio) are
    computed when not given, and returned so the caller can store them for the mix."""
    import numpy as np

    from podpipe.mix.loudness.figures import WINDOWS_PER_SECOND, analyze, window_edges

    if figures is None:
        figures = analyze(audio)
    x = np.frombuffer(audio.pcm, dtype="<i2").reshape(-1, audio.channels)[:, 0]
    edges = window_edges(audio.rate, len(x))
    starts = edges[:-1]
    sizes = np.maximum(np.diff(edges), 1)
    level = 10 * np.log10(np.maximum(figures.energy * WINDOWS_PER_SECOND, 1e-12))
    loud = level > SILENCE_FLOOR_DB
    speech_db = float(np.median(level[loud])) if loud.any() else SILENCE_FLOOR_DB
    speech = level > max(SILENCE_FLOOR_DB, speech_db - SILENCE_BELOW_SPEECH_DB)
    seconds = len(x) / audio.rate
    if not speech.any():
        return Measures(seconds, 0.0, seconds, -120.0, 0.0, 0.0), figures
    first, last = np.flatnonzero(speech)[[0, -1]]
    inner = speech[first:last + 1]
    longest = _longest_run(~inner) / WINDOWS_PER_SECOND
    tail = figures.energy[-END_WINDOWS:] * WINDOWS_PER_SECOND
    end_db = 10 * math.log10(max(float(tail.mean()), 1e-12)) - speech_db
    signs = np.signbit(x)
    flips = np.concatenate([[False], signs[1:] != signs[:-1]]).astype(np.int32)
    rate = np.add.reduceat(flips, starts) / sizes
    crossings = float(np.median(rate[speech]))
    clipped = float(np.count_nonzero(np.abs(x.astype(np.int32)) >= FULL_SCALE)) / max(1, len(x))
    return Measures(seconds, float(last + 1 - first) / WINDOWS_PER_SECOND, float(longest), max(-120.0, end_db),
                    crossings, clipped), figures


def _longest_run(mask: Any) -> int:
    import numpy as np

    if not mask.any():
        return 0
    padded = np.concatenate([[0], mask.astype(np.int8), [0]])
    change = np.flatnonzero(np.diff(padded))
    return int((change[1::2] - change[0::2]).max())
