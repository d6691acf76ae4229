"""Broadcast loudness, the engine the mix uses: level the speakers to each other, normalize the episode to an
integrated target and keep true peaks under a ceiling.

The work is split by job: ``filters`` (K-weighting and 4× oversampling in numpy), ``figures`` (audio reduced
to K-weighted energy and true peak per 10 ms, kept with each render in the cache), ``model`` (BS.1770-4
gating; leveling, normalizing and the look-ahead limiter solved on figures alone), ``blocks`` (the stitched
pieces read as float blocks, never joined, and the solved ``GainCurve`` applied on their way to the file)
and ``episode`` (one episode's figures, its solution and the correction after the encode). The loudness step
(``steps.loudness``) runs it after stitching, and the exporter applies and meters what it solved.

This package's own module holds only the engine's version and per-format headroom, and imports nothing
heavy: the freshness check of every no-op build reads them. numpy is imported by the submodules, only when
a mix runs.
"""

from __future__ import annotations

from podpipe.formats import FORMATS

LOUDNESS_VERSION = 4  # bump when the same settings would give different audio


def headroom(fmt: str) -> float:
    """dB the limiter stays under the ceiling for format ``fmt`` (see ``formats.Format.headroom``)."""
    found = FORMATS.get(fmt)
    return found.headroom if found else 0.0
