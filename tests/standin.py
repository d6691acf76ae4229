"""A loopback stand-in for the Gemini REST endpoint, so the real google-genai client can be tested offline.

It speaks what google-genai 3.x sends (``POST /{v1,v1beta}/models/{model}:generateContent`` with an
``x-goog-api-key`` header, camelCase outer keys and snake_case or camelCase keys inside ``speechConfig``),
checks requests the way the service does (key, model, response modality, voices, at most two speakers,
speaker labels that match), and answers like the service: a WAV for 3.8+ models, raw little-endian
``audio/L16;codec=pcm;rate=24000`` for 2.5/3.1, base64 in ``inlineData``, with ``usageMetadata``. The audio
is a tone whose length follows the text (``CHARS_PER_SECOND``), so it passes a backend's sanity checks.

Faults are injected on demand, each consumed by one request:

    server.script(["429", "500", None])           # next three requests: 429, 500, then a normal answer
    server.script([Fault("429", retry_delay="53s")])
    server.fault_fn = lambda rec: Fault("503") if rec.model.startswith("gemini-2.5") else None
    server.fail_first_attempts(0.3, kinds=("429", "500", "other"))  # 30 % of distinct bodies fail once
    server.latency = 0.2                           # every answer leaves 0.2 s after its request arrived

Fault kinds: "429" (RESOURCE_EXHAUSTED + RetryInfo ``retry_delay``), "500", "502", "503", "504", "408",
"400" (INVALID_ARGUMENT, ``message``), "400-key" (API_KEY_INVALID), "403", "404", "hang" (no answer for
``seconds`` or until the server stops), "other" (200, finishReason OTHER, no content), "max-tokens"
(200, finishReason MAX_TOKENS with the audio), "text" (a text part instead of audio), "empty-wav" (a
44-byte WAV), "garbled" (base64 that does not decode), "truncated" (base64 cut mid-way), "mime" (audio
labelled ``mime``), "silence" (full-length digital silence), "close" (drop the connection, no answer),
"echo-key" (a 400 whose message quotes the API key back, as some proxies do), "ok" / None (normal).

Every request is recorded (``server.requests``): arrival time (``time.monotonic``), path, headers without
the API key, parsed body, the fault injected and the status sent. Run it standalone for manual tests or
benchmarks: ``python -m tests.standin --latency 0.2 --fail-first 0.3`` prints the base URL to export as
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
import wave
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAKE_API_KEY = "AIza" "SyStandInFakeKey-0123456789abcdefgh"  # split: a key-shaped literal trips secret scanners
RATE = 24000
CHARS_PER_SECOND = 15.0  # speech runs at ~14-15 characters per second
MIN_SECONDS = 0.5
MAX_BODY = 2_000_000  # bytes; larger requests get 413 (the real limit is tokens, far below this)
DEFAULT_HANG = 30.0  # seconds a "hang" fault holds the connection at most
VOICES = frozenset({
    "Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede", "Callirrhoe", "Autonoe",
    "Enceladus", "Iapetus", "Umbriel", "Algieba", "Despina", "Erinome", "Algenib", "Rasalgethi",
    "Laomedeia", "Achernar", "Alnilam", "Schedar", "Gacrux", "Pulcherrima", "Achird", "Zubenelgenubi",
    "Vindemiatrix", "Sadachbia", "Sadaltager", "Sulafat",
})
# model -> response shape; "wav" models also take per-part speechMetadata (the 3.8 dialect)
MODELS = {
    "gemini-3.8-flash-tts": "wav",
    "gemini-3.8-flash-lite-tts": "wav",
    "gemini-3.1-flash-tts-preview": "pcm",
    "gemini-2.5-flash-preview-tts": "pcm",
    "gemini-2.5-pro-preview-tts": "pcm",
}
PCM_MIME = "audio/L16;codec=pcm;rate=24000"
_PATH = re.compile(r"^/(v1|v1beta|v1alpha)/models/([^/:?]+):generateContent$")
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           408: "DEADLINE_EXCEEDED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
           502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


@dataclass
class Fault:
    kind: str
    retry_delay: str = "2s"  # 429: RetryInfo.retryDelay as Google spells it ("53s", "1.5s")
    message: str | None = None  # error message override
    seconds: float = DEFAULT_HANG  # hang: how long to hold the connection
    mime: str = "audio/mpeg"  # mime: what the audio is labelled
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

    @property
    def texts(self) -> list[str]:
        return [p.get("text", "") for c in (self.body or {}).get("contents", []) for p in c.get("parts", [])]


def tone(seconds: float, rate: int = RATE, freq: int = 200) -> bytes:
    """A sine tone as s16le mono; built from one period so even minutes of audio cost microseconds."""
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


def check_request(model: str, body: Any) -> dict:
    """Validate a generateContent body like the service; returns what the answer needs."""
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
    speech = _pick(gen, "speechConfig", "speech_config") or {}
    single = _pick(speech, "voiceConfig", "voice_config")
    multi = _pick(speech, "multiSpeakerVoiceConfig", "multi_speaker_voice_config")
    if single and multi:
        raise _BadRequest(400, "speech_config: set either voice_config or multi_speaker_voice_config, not both")
    speakers: dict[str, str] = {}
    if multi:
        configs = _pick(multi, "speakerVoiceConfigs", "speaker_voice_configs") or []
        for c in configs:
            speakers[c.get("speaker") or ""] = _voice_name(_pick(c, "voiceConfig", "voice_config"))
        if len(configs) != 2 or len(speakers) != 2 or "" in speakers:
            raise _BadRequest(400, "multi_speaker_voice_config must have exactly 2 distinct named speakers, "
                                   f"got {len(configs)}")
    voices = list(speakers.values()) if multi else [_voice_name(single)] if single else []
    for v in voices:
        if v not in VOICES:
            raise _BadRequest(400, f"Voice name {v} is not supported.")
    metadata = [_pick(p, "speechMetadata", "speech_metadata") for p in parts]
    if any(metadata) and MODELS.get(model, "wav") != "wav":
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
    spoken = sum(len(p["text"]) for p in parts)
    style_chars = sum(len((m or {}).get("style") or "") for m in metadata)
    return {
        "chars": spoken,
        "prompt_chars": spoken + style_chars,
        "temperature": gen.get("temperature"),
        "language": _pick(speech, "languageCode", "language_code"),
    }


def error_body(code: int, message: str, details: list | None = None, status: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "status": status or _STATUS.get(code, "UNKNOWN"),
                      **({"details": details} if details else {})}}


class StandIn:
    """The server. Use as a context manager or call start()/stop(); every wait it does is bounded."""

    def __init__(self, *, api_key: str = FAKE_API_KEY, latency: float = 0.0, response_format: str | None = None,
                 low_temperature_fails: bool = True):
        self.api_key = api_key
        # seconds from a request's arrival to its answer (faults included); the stand-in's own work of building
        # the answer happens inside this time, so at 200 ms every answer takes 200 ms, as a benchmark assumes
        self.latency = latency
        self.response_format = response_format  # None: by model; "wav", "pcm", or "pcm-spaced"
        self.low_temperature_fails = low_temperature_fails  # 2.5 + temperature <= 0.4 → finishReason OTHER
        self.fault_fn: Callable[[Recorded], Fault | str | None] | None = None
        self.requests: list[Recorded] = []
        self._script: deque[Fault | None] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._seen: set[bytes] = set()
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

    def _next_fault(self, rec: Recorded) -> Fault | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return _as_fault(self.fault_fn(rec)) if self.fault_fn else None

    # -- queries ---------------------------------------------------------------------------------------
    def generate_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.model]

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
        self.fault_fn = None

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
        rec = Recorded(time.monotonic(), self.command, path, headers, body, m.group(2) if m else None,
                       key_ok=given == s.api_key)
        with s._lock:
            s.requests.append(rec)
        try:
            self._answer(rec, m, raw, given)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout): nothing to answer to
        finally:
            rec.t_end = time.monotonic()

    def _answer(self, rec: Recorded, m: re.Match | None, raw: bytes | None, given: str | None) -> None:
        s = self.standin
        if self.command != "POST" or not m:
            return self._error(rec, 404, f"Method not found: {self.command} {rec.path}")
        if not given:
            return self._error(rec, 401, "Method doesn't allow unregistered callers (callers without "
                                         "established identity). Please use API Key or other form of API "
                                         "consumer identity to call this API.")
        if given != s.api_key:
            return self._error(rec, 400, "API key not valid. Please pass a valid API key.", [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                 "domain": "googleapis.com"}])
        if rec.model not in MODELS:
            return self._error(rec, 404, f"models/{rec.model} is not found for API version "
                                         f"{m.group(1)}, or is not supported for generateContent.")
        try:
            info = check_request(rec.model, rec.body if raw else None)
        except _BadRequest as e:
            return self._error(rec, e.code, e.message, e.details)
        fault = s._next_fault(rec)
        rec.fault = fault.kind if fault else None
        rec.deadline = rec.t + s.latency if s.latency else None
        if fault:
            return self._fault(rec, fault, info)
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
        if k == "max-tokens":
            return self._send_json(200, self._response(rec, info, finish="MAX_TOKENS"), rec)
        if k == "text":
            body = self._response(rec, info)
            body["candidates"][0]["content"]["parts"] = [
                {"text": "Here is the audio you asked for: " + (rec.texts or [""])[0][:60]}]
            return self._send_json(200, body, rec)
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
                seconds = len(tone(max(MIN_SECONDS, info["chars"] / CHARS_PER_SECOND))) // 2 / RATE
                pcm = bytes(int(seconds * RATE) * 2)
                blob["data"] = base64.b64encode(
                    wav_bytes(pcm) if blob["mimeType"] == "audio/wav" else pcm).decode()
            return self._send_json(200, body, rec)
        raise ValueError(f"unknown stand-in fault {k!r}")

    def _response(self, rec: Recorded, info: dict, *, finish: str = "STOP", audio: bool = True) -> dict:
        s = self.standin
        seconds = max(MIN_SECONDS, info["chars"] / CHARS_PER_SECOND)
        out_tokens = math.ceil(seconds * 25) if audio else 0
        prompt_tokens = math.ceil(info["prompt_chars"] / 4)
        candidate: dict[str, Any] = {"finishReason": finish, "index": 0}
        if audio:
            pcm = tone(seconds)
            fmt = s.response_format or MODELS[rec.model]
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
    args = p.parse_args(argv)
    with StandIn(api_key=args.api_key, latency=args.latency) as server:
        if args.fail_first:
            server.fail_first_attempts(args.fail_first)
        print(f"GOOGLE_GEMINI_BASE_URL={server.url}\nGEMINI_API_KEY={server.api_key}", flush=True)
        try:
            while not server.wait(3600):
                pass
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
