"""A third-party backend in one file, as a package outside podpipe would ship it: pure tones, deterministic.

It proves that a vendor lives in one place: registered through the ``podpipe.backends`` entry-point group
(``beep = tests.support.beep_backend:BeepBackend``, see ``install``), it owns the ``beep-*`` models, has
its own voices (each a pitch) and its own voice messages, and builds episodes end to end with no change
anywhere else. Each turn is a tone of its voice's pitch lasting 60 ms per character (at least 0.2 s), with
0.1 s of silence between the turns of a dialogue.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

from podpipe.audio_types import Audio
from podpipe.backends.base import Backend, Rendered, Usage, VoiceInfo
from podpipe.compile.types import RenderRequest
from podpipe.errors import BackendError

RATE = 16000
PITCHES = {"Alto": 440.0, "Bass": 110.0, "Tenor": 220.0, "Treble": 880.0}
SECONDS_PER_CHAR = 0.06
TURN_GAP = 0.1
ENTRY_POINT = "beep = tests.support.beep_backend:BeepBackend"


def tone(freq: float, seconds: float, rate: int = RATE) -> bytes:
    n = round(seconds * rate)
    return struct.pack(f"<{n}h", *(round(8000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))


class BeepBackend(Backend):
    name = "beep"
    default_model = "beep-1"
    default_voice = "Alto"
    default_jobs = 2
    env_variables = ("BEEP_ENABLED",)  # set it to make beep the default backend (priority over espeak)
    priority = 50

    @classmethod
    def voices(cls) -> list[VoiceInfo]:
        return [VoiceInfo(name, f"{freq:g} Hz") for name, freq in PITCHES.items()]

    @classmethod
    def models(cls) -> tuple[str, ...]:
        return ("beep-1", "beep-2")

    @classmethod
    def owns_model(cls, model: str) -> bool:
        return model.startswith("beep-")

    @classmethod
    def check_voice(cls, voice: str, model: str, cache_root: Path | None = None) -> str | None:
        problem = super().check_voice(voice, model, cache_root)
        return problem and f"{problem} (beep voices: {', '.join(PITCHES)})"

    def render(self, request: RenderRequest) -> Rendered:
        pieces = []
        for i, turn in enumerate(request.turns):
            if turn.voice not in PITCHES:
                raise BackendError(f"beep has no voice {turn.voice!r}", retryable=False)
            if i:
                pieces.append(bytes(2 * round(TURN_GAP * RATE)))
            pieces.append(tone(PITCHES[turn.voice], max(0.2, SECONDS_PER_CHAR * len(turn.text))))
        return Rendered(Audio(b"".join(pieces), RATE), Usage())


def install(site: Path, entry_points: str = ENTRY_POINT) -> Path:
    """Register ``entry_points`` (lines under ``[podpipe.backends]``) as an installed distribution would:
    a minimal ``*.dist-info`` in ``site``, which must be on ``sys.path`` (or PYTHONPATH) with the repository."""
    info = site / "podpipe_beep-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: podpipe-beep\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[podpipe.backends]\n{entry_points}\n", encoding="utf-8")
    return info
