"""Gemini text-to-speech through google-genai: one attempt per ``render()``, every failure classified.

The scheduler (``podpipe.render.scheduler``) owns retries, backoff and rate limiting, so the SDK's own retries are
off and this module never sleeps. It turns each outcome into audio or a ``BackendError`` whose
``retryable`` / ``retry_after`` / ``status`` drive the scheduler, and whose message names the cause and
the fix. ``google.genai`` is imported on first use, never at module import.

Request dialects (chosen by ``catalog.model_info(model).dialect``):

- ``metadata`` (3.8+): one user content, one part per turn, text verbatim; the turn's style goes in the
  part's ``speech_metadata.style``. Multi-speaker parts also carry ``speech_metadata.speaker`` (the label
  configured in ``multi_speaker_voice_config``); single-speaker parts carry no speaker, because the API
  defines ``speaker`` as a reference into ``multi_speaker_voice_config``, which a single voice has not.
- ``transcript`` (2.5 / 3.1): one text part. A single speaker gets the style as a preamble, the form of
  Google's "Say cheerfully: ..." examples::

      Say in this style (warm, relaxed; bright and upbeat): Welcome to the show!

  A dialogue gets one plain instruction sentence naming the speakers and their styles (Google's documented
  form; a "Name: style" line would be read as that speaker's turn), then one "Name: line" per turn
  (newlines inside a turn become spaces, so no line can be mistaken for another speaker)::

      TTS the following conversation between Alex and Sam, and make Alex sound warm, and Sam sound dry:
      Alex: So what happened?
      Sam: It's a long story.

Both: one voice → ``speech_config.voice_config``; two → ``multi_speaker_voice_config`` with the labels
used in the request; ``language`` → ``speech_config.language_code``; ``response_modalities = ["AUDIO"]``.
A voice goes in ``voice_config.voice`` on models that take library voices and custom ids (3.8+), else in
``prebuilt_voice_config.voice_name``. ``temperature`` → ``generation_config.temperature`` only on models
that take sampling settings (3.8 rejects them with 400 INVALID_ARGUMENT). Vocal tags and the lexicon are
already in the turn text in the model's form (``podpipe.compile.compiler``).

Responses are parsed by mime type, not by model: ``audio/L16`` PCM (``rate``/``channels`` parameters;
little-endian, as Gemini sends it despite RFC 2586) or WAV (``audio/wav``, ``audio/x-wav``, ``audio/wave``).
Before audio is returned (and so cached) it must pass ``check_audio``: decodable, finish reason STOP,
at least ``MIN_SECONDS`` and ``characters / MAX_CHARS_PER_SECOND`` seconds long (normal speech runs at
~14 characters per second, so only clearly truncated audio such as the 44-byte empty WAVs seen in the wild
fails), and not digitally silent.

The API key comes from ``GEMINI_API_KEY``, else ``GOOGLE_API_KEY`` (unlike the SDK, which prefers
``GOOGLE_API_KEY``). It never appears in a message: all text that came from the SDK or the server is
passed through ``scrub`` first, and exceptions are raised ``from None`` so a traceback cannot show the
SDK's own exception text (which quotes whole error bodies). ``GOOGLE_GEMINI_BASE_URL`` (read by the SDK)
points the client at a proxy or a test server; plain ``http://127.0.0.1:PORT`` works.
"""


from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

from podpipe.backends.base import Backend, Rendered, VoiceInfo, VoiceListing
from podpipe.backends.gemini.answer import language_500, read_answer, usage
from podpipe.backends.gemini.catalog import (DEFAULT_MODEL, DIALECT_METADATA, GEMINI_VOICES, KNOWN_MODELS,
                                             LOW_TEMPERATURE, chars_per_second, looks_like_tts_model, model_info,
                                             price_basis, prices)
from podpipe.backends.gemini.failures import KEY_LIKE, KEY_PARAM, classify
from podpipe.backends.gemini.settings import BASE_URL_VARIABLE, DEFAULT_TIMEOUT, KEY_VARIABLES, api_key
from podpipe.backends.gemini.voices import LibraryVoice, VoiceLibrary, check_voice, load_library, save_library
from podpipe.backends.gemini.wire import estimate_tokens, metadata_parts, speaker_voices, transcript_text
from podpipe.compile.types import RenderRequest, Target
from podpipe.errors import BackendError, RenderError, UsageError

log = logging.getLogger(__name__)
VOICE_PAGE_SIZE = 1000  # the most the Voices API answers per page
MAX_VOICE_PAGES = 100  # far more than the library holds; bounds a looping page token


