"""A loopback stand-in for the Gemini REST endpoint, so the real google-genai client can be tested offline.

It speaks what google-genai 3.x sends (``POST /{v1,v1beta,v1alpha}/models/{model}:generateContent`` with an
``x-goog-api-key`` header, camelCase outer keys and snake_case or camelCase keys inside ``speechConfig``),
checks requests the way the Gemini 3.8 service does (key, model, response modality, sampling settings,
voices, at most two speakers, speaker labels that match), and answers like the service: a whole WAV
(``audio/wav``) for 3.8 models, raw little-endian ``audio/L16;codec=pcm;rate=24000`` for 2.5/3.1, base64 in
``inlineData``, with ``usageMetadata``. The audio is a tone whose length follows the text read aloud
(``CHARS_PER_SECOND``; the 2.5/3.1 directions, ``read_aloud``, are not read), so it passes a backend's sanity
checks and take review. Models not in ``server.models`` (``MODELS`` + newer ones a test adds) get 404.

Model rules (checked 2026-12):

* Sampling: 3.8 models (the ``"wav"`` entries of ``MODELS``) reject ``temperature``, ``topP``/``top_p`` and
  ``topK``/``top_k`` in ``generationConfig`` with 400 INVALID_ARGUMENT "<field> is not supported for this
  model" (the first one present). 2.5 and 3.1 accept them; on 2.5 a temperature <= 0.4 ends with
  finishReason OTHER and no audio (``StandIn(low_temperature_fails=False)`` turns that off).
* Voices: ``voice_config.prebuilt_voice_config.voice_name`` takes only the 30 prebuilt voices (``VOICES``)
  on every model. 3.8 models also take ``voice_config.voice`` (single speaker and in each multi-speaker
  ``voice_config``): a prebuilt name, a name from the Extended Voice Library (``LIBRARY``, ``LIBRARY_NAMES``)
  or a custom voice id (``voice_...`` stored voice, ``voicekey_...`` replication key) registered in
  ``server.custom_voices``. Unknown names: 400 "Voice name X is not supported."; ``voice`` together with
  ``prebuilt_voice_config``: 400; ``voice`` on 2.5/3.1: 400 "voice_config.voice is not supported by
  models/X; use prebuilt_voice_config.voice_name". "Uranus" is never a voice.

Voices API, as google-genai 3.6.1's ``client.voices.list(...)`` / ``client.voices.get(id)`` call it (same
key check as generateContent: 401 without a key, 400 API_KEY_INVALID with a wrong one):

* ``GET /{v1,v1beta,v1alpha}/voices?page_size=N&page_token=T&search=S&type=prebuilt&type=prompted
  &language_code=en-US&gender=female&accent=..&persona=..&pitch=..&region_code=..&context=..`` (list filters
  repeat the parameter, OR within a filter, case-insensitive exact match; ``search`` is a substring of
  ``display_name`` or ``description``) answers ``{"voices": [...], "next_page_token": "..."}`` in snake_case
  (the key is left out on the last page). Order: custom stored voices (``voice_...``, newest first, i.e. the
  reverse of ``custom_voices`` insertion order; ``voicekey_...`` keys are never listed), then the 30
  prebuilt voices, then ``LIBRARY``. Page size defaults to 50, values above 1000 count as 1000; a page
  token is opaque and tied to the filters, a bad one is a 400.
* ``GET /{version}/voices/{id}`` answers one custom stored voice, or 404 (prebuilt and library voices are
  only listed, as the service documents; so are ``voicekey_...`` keys).

Custom voices: ``StandIn(custom_voices={"voice_abc123": "My narrator"})`` (a value is a display name or a
dict of voice fields such as ``type``, ``description``, ``language_code``) replaces the defaults
(``DEFAULT_CUSTOM_VOICES``); ``server.custom_voices`` may be changed while the server runs.

Faults are injected on demand, each consumed by one request:

    server.script(["429", "500", None])           # next three requests: 429, 500, then a normal answer
    server.script([Fault("429", retry_delay="53s")])
    server.fault_fn = lambda rec: Fault("503") if (rec.model or "").startswith("gemini-2.5") else None
    server.fail_first_attempts(0.3, kinds=("429", "500", "other"))  # 30 % of distinct bodies fail once
    server.latency = 0.2                           # every answer leaves 0.2 s after its request arrived
    server.hold(after=2)                           # answer 2 generate requests, hold the later ones...
    server.wait_held(2)                            # ...until 2 are held (the client waits on them: an event)
    server.release()                               # answer them

Fault kinds: "429" (RESOURCE_EXHAUSTED + RetryInfo ``retry_delay``), "500", "502", "503", "504", "408",
"400" (INVALID_ARGUMENT, ``message``), "400-key" (API_KEY_INVALID), "403", "404", "hang" (no answer for
``seconds`` or until the server stops), "other" (200, finishReason OTHER, no content), "max-tokens"
(200, finishReason MAX_TOKENS with the first half of the audio), "refusal" (200, finishReason ``reason``,
default SAFETY, no content, the prompt's tokens billed), "blocked" (200, ``promptFeedback.blockReason``
``reason``, no candidates), "text" (a text part instead of audio), "empty-wav" (a
44-byte WAV), "garbled" (base64 that does not decode), "truncated" (base64 cut mid-way), "mime" (audio
labelled ``mime``), "silence" (full-length digital silence), "close" (drop the connection, no answer),
"echo-key" (a 400 whose message quotes the API key back, as some proxies do), "ok" / None (normal).

A project-wide quota, as Gemini enforces per project and model (shared by every client and key of the
project): ``server.set_quota(60, window=1.0)`` answers at most 60 generate requests in each 1-second window
(windows aligned on the clock, like the service's per-minute buckets; a test scales the minute down) and
refuses the rest with 429 RESOURCE_EXHAUSTED and a ``RetryInfo`` delay to the next window. Refused requests
do not count against it. ``server.quota_answered`` / ``quota_refused`` count them; a refused request's
``rec.fault`` is "quota". ``server.busiest_window()`` is the most requests answered within one window.

How the real service fails on its own, request by request (no script needed; each the same every time):

    server.refuse_words = {"forbidden"}   # text containing one: 200, finishReason SAFETY, no audio, billed
    server.max_output_seconds = 4.0        # longer takes: finishReason MAX_TOKENS, audio cut at 4 s, billed
    server.languages = {"en-US", "de-DE"}  # any other language_code: the same 500 INTERNAL every time

Take faults (``TAKE_FAULTS``): a 200 with finishReason STOP and audio that is wrong the way real takes go
wrong silently: "read-thrice" (the text read three times over), "cut" (the voice stops a third of the way
in), "dead-air" (five seconds of silence inserted mid-line), "noise" (static of the same loudness instead of
speech). ``server.bad_first_takes(kinds)`` gives the first request of every other distinct body one of them
(``server.bad_bodies`` then maps those bodies' digests to their faults; ``body_digest(rec)`` is a request's).

Voices requests (valid ones, like generateContent) take faults too: scripted ones and ``fault_fn`` (whose
``rec.model`` is None for them). The HTTP-error kinds, "hang" and "close" apply; the kinds that shape an
audio answer ("other", "text", "garbled", ...) do not, so the voices request is answered normally and its
``rec.fault`` stays None. ``server.voices_faults = False`` keeps voices requests away from faults entirely
(they then consume no scripted fault). Note that google-genai retries voices requests on 408/429/5xx
(``HttpOptions(retry_options=HttpRetryOptions(attempts=1))`` turns that off).

Every request is recorded (``server.requests``; ``server.generate_requests()`` and
``server.voices_requests()`` split them): arrival time (``time.monotonic``), method, path, query
(``parse_qs`` lists, API key removed), headers without the API key, parsed body, the fault injected, the
status sent, and for voices requests the ids answered (``voice_ids``). Run it standalone for manual tests
or benchmarks: ``python -m tests.support.standin --latency 0.2 --fail-first 0.3`` prints the base URL to export as
``GOOGLE_GEMINI_BASE_URL``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import re
import struct
import threading
import time
import urllib.parse
import wave
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAKE_API_KEY = "AIza" "SyStandInFakeKey-0123456789abcdefgh"  # split: a key-shaped literal trips secret scanners
RATE = 24000
CHARS_PER_SECOND = 15.0  # speech runs at ~14-15 characters per second
MIN_SECONDS = 0.5
MAX_BODY = 2_000_000  # bytes; larger requests get 413 (the real limit is tokens, far below this)
DEFAULT_HANG = 30.0  # seconds a "hang" fault holds the connection at most


@dataclass(frozen=True)
class CatalogVoice:
    """A catalog voice (prebuilt or Extended Voice Library) as ``GET /voices`` lists it."""

    name: str
    description: str
    language_code: str
    gender: str
    accent: str
    pitch: str = "medium"
    persona: str | None = None
    context: str | None = None

    def resource(self) -> dict:
        out = {"type": "prebuilt", "id": self.name, "display_name": self.name, "description": self.description,
               "language_code": self.language_code, "region_code": self.language_code.rpartition("-")[2],
               "gender": self.gender, "accent": self.accent, "pitch": self.pitch}
        if self.persona:
            out["persona"] = self.persona
        if self.context:
            out["context"] = self.context
        return out


def _catalog(rows: str) -> tuple[CatalogVoice, ...]:
    """One voice a line: name | language | gender | accent | pitch | persona | context | description."""
    out = []
    for line in rows.strip().splitlines():
        name, lang, gender, accent, pitch, persona, context, description = (x.strip() for x in line.split("|"))
        out.append(CatalogVoice(name, description, lang, gender, accent, pitch, persona or None, context or None))
    return tuple(out)


# The 30 prebuilt voices, in the order the service lists them (style words as Google documents them).
PREBUILT = _catalog("""
Zephyr | en-US | female | American | high | Bright | Conversational | Bright
Puck | en-US | male | American | medium | Upbeat | Conversational | Upbeat
Charon | en-US | male | American | low | Informative | News | Informative
Kore | en-US | female | American | medium | Firm | Narration | Firm
Fenrir | en-US | male | American | medium | Excitable | Conversational | Excitable
Leda | en-US | female | American | high | Youthful | Conversational | Youthful
Orus | en-US | male | American | low | Firm | Narration | Firm
Aoede | en-US | female | American | medium | Breezy | Conversational | Breezy
Callirrhoe | en-US | female | American | medium | Easy-going | Conversational | Easy-going
Autonoe | en-US | female | American | high | Bright | Conversational | Bright
Enceladus | en-US | male | American | low | Breathy | Narration | Breathy
Iapetus | en-US | male | American | medium | Clear | News | Clear
Umbriel | en-US | male | American | medium | Easy-going | Conversational | Easy-going
Algieba | en-US | male | American | low | Smooth | Narration | Smooth
Despina | en-US | female | American | medium | Smooth | Narration | Smooth
Erinome | en-US | female | American | medium | Clear | News | Clear
Algenib | en-US | male | American | low | Gravelly | Narration | Gravelly
Rasalgethi | en-US | male | American | medium | Informative | News | Informative
Laomedeia | en-US | female | American | high | Upbeat | Conversational | Upbeat
Achernar | en-US | female | American | medium | Soft | Narration | Soft
Alnilam | en-US | male | American | low | Firm | News | Firm
Schedar | en-US | male | American | medium | Even | Narration | Even
Gacrux | en-US | female | American | low | Mature | Narration | Mature
Pulcherrima | en-US | female | American | medium | Forward | Commercial | Forward
Achird | en-US | male | American | medium | Friendly | Conversational | Friendly
Zubenelgenubi | en-US | male | American | medium | Casual | Conversational | Casual
Vindemiatrix | en-US | female | American | medium | Gentle | Narration | Gentle
Sadachbia | en-US | male | American | high | Lively | Commercial | Lively
Sadaltager | en-US | male | American | medium | Knowledgeable | News | Knowledgeable
Sulafat | en-US | female | American | medium | Warm | Conversational | Warm
""")
VOICES = frozenset(v.name for v in PREBUILT)

# The Extended Voice Library (3.8 models, ``voice_config.voice`` only): made-up but realistic voices, in
# listing order. Names may have several words and non-ASCII letters.
LIBRARY = _catalog("""
Amberly | en-US | female | American | medium | Warm, Friendly | Podcast | Warm, bright, conversational podcast host
Brisbane Kate | en-AU | female | Australian | high | Cheerful | Conversational | Sunny, quick-witted storyteller
Marcus Hale | en-US | male | American | low | Authoritative | News | Deep, measured newsreader with calm authority
Dorothea | en-GB | female | British | medium | Gentle | Audiobook | Gentle and unhurried; made for bedtime stories
Océane | fr-FR | female | French | medium | Warm, Friendly | Narration | Soft, airy narrator with a smile
Søren | da-DK | male | Danish | low | Calm | News | Dry, precise delivery, calm and trustworthy
Zoë Whitfield | en-GB | female | British | high | Lively | Podcast | Crisp, lively and articulate co-host
José Luis | es-ES | male | Castilian | medium | Friendly | Conversational | Friendly, relaxed Castilian speaker
Renée Moreau | fr-CA | female | Canadian French | medium | Elegant | Commercial | Poised, with a Québécois lilt
Björn Lindqvist | sv-SE | male | Swedish | low | Calm | Documentary | Calm, deep and woody documentary voice
Uncle Ray | en-US | male | Southern US | low | Folksy | Storytelling | Folksy, gravelly Southern raconteur
Grandma Pearl | en-US | female | Southern US | medium | Warm, Friendly | Storytelling | Sweet, slow and grandmotherly
Priya Raman | en-IN | female | Indian | medium | Professional | Education | Clear, professional explainer
Rahul Menon | en-IN | male | Indian | medium | Friendly | Conversational | Bright, friendly and fast-paced
Siobhán | en-IE | female | Irish | medium | Warm, Friendly | Podcast | Lilting, warm Irish host
Callum Fraser | en-GB | male | Scottish | low | Narrator | Audiobook | Rich Scottish narrator with a steady pace
Tomasz | pl-PL | male | Polish | medium | Professional | News | Neutral, professional Polish presenter
Łucja | pl-PL | female | Polish | high | Youthful | Conversational | Youthful and quick, with a playful edge
Matías | es-AR | male | Argentine | medium | Charismatic | Commercial | Charismatic Rioplatense voice with swing
Ximena | es-MX | female | Mexican | medium | Warm, Friendly | Podcast | Warm, expressive Mexican host
Luana Rocha | pt-BR | female | Brazilian | medium | Cheerful | Commercial | Sunny and rhythmic Brazilian voice
João Pedro | pt-BR | male | Brazilian | low | Calm | Narration | Laid-back, velvety Brazilian narrator
Giulia | it-IT | female | Italian | medium | Expressive | Conversational | Expressive and musical Italian speaker
Lorenzo Bassi | it-IT | male | Italian | low | Authoritative | Documentary | Resonant documentary voice
Annika | de-DE | female | German | medium | Professional | Education | Clear, patient German teacher
Jürgen | de-DE | male | German | low | Authoritative | News | Firm, precise German anchor
Henrike | de-AT | female | Austrian | medium | Warm, Friendly | Conversational | Warm Viennese charm
Daan | nl-NL | male | Dutch | medium | Casual | Podcast | Easygoing Dutch podcaster
Femke | nl-NL | female | Dutch | high | Lively | Commercial | Energetic, upbeat Dutch voice
Haruto | ja-JP | male | Japanese | medium | Calm | Narration | Calm, polite Japanese narrator
Yui Tanaka | ja-JP | female | Japanese | high | Cheerful | Conversational | Bright and friendly Japanese voice
Min-jun | ko-KR | male | Korean | medium | Professional | News | Crisp Korean presenter
Seo-yeon | ko-KR | female | Korean | medium | Gentle | Audiobook | Gentle, soothing Korean storyteller
Wei Chen | zh-CN | male | Mandarin | medium | Professional | Education | Measured Mandarin lecturer
Mei Lin | zh-TW | female | Taiwanese Mandarin | high | Warm, Friendly | Conversational | Soft, friendly Taiwanese voice
Nadia Haddad | ar-EG | female | Egyptian | medium | Expressive | Storytelling | Expressive Cairo storyteller
Omar Farouk | ar-SA | male | Gulf | low | Authoritative | News | Deep, formal Gulf Arabic anchor
Elif | tr-TR | female | Turkish | medium | Warm, Friendly | Podcast | Warm and curious Turkish host
Chidi Okafor | en-NG | male | Nigerian | low | Charismatic | Podcast | Confident Lagos radio voice
Amara | en-ZA | female | South African | medium | Professional | Commercial | Polished South African presenter
Jasper Cole | en-US | male | American | low | Relaxed | Radio | Relaxed late-night radio voice
Harper | en-US | female | American | high | Upbeat | Education | Upbeat, clear explainer
Theo Banks | en-GB | male | British | medium | Witty | Podcast | Brisk, witty London presenter
Winnie | en-NZ | female | New Zealand | medium | Casual | Conversational | Casual, friendly Kiwi voice
Lachlan | en-AU | male | Australian | medium | Casual | Sports | Laid-back Australian commentator
Rosalind Pike | en-GB | female | British | low | Narrator | Audiobook | Mature, velvety audiobook narrator
Eddie Marsh | en-US | male | American | high | Excitable | Sports | Fast-talking sports commentator
Sunny Delgado | en-US | female | American | high | Cheerful | Commercial | Bubbly commercial voice
Walter Brooks | en-US | male | American | low | Narrator | Documentary | Elderly, warm documentary narrator
Ingrid | nb-NO | female | Norwegian | medium | Calm | Narration | Cool, calm Norwegian narrator
Helmi | fi-FI | female | Finnish | medium | Gentle | Audiobook | Quiet, gentle Finnish reader
Mihai | ro-RO | male | Romanian | medium | Friendly | Conversational | Friendly Romanian speaker
Nikolai Petrov | ru-RU | male | Russian | low | Authoritative | Documentary | Deep, deliberate Russian narrator
Dasha | ru-RU | female | Russian | medium | Lively | Podcast | Lively Russian co-host
Ananya | hi-IN | female | Hindi | medium | Warm, Friendly | Conversational | Warm Hindi speaker
Rohan Mehta | hi-IN | male | Hindi | medium | Professional | News | Crisp Hindi newsreader
Linh Nguyễn | vi-VN | female | Vietnamese | high | Gentle | Narration | Gentle Vietnamese narrator
Kofi Mensah | en-GH | male | Ghanaian | medium | Warm, Friendly | Storytelling | Warm Accra storyteller
Maëlle | fr-BE | female | Belgian French | medium | Playful | Conversational | Playful Belgian French voice
Gustavo | pt-PT | male | European Portuguese | low | Calm | Narration | Calm European Portuguese narrator
Ciarán Doyle | en-IE | male | Irish | medium | Witty | Podcast | Quick, witty Dublin co-host
Beatriz | es-CO | female | Colombian | medium | Professional | Education | Clear, warm Colombian presenter
""")
LIBRARY_NAMES = frozenset(v.name for v in LIBRARY)
# Custom voices a new StandIn knows (id -> display name or voice fields); ``voicekey_`` ids are replication keys.
DEFAULT_CUSTOM_VOICES: dict[str, str | dict] = {
    "voice_podpipe0001": {"type": "prompted", "display_name": "Podpipe narrator",
                          "description": "A calm, warm mid-range narrator for long-form podcasts."},
    "voice_podpipe0002": {"type": "replicated", "display_name": "Podpipe host (replica)",
                          "description": "Replica of the podpipe test host's own voice."},
    "voicekey_podpipe0001": {"type": "replicated", "display_name": "Client-held replica key"},
}
CUSTOM_MODEL = "gemini-3.8-flash-tts"  # what a custom voice says it was designed with
CUSTOM_EXPIRE = "2027-12-01T00:00:00Z"
assert len(VOICES) == 30 and len(LIBRARY_NAMES) == len(LIBRARY) and not VOICES & LIBRARY_NAMES
assert "Uranus" not in VOICES | LIBRARY_NAMES  # a name clients like to guess; never a valid voice
# model -> response shape; "wav" models speak the 3.8 dialect: per-part speechMetadata, voice_config.voice,
# and no temperature/topP/topK
MODELS = {
    "gemini-3.8-flash-tts": "wav",
    "gemini-3.8-flash-lite-tts": "wav",
    "gemini-3.1-flash-tts-preview": "pcm",
    "gemini-2.5-flash-preview-tts": "pcm",
    "gemini-2.5-pro-preview-tts": "pcm",
}
PCM_MIME = "audio/L16;codec=pcm;rate=24000"
_PATH = re.compile(r"^/(v1|v1beta|v1alpha)/models/([^/:?]+):generateContent$")
_VOICES_PATH = re.compile(r"^/(v1|v1beta|v1alpha)/voices(?:/(.+))?$")
SAMPLING_FIELDS = (("temperature", "temperature"), ("topP", "top_p"), ("topK", "top_k"))  # 3.8 rejects these
_SAMPLING_NAMES = frozenset(n for pair in SAMPLING_FIELDS for n in pair)
LIST_FILTERS = ("type", "language_code", "region_code", "gender", "accent", "persona", "pitch", "context")
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000
# the fault kinds a voices request can take; the rest shape an audio answer
_VOICES_FAULTS = frozenset({"429", "500", "502", "503", "504", "408", "400", "400-key", "403", "404", "hang",
                            "close", "echo-key"})
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           408: "DEADLINE_EXCEEDED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
           502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


TAKE_FAULTS = ("read-thrice", "cut", "dead-air", "noise")
DEAD_AIR_SECONDS = 5.0


def body_digest(rec: Recorded) -> bytes:
    """What identifies a request's text and settings (its body, canonical)."""
    return hashlib.sha256(json.dumps(rec.body, sort_keys=True).encode()).digest()


