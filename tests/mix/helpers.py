"""What the mix tests share: pure tones whose level and pitch the tests can predict exactly, and hand-made
episodes. Plain functions (fixtures are in conftest.py), so modules can build test audio at import time."""

from __future__ import annotations

import dataclasses
import math
from array import array
from pathlib import Path

from podpipe.audio_types import Audio
from podpipe.compile import CompiledEpisode, Rundown
from podpipe.spec import Episode, Output


def samples_of(audio: Audio, channel: int = 0) -> array:
    return array("h", audio.pcm)[channel::audio.channels]


def crossings(audio: Audio, channel: int = 0) -> int:
    """Zero crossings of one channel: twice the frequency of a tone per second of it."""
    s = samples_of(audio, channel)
    return sum(1 for x, y in zip(s, s[1:]) if (x < 0) != (y < 0))


def rms(samples) -> float:
    return math.sqrt(sum(x * x for x in samples) / len(samples)) if len(samples) else 0.0


_OUTPUT_FIELDS = {f.name for f in dataclasses.fields(Output)}


def compiled_episode(root: Path, pieces, fmt: str = "wav", *, name: str = "ep", spec_dir: str = "",
                     title: str = "T", **fields) -> CompiledEpisode:
    """A compiled episode of hand-made ``pieces`` (no YAML loader): its spec is ``root/spec_dir/name.yaml``,
    its output ``root/build/name.fmt``. Other keywords set ``Output`` fields (loudness, sample_rate,
    crossfade, …) or ``Episode`` fields (author, music, artwork, …) by name."""
    out = root / "build" / f"{name}.{fmt}"
    output = Output(out, fmt, **{k: v for k, v in fields.items() if k in _OUTPUT_FIELDS})
    ep = Episode(path=root / spec_dir / f"{name}.yaml", title=title, speakers=(), segments=(), output=output,
                 **{k: v for k, v in fields.items() if k not in _OUTPUT_FIELDS})
    return CompiledEpisode(ep, (), Rundown(tuple(pieces), out, fmt))
