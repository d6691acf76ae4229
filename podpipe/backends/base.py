"""The one interface every TTS backend implements, and every vendor fact the rest of podpipe asks about.

A backend turns one ``RenderRequest`` into PCM. It does not retry, rate-limit or cache: the scheduler in
``podpipe.render.scheduler`` does that uniformly, driven by the ``BackendError.retryable`` / ``retry_after`` a backend
raises. Heavy imports (SDKs, native libraries) belong inside ``__init__`` or ``render``, never at module
top, so that ``validate`` and no-op builds never pay for them.

Everything else podpipe needs to know about a vendor is a class attribute or classmethod here, each with a
default that suits an offline backend, so ``spec/`` and ``commands/`` ask the registry (``podpipe.backends``)
for a backend and never name one:

- which models it owns (``owns_model``, ``models``, ``default_model``), or that it renders drafts of other
  backends' models (``drafts``);
- voices: ``voices`` / ``listing`` for ``podpipe voices``, ``check_voice`` for ``validate`` and ``say``;
- what a model makes of a spec (``target``: model string, sampling, tag form) and the warnings that go with
  it (``sampling_note``, ``temperature_warning``);
- configuration from the environment (``env_variables``, ``configured``, ``priority``): the default backend
  is the configured one of highest priority;
- what a model reads: ``tag_names`` (its documented vocal tags, for ``validate``'s warning) and
  ``request_chars`` (how much text one request may hold in a language, from the model's output cap);
- rates (``default_jobs``, ``rpm_for``) and money (``paid``, ``prices``, ``price_basis``, ``tokens``,
  ``estimate``, ``cost``).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from podpipe.audio_types import Audio
from podpipe.compile.types import RenderRequest, Target
from podpipe.errors import UsageError, suggest

#: price overrides: model -> {"input": USD, "output": USD} per 1M tokens (either key may be left out)
Prices = Mapping[str, Mapping[str, float]]


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
    name: str  # the name a spec uses
    description: str  # character, or what it maps to for offline backends


@dataclass(frozen=True)
class Estimate:
    """Tokens and money a list of requests will take, estimated before anything is rendered."""

    input_tokens: int = 0
    output_tokens: int = 0
    usd: float = 0.0


class Backend(ABC):
    """Render requests for one model family. Instances must be safe to call from several threads.

    Classmethods answer without an instance and without heavy imports (``validate`` and ``plan`` call them)."""

    #: registry name (the entry point's name in the ``podpipe.backends`` group), also part of every cache key
    name: str = ""
    #: how many requests to run at once when the user gives no -j
    default_jobs: int = 4
    #: requests per minute when the user gives no --rpm (None: unlimited); ``rpm_for`` may refine it per model
    default_rpm: float | None = None
    #: renders cost money: ``plan`` prices them and the summary reports tokens and cost
    paid: bool = False
    #: said when a build picked this backend because nothing else was configured (None: nothing to say)
    default_notice: str | None = None
    #: the model a spec without ``model:`` means, for a backend that owns models (None: it owns none)
    default_model: str | None = None
    #: the voice ``podpipe say`` speaks with when given no -v ("": the first of ``voices()``)
    default_voice: str = ""
    #: renders stand-ins (drafts) for any backend's voices and models: a spec's voices are judged by the
    #: backend that owns its model, never by a draft backend
    drafts: bool = False
    #: environment variables this backend reads for its configuration (API keys first), for messages
    env_variables: tuple[str, ...] = ()
    #: among configured backends, the default is the one of highest priority (a paid service over a draft)
    priority: int = 0
    #: the same request always gives the same audio, so a take that fails review is never re-rolled (it
    #: would come back the same); it is still reviewed, and flagged when it fails
    repeatable: bool = False

    # -- configuration -----------------------------------------------------------------------------------------
    @classmethod
    def configured(cls, environ: Mapping[str, str] | None = None) -> bool:
        """Whether the environment lets this backend render without being asked for by name (e.g. its API key
        is set), which makes it a candidate for the default backend. The default: one of ``env_variables`` is
        set; a backend that reads none is never chosen by default unless it overrides this (as the offline
        draft voice does)."""
        env = os.environ if environ is None else environ
        return any(env.get(v) for v in cls.env_variables)

    # -- models ------------------------------------------------------------------------------------------------
    @classmethod
    def models(cls) -> tuple[str, ...]:
        """The model names this backend knows (for suggestions when a spec names none of them)."""
        return (cls.default_model,) if cls.default_model else ()

    @classmethod
    def owns_model(cls, model: str) -> bool:
        """Whether a spec's ``model:`` names one of this backend's models (known, or spelled like a newer one)."""
        return model in cls.models()

    @classmethod
    def model_for(cls, spec_model: str | None) -> str:
        """The model string that goes into requests and cache keys for a spec's ``model:`` (None: the spec
        names none)."""
        return spec_model or cls.default_model or cls.name

    @classmethod
    def target(cls, spec_model: str | None) -> Target:
        """What ``compile`` needs to know for a spec's ``model:``: the model string, whether temperature
        reaches the audio, and which vocal tag form the voice reads. The default: temperature counts and
        tags are left out (a voice that reads none must not say "laughs")."""
        return Target(cls.name, cls.model_for(spec_model))

    @classmethod
    def sampling_note(cls, model: str) -> str:
        """Why ``model`` takes no temperature, for the warning when a spec sets one (e.g. " (3.8 models
        reject sampling settings)"); "" when there is nothing more to say."""
        return ""

    @classmethod
    def temperature_warning(cls, model: str, temperature: float, shown: str) -> str | None:
        """A warning when ``temperature`` (written as ``shown``) is known to make ``model`` fail, else None."""
        return None

    @classmethod
    def tag_names(cls, model: str) -> frozenset[str] | None:
        """The vocal tags ``model`` is documented to read (lower case), for ``validate``'s "unknown tag"
        warning; None when no list is published (no warning)."""
        return None

    @classmethod
    def request_chars(cls, model: str, language: str | None) -> int | None:
        """The most characters of text one request to ``model`` may hold in ``language`` (so its audio ends
        well before the model's output cap); None: the compiler's own limit (``compile.MAX_REQUEST_CHARS``)."""
        return None

    # -- voices ------------------------------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def voices(cls) -> list[VoiceInfo]:
        """The voices a spec may use with this backend."""

    @classmethod
    def check_voice(cls, voice: str, model: str, cache_root: Path | None = None) -> str | None:
        """None when a spec may use ``voice`` with ``model`` (this backend owns the model), else the problem
        and its fix ("unknown voice 'X'; did you mean 'Y'?"). ``cache_root`` is where ``listing`` may have
        kept a fetched voice list (None: nothing stored). The default: the names ``voices()`` lists."""
        names = [v.name for v in cls.voices()]
        if voice in names:
            return None
        suggestion = suggest(voice, names)
        if suggestion and suggestion.lower() == voice.lower():
            hint = f"; did you mean {suggestion!r}? (voice names are case-sensitive)"
        elif suggestion:
            hint = f"; did you mean {suggestion!r}?"
        else:
            hint = f"; `podpipe voices --backend {cls.name}` lists the voices"
        return f"unknown voice {voice!r}{hint}"

    @classmethod
    def listing(cls, cache_root: Path, *, refresh: bool = False) -> VoiceListing:
        """What ``podpipe voices`` shows; ``refresh`` asks for a live list again, which only some backends
        have. ``cache_root`` is where a backend may keep what it fetched."""
        if refresh:
            raise UsageError(f"voices --refresh fetches a live voice list; --backend {cls.name} has none")
        return VoiceListing(tuple(f"{v.name:<14} {v.description}" for v in cls.voices()))

    # -- rates and money ---------------------------------------------------------------------------------------
    @classmethod
    def rpm_for(cls, model: str) -> float | None:
        """Requests per minute suited to ``model`` when the user gives no --rpm (None: unlimited)."""
        return cls.default_rpm

    @classmethod
    def speaking_rate(cls, model: str, language: str | None) -> float | None:
        """Characters a second this backend's voices speak ``language`` at on ``model``: the prior take review
        judges a take's length by until it has learned the voice (None: no prior, length is judged only
        against the voice's own accepted takes)."""
        return None

    @classmethod
    def prices(cls, model: str) -> tuple[float, float]:
        """(input, output) USD per 1M tokens on ``model``. The default: free."""
        return 0.0, 0.0

    @classmethod
    def price_basis(cls, model: str) -> str:
        """Which price ``prices(model)`` is, in words (its dates and source), for ``plan``; "" for none."""
        return ""

    @classmethod
    def tokens(cls, request: RenderRequest) -> tuple[int, int]:
        """(input, output) tokens one render of ``request`` will use, estimated. The default: none counted."""
        return 0, 0

    @classmethod
    def cost(cls, model: str, input_tokens: int, output_tokens: int, prices: Prices | None = None) -> float:
        """USD for these token counts on ``model``; ``prices`` overrides ``prices(model)`` per model."""
        price_in, price_out = cls.prices(model)
        override = (prices or {}).get(model) or {}
        price_in, price_out = float(override.get("input", price_in)), float(override.get("output", price_out))
        return (input_tokens * price_in + output_tokens * price_out) / 1_000_000

    @classmethod
    def estimate(cls, requests: Iterable[RenderRequest], prices: Prices | None = None) -> Estimate:
        """Tokens and USD that rendering ``requests`` will take (each counted as often as it is given)."""
        total_in = total_out = 0
        usd = 0.0
        for request in requests:
            tokens_in, tokens_out = cls.tokens(request)
            total_in, total_out = total_in + tokens_in, total_out + tokens_out
            usd += cls.cost(request.model, tokens_in, tokens_out, prices)
        return Estimate(total_in, total_out, usd)

    # -- rendering ---------------------------------------------------------------------------------------------
    def __init__(self, *, timeout: float | None = None):
        self.timeout = timeout  # seconds per request attempt; None: the backend's own default

    @abstractmethod
    def render(self, request: RenderRequest) -> Rendered:
        """Render one request or raise ``podpipe.errors.BackendError``."""

    def prepare(self) -> None:
        """Load clients and native libraries before the scheduler starts its clock, so the first attempts
        don't take rate-limit slots and then spend them importing an SDK. Raises BackendError when the
        backend cannot work at all (e.g. no API key)."""

    def close(self) -> None:
        """Release clients, native handles, sockets."""

    def quota_scope(self) -> str:
        """What identifies the quota this backend's requests count against, for a rate limit shared between
        machines (``--rate-limit-url``): never a secret, the same on every machine that shares the quota.
        Default: the backend's name (a local service has no shared quota)."""
        return self.name
