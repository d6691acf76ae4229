"""The Gemini stand-in (tests/support/standin.py) against the real google-genai client: it must hold a client to what
the Gemini 3.8 service accepts (sampling settings, ``voice_config.voice``, the voices API).

No SDK mocking: every test talks HTTP to the loopback stand-in.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest
from google import genai
from google.genai import errors, types
from google.genai._interactions import (APIStatusError, BadRequestError,  # the error classes client.voices.* raises
                                        InternalServerError, NotFoundError)

from podpipe.backends.gemini.backend import tls_options
from tests.support.standin import DEFAULT_CUSTOM_VOICES, FAKE_API_KEY, LIBRARY, LIBRARY_NAMES, PREBUILT, VOICES, StandIn

M38, M38_LITE, M31, M25 = ("gemini-3.8-flash-tts", "gemini-3.8-flash-lite-tts", "gemini-3.1-flash-tts-preview",
                           "gemini-2.5-flash-preview-tts")
CUSTOM = {"voice_abc123": "My narrator",
          "voice_rep456": {"type": "replicated", "display_name": "Host replica", "language_code": "en-GB"},
          "voicekey_k789": "client-side replica key"}


@pytest.fixture
def server():
    with StandIn(custom_voices=CUSTOM) as s:
        yield s


def client(server: StandIn, *, key: str = FAKE_API_KEY, api_version: str | None = None,
           attempts: int | None = None) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(
        base_url=server.url, api_version=api_version, **tls_options(),
        retry_options=types.HttpRetryOptions(attempts=attempts, initial_delay=0.01) if attempts else None))


def speak(c: genai.Client, model: str, *, voice: str | None = None, prebuilt: str | None = None,
          text: str = "Hello and welcome to the show.", **config) -> types.GenerateContentResponse:
    vc = types.VoiceConfig(voice=voice, prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=prebuilt)
                           if prebuilt else None)
    return c.models.generate_content(model=model, contents=text, config=types.GenerateContentConfig(
        response_modalities=["AUDIO"], speech_config=types.SpeechConfig(voice_config=vc), **config))


def refused(c: genai.Client, model: str, **kw) -> errors.ClientError:
    with pytest.raises(errors.ClientError) as info:
        speak(c, model, **kw)
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    return info.value


def blob(response: types.GenerateContentResponse) -> types.Blob:
    return response.candidates[0].content.parts[0].inline_data


def post(server: StandIn, model: str, gen: dict, text: str = "Hello there.") -> tuple[int, dict]:
    body = {"contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": {"responseModalities": ["AUDIO"], **gen}}
    r = urllib.request.Request(f"{server.url}/v1beta/models/{model}:generateContent",
                               data=json.dumps(body).encode(),
                               headers={"content-type": "application/json", "x-goog-api-key": server.api_key})
    try:
        with urllib.request.urlopen(r, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get(server: StandIn, path: str, key: str | None = None) -> tuple[int, dict]:
    r = urllib.request.Request(server.url + path, headers={"x-goog-api-key": key} if key else {})
    try:
        with urllib.request.urlopen(r, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


# -- sampling settings -------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", [M38, M38_LITE])
@pytest.mark.parametrize(("setting", "field"), [({"temperature": 0.9}, "temperature"), ({"top_p": 0.5}, "topP"),
                                                ({"top_k": 3}, "topK"), ({"temperature": 1.0, "top_k": 3},
                                                                         "temperature")])
def test_sampling_settings_are_rejected_on_38(server, model, setting, field):
    e = refused(client(server), model, prebuilt="Kore", **setting)
    assert e.message == f"{field} is not supported for this model"
    assert server.requests[-1].status == 400 and server.requests[-1].fault is None


@pytest.mark.parametrize("spelling", ["temperature", "topP", "top_p", "topK", "top_k"])
def test_sampling_settings_in_either_spelling_and_the_first_is_named(server, spelling):
    voice = {"speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}}}}
    status, body = post(server, M38, {spelling: 0.5, **voice})
    assert (status, body["error"]["status"]) == (400, "INVALID_ARGUMENT")
    assert body["error"]["message"] == f"{spelling} is not supported for this model"
    status, body = post(server, M38, {"top_k": 4, "temperature": 0.5, **voice})
    assert body["error"]["message"] == "top_k is not supported for this model"
    assert post(server, M38, {"temperature": None, **voice})[0] == 200  # null is unset
    assert post(server, M31, {spelling: 0.5, **voice})[0] == 200


def test_temperature_is_accepted_on_31_and_25(server):
    c = client(server)
    r = speak(c, M31, prebuilt="Kore", temperature=0.9, top_p=0.95, top_k=40)
    assert blob(r).mime_type == "audio/L16;codec=pcm;rate=24000" and r.candidates[0].finish_reason == "STOP"
    assert speak(c, M25, prebuilt="Kore", temperature=1.0).candidates[0].finish_reason == "STOP"
    low = speak(c, M25, prebuilt="Kore", temperature=0.3)  # the 2.5 low-temperature failure is still there
    assert low.candidates[0].finish_reason == "OTHER" and low.candidates[0].content is None
    assert server.requests[0].body["generationConfig"]["temperature"] == 0.9


# -- voices in speech requests ----------------------------------------------------------------------------

@pytest.mark.parametrize("voice", ["Kore", "Sulafat", "Amberly", "Brisbane Kate", "Linh Nguyễn",
                                   "Zoë Whitfield", "voice_abc123", "voice_rep456", "voicekey_k789"])
@pytest.mark.parametrize("model", [M38, M38_LITE])
def test_voice_on_38_takes_prebuilt_library_and_custom_voices(server, model, voice):
    r = speak(client(server), model, voice=voice)
    assert blob(r).mime_type == "audio/wav" and blob(r).data[:4] == b"RIFF" and blob(r).data[8:12] == b"WAVE"
    [rec] = server.requests
    assert rec.status == 200 and rec.body["generationConfig"]["speechConfig"]["voice_config"] == {"voice": voice}


def test_voice_in_multi_speaker_configs(server):
    c = client(server)
    cfg = types.GenerateContentConfig(response_modalities=["AUDIO"], speech_config=types.SpeechConfig(
        multi_speaker_voice_config=types.MultiSpeakerVoiceConfig(speaker_voice_configs=[
            types.SpeakerVoiceConfig(speaker="Alex", voice_config=types.VoiceConfig(voice="Brisbane Kate")),
            types.SpeakerVoiceConfig(speaker="Sam", voice_config=types.VoiceConfig(voice="voice_abc123"))])))
    r = c.models.generate_content(model=M38, contents="Alex: Hi there.\nSam: Hello!", config=cfg)
    assert blob(r).mime_type == "audio/wav"
    cfg.speech_config.multi_speaker_voice_config.speaker_voice_configs[1].voice_config.voice = "Uranus"
    with pytest.raises(errors.ClientError) as info:
        c.models.generate_content(model=M38, contents="Alex: Hi there.\nSam: Hello!", config=cfg)
    assert info.value.code == 400 and info.value.message == "Voice name Uranus is not supported."
    with pytest.raises(errors.ClientError) as info:
        c.models.generate_content(model=M31, contents="Alex: Hi there.\nSam: Hello!", config=cfg)
    assert "voice_config.voice is not supported by models/" + M31 in info.value.message


@pytest.mark.parametrize("model", [M25, "gemini-2.5-pro-preview-tts", M31])
@pytest.mark.parametrize("voice", ["Kore", "Brisbane Kate", "voice_abc123"])
def test_voice_is_not_supported_before_38(server, model, voice):
    e = refused(client(server), model, voice=voice)
    assert e.message == (f"voice_config.voice is not supported by models/{model}; use "
                         "prebuilt_voice_config.voice_name")
    assert speak(client(server), model, prebuilt="Kore").candidates[0].finish_reason == "STOP"


@pytest.mark.parametrize("model", [M38, M31, M25])
@pytest.mark.parametrize("name", ["Brisbane Kate", "Amberly", "voice_abc123"])
def test_prebuilt_voice_config_takes_only_the_30(server, model, name):
    assert refused(client(server), model, prebuilt=name).message == f"Voice name {name} is not supported."


@pytest.mark.parametrize(("model", "kw"), [(M38, {"voice": "Uranus"}), (M38_LITE, {"voice": "Uranus"}),
                                           (M38, {"prebuilt": "Uranus"}), (M31, {"prebuilt": "Uranus"}),
                                           (M25, {"prebuilt": "Uranus"})])
def test_uranus_is_never_a_voice(server, model, kw):
    assert refused(client(server), model, **kw).message == "Voice name Uranus is not supported."
    assert "Uranus" not in VOICES | LIBRARY_NAMES


def test_voice_and_prebuilt_together_unknown_and_runtime_custom_voices(server):
    c = client(server)
    assert "not both" in refused(c, M38, voice="Kore", prebuilt="Kore").message
    assert refused(c, M38, voice="voice_nope").message == "Voice name voice_nope is not supported."
    assert refused(c, M38, voice="kore").message == "Voice name kore is not supported."  # names are exact
    server.custom_voices["voice_nope"] = "Added while running"
    assert blob(speak(c, M38, voice="voice_nope")).mime_type == "audio/wav"
    status, body = post(server, M38, {"speechConfig": {"voiceConfig": {"voice": "Amberly"}}})  # camelCase outer
    assert status == 200 and body["candidates"][0]["content"]["parts"][0]["inlineData"]["mimeType"] == "audio/wav"


def test_default_custom_voices():
    with StandIn() as s:
        c = client(s)
        for voice_id in DEFAULT_CUSTOM_VOICES:
            assert blob(speak(c, M38, voice=voice_id)).mime_type == "audio/wav"
        assert "voice_podpipe0001" in [v.id for v in c.voices.list(page_size=5).voices]
    with pytest.raises(ValueError):
        StandIn(custom_voices={"Narrator": "not an id"})


# -- the voices API ---------------------------------------------------------------------------------------

def expected_order() -> list[str]:
    stored = [k for k in reversed(list(CUSTOM)) if k.startswith("voice_")]  # newest first; keys are not listed
    return stored + [v.name for v in PREBUILT] + [v.name for v in LIBRARY]


@pytest.mark.parametrize("page_size", [None, 7, 30, 1000, 5000])
def test_list_pages_through_every_voice_once_custom_first(server, page_size):
    c = client(server)
    ids, pages, token = [], [], None
    while True:
        page = c.voices.list(page_size=page_size, page_token=token)
        pages.append(page.voices)
        ids += [v.id for v in page.voices]
        token = page.next_page_token
        if not token:
            break
    assert ids == expected_order() and len(ids) == len(set(ids)) == 2 + 30 + len(LIBRARY)
    size = min(page_size or 50, 1000)
    assert [len(p) for p in pages[:-1]] == [size] * (len(pages) - 1) and 0 < len(pages[-1]) <= size
    first = pages[0]
    assert [v.type for v in first[:2]] == ["replicated", "prompted"]
    assert first[1].display_name == "My narrator" and first[0].language_code == "en-GB"
    assert all(v.type == "prebuilt" for p in pages for v in p[2 if p is first else 0:])
    assert "voicekey_k789" not in ids and "Uranus" not in ids
    recs = server.voices_requests()
    assert len(recs) == len(pages) and all(r.model is None and r.status == 200 for r in recs)
    assert [r.voice_ids for r in recs] == [[v.id for v in p] for p in pages]
    assert server.generate_requests() == []


def test_list_wire_shape_and_voice_fields(server):
    c = client(server)
    page = c.voices.list(page_size=40, search="narrator", type_=["prebuilt"], language_code=["en-GB", "en-US"])
    [rec] = server.requests
    assert (rec.method, rec.path) == ("GET", "/v1/voices")
    assert rec.query == {"page_size": ["40"], "search": ["narrator"], "type": ["prebuilt"],
                         "language_code": ["en-GB", "en-US"]}
    assert "x-goog-api-key" not in rec.headers and rec.key_ok
    assert [v.id for v in page.voices] == ["Callum Fraser", "Rosalind Pike", "Walter Brooks"]  # description
    assert page.next_page_token is None
    raw = json.loads(urllib.request.urlopen(urllib.request.Request(  # what is on the wire: snake_case keys
        f"{server.url}/v1beta/voices?page_size=1&type=PREBUILT", headers={"x-goog-api-key": FAKE_API_KEY})).read())
    assert raw["voices"] == [{"type": "prebuilt", "id": "Zephyr", "display_name": "Zephyr",
                              "description": "Bright", "language_code": "en-US", "region_code": "US",
                              "gender": "female",
                              "accent": "American", "pitch": "high", "persona": "Bright",
                              "context": "Conversational"}]
    assert isinstance(raw["next_page_token"], str) and raw["next_page_token"]
    kate = c.voices.list(search="brisbane").voices
    assert [(v.id, v.display_name, v.language_code, v.accent) for v in kate] == [
        ("Brisbane Kate", "Brisbane Kate", "en-AU", "Australian")]
    assert [v.id for v in c.voices.list(type_=["prompted", "replicated"]).voices] == ["voice_rep456",
                                                                                      "voice_abc123"]
    assert len(c.voices.list(gender=["male"], pitch=["low"], page_size=1000).voices) >= 10


@pytest.mark.parametrize("version", ["v1beta", "v1alpha"])
def test_other_api_versions(server, version):
    c = client(server, api_version=version)
    assert len(c.voices.list(page_size=3).voices) == 3
    assert c.voices.get("voice_abc123").display_name == "My narrator"
    assert [r.path for r in server.requests] == [f"/{version}/voices", f"/{version}/voices/voice_abc123"]


def test_bad_page_tokens_and_sizes(server):
    c = client(server)
    token = c.voices.list(page_size=5).next_page_token
    with pytest.raises(BadRequestError) as info:
        c.voices.list(page_token="not-a-token")
    assert info.value.status_code == 400 and info.value.body["error"]["status"] == "INVALID_ARGUMENT"
    with pytest.raises(BadRequestError):
        c.voices.list(page_token=token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1])  # tampered
    with pytest.raises(BadRequestError) as info:
        c.voices.list(page_token=token, search="warm")  # filters changed between pages
    assert "filter" in info.value.body["error"]["message"]
    assert len(c.voices.list(page_token=token, page_size=2).voices) == 2  # page_size may change
    assert get(server, "/v1/voices?page_size=abc", FAKE_API_KEY)[0] == 400
    assert get(server, "/v1/voices?page_size=-1", FAKE_API_KEY)[0] == 400
    assert get(server, "/v1/voices?type=robot", FAKE_API_KEY)[0] == 400
    assert all(r.fault is None for r in server.requests)


def test_get_one_voice_or_404(server):
    c = client(server)
    v = c.voices.get("voice_rep456")
    assert (v.id, v.type, v.display_name, v.language_code) == ("voice_rep456", "replicated", "Host replica",
                                                               "en-GB")
    p = c.voices.get("voice_abc123")
    assert p.type == "prompted" and p.prompted.input and p.model and p.expire_time is not None
    for missing in ("voice_missing", "Puck", "Brisbane Kate", "voicekey_k789", "Uranus", "voices/voice_abc123"):
        with pytest.raises(NotFoundError) as info:
            c.voices.get(missing)
        assert info.value.body["error"]["status"] == "NOT_FOUND"
    assert [r.status for r in server.voices_requests()] == [200, 200] + [404] * 6
    assert server.voices_requests()[0].voice_ids == ["voice_rep456"]


def test_voices_requests_need_the_key(server):
    assert get(server, "/v1/voices")[0] == 401
    status, body = get(server, "/v1/voices", key="AIzaNopeNopeNope")
    assert status == 400 and body["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert get(server, "/v1/voices/voice_abc123")[0] == 401
    wrong = client(server, key="AIzaNopeNopeNope")  # keep a reference: a dropped Client closes its transport
    with pytest.raises(BadRequestError):
        wrong.voices.list()
    assert [r.key_ok for r in server.requests] == [False] * 4
    assert all(r.fault is None and r.voice_ids is None for r in server.requests)


def test_faults_apply_to_voices_requests(server):
    c = client(server, attempts=1)
    server.script(["500"])
    with pytest.raises(InternalServerError):
        c.voices.list()
    server.script(["404"])
    with pytest.raises(NotFoundError):
        c.voices.get("voice_abc123")
    server.script(["other"])  # shapes an audio answer: not for voices, answered normally
    assert len(c.voices.list(page_size=2).voices) == 2
    assert [(r.fault, r.status) for r in server.requests] == [("500", 500), ("404", 404), (None, 200)]
    server.voices_faults = False
    server.script(["503"])
    assert c.voices.list(page_size=2).voices  # the 503 waits for the next speech request
    with pytest.raises(errors.ServerError) as info:
        speak(c, M38, voice="Kore")
    assert info.value.code == 503


def test_sdk_retries_voices_requests(server):
    server.script([None, "429"])
    c = client(server, attempts=2)
    assert c.voices.get("voice_abc123").id == "voice_abc123"
    c.voices.list(page_size=1)  # 429, then the SDK's own retry succeeds
    assert [r.status for r in server.requests] == [200, 429, 200]


def test_error_bodies_are_google_style(server):
    c = client(server)
    with pytest.raises(APIStatusError) as info:
        c.voices.get("voice_missing")
    assert info.value.body == {"error": {"code": 404, "message": "Voice voices/voice_missing not found.",
                                         "status": "NOT_FOUND"}}


def test_page_token_is_opaque_but_not_forgeable(server):
    forged = base64.urlsafe_b64encode(b'00000000{"o":0,"f":"x"}').decode().rstrip("=")
    status, body = get(server, f"/v1/voices?page_token={forged}", FAKE_API_KEY)
    assert status == 400 and body["error"]["message"] == "Invalid page_token."
