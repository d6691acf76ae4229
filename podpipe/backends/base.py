"""The one small interface every TTS backend implements.

A backend turns one ``RenderRequest`` into PCM. It does not retry, rate-limit or cache: the scheduler in
``podpipe.render.scheduler`` does that uniformly, driven by the ``BackendError.retryable`` / ``retry_after`` a backend
raises. Heavy imports (SDKs, native libraries) belong inside ``__init__`` or ``render``, never at module
top, so that ``validate`` and no-op builds never pay for them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from podpipe.audio_types import Audio
from podpipe.compile import RenderRequest, Target
from podpipe.errors import UsageError


@dataclass(frozen=True)
class Usage:
    """Token counts as reported by the service (all zero for offline backends)."""

    prompt_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class Rendered:
    audio: Audio
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class VoiceListing:
    """What ``podpipe voices`` prints for a backend: one line per voice, and a note for the reader."""

    lines: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class VoiceInfo:
    name: str  # the name a spec uses (always a Gemini prebuilt voice name)
    description: str  # character, or what it maps to for offline backends


class Backend(ABC):
    """Render requests for one model family. Instances must be safe to call from several threads."""

    #: registry name, also part of every cache key
    name: str = ""
    #: how many requests to run at once when the user gives no -j
    default_jobs: int = 4
    #: requests per minute when the user gives no --rpm (None: unlimited)
    default_rpm: float | None = None
    #: renders cost money: ``plan`` prices them and the summary reports tokens and cost
    paid: bool = False
    #: said when a build picked this backend because nothing else was configured (None: nothing to say)
    default_notice: str | None = None

    def __init__(self, *, timeout: float | None = None):
        self.timeout = timeout  # seconds per request attempt; None: the backend's own default

    @abstractmethod
    def render(self, request: RenderRequest) -> Rendered:
        """Render one request or raise ``podpipe.errors.BackendError``."""

    @classmethod
    @abstractmethod
    def voices(cls) -> list[VoiceInfo]:
        """The voices a spec may use with this backend."""

    @classmethod
    def listing(cls, cache_root: Path, *, refresh: bool = False) -> VoiceListing:
        """What ``podpipe voices`` shows; ``refresh`` asks for a live list again, which only some backends
        have. ``cache_root`` is where a backend may keep what it fetched."""
        if refresh:
            raise UsageError(f"voices --refresh fetches a live voice list; --backend {cls.name} has none")
        return VoiceListing(tuple(f"{v.name:<14} {v.description}" for v in cls.voices()))

    @classmethod
    def model_for(cls, spec_model: str) -> str:
        """The model string that goes into requests and cache keys for a spec's ``model:``."""
        return spec_model

    @classmethod
    def target(cls, spec_model: str) -> Target:
        """What ``compile`` needs to know for a spec's ``model:``: the model string, whether temperature
        reaches the audio, and which vocal tag form the voice reads. The default: temperature counts and
        tags are left out (a voice that reads none must not say "laughs")."""
        return Target(cls.name, cls.model_for(spec_model))

    def prepare(self) -> None:
        """Load clients and native libraries before the scheduler starts its clock, so the first attempts
        don't take rate-limit slots and then spend them importing an SDK. Raises BackendError when the
        backend cannot work at all (e.g. no API key)."""

    def close(self) -> None:
        """Release clients, native handles, sockets."""