def bad_take(kind: str, pcm: bytes, rate: int = RATE) -> bytes:
    """``pcm`` (s16le mono) spoiled the way take fault ``kind`` says."""
    if kind == "read-thrice":
        return pcm * 3
    if kind == "cut":
        return pcm[: len(pcm) // 6 * 2]
    if kind == "dead-air":
        middle = len(pcm) // 4 * 2
        return pcm[:middle] + bytes(int(DEAD_AIR_SECONDS * rate) * 2) + pcm[middle:]
    if kind == "noise":
        import numpy as np

        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        rms = float(np.sqrt(np.mean(samples ** 2))) if len(samples) else 0.0
        noise = np.random.default_rng(len(pcm)).normal(0.0, rms, len(samples))
        return np.clip(noise, -32767, 32767).astype("<i2").tobytes()
    raise ValueError(f"unknown take fault {kind!r}")


@dataclass
class Fault:
    kind: str
    retry_delay: str = "2s"  # 429: RetryInfo.retryDelay as Google spells it ("53s", "1.5s")
    message: str | None = None  # error message override
    seconds: float = DEFAULT_HANG  # hang: how long to hold the connection
    mime: str = "audio/mpeg"  # mime: what the audio is labelled
    reason: str = "SAFETY"  # refusal: the finishReason; blocked: the promptFeedback.blockReason
    quota_id: str = "GenerateRequestsPerMinutePerProjectPerModel"  # 429: which quota ran out


@dataclass
class Recorded:
    t: float  # time.monotonic() when the request arrived
    method: str
    path: str
    headers: dict[str, str]  # lower-case names; the API key header is removed
    body: Any  # parsed JSON, or None when it was not JSON
    model: str | None = None
    key_ok: bool = False
    fault: str | None = None  # the fault injected, None for a normal answer
    status: int | None = None  # HTTP status sent (None: no answer, e.g. hang or close)
    t_end: float | None = None
    usage: dict | None = None  # the usageMetadata answered, for comparing with what the client reports
    deadline: float | None = None  # monotonic time before which no answer is sent (arrival + latency)
    query: dict[str, list[str]] = field(default_factory=dict)  # parse_qs of the query string, key removed
    voice_ids: list[str] | None = None  # voices requests: the ids answered (a list page, or the one voice)

    @property
    def is_voices(self) -> bool:
        return bool(_VOICES_PATH.match(self.path))

    @property
    def texts(self) -> list[str]:
        return [p.get("text", "") for c in (self.body or {}).get("contents", []) for p in c.get("parts", [])]


def answer_pcm(seconds: float, rate: int = RATE, freq: int = 200) -> bytes:
    """The audio the stand-in answers with: a 200 Hz sine as s16le mono bytes, built from one period so even
    minutes of it cost microseconds (test audio as ``Audio`` is ``tests.support.audio.tone``)."""
    period = rate // freq  # 200 Hz at 24 kHz: 120 samples, a whole number, so periods tile seamlessly
    one = struct.pack(f"<{period}h", *(int(8000 * math.sin(2 * math.pi * i / period)) for i in range(period)))
    frames = max(0, int(seconds * rate))
    whole, rest = divmod(frames, period)
    return one * whole + one[: rest * 2]


def wav_bytes(pcm: bytes, rate: int = RATE, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


def _pick(d: dict, *names: str) -> Any:
    """The first of several spellings (camelCase as in the REST docs, snake_case as google-genai sends)."""
    for n in names:
        if isinstance(d, dict) and n in d:
            return d[n]
    return None


class _BadRequest(Exception):
    def __init__(self, code: int, message: str, details: list | None = None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or []


def _voice_name(voice_config: Any) -> str | None:
    prebuilt = _pick(voice_config or {}, "prebuiltVoiceConfig", "prebuilt_voice_config") or {}
    return _pick(prebuilt, "voiceName", "voice_name")


def is_38(model: str) -> bool:
    """Whether a model speaks the 3.8 dialect: the "wav" entries of MODELS; for other names, version >= 3.8
    (names without a version count as new, as the stand-in always assumed)."""
    if model in MODELS:
        return MODELS[model] == "wav"
    v = re.match(r"gemini-(\d+)(?:\.(\d+))?-", model or "")  # gemini-4-flash-tts: version 4.0
    return not v or (int(v.group(1)), int(v.group(2) or 0)) >= (3, 8)


def _resolve_voice(model: str, voice_config: Any, custom: Collection[str]) -> str | None:
    """The voice a voice_config selects, checked like the service (see the module docstring)."""
    if not isinstance(voice_config, dict):
        name = _voice_name(voice_config)
        raise _BadRequest(400, f"Voice name {name} is not supported.")
    voice = voice_config.get("voice")
    prebuilt = _pick(voice_config, "prebuiltVoiceConfig", "prebuilt_voice_config")
    if voice is None or voice == "":
        name = _voice_name(voice_config)
        if name not in VOICES:  # prebuilt_voice_config takes the 30 prebuilt voices only, on every model
            raise _BadRequest(400, f"Voice name {name} is not supported.")
        return name
    if prebuilt:
        raise _BadRequest(400, "voice_config: set either voice or prebuilt_voice_config, not both")
    if not is_38(model):
        raise _BadRequest(400, f"voice_config.voice is not supported by models/{model}; use "
                               "prebuilt_voice_config.voice_name")
    if not isinstance(voice, str):
        raise _BadRequest(400, "Invalid value at 'generation_config.speech_config.voice_config.voice' "
                               f"(TYPE_STRING), {json.dumps(voice)}")
    if voice not in VOICES and voice not in LIBRARY_NAMES and voice not in custom:
        raise _BadRequest(400, f"Voice name {voice} is not supported.")
    return voice


_STYLE_PREFIX = re.compile(r"^Say in this style \(.*?\): ", re.S)


def read_aloud(text: str, speakers: Mapping[str, Any]) -> str:
    """The words of a 2.5/3.1 prompt that a voice speaks, without the directions around them."""
    text = _STYLE_PREFIX.sub("", text, count=1)
    lines = text.split("\n")
    if speakers and lines and lines[0].startswith("TTS the following conversation"):
        lines = lines[1:]
    out = []
    for line in lines:
        label, sep, rest = line.partition(": ")
        out.append(rest if sep and label in speakers else line)
    return "\n".join(out)


def check_request(model: str, body: Any, custom_voices: Collection[str] | None = None) -> dict:
    """Validate a generateContent body like the service; returns what the answer needs. ``custom_voices``:
    the custom voice ids ``voice_config.voice`` may name (default: those of DEFAULT_CUSTOM_VOICES)."""
    custom = DEFAULT_CUSTOM_VOICES if custom_voices is None else custom_voices
    if not isinstance(body, dict):
        raise _BadRequest(400, "Invalid JSON payload received.")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise _BadRequest(400, "* GenerateContentRequest.contents: contents is not specified")
    parts = [p for c in contents for p in (c.get("parts") or [])]
    if not parts or not all(isinstance(p.get("text"), str) and p["text"].strip() for p in parts):
        raise _BadRequest(400, "* GenerateContentRequest.contents.parts: text must be non-empty")
    gen = _pick(body, "generationConfig", "generation_config") or {}
    modalities = _pick(gen, "responseModalities", "response_modalities") or []
    if [m.upper() for m in modalities] != ["AUDIO"]:
        raise _BadRequest(400, "The requested combination of response modalities is not supported by the "
                               "model. models/%s accepts the following combination of response "
                               "modalities:\n* AUDIO" % model)
    if is_38(model):
        for key in gen:
            if key in _SAMPLING_NAMES and gen[key] is not None:
                raise _BadRequest(400, f"{key} is not supported for this model")
    speech = _pick(gen, "speechConfig", "speech_config") or {}
    single = _pick(speech, "voiceConfig", "voice_config")
    multi = _pick(speech, "multiSpeakerVoiceConfig", "multi_speaker_voice_config")
    if single and multi:
        raise _BadRequest(400, "speech_config: set either voice_config or multi_speaker_voice_config, not both")
    speakers: dict[str, Any] = {}
    if multi:
        configs = _pick(multi, "speakerVoiceConfigs", "speaker_voice_configs") or []
        for c in configs:
            speakers[c.get("speaker") or ""] = _pick(c, "voiceConfig", "voice_config")
        if len(configs) != 2 or len(speakers) != 2 or "" in speakers:
            raise _BadRequest(400, "multi_speaker_voice_config must have exactly 2 distinct named speakers, "
                                   f"got {len(configs)}")
        speakers = {label: _resolve_voice(model, vc, custom) for label, vc in speakers.items()}
    voices = list(speakers.values()) if multi else [_resolve_voice(model, single, custom)] if single else []
    metadata = [_pick(p, "speechMetadata", "speech_metadata") for p in parts]
    if any(metadata) and not is_38(model):
        raise _BadRequest(400, "speech_metadata is not supported by models/%s" % model)
    for m in metadata:
        label = (m or {}).get("speaker")
        if label is not None and label not in speakers:
            raise _BadRequest(400, f"speech_metadata.speaker {label!r} does not match any speaker in "
                                   "multi_speaker_voice_config")
    text = "\n".join(p["text"] for p in parts)
    if multi and not any(metadata):
        # the "Name: line" dialect: every configured speaker must be named at the start of a line
        for label in speakers:
            if not re.search(rf"^{re.escape(label)}:", text, re.M):
                raise _BadRequest(400, f"speaker {label!r} of multi_speaker_voice_config does not appear "
                                       "as 'Name:' in the text")
    # what a voice reads aloud: the 2.5/3.1 directions ("Say in this style (...): ", the "TTS the following
    # conversation ..." line, "Name: " labels) are instructions, not speech, so they do not lengthen the take
    spoken = sum(len(p["text"]) for p in parts) if any(metadata) else len(read_aloud(text, speakers))
    style_chars = sum(len((m or {}).get("style") or "") for m in metadata)
    return {
        "chars": spoken,
        "prompt_chars": spoken + style_chars,
        "temperature": gen.get("temperature"),
        "language": _pick(speech, "languageCode", "language_code"),
        "voices": voices,
    }


# -- the voices API ------------------------------------------------------------------------------------------

def custom_voice_resource(voice_id: str, value: str | Mapping | None) -> dict:
    """The voice resource of a custom voice entry (``custom_voices[voice_id] = value``)."""
    if not voice_id.startswith(("voice_", "voicekey_")):
        raise ValueError(f"custom voice ids start with voice_ or voicekey_, not {voice_id!r}")
    fields = {"display_name": value} if isinstance(value, str) else dict(value or {})
    kind = fields.pop("type", "replicated" if voice_id.startswith("voicekey_") else "prompted")
    out: dict[str, Any] = {"type": kind, "key" if voice_id.startswith("voicekey_") else "id": voice_id,
                           "display_name": voice_id, "description": f"Custom {kind} voice",
                           "language_code": "en-US", "model": CUSTOM_MODEL, "expire_time": CUSTOM_EXPIRE}
    out.update(fields)
    if kind == "prompted":
        out.setdefault("prompted", {"input": out["description"]})
    return out


def catalog(custom_voices: Mapping[str, str | Mapping | None] | None = None) -> list[dict]:
    """Every listable voice in listing order: stored custom voices newest (last added) first, PREBUILT, LIBRARY."""
    custom = DEFAULT_CUSTOM_VOICES if custom_voices is None else custom_voices
    stored = [custom_voice_resource(k, v) for k, v in reversed(list(custom.items())) if k.startswith("voice_")]
    return stored + [v.resource() for v in PREBUILT] + [v.resource() for v in LIBRARY]


def _page_token(offset: int, filters_digest: str) -> str:
    payload = json.dumps({"o": offset, "f": filters_digest}, separators=(",", ":"))
    sig = hashlib.sha256(b"standin-voices" + payload.encode()).hexdigest()[:8]
    return base64.urlsafe_b64encode(f"{sig}{payload}".encode()).decode().rstrip("=")


def _read_page_token(token: str, filters_digest: str, total: int) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        sig, payload = raw[:8], raw[8:]
        data = json.loads(payload)
        ok = isinstance(data, dict) and sig == hashlib.sha256(b"standin-voices" + payload.encode()).hexdigest()[:8]
        offset = data.get("o") if ok else None
    except (ValueError, TypeError, UnicodeDecodeError):
        ok, offset, data = False, None, {}
    if not ok or not isinstance(offset, int) or not 0 <= offset <= total:
        raise _BadRequest(400, "Invalid page_token.")
    if data.get("f") != filters_digest:
        raise _BadRequest(400, "page_token does not match the filter parameters of the request that returned "
                               "it; all filters must match between pages")
    return offset


def list_voices(query: Mapping[str, list[str]], custom_voices: Mapping | None = None) -> dict:
    """Answer a ``GET /voices`` query (``parse_qs`` form) like the service; raises _BadRequest."""
    size_s = ((query.get("page_size") or ["0"])[-1] or "0").strip()
    if not re.fullmatch(r"-?\d+", size_s):
        raise _BadRequest(400, f"Invalid value at 'page_size' (TYPE_INT32), \"{size_s}\"")
    size = int(size_s)
    if size < 0:
        raise _BadRequest(400, "page_size must not be negative")
    size = min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    filters = {k: sorted(v.strip().lower() for v in query.get(k, []) if v.strip()) for k in LIST_FILTERS}
    for k, allowed in (("type", {"prebuilt", "prompted", "replicated"}), ("pitch", {"low", "medium", "high"})):
        bad = [v for v in filters[k] if v not in allowed]
        if bad:
            raise _BadRequest(400, f"Invalid {k} filter {bad[0]!r}; accepts " + ", ".join(sorted(allowed)))
    search = (query.get("search") or [""])[-1]
    if len(search.encode()) > 2048:
        raise _BadRequest(400, "search must be at most 2048 bytes")
    digest = hashlib.sha256(json.dumps([filters, search.lower()]).encode()).hexdigest()[:16]
    needle = search.lower()
    voices = [v for v in catalog(custom_voices)
              if all(not want or str(v.get(k, "")).lower() in want for k, want in filters.items())
              and needle in (str(v.get("display_name", "")) + "\n" + str(v.get("description", ""))).lower()]
    token = (query.get("page_token") or [""])[-1]
    offset = _read_page_token(token, digest, len(voices)) if token else 0
    out: dict[str, Any] = {"voices": voices[offset:offset + size]}
    if offset + size < len(voices):
        out["next_page_token"] = _page_token(offset + size, digest)
    return out


def get_voice(voice_id: str, custom_voices: Mapping | None = None) -> dict:
    """Answer ``GET /voices/{id}``: a stored custom voice; raises _BadRequest(404) for anything else."""
    custom = DEFAULT_CUSTOM_VOICES if custom_voices is None else custom_voices
    if voice_id.startswith("voice_") and voice_id in custom:
        return custom_voice_resource(voice_id, custom[voice_id])
    raise _BadRequest(404, f"Voice voices/{voice_id} not found.")


def error_body(code: int, message: str, details: list | None = None, status: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "status": status or _STATUS.get(code, "UNKNOWN"),
                      **({"details": details} if details else {})}}


class StandIn:
    """The server. Use as a context manager or call start()/stop(); every wait it does is bounded."""

    def __init__(self, *, api_key: str = FAKE_API_KEY, latency: float = 0.0, response_format: str | None = None,
                 low_temperature_fails: bool = True, custom_voices: Mapping[str, str | Mapping] | None = None):
        self.api_key = api_key
        # custom voice id (voice_... stored, voicekey_... replication key) -> display name or voice fields;
        # what voice_config.voice may name besides VOICES and LIBRARY, and what GET /voices lists first
        self.custom_voices: dict[str, str | Mapping] = dict(
            DEFAULT_CUSTOM_VOICES if custom_voices is None else custom_voices)
        for voice_id, value in self.custom_voices.items():
            custom_voice_resource(voice_id, value)  # fail early on a malformed id
        self.voices_faults = True  # False: voices requests take no fault (scripted or fault_fn)
        # seconds from a request's arrival to its answer (faults included); the stand-in's own work of building
        # the answer happens inside this time, so at 200 ms every answer takes 200 ms, as a benchmark assumes
        self.latency = latency
        self.response_format = response_format  # None: by model; "wav", "pcm", or "pcm-spaced"
        self.low_temperature_fails = low_temperature_fails  # 2.5 + temperature <= 0.4 → finishReason OTHER
        self.fault_fn: Callable[[Recorded], Fault | str | None] | None = None
        # the service's own failures, the same for a request every time (see the module docstring)
        self.refuse_words: set[str] = set()  # text containing one (any case) is refused: finishReason SAFETY
        self.max_output_seconds: float | None = None  # the output cap as seconds of audio (None: no cap)
        self.languages: set[str] | None = None  # language codes the model takes (None: every one)
        # the models it serves (name -> "wav" or "pcm"); add a newer one as it ships: gemini-4-flash-tts
        self.models: dict[str, str] = dict(MODELS)
        self.requests: list[Recorded] = []
        self.quota: tuple[int, float] | None = None  # (requests, window seconds): see set_quota
        self.quota_answered = 0
        self.quota_refused = 0
        self._quota_counts: dict[int, int] = {}  # window index -> requests answered in it
        self._script: deque[Fault | None] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._changed = threading.Condition(self._lock)  # notified when an answer is held at the gate
        self._gate_open = True
        self._gate_passes = 0  # answers let through while the gate holds the rest
        self.held = 0  # generate requests whose answer waits at the gate now
        self._seen: set[bytes] = set()
        self.bad_bodies: dict[bytes, str] = {}  # bad_first_takes: digest of each body spoiled -> its take fault
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> StandIn:
        server = self

        class Handler(_Handler):
            standin = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="gemini-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # releases hanging handlers at once
        with self._lock:
            self._changed.notify_all()  # and held ones
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd, "start() the stand-in first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- faults ----------------------------------------------------------------------------------------
    def script(self, faults: Iterable[Fault | str | None]) -> None:
        """Queue faults for the next requests, one each, in order (None or "ok": a normal answer)."""
        with self._lock:
            self._script.extend(_as_fault(f) for f in faults)

    def fail_first_attempts(self, fraction: float, kinds: Iterable[str] = ("429", "500", "other"), *,
                            seed: int = 0, retry_delay: str = "0.05s") -> None:
        """Fail the first request of a ``fraction`` of distinct bodies (chosen by a hash of body and seed,
        so a run is reproducible), cycling through ``kinds``; retries of the same body succeed."""
        kinds = list(kinds)

        def fn(rec: Recorded) -> Fault | None:
            digest = hashlib.sha256(json.dumps(rec.body, sort_keys=True).encode() + str(seed).encode()).digest()
            with self._lock:
                first = digest not in self._seen
                self._seen.add(digest)
            if not first or int.from_bytes(digest[:8], "big") / 2**64 >= fraction:
                return None
            return Fault(kinds[digest[8] % len(kinds)], retry_delay=retry_delay)

        self.fault_fn = fn

    # -- a project-wide quota, shared by every client -----------------------------------------------------
    def set_quota(self, requests: int | None, window: float = 60.0) -> None:
        """At most ``requests`` generate requests answered per ``window`` seconds, all clients together
        (None: no quota)."""
        with self._lock:
            self.quota = (requests, window) if requests else None
            self._quota_counts.clear()
            self.quota_answered = self.quota_refused = 0

    def _take_quota(self) -> Fault | None:
        """Count a request against the quota: None when it may be answered, else the 429 to send."""
        with self._lock:
            if self.quota is None:
                return None
            limit, window = self.quota
            now = time.monotonic()
            index = int(now // window)
            if self._quota_counts.get(index, 0) < limit:
                self._quota_counts[index] = self._quota_counts.get(index, 0) + 1
                self.quota_answered += 1
                return None
            self.quota_refused += 1
            return Fault("429", retry_delay=f"{(index + 1) * window - now:.3f}s")

    def busiest_window(self) -> int:
        """The most requests the quota answered within one of its windows."""
        with self._lock:
            return max(self._quota_counts.values(), default=0)

    # -- gate: hold answers until the test lets them go (tests wait on this event, never on time) ----------
    def hold(self, after: int = 0) -> None:
        """Answer the next ``after`` generate requests, then hold every later answer until ``release()``
        or ``stop()`` (a held request has arrived and been recorded; its client waits)."""
        with self._lock:
            self._gate_open, self._gate_passes = False, after

    def release(self) -> None:
        """Open the gate: held answers go out, and no later one is held."""
        with self._lock:
            self._gate_open = True
            self._changed.notify_all()

    def wait_held(self, count: int, timeout: float = 120.0) -> bool:
        """Block until ``count`` answers are held at the gate. ``timeout`` is only a safety net for a test that
        went wrong (False then); the test asserts on the event."""
        with self._lock:
            return self._changed.wait_for(lambda: self.held >= count, timeout)

    def _gate(self) -> bool:
        """Wait at the gate if it is closed; True when the server is stopping (no answer then)."""
        with self._lock:
            if self._gate_open:
                return False
            if self._gate_passes > 0:
                self._gate_passes -= 1
                return False
            self.held += 1
            self._changed.notify_all()
            while not self._gate_open and not self._stop.is_set():
                self._changed.wait()  # release() and stop() notify
            self.held -= 1
            return self._stop.is_set()

    def bad_first_takes(self, kinds: Iterable[str] = TAKE_FAULTS) -> None:
        """Every other distinct body, in the order they first arrive (the 1st, 3rd, ...), gets a take fault on
        its first request, cycling through ``kinds``; every later request of that body, and every other body,
        is answered normally. ``self.bad_bodies`` maps the digest (``body_digest``) of each body spoiled to
        its fault."""
        kinds = list(kinds)
        distinct = [0]

        def fn(rec: Recorded) -> Fault | None:
            digest = body_digest(rec)
            with self._lock:
                if digest in self._seen:
                    return None
                self._seen.add(digest)
                distinct[0] += 1
                if distinct[0] % 2 == 0:
                    return None
                kind = self.bad_bodies[digest] = kinds[len(self.bad_bodies) % len(kinds)]
            return Fault(kind)

        self.fault_fn = fn

    def _next_fault(self, rec: Recorded) -> Fault | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return _as_fault(self.fault_fn(rec)) if self.fault_fn else None

    # -- queries ---------------------------------------------------------------------------------------
    def generate_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.model]

    def voices_requests(self) -> list[Recorded]:
        """The requests to ``/{version}/voices[/{id}]`` (list and get), in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.is_voices]

    def max_in_window(self, window: float = 60.0) -> int:
        """The most requests that arrived within any ``window`` seconds (for rate-limit assertions)."""
        times = sorted(r.t for r in self.generate_requests())
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self._seen.clear()
            self.bad_bodies.clear()
            self.quota, self.quota_answered, self.quota_refused = None, 0, 0
            self._quota_counts.clear()
        self.fault_fn = None
        self.refuse_words, self.max_output_seconds, self.languages = set(), None, None

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when the server is stopping."""
        return self._stop.wait(seconds)


def _as_fault(f: Fault | str | None) -> Fault | None:
    if f is None or f == "ok":
        return None
    return f if isinstance(f, Fault) else Fault(str(f))


class _Handler(BaseHTTPRequestHandler):
    standin: StandIn
    protocol_version = "HTTP/1.1"  # keep-alive, as google-genai's httpx client expects
    timeout = 10  # idle keep-alive connections close after this many seconds

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: tests read records instead
        pass

    def do_GET(self) -> None:
        self._record_and_answer(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self._send_json(413, error_body(413, "Request payload size exceeds the limit"))
            self.close_connection = True
            return
        self._record_and_answer(self.rfile.read(length))

    def _record_and_answer(self, raw: bytes | None) -> None:
        s = self.standin
        path, _, query = self.path.partition("?")
        query_key = re.search(r"(?:^|&)key=([^&]*)", query)
        given = self.headers.get("x-goog-api-key") or (query_key.group(1) if query_key else None)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "x-goog-api-key"}
        m = _PATH.match(path)
        params = {k: v for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items() if k != "key"}
        rec = Recorded(time.monotonic(), self.command, path, headers, body, m.group(2) if m else None,
                       key_ok=given == s.api_key, query=params)
        with s._lock:
            s.requests.append(rec)
        try:
            voices = _VOICES_PATH.match(path)
            if voices and self.command == "GET":
                self._answer_voices(rec, voices, given)
            else:
                self._answer(rec, m, raw, given)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout): nothing to answer to
        finally:
            rec.t_end = time.monotonic()

    def _key_refused(self, rec: Recorded, given: str | None) -> bool:
        """Answer a missing (401) or wrong (400 API_KEY_INVALID) key; True when it did."""
        if not given:
            self._error(rec, 401, "Method doesn't allow unregistered callers (callers without established "
                                  "identity). Please use API Key or other form of API consumer identity to call "
                                  "this API.")
            return True
        if given != self.standin.api_key:
            self._error(rec, 400, "API key not valid. Please pass a valid API key.", [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                 "domain": "googleapis.com"}])
            return True
        return False

    def _answer_voices(self, rec: Recorded, m: re.Match, given: str | None) -> None:
        s = self.standin
        if self._key_refused(rec, given):
            return
        with s._lock:
            custom = dict(s.custom_voices)
        try:
            if m.group(2) is None:
                payload = list_voices(rec.query, custom)
                rec.voice_ids = [v.get("id") or v.get("key") for v in payload["voices"]]
            else:
                payload = get_voice(urllib.parse.unquote(m.group(2)), custom)
                rec.voice_ids = [payload["id"]]
        except _BadRequest as e:
            return self._error(rec, e.code, e.message, e.details)
        if s._gate():
            self.close_connection = True  # stopping while held: no answer
            return
        fault = s._next_fault(rec) if s.voices_faults else None
        if fault and fault.kind not in _VOICES_FAULTS:
            fault = None  # kinds that shape an audio answer do not apply: answer normally
        rec.fault = fault.kind if fault else None
        rec.deadline = rec.t + s.latency if s.latency else None
        if fault:
            rec.voice_ids = None
            return self._fault(rec, fault, {})
        self._send_json(200, payload, rec)

    def _answer(self, rec: Recorded, m: re.Match | None, raw: bytes | None, given: str | None) -> None:
        s = self.standin
        if self.command != "POST" or not m:
            return self._error(rec, 404, f"Method not found: {self.command} {rec.path}")
        if self._key_refused(rec, given):
            return
        if rec.model not in s.models:
            return self._error(rec, 404, f"models/{rec.model} is not found for API version "
                                         f"{m.group(1)}, or is not supported for generateContent.")
        with s._lock:
            custom = list(s.custom_voices)
        try:
            info = check_request(rec.model, rec.body if raw else None, custom)
        except _BadRequest as e:
            return self._error(rec, e.code, e.message, e.details)
        if s._gate():
            self.close_connection = True  # stopping while held: no answer
            return
        refused = s._take_quota()
        if refused:
            rec.fault, rec.deadline = "quota", rec.t + s.latency if s.latency else None
            return self._fault(rec, refused, info)
        fault = s._next_fault(rec)
        rec.fault = fault.kind if fault else None
        rec.deadline = rec.t + s.latency if s.latency else None
        if fault:
            return self._fault(rec, fault, info)
        text = "\n".join(rec.texts).lower()
        if any(word.lower() in text for word in s.refuse_words):
            return self._send_json(200, self._response(rec, info, finish="SAFETY", audio=False), rec)
        if s.languages is not None and info["language"] and info["language"] not in s.languages:
            return self._error(rec, 500, "An internal error has occurred. Please retry or report in "
                                         "https://developers.generativeai.google/guide/troubleshooting")
        if s.max_output_seconds and self._seconds(info) > s.max_output_seconds:
            return self._send_json(200, self._response(rec, info, finish="MAX_TOKENS",
                                                       seconds=s.max_output_seconds), rec)
        if (s.low_temperature_fails and rec.model.startswith("gemini-2.5")
                and info["temperature"] is not None and info["temperature"] <= 0.4):
            return self._send_json(200, self._response(rec, info, finish="OTHER", audio=False), rec)
        self._send_json(200, self._response(rec, info), rec)

    def _fault(self, rec: Recorded, f: Fault, info: dict) -> None:
        s, k = self.standin, f.kind
        if k == "429":
            return self._error(rec, 429, f.message or "You exceeded your current quota, please check your plan "
                               "and billing details.", [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
                    "quotaMetric": "generativelanguage.googleapis.com/generate_requests_per_model",
                    "quotaId": f.quota_id}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f.retry_delay}])
        if k in ("400", "403", "404", "408", "500", "502", "503", "504"):
            default = {"500": "An internal error has occurred. Please retry or report in "
                              "https://developers.generativeai.google/guide/troubleshooting",
                       "503": "The model is overloaded. Please try again later."}
            return self._error(rec, int(k), f.message or default.get(k, f"injected {k}"))
        if k == "400-key":
            return self._error(rec, 400, "API key not valid. Please pass a valid API key.", [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}])
        if k == "echo-key":
            return self._error(rec, 400, f"Invalid request for key={s.api_key}: API key {s.api_key} rejected",
                               [{"@type": "type.googleapis.com/google.rpc.BadRequest", "key": s.api_key}])
        if k == "hang":
            s.wait(f.seconds + (s.latency or 0))
            self.close_connection = True
            return
        if k == "close":
            self._until_deadline(rec)
            self.close_connection = True
            return
        if k == "other":
            return self._send_json(200, self._response(rec, info, finish="OTHER", audio=False), rec)
        if k == "max-tokens":  # the take stopped at the cap: part of the audio, billed in full
            return self._send_json(200, self._response(rec, info, finish="MAX_TOKENS",
                                                       seconds=self._seconds(info) / 2), rec)
        if k == "refusal":
            return self._send_json(200, self._response(rec, info, finish=f.reason, audio=False), rec)
        if k == "blocked":
            body = self._response(rec, info, audio=False)
            body.pop("candidates")
            body["promptFeedback"] = {"blockReason": f.reason}
            return self._send_json(200, body, rec)
        if k == "text":
            body = self._response(rec, info)
            body["candidates"][0]["content"]["parts"] = [
                {"text": "Here is the audio you asked for: " + (rec.texts or [""])[0][:60]}]
            return self._send_json(200, body, rec)
        if k in TAKE_FAULTS:
            return self._send_json(200, self._response(rec, info, spoil=k), rec)
        if k in ("empty-wav", "garbled", "truncated", "mime", "silence"):
            body = self._response(rec, info, finish="STOP")
            blob = body["candidates"][0]["content"]["parts"][0]["inlineData"]
            if k == "empty-wav":
                blob.update(mimeType="audio/wav", data=base64.b64encode(wav_bytes(b"")).decode())
            elif k == "garbled":
                blob["data"] = "%%not*base64!!" + blob["data"][:40] + "@@"
            elif k == "truncated":
                blob["data"] = blob["data"][: len(blob["data"]) // 3 * 2 // 4 * 4 + 1]  # cut mid-quantum
            elif k == "mime":
                blob["mimeType"] = f.mime
            elif k == "silence":
                seconds = len(answer_pcm(max(MIN_SECONDS, info["chars"] / CHARS_PER_SECOND))) // 2 / RATE
                pcm = bytes(int(seconds * RATE) * 2)
                blob["data"] = base64.b64encode(
                    wav_bytes(pcm) if blob["mimeType"] == "audio/wav" else pcm).decode()
            return self._send_json(200, body, rec)
        raise ValueError(f"unknown stand-in fault {k!r}")

    @staticmethod
    def _seconds(info: dict) -> float:
        """How long the whole take of this request is."""
        return max(MIN_SECONDS, info["chars"] / CHARS_PER_SECOND)

    def _response(self, rec: Recorded, info: dict, *, finish: str = "STOP", audio: bool = True,
                  seconds: float | None = None, spoil: str | None = None) -> dict:
        s = self.standin
        seconds = self._seconds(info) if seconds is None else seconds
        out_tokens = math.ceil(seconds * 25) if audio else 0
        prompt_tokens = math.ceil(info["prompt_chars"] / 4)
        candidate: dict[str, Any] = {"finishReason": finish, "index": 0}
        if audio:
            pcm = answer_pcm(seconds) if spoil is None else bad_take(spoil, answer_pcm(seconds))
            fmt = s.response_format or s.models[rec.model]
            if fmt == "wav":
                blob = {"mimeType": "audio/wav", "data": wav_bytes(pcm)}
            else:
                mime = PCM_MIME if fmt == "pcm" else "audio/l16; rate=24000; channels=1"
                blob = {"mimeType": mime, "data": pcm}
            blob["data"] = base64.b64encode(blob["data"]).decode()
            candidate["content"] = {"role": "model", "parts": [{"inlineData": blob}]}
        usage = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": out_tokens,
                 "totalTokenCount": prompt_tokens + out_tokens,
                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}]}
        if audio:
            usage["candidatesTokensDetails"] = [{"modality": "AUDIO", "tokenCount": out_tokens}]
        rec.usage = usage
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": rec.model,
                "responseId": hashlib.sha1(repr(rec.t).encode()).hexdigest()[:20]}

    def _until_deadline(self, rec: Recorded) -> bool:
        """Wait until the request's answer is due; True when the server is stopping."""
        left = rec.deadline - time.monotonic() if rec.deadline is not None else 0.0
        return left > 0 and self.standin.wait(left)

    def _error(self, rec: Recorded, code: int, message: str, details: list | None = None) -> None:
        self._send_json(code, error_body(code, message, details), rec)

    def _send_json(self, code: int, payload: dict, rec: Recorded | None = None) -> None:
        data = json.dumps(payload).encode()
        if rec is not None and self._until_deadline(rec):
            self.close_connection = True  # stopping: no answer
            return
        if rec is not None:
            rec.status = code  # before writing: the client may read the answer and look before we return
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Run the Gemini TTS stand-in on 127.0.0.1 until Ctrl-C.")
    p.add_argument("--latency", type=float, default=0.0, help="seconds from a request's arrival to its answer")
    p.add_argument("--fail-first", type=float, default=0.0, help="fraction of distinct bodies whose first "
                   "attempt fails (429/500/other)")
    p.add_argument("--api-key", default=FAKE_API_KEY)
    p.add_argument("--quota", type=float, nargs=2, metavar=("REQUESTS", "WINDOW"), default=None,
                   help="a project-wide quota: REQUESTS answered per WINDOW seconds, all clients together")
    p.add_argument("--custom-voice", action="append", default=[], metavar="ID=NAME",
                   help="a custom voice (voice_... or voicekey_...) instead of the defaults; repeatable")
    args = p.parse_args(argv)
    custom = dict(v.partition("=")[::2] for v in args.custom_voice) or None
    with StandIn(api_key=args.api_key, latency=args.latency, custom_voices=custom) as server:
        if args.fail_first:
            server.fail_first_attempts(args.fail_first)
        if args.quota:
            server.set_quota(int(args.quota[0]), args.quota[1])
        print(f"GOOGLE_GEMINI_BASE_URL={server.url}\nGEMINI_API_KEY={server.api_key}", flush=True)
        try:
            while not server.wait(3600):
                pass
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
