"""The Gemini backend with the real google-genai client against the loopback stand-in (tests/support/standin.py).

Golden request bodies live in tests/backends/golden/<case>.json. After an intended change to what is sent,
regenerate them with ``PODPIPE_REGEN_GOLDEN=1 python -m pytest tests/test_gemini_backend.py`` and review
the diff.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import socket
import struct
import time
import traceback
from pathlib import Path

import pytest

from podpipe.audio_types import Audio
from podpipe.backends.base import Estimate
from podpipe.backends.espeak import EspeakBackend
from podpipe.backends.gemini import GeminiBackend, check_audio, decode_audio, parse_retry_delay, transcript_text
from podpipe.backends.gemini.catalog import KNOWN_MODELS
from podpipe.commands import cost
from podpipe.compile import RenderRequest, RequestTurn, compile_episode
from podpipe.errors import BackendError
from tests.support.backends import render_error
from tests.support.standin import CHARS_PER_SECOND, Fault, StandIn, answer_pcm, read_aloud, wav_bytes

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("PODPIPE_REGEN_GOLDEN") == "1"
CANARY = "AIza" "CANARY-podpipe-0123456789abcdefXYZ"  # split: a key-shaped literal trips secret scanners

ALEX = ("Alex", "Zephyr")
SAM = ("Sam", "Puck")


def req(model: str, *turns: tuple[tuple[str, str], str, str | None], temperature: float | None = None,
        language: str | None = None) -> RenderRequest:
    rturns = tuple(RequestTurn(who[0], who[1], text, style) for who, text, style in turns)
    key = hashlib.sha256(repr((model, rturns, temperature, language)).encode()).hexdigest()
    return RenderRequest(key, "gemini", model, rturns, temperature=temperature, language=language)


HELLO = "Welcome to the show! Today we talk about bread."

CASES = {
    "metadata_single": req("gemini-3.8-flash-tts", (ALEX, HELLO, "Warm, relaxed radio show; bright"),
                           temperature=1.2, language="en-US"),
    "metadata_single_plain": req("gemini-3.8-flash-lite-tts", (SAM, "Thanks for having me.", None)),
    "metadata_multi": req("gemini-3.8-flash-tts",
                          (ALEX, "So what happened?", "Warm; bright and upbeat; playful"),
                          (SAM, "It's a long story.\nA very long one.", "Warm; playful"),
                          (ALEX, "Tell me everything.", "Warm; bright and upbeat; playful"),
                          temperature=0.9),
    "transcript_single": req("gemini-2.5-flash-preview-tts", (ALEX, HELLO, "cheerful."),
                             temperature=1.0, language="de-DE"),
    "transcript_single_plain": req("gemini-2.5-pro-preview-tts", (SAM, "Thanks for having me.", None)),
    "transcript_multi": req("gemini-3.1-flash-tts-preview",
                            (ALEX, "So what happened?", "warm"),
                            (SAM, "It's a long story.\nA very long one.", None),
                            (ALEX, "Tell me everything.", "warm"),
                            temperature=1.1, language="en-GB"),
}


def compiled(model: str, temperature: float | None = None) -> RenderRequest:
    """A dialogue as a spec writes it (tags in both forms, a lexicon word, library and custom voices),
    compiled for ``model``: the golden bodies pin what tags and the lexicon become on the wire."""
    from podpipe.spec import LexiconEntry, Speaker
    from tests.support.episodes import dialogue, episode

    voices = (("Brisbane Kate", "voice_podpipe0001") if model.startswith("gemini-3.8") else ("Zephyr", "Puck"))
    ep = episode(dialogue(0, ("host", "So, SQL <laughs> again?"), ("guest", "[sighs] Yes, SQL. \\<sic\\>")),
                 lexicon=(LexiconEntry("SQL", "sequel"),), temperature=temperature, style="playful")
    ep = dataclasses.replace(ep, speakers=(Speaker("host", voices[0], "Alex"), Speaker("guest", voices[1], "Sam")))
    [request] = compile_episode(ep, GeminiBackend.target(model)).requests
    return request


CASES["metadata_tags_lexicon_voices"] = compiled("gemini-3.8-flash-tts", temperature=1.3)
CASES["transcript_tags_lexicon"] = compiled("gemini-3.1-flash-tts-preview", temperature=1.3)


@pytest.mark.parametrize("case", sorted(CASES))
def test_request_body_matches_golden(case, gemini_server, backend):
    request = CASES[case]
    backend.render(request)
    [rec] = gemini_server.requests
    sent = {"method": rec.method, "path": rec.path, "body": rec.body}
    path = GOLDEN / f"{case}.json"
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sent, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    assert sent == json.loads(path.read_text()), f"request body differs from {path.name}"
    assert rec.key_ok and "x-goog-api-key" not in rec.headers
    assert rec.headers["x-server-timeout"] == "10"  # the SDK got our timeout (in ms) and no retries


def test_dialect_placement_details(gemini_server, backend):
    """What the golden files encode, spelled out: where style, speaker, temperature and language go."""
    backend.render(CASES["metadata_multi"])
    backend.render(CASES["transcript_multi"])
    backend.render(CASES["metadata_single"])
    meta, transcript, single = (r.body for r in gemini_server.requests)
    parts = meta["contents"][0]["parts"]
    assert [p["text"] for p in parts] == [t.text for t in CASES["metadata_multi"].turns]  # verbatim
    assert [p["speechMetadata"]["speaker"] for p in parts] == ["Alex", "Sam", "Alex"]
    assert parts[1]["speechMetadata"]["style"] == "Warm; playful"
    speech = meta["generationConfig"]["speechConfig"]
    assert [c["speaker"] for c in speech["multi_speaker_voice_config"]["speaker_voice_configs"]] == ["Alex", "Sam"]
    assert "temperature" not in meta["generationConfig"]  # 3.8 rejects it: never sent, even when asked
    assert meta["generationConfig"]["responseModalities"] == ["AUDIO"]
    [tpart] = transcript["contents"][0]["parts"]
    assert "speechMetadata" not in tpart
    assert tpart["text"].splitlines() == [
        "TTS the following conversation between Alex and Sam, and make Alex sound warm:",
        "Alex: So what happened?", "Sam: It's a long story. A very long one.", "Alex: Tell me everything."]
    assert transcript["generationConfig"]["speechConfig"]["language_code"] == "en-GB"
    spart = single["contents"][0]["parts"][0]
    assert spart["speechMetadata"] == {"style": "Warm, relaxed radio show; bright"}  # no speaker: single voice
    assert single["generationConfig"]["speechConfig"]["voice_config"] == {"voice": "Zephyr"}  # 3.8: one field
    assert transcript["generationConfig"]["temperature"] == 1.1
    assert transcript["generationConfig"]["speechConfig"]["multi_speaker_voice_config"]["speaker_voice_configs"][0][
        "voice_config"] == {"prebuilt_voice_config": {"voice_name": "Zephyr"}}


def test_tags_lexicon_and_voices_on_the_wire(gemini_server, backend):
    backend.render(CASES["metadata_tags_lexicon_voices"])
    backend.render(CASES["transcript_tags_lexicon"])
    new, old = (r.body for r in gemini_server.requests)
    assert [p["text"] for p in new["contents"][0]["parts"]] == ["So, sequel <laughs> again?", "<sighs> Yes, sequel. sic"]
    assert [c["voice_config"] for c in new["generationConfig"]["speechConfig"]["multi_speaker_voice_config"][
        "speaker_voice_configs"]] == [{"voice": "Brisbane Kate"}, {"voice": "voice_podpipe0001"}]
    assert "temperature" not in new["generationConfig"]
    assert old["contents"][0]["parts"][0]["text"].splitlines()[1:] == [
        "Alex: So, sequel [laughs] again?", "Sam: [sighs] Yes, sequel. <sic>"]
    assert old["generationConfig"]["temperature"] == 1.3


def test_transcript_preamble_forms():
    single = req("gemini-2.5-flash-preview-tts", (ALEX, "Hello.", "cheerful; calm."))
    assert transcript_text(single) == "Say in this style (cheerful; calm): Hello."
    plain = req("gemini-2.5-flash-preview-tts", (ALEX, "Hello.", None))
    assert transcript_text(plain) == "Hello."
    both = req("gemini-2.5-flash-preview-tts", (ALEX, "Hi.", "warm"), (SAM, "Yo.", "dry"))
    head = transcript_text(both).splitlines()[0]
    assert head == "TTS the following conversation between Alex and Sam, and make Alex sound warm, and Sam sound dry:"
    # one plain instruction sentence: no "Name:" the model could read as a turn in that speaker's voice
    assert "Alex:" not in head and "Sam:" not in head


def test_wav_response_is_parsed(gemini_server, backend):
    request = CASES["metadata_single"]
    rendered = backend.render(request)
    assert (rendered.audio.rate, rendered.audio.channels) == (24000, 1)
    assert rendered.audio.seconds == pytest.approx(len(HELLO) / CHARS_PER_SECOND, abs=0.01)
    usage = gemini_server.requests[0].usage
    assert (rendered.usage.prompt_tokens, rendered.usage.output_tokens, rendered.usage.total_tokens) == (
        usage["promptTokenCount"], usage["candidatesTokenCount"], usage["totalTokenCount"])
    assert rendered.usage.output_tokens > 0


@pytest.mark.parametrize("fmt", ["pcm", "pcm-spaced", "wav"])
def test_pcm_and_wav_responses_for_an_older_model(fmt, gemini_server, backend):
    gemini_server.response_format = None if fmt == "pcm" else fmt
    rendered = backend.render(CASES["transcript_single"])
    assert (rendered.audio.rate, rendered.audio.channels) == (24000, 1)
    spoken = read_aloud(gemini_server.requests[0].texts[0], {})  # the style direction is not read aloud
    assert spoken != gemini_server.requests[0].texts[0]
    assert rendered.audio.pcm == answer_pcm(max(0.5, len(spoken) / CHARS_PER_SECOND))


def test_decode_audio_by_mime_type():
    pcm = struct.pack("<4h", 1, -2, 3, -4)
    assert decode_audio("audio/L16;codec=pcm;rate=16000", pcm) == Audio(pcm, 16000, 1)
    assert decode_audio("audio/l16; rate=48000; channels=2", pcm + b"\x01") == Audio(pcm, 48000, 2)
    assert decode_audio("audio/x-wav", wav_bytes(pcm, 22050)) == Audio(pcm, 22050, 1)
    streamed = bytearray(wav_bytes(pcm))
    streamed[40:44] = b"\xff\xff\xff\xff"  # streaming writers leave the data size unknown
    assert decode_audio("audio/wav", bytes(streamed)).pcm == pcm
    for mime, data in [("audio/wav", b"RIFF\x00\x00garbage"), ("audio/wav", b"ID3 mp3 data"),
                       ("audio/wav", wav_bytes(pcm)[:-3]), ("audio/mpeg", b"\xff\xfb"),
                       ("audio/L16;rate=abc", pcm)]:
        with pytest.raises(ValueError):
            decode_audio(mime, data)


def test_check_audio_floor():
    assert check_audio(Audio(b"", 24000), 10) and "implausibly short" in check_audio(Audio(b"", 24000), 10)
    assert check_audio(Audio(answer_pcm(0.3), 24000), 4) is None  # short line: the 0.25 s floor
    assert check_audio(Audio(answer_pcm(1.0), 24000), 400) is not None  # 400 chars in 1 s: truncated
    assert check_audio(Audio(answer_pcm(10.0), 24000), 400) is None  # generous: 40 chars/s is allowed
    assert "silence" in check_audio(Audio(bytes(48000), 24000), 10)


@pytest.mark.parametrize("delay,expected", [("53s", 53.0), ("1.5s", 1.5), ("0.05s", 0.05),
                                            ({"seconds": 2, "nanos": 500000000}, 2.5)])
def test_parse_retry_delay(delay, expected):
    body = {"error": {"code": 429, "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
                                               {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                                "retryDelay": delay}]}}
    assert parse_retry_delay(body) == pytest.approx(expected)
    assert parse_retry_delay({"error": {"code": 429}}) is None


# fault kind -> (retryable, status, words the message must contain)
FAULTS = {
    "429": (True, 429, ["rate limit", "429 RESOURCE_EXHAUSTED", "wait 1.5s", "--rpm"]),
    "500": (True, 500, ["server error", "500 INTERNAL"]),
    "502": (True, 502, ["502"]),
    "503": (True, 503, ["503 UNAVAILABLE", "overloaded"]),
    "504": (True, 504, ["504"]),
    "408": (True, 408, ["408"]),
    "other": (True, None, ["finishReason OTHER", "no audio"]),
    "max-tokens": (False, None, ["MAX_TOKENS", "output cap", "partial audio", "never used"]),
    "refusal": (False, None, ["the model refused this line for safety (SAFETY, gemini-3.8-flash-tts): rephrase it"]),
    "blocked": (False, None, ["refused this line for safety (SAFETY"]),
    "text": (True, None, ["text instead of audio", "Here is the audio"]),
    "empty-wav": (True, None, ["implausibly short", "0 bytes"]),
    "garbled": (True, None, ["cannot decode"]),
    "truncated": (True, None, ["cannot decode"]),
    "silence": (True, None, ["silence"]),
    "close": (True, None, ["connection", "GOOGLE_GEMINI_BASE_URL"]),
    "400": (False, 400, ["rejected the request", "injected 400"]),
    "400-key": (False, 400, ["API key", "check GEMINI_API_KEY (or GOOGLE_API_KEY)"]),
    "403": (False, 403, ["check GEMINI_API_KEY", "may use gemini-3.8-flash-tts"]),
}


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_fault_is_classified(kind, gemini_server, backend):
    retryable, status, words = FAULTS[kind]
    gemini_server.script([Fault(kind, retry_delay="1.5s")])
    err = render_error(backend, CASES["metadata_single"])
    assert (err.retryable, err.status) == (retryable, status), str(err)
    for word in words:
        assert word in str(err)
    assert err.retry_after == (1.5 if kind == "429" else None)
    assert len(gemini_server.requests) == 1  # one attempt per render: the SDK does not retry
    backend.render(CASES["metadata_single"])  # and the next attempt goes through


@pytest.mark.parametrize("mime,retryable", [("audio/mpeg", False), ("text/plain", True)])
def test_wrong_mime_type_is_named(mime, retryable, gemini_server, backend):
    gemini_server.script([Fault("mime", mime=mime)])
    err = render_error(backend, CASES["transcript_single"])
    assert mime in str(err) and err.retryable is retryable


def test_daily_quota_is_not_retried(gemini_server, backend):
    gemini_server.script([Fault("429", quota_id="GenerateRequestsPerDayPerProjectPerModel", retry_delay="30s")])
    err = render_error(backend, CASES["metadata_single"])
    assert not err.retryable and "daily quota" in str(err)


def test_low_temperature_on_25_fails_fast_with_the_fix(gemini_server, backend):
    """Deterministic on 2.5 models, so retrying would only spend quota: fail at once and say what to change."""
    err = render_error(backend, req("gemini-2.5-flash-preview-tts", (ALEX, HELLO, None), temperature=0.3))
    assert not err.retryable and "temperature <= 0.4" in str(err) and "raise it" in str(err)


def test_finish_other_elsewhere_is_retryable_without_the_temperature_hint(gemini_server, backend):
    gemini_server.script(["other"])
    err = render_error(backend, CASES["metadata_single"])
    assert err.retryable and "finishReason OTHER" in str(err) and "temperature" not in str(err)


def test_unknown_model_lists_known_models(gemini_server, backend):
    err = render_error(backend, req("gemini-9.9-flash-tts", (ALEX, HELLO, None)))
    assert not err.retryable and err.status == 404
    assert "unknown model 'gemini-9.9-flash-tts'" in str(err)
    for name in KNOWN_MODELS:
        assert name in str(err)


def test_timeout_is_retryable_and_quick(gemini_server):
    backend = GeminiBackend(timeout=1)
    # the answer never comes while the test runs (the stand-in releases the hang when it stops): returning
    # at all proves the 1 s timeout, however slow the machine
    gemini_server.script([Fault("hang", seconds=3600)])
    err = render_error(backend, CASES["metadata_single"])
    backend.close()
    assert err.retryable and "within 1s" in str(err)
    assert len(gemini_server.requests) == 1


def test_latency_is_applied(gemini_server, backend):
    gemini_server.latency = 0.3
    started = time.monotonic()
    backend.render(CASES["metadata_single_plain"])
    assert time.monotonic() - started >= 0.3


def test_connection_refused_is_retryable(gemini_server, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", f"http://127.0.0.1:{port}")
    backend = GeminiBackend(timeout=5)
    err = render_error(backend, CASES["metadata_single"])
    backend.close()
    assert err.retryable and f"127.0.0.1:{port}" in str(err) and "GOOGLE_GEMINI_BASE_URL" in str(err)


def test_missing_key_names_both_variables(gemini_server, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    err = render_error(GeminiBackend(), CASES["metadata_single"])
    assert not err.retryable and "GEMINI_API_KEY" in str(err) and "GOOGLE_API_KEY" in str(err)
    assert gemini_server.requests == []


def test_gemini_api_key_wins_over_google_api_key(gemini_server, monkeypatch, backend):
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza" "WrongWrongWrongWrong")  # split literal: not key-shaped
    backend.render(CASES["metadata_single"])
    assert gemini_server.requests[0].key_ok


def test_bad_google_api_key_names_that_variable(gemini_server, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza" "WrongWrongWrongWrong")  # split literal: not key-shaped
    backend = GeminiBackend(timeout=5)
    err = render_error(backend, CASES["metadata_single"])
    backend.close()
    assert not err.retryable and err.status == 400 and "check GOOGLE_API_KEY" in str(err)
    assert "AIzaWrong" not in str(err)


def test_three_speakers_are_refused_before_sending(gemini_server, backend):
    three = req("gemini-3.8-flash-tts", (ALEX, "a", None), (SAM, "b", None), (("Kim", "Kore"), "c", None))
    err = render_error(backend, three)
    assert not err.retryable and "at most 2 speakers" in str(err)
    assert gemini_server.requests == []


def test_clients_share_one_tls_context_per_ca_setting(gemini_server, monkeypatch, tmp_path):
    """Each client would load the CA bundle three times; podpipe makes the SDK's context once per process and
    per SSL_CERT_FILE/SSL_CERT_DIR, and every client it makes talks through it."""
    import ssl

    from podpipe.backends.gemini.backend import tls_options

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    first, second = GeminiBackend(), GeminiBackend()
    assert first.render(CASES["metadata_single"]).audio.pcm and second.render(CASES["metadata_multi"]).audio.pcm
    shared = tls_options()["client_args"]["verify"]
    assert isinstance(shared, ssl.SSLContext) and tls_options()["client_args"]["verify"] is shared
    assert first._client._api_client._async_httpx_client_args["verify"] is shared
    assert second._client._api_client._async_httpx_client_args["verify"] is shared
    import certifi

    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # another CA setting: another context, made once
    other = tls_options()["client_args"]["verify"]
    assert other is not shared and tls_options()["client_args"]["verify"] is other


def test_canary_key_never_leaks(monkeypatch, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    errors = []
    with StandIn(api_key=CANARY) as server:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        monkeypatch.setenv("GEMINI_API_KEY", CANARY)
        monkeypatch.setenv("GOOGLE_API_KEY", CANARY)
        backend = GeminiBackend(timeout=1)
        backend.render(CASES["metadata_multi"])
        server.script(["echo-key", "429", "500", "text", "garbled", "empty-wav", Fault("hang", seconds=5),
                       Fault("mime", mime=f"audio/x-{CANARY}")])
        for _ in range(8):
            errors.append(render_error(backend, CASES["transcript_multi"]))
        errors.append(render_error(backend, req("gemini-0.1-nope-tts", (ALEX, "x", None))))
        assert any(CANARY in json.dumps(r.body) or r.key_ok for r in server.requests)  # the key was used
        text = repr(backend) + str(backend.__dict__.get("timeout"))
        backend.close()
    out = capsys.readouterr()
    seen = [text, out.out, out.err, caplog.text, *(r.getMessage() for r in caplog.records)]
    for err in errors:
        seen += [str(err), repr(err), "".join(traceback.format_exception(err))]
    assert "Invalid request for key=***" in str(errors[0])  # the echoed message is kept, scrubbed
    for blob in seen:
        assert CANARY not in blob
        assert CANARY[:16] not in blob


def test_voices_and_rpm():
    voices = {v.name: v.description for v in GeminiBackend.voices()}
    assert len(voices) == 30 and voices["Zephyr"] == "bright" and voices["Sulafat"] == "warm"
    assert GeminiBackend.rpm_for("gemini-3.8-flash-tts") == KNOWN_MODELS["gemini-3.8-flash-tts"].default_rpm
    assert GeminiBackend.rpm_for("gemini-9.0-future-tts") > 0
    assert GeminiBackend.model_for("gemini-2.5-pro-preview-tts") == "gemini-2.5-pro-preview-tts"


def test_client_is_created_once_across_threads(gemini_server, backend):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(backend.render, [CASES["metadata_single_plain"]] * 8))
    assert len(results) == 8 and len(gemini_server.requests) == 8
    client = backend._client
    backend.render(CASES["metadata_single_plain"])
    assert backend._client is client


def test_cost_estimates():
    request = req("gemini-3.8-flash-tts", (ALEX, "x" * 1400, "calm"))
    prompt, output = GeminiBackend.tokens(request)
    assert prompt == (1400 + 4) // 4 and output == 2500  # 100 s of speech at 25 tokens/s
    assert GeminiBackend.cost("gemini-3.8-flash-tts", 1_000_000, 1_000_000) == pytest.approx(9.5)
    assert GeminiBackend.cost("gemini-2.5-pro-preview-tts", 2_000_000, 0) == pytest.approx(2.0)
    assert GeminiBackend.cost("gemini-3.8-flash-tts", 0, 1_000_000, {"gemini-3.8-flash-tts": {"output": 12}}) == 12
    assert GeminiBackend.cost("espeak-ng", 10**6, 10**6) == 0
    assert EspeakBackend.estimate([request]) == Estimate(0, 0, 0.0)  # offline: nothing counted, nothing paid
    both = GeminiBackend.estimate([request, request])
    assert (both.input_tokens, both.output_tokens) == (2 * prompt, 2 * output)
    assert both.usd == pytest.approx(2 * GeminiBackend.cost("gemini-3.8-flash-tts", prompt, output))
    assert cost.estimate(request).usd == pytest.approx(both.usd / 2)  # through the registry, by request.backend
    transcript = req("gemini-2.5-flash-preview-tts", (ALEX, "x" * 100, "calm"))
    assert GeminiBackend.tokens(transcript)[0] == -(-len(transcript_text(transcript)) // 4)


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, podpipe.backends.gemini, podpipe.commands.cost; "
            "print([m for m in sys.modules if m.split('.')[0] in ('google', 'httpx', 'httpx2', 'pydantic')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- with the scheduler: what the stand-in saw matches what the run reports -----------------------------

def _panel_requests(model: str) -> list[RenderRequest]:
    from podpipe.compile import compile_episode
    from tests.support.episodes import dialogue, episode, line

    ep = episode(line(0, "host", "Welcome to the panel."),
                 dialogue(1, ("host", "Kim, you first."), ("third", "Thanks, Alex."), ("guest", "And me?"),
                          ("host", "Then Sam."), ("third", "Agreed.")),
                 *(line(i, "guest", f"Point number {i} is worth making.") for i in range(2, 8)))
    return list(compile_episode(ep, GeminiBackend.target(model)).requests)


@pytest.mark.parametrize("model", ["gemini-3.8-flash-tts", "gemini-2.5-flash-preview-tts"])
def test_scheduler_recovers_from_transient_faults(model, gemini_server, tmp_path):
    from podpipe.cache import FileStore
    from podpipe.render import RenderOptions, Scheduler

    requests = _panel_requests(model)
    gemini_server.script([Fault("429", retry_delay="0.05s"), "500", "other", "empty-wav", "text", "garbled",
                          "503", "truncated"])
    store = FileStore(tmp_path)
    backend = GeminiBackend(timeout=10)
    options = RenderOptions(jobs=3, rpm=0, attempts=5, backoff_base=0.01, backoff_max=0.05)
    result = Scheduler(backend, store, options).run(requests)
    backend.close()
    assert not result.failed and len(result.rendered) == len(requests)
    seen = gemini_server.generate_requests()
    assert sum(o.attempts for o in result.outcomes) == len(seen) == len(requests) + 8
    assert sum(len(o.failures) for o in result.outcomes) == 8
    for rec in seen:  # the 3-speaker dialogue went out as requests of at most 2 speakers
        speech = rec.body["generationConfig"]["speechConfig"]
        configs = speech.get("multi_speaker_voice_config", {}).get("speaker_voice_configs", [])
        assert len(configs) <= 2
    assert any(len(r.speakers) == 2 for r in requests)
    for outcome in result.outcomes:
        audio = store.get(outcome.request.key)
        assert audio is not None and audio.seconds >= 0.5 and outcome.usage.output_tokens > 0


def test_persistent_fault_fails_clearly_and_caches_nothing(gemini_server, tmp_path):
    from podpipe.cache import FileStore
    from podpipe.render import RenderOptions, Scheduler

    requests = _panel_requests("gemini-3.8-flash-tts")
    doomed = requests[-1].turns[0].text
    gemini_server.fault_fn = lambda rec: "503" if doomed in rec.texts else None
    store = FileStore(tmp_path)
    backend = GeminiBackend(timeout=10)
    result = Scheduler(backend, store, RenderOptions(jobs=2, rpm=0, attempts=3, backoff_base=0.01,
                                                     backoff_max=0.02)).run(requests)
    backend.close()
    [failed] = result.failed
    assert failed.request.turns[0].text == doomed and failed.attempts == 3
    assert "503 UNAVAILABLE" in failed.error and not store.has(failed.request.key)
    assert len(result.rendered) == len(requests) - 1 and all(store.has(o.request.key) for o in result.rendered)
    assert sum(1 for r in gemini_server.generate_requests() if doomed in r.texts) == 3


def test_rate_limit_as_seen_by_the_server(gemini_server, tmp_path):
    from podpipe.cache import FileStore
    from podpipe.render import RenderOptions, Scheduler
    from tests.support.backends import RecordingLimiter

    requests = _panel_requests("gemini-3.8-flash-tts")[:9]
    backend = GeminiBackend(timeout=10)
    scheduler = Scheduler(backend, FileStore(tmp_path), RenderOptions(jobs=4, rpm=0))
    scheduler.limiter = limiter = RecordingLimiter(4, window=0.5)  # 4 per 0.5 s: the 60 s rule, scaled down
    backend.prepare()
    result = scheduler.run(requests)
    backend.close()
    assert not result.failed
    # The limiter's grants hold the limit exactly, and the server saw no request before its slot: the k-th
    # arrival follows the k-th grant. (Arrivals lag grants by a few ms, or by seconds on a busy machine, so
    # counting arrivals per window would test the machine's load, not the limiter.)
    limiter.assert_at_most(4, 0.5)
    limiter.assert_none_before_its_grant([r.t for r in gemini_server.generate_requests()])
    grants = sorted(limiter.grants)
    assert grants[8] - grants[0] >= 1.0  # 9 starts at 4 per 0.5 s need two full windows


# -- the stand-in itself: it must hold the client to what the service accepts ------------------------------

def _post(server: StandIn, body: dict, *, key: str | None = None, model: str = "gemini-2.5-flash-preview-tts",
          version: str = "v1beta") -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    headers = {"content-type": "application/json", **({"x-goog-api-key": key} if key else {})}
    r = urllib.request.Request(f"{server.url}/{version}/models/{model}:generateContent",
                               data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(r, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _speakers(*pairs: tuple[str, str]) -> dict:
    return {"speakerVoiceConfigs": [{"speaker": s, "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": v}}}
                                    for s, v in pairs]}


def test_standin_accepts_camel_case_and_checks_like_the_service(gemini_server):
    text = {"contents": [{"role": "user", "parts": [{"text": "TTS this.\nAlex: Hi.\nSam: Hello."}]}]}
    gen = {"responseModalities": ["AUDIO"], "speechConfig": {
        "multiSpeakerVoiceConfig": _speakers(("Alex", "Zephyr"), ("Sam", "Puck")), "languageCode": "en-US"}}
    key = gemini_server.api_key
    status, body = _post(gemini_server, {**text, "generationConfig": gen}, key=key)
    assert status == 200 and body["candidates"][0]["content"]["parts"][0]["inlineData"]["mimeType"] == (
        "audio/L16;codec=pcm;rate=24000")
    three = {**gen, "speechConfig": {"multiSpeakerVoiceConfig": _speakers(("Alex", "Zephyr"), ("Sam", "Puck"),
                                                                          ("Kim", "Kore"))}}
    assert _post(gemini_server, {**text, "generationConfig": three}, key=key)[0] == 400
    bad_voice = {**gen, "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Nobody"}}}}
    assert _post(gemini_server, {**text, "generationConfig": bad_voice}, key=key)[0] == 400
    unnamed = {**gen, "speechConfig": {"multiSpeakerVoiceConfig": _speakers(("Alex", "Zephyr"), ("Jo", "Puck"))}}
    assert _post(gemini_server, {**text, "generationConfig": unnamed}, key=key)[0] == 400  # no "Jo:" line
    assert _post(gemini_server, {**text, "generationConfig": {}}, key=key)[0] == 400  # no AUDIO modality
    assert _post(gemini_server, {**text, "generationConfig": gen})[0] == 401
    status, body = _post(gemini_server, {**text, "generationConfig": gen}, key="AIzaNopeNopeNope")
    assert status == 400 and body["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert [r.status for r in gemini_server.requests] == [200, 400, 400, 400, 400, 401, 400]
    assert all("x-goog-api-key" not in r.headers for r in gemini_server.requests)


def test_api_version_from_the_environment(gemini_server, backend, monkeypatch):
    monkeypatch.setenv("GOOGLE_GENAI_API_VERSION", "v1beta")
    backend.render(CASES["metadata_single_plain"])
    assert gemini_server.requests[0].path == "/v1beta/models/gemini-3.8-flash-lite-tts:generateContent"


def test_fail_first_attempts_is_reproducible(gemini_server, backend):
    gemini_server.fail_first_attempts(0.5, kinds=("500",), seed=3)
    requests = [req("gemini-3.8-flash-tts", (ALEX, f"Line {i} of the test.", None)) for i in range(20)]
    failed = set()
    for r in requests:
        try:
            backend.render(r)
        except BackendError:
            failed.add(r.key)
            backend.render(r)  # the second attempt at the same body succeeds
    assert 4 <= len(failed) <= 16
    assert sum(1 for rec in gemini_server.requests if rec.fault) == len(failed)