class _DropKeyPreferenceWarning(logging.Filter):
    """The SDK warns "Using GOOGLE_API_KEY" when both variables are set; podpipe passes GEMINI_API_KEY."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "GOOGLE_API_KEY and GEMINI_API_KEY are set" not in record.getMessage()


_KEY_WARNING_FILTER = _DropKeyPreferenceWarning()


_tls_lock = threading.Lock()
_tls: dict[tuple[str | None, str | None], dict[str, Any]] = {}


def tls_options() -> dict[str, Any]:
    """``HttpOptions`` fields that hand a client the TLS context the SDK would make for it, made once per
    process (and per ``SSL_CERT_FILE``/``SSL_CERT_DIR``). Each ``genai.Client`` otherwise loads the CA bundle
    three times (sync, async and websocket contexts): 0.1-0.2 s per client, paid by every build that renders,
    every take the studio renders and every test. The context is the SDK's own choice (certifi or the
    system store, the variables honoured); if its private helper ever goes away, the client makes its own."""
    where = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _tls_lock:
        if where not in _tls:
            try:
                from google.genai import types
                from google.genai._api_client import BaseApiClient

                context = BaseApiClient._ensure_httpx_ssl_ctx(types.HttpOptions())[0]["verify"]
                _tls[where] = {"client_args": {"verify": context},
                               "async_client_args": {"verify": context, "ssl": context}}
            except Exception:  # noqa: BLE001 - an SDK without the helper: each client makes its own context
                _tls[where] = {}
        return _tls[where]


class GeminiBackend(Backend):
    name = "gemini"
    default_jobs = 4
    default_rpm = KNOWN_MODELS[DEFAULT_MODEL].default_rpm
    paid = True
    default_model = DEFAULT_MODEL
    default_voice = "Kore"
    env_variables = KEY_VARIABLES
    priority = 100  # a configured paid service renders the real thing: it wins over drafts

    def __init__(self, *, timeout: float | None = None):
        super().__init__(timeout=timeout)
        self._lock = threading.Lock()
        self._client: Any = None
        self._types: Any = None
        self._warm = False
        self._key: str | None = None  # kept only to scrub it from text; never put into messages
        self._key_var = KEY_VARIABLES[0]

    def __repr__(self) -> str:
        return f"GeminiBackend(timeout={self.timeout!r})"

    # -- Backend interface ---------------------------------------------------------------------------------
    @classmethod
    def voices(cls) -> list[VoiceInfo]:
        return [VoiceInfo(name, character) for name, character in GEMINI_VOICES.items()]

    @classmethod
    def models(cls) -> tuple[str, ...]:
        return tuple(KNOWN_MODELS)

    @classmethod
    def owns_model(cls, model: str) -> bool:
        """A model in the catalog, or one spelled like a newer Gemini TTS model (new ones ship often)."""
        return model in KNOWN_MODELS or looks_like_tts_model(model)

    @classmethod
    def check_voice(cls, voice: str, model: str, cache_root: Path | None = None) -> str | None:
        return check_voice(voice, model, cache_root)

    @classmethod
    def model_for(cls, spec_model: str | None) -> str:
        return spec_model or DEFAULT_MODEL

    @classmethod
    def target(cls, spec_model: str | None) -> Target:
        model = cls.model_for(spec_model)
        info = model_info(model)
        return Target(cls.name, model, sampling=info.sampling, tags=info.tags)

    @classmethod
    def sampling_note(cls, model: str) -> str:
        return " (3.8 models reject sampling settings)"

    @classmethod
    def temperature_warning(cls, model: str, temperature: float, shown: str) -> str | None:
        if not model_info(model).fails_at(temperature):
            return None
        return (f"temperature {shown} is known to fail with {model} (it answers without audio at "
                f"{LOW_TEMPERATURE} or lower); use 0.5 or higher")

    @classmethod
    def rpm_for(cls, model: str) -> float:
        """Requests per minute suited to a tier-1 quota for this model (from ``catalog``)."""
        return model_info(model).default_rpm

    @classmethod
    def prices(cls, model: str) -> tuple[float, float]:
        return prices(model)

    @classmethod
    def price_basis(cls, model: str) -> str:
        return price_basis(model)

    @classmethod
    def speaking_rate(cls, model: str, language: str | None) -> float:
        return chars_per_second(language)

    @classmethod
    def tokens(cls, request: RenderRequest) -> tuple[int, int]:
        return estimate_tokens(request)

    @classmethod
    def tag_names(cls, model: str) -> frozenset[str] | None:
        return model_info(model).tag_names

    @classmethod
    def request_chars(cls, model: str, language: str | None) -> int:
        """Seconds a request may hold on ``model`` (a share of its output cap, at most compile's
        MAX_REQUEST_SECONDS) at ``language``'s speaking rate: 3,360 characters of English, 1,200 of Chinese."""
        return int(model_info(model).request_seconds() * chars_per_second(language))

    def prepare(self) -> None:
        """Create the client now (import google-genai, read the key) instead of inside the first attempt.

        Call before starting rate-limited workers: otherwise the first attempts, whose limiter slots are
        already taken, reach the server ~0.5 s late and bunch up with the next window's.
        Raises ``BackendError`` (not retryable) when no API key is set.
        """
        _, types = self._ensure_client()
        self._warm_up(types)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # closing sockets must not turn a finished build into a failure
                log.debug("closing the google-genai client failed", exc_info=False)

    def render(self, request: RenderRequest) -> Rendered:
        client, types = self._ensure_client()
        info = model_info(request.model)
        if len(request.speakers) > info.max_speakers:
            raise BackendError(f"{request.model} takes at most {info.max_speakers} speakers per request, this "
                               f"one has {len(request.speakers)} ({', '.join(request.speakers)}); this is a "
                               "podpipe bug: the compiler splits dialogues", retryable=False)
        contents, config = self._build(request, types)
        log.debug("gemini request: model=%s speakers=%d characters=%d", request.model, len(request.speakers),
                  request.characters)
        try:
            response = client.models.generate_content(model=request.model, contents=contents, config=config)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a classified BackendError
            error = classify(exc, request.model, scrub=self.scrub, timeout=self.timeout, key_var=self._key_var)
            if error.final_if_repeated:
                error = language_500(error, request)
            log.debug("gemini attempt failed: %s", error)
            raise error from None
        billed = usage(response)
        try:
            return Rendered(read_answer(response, request, self.scrub), billed)
        except BackendError as error:
            error.billed = billed if billed.total_tokens else None  # a failed attempt is billed all the same
            raise

    @classmethod
    def listing(cls, cache_root: Path, *, refresh: bool = False) -> VoiceListing:
        """Every voice the API offers, from the list kept in ``cache_root`` or, with a key, fetched (and
        kept) when there is none or ``refresh``; without either, the 30 prebuilt voices."""
        library = None if refresh else load_library(cache_root)
        has_key = any(os.environ.get(v) for v in KEY_VARIABLES)
        if refresh and not has_key:
            raise UsageError("voices --refresh needs an API key: set GEMINI_API_KEY (or GOOGLE_API_KEY)")
        if library is None and has_key:
            backend = cls()
            try:
                library = backend.voice_library()
            except BackendError as exc:
                raise RenderError(str(exc)) from None
            finally:
                backend.close()
            save_library(cache_root, library)
        if library is None:
            return VoiceListing(tuple(f"{v.name:<20} {'prebuilt':<10} {'':<6} {v.description}" for v in cls.voices()),
                                "the 30 prebuilt voices; set GEMINI_API_KEY and run `podpipe voices --backend "
                                "gemini` to list the Extended Voice Library and your custom voices too (3.8 models)")
        return VoiceListing(tuple(f"{v.id:<20} {v.type:<10} {v.language:<6} {v.description}".rstrip()
                                  for v in library.voices),
                            f"list fetched {library.fetched}; --refresh fetches it again; library and custom "
                            "voices need a 3.8 model")

    def voice_library(self) -> VoiceLibrary:
        """The live voice list (custom voices, the prebuilt ones, the Extended Voice Library) through the
        SDK's Voices API, every page. Raises BackendError with the cause and the fix."""
        from datetime import datetime, timezone

        client, _ = self._ensure_client()
        found: dict[str, LibraryVoice] = {}
        token = None
        for _ in range(MAX_VOICE_PAGES):
            try:
                page = client.voices.list(page_size=VOICE_PAGE_SIZE, page_token=token)
            except Exception as exc:  # noqa: BLE001 - every failure becomes one message with the fix
                code = getattr(exc, "status_code", None) or getattr(exc, "code", None)
                fix = (f": check {self._key_var}" if code in (400, 401, 403) else
                       f"; check {BASE_URL_VARIABLE}" if code == 404 and os.environ.get(BASE_URL_VARIABLE) else
                       "; try again later" if code is None or int(code) >= 429 else "")
                raise BackendError(f"listing Gemini voices failed ({type(exc).__name__}"
                                   f"{f' {code}' if code else ''}: {self.scrub(str(exc))}){fix}",
                                   retryable=False) from None
            for v in page.voices or ():
                name = v.id or v.display_name
                if name:  # a replication key has no id and is never listed
                    found.setdefault(name, LibraryVoice(name, str(v.type or ""), v.description or "",
                                                        v.language_code or "", v.gender or "", v.accent or ""))
            token = page.next_page_token
            if not token:
                break
        return VoiceLibrary(tuple(found.values()), datetime.now(timezone.utc).isoformat(timespec="seconds"))

    # -- internals -----------------------------------------------------------------------------------------
    def _ensure_client(self) -> tuple[Any, Any]:
        with self._lock:
            if self._client is None:
                key, var = api_key()
                self._key, self._key_var = key, var
                try:
                    from google import genai
                    from google.genai import types
                    logging.getLogger("google_genai._api_client").addFilter(_KEY_WARNING_FILTER)  # idempotent
                    timeout = DEFAULT_TIMEOUT if self.timeout is None else self.timeout
                    options = types.HttpOptions(timeout=max(1, round(timeout * 1000)),  # milliseconds
                                                retry_options=types.HttpRetryOptions(attempts=1),
                                                **tls_options())
                    self._client = genai.Client(api_key=key, vertexai=False, http_options=options)
                    self._types = types
                except Exception as exc:  # noqa: BLE001
                    raise BackendError(f"could not set up the google-genai client: {type(exc).__name__}: "
                                       f"{self.scrub(str(exc))}", retryable=False) from None
            return self._client, self._types

    def quota_scope(self) -> str:
        """Gemini's rate limits are per project, and a key belongs to one project: the first 16 hex digits of
        the key's sha256 name the limit, so machines sharing a key share it; the key itself never leaves."""
        try:
            key, _ = api_key()
        except BackendError:
            return self.name
        return "gemini-" + hashlib.sha256(key.encode()).hexdigest()[:16]

    def scrub(self, text: str) -> str:
        """Text from the SDK or the server with the API key (and anything key-shaped) replaced by ***."""
        if self._key:
            text = text.replace(self._key, "***")
        text = KEY_PARAM.sub(r"\1***", KEY_LIKE.sub("***", text))
        return text if len(text) <= 300 else text[:297] + "..."

    def _warm_up(self, types: Any) -> None:
        """Build the SDK's request and response models once, before any worker starts.

        pydantic builds a model's validator on first use; in google-genai that is ~50 ms of CPU inside the
        first ``generate_content``, which holds the GIL while the other workers wait to send, so every
        worker's first attempt would go out late. Building them here costs the same once, off the clock.
        """
        with self._lock:
            if self._warm:
                return
            self._warm = True
        import importlib
        import typing

        import pydantic

        importlib.import_module("podpipe.audio")  # decode_audio imports it for WAV answers

        seen: set[type] = set()
        todo: list[Any] = [types.GenerateContentResponse, types.GenerateContentConfig, types.Content,
                           getattr(types, "_GenerateContentParameters", None)]  # what generate_content validates
        while todo:  # every model reachable through field annotations, each built once
            node = todo.pop()
            if isinstance(node, type) and issubclass(node, pydantic.BaseModel):
                if node not in seen and node is not pydantic.BaseModel:
                    seen.add(node)
                    node.model_rebuild(raise_errors=False)
                    todo.extend(f.annotation for f in node.model_fields.values())
            elif node is not None:
                todo.extend(typing.get_args(node))

    def _build(self, request: RenderRequest, types: Any) -> tuple[Any, Any]:
        voices = speaker_voices(request)
        info = model_info(request.model)

        def voice(name: str) -> Any:
            if info.voice_ids:  # 3.8+: one field for prebuilt, library and custom voices alike
                return types.VoiceConfig(voice=name)
            return types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=name))

        if request.multi_speaker:
            speech = types.SpeechConfig(
                multi_speaker_voice_config=types.MultiSpeakerVoiceConfig(speaker_voice_configs=[
                    types.SpeakerVoiceConfig(speaker=label, voice_config=voice(v)) for label, v in voices.items()]),
                language_code=request.language)
        else:
            speech = types.SpeechConfig(voice_config=voice(next(iter(voices.values()))),
                                        language_code=request.language)
        if info.dialect == DIALECT_METADATA:
            parts = [types.Part(text=p["text"], speech_metadata=types.SpeechMetadata(**p["speech_metadata"])
                                if "speech_metadata" in p else None) for p in metadata_parts(request)]
        else:
            parts = [types.Part(text=transcript_text(request))]
        config = types.GenerateContentConfig(
            response_modalities=["AUDIO"], speech_config=speech,
            # compile drops it for these models already; the wire is where a 400 would come from
            temperature=request.temperature if info.sampling else None,
            # one HTTP request per attempt: no continuation hops, no function-calling loop
            automatic_continuation=False,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
        return [types.Content(role="user", parts=parts)], config
