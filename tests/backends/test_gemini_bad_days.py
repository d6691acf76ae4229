"""How the real service fails, through the real google-genai client against the loopback stand-in: final
refusals, takes cut off at the output cap, languages it does not take, what failed attempts are billed; the
catalog's version rule, dated prices, tag vocabulary and per-language request sizes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pytest

from podpipe.backends.gemini import GeminiBackend
from podpipe.backends.gemini.catalog import (AUDIO_TOKENS_PER_SECOND, MAX_OUTPUT_TOKENS, TAGS_38, model_info,
                                             price_basis, prices, version)
from podpipe.backends.gemini.wire import estimate_tokens
from podpipe.compile import MAX_REQUEST_CHARS, RenderRequest, RequestTurn
from podpipe.errors import BackendError
from tests.support.backends import render_error
from tests.support.standin import Fault


def req(text: str, model: str = "gemini-3.8-flash-tts", language: str | None = "en-US") -> RenderRequest:
    turns = (RequestTurn("Alex", "Zephyr", text, None),)
    key = hashlib.sha256(repr((model, turns, language)).encode()).hexdigest()
    return RenderRequest(key, "gemini", model, turns, language=language)


HELLO = req("Welcome to the show! Today we talk about bread.")


@pytest.mark.parametrize("reason,words", [
    ("SAFETY", "the model refused this line for safety (SAFETY, gemini-3.8-flash-tts): rephrase it"),
    ("PROHIBITED_CONTENT", "prohibited content (PROHIBITED_CONTENT"),
    ("BLOCKLIST", "blocklist (BLOCKLIST"),
    ("SPII", "card or phone number) (SPII"),
    ("RECITATION", "recitation of published text (RECITATION"),
    ("LANGUAGE", "check `language:`"),
    ("IMAGE_SAFETY", "(IMAGE_SAFETY"),
])
def test_refusals_are_final_with_the_reason_in_plain_words(reason, words, gemini_server, backend):
    gemini_server.script([Fault("refusal", reason=reason)])
    err = render_error(backend, HELLO)
    assert not err.retryable and not err.cut_off and words in str(err)


def test_a_blocked_prompt_is_final(gemini_server, backend):
    gemini_server.script([Fault("blocked", reason="PROHIBITED_CONTENT")])
    err = render_error(backend, HELLO)
    assert not err.retryable and "(PROHIBITED_CONTENT" in str(err)


@pytest.mark.parametrize("kind", ["other", "text", "500"])
def test_other_failures_are_still_retried(kind, gemini_server, backend):
    gemini_server.script([kind])
    err = render_error(backend, HELLO)
    assert err.retryable and not err.cut_off and not err.final_if_repeated


def test_max_tokens_is_a_cut_off_take(gemini_server, backend):
    gemini_server.script(["max-tokens"])
    err = render_error(backend, HELLO)
    assert err.cut_off and not err.retryable
    assert "MAX_TOKENS" in str(err) and "partial audio" in str(err) and "never used" in str(err)


def test_failed_attempts_carry_what_they_were_billed(gemini_server, backend):
    for kind in ("refusal", "max-tokens", "other"):
        gemini_server.script([kind])
        err = render_error(backend, HELLO)
        usage = gemini_server.requests[-1].usage
        assert err.billed is not None, kind
        assert (err.billed.prompt_tokens, err.billed.output_tokens, err.billed.total_tokens) == (
            usage["promptTokenCount"], usage["candidatesTokenCount"], usage["totalTokenCount"])
    gemini_server.script(["500"])  # an HTTP error carries no usage: nothing billed
    assert render_error(backend, HELLO).billed is None


def test_the_service_own_failures_repeat(gemini_server, backend):
    """The stand-in refuses, caps and rejects languages by itself, the same way every time."""
    gemini_server.refuse_words = {"bread"}
    for _ in range(2):
        err = render_error(backend, HELLO)
        assert not err.retryable and "(SAFETY" in str(err)
    gemini_server.refuse_words = set()
    gemini_server.max_output_seconds = 1.0
    err = render_error(backend, HELLO)  # 47 characters: ~3 s at the stand-in's rate
    assert err.cut_off
    assert backend.render(req("Short.")).audio.seconds > 0  # under the cap: fine
    gemini_server.max_output_seconds = None
    gemini_server.languages = {"en-US"}
    swahili = dataclasses.replace(HELLO, language="sw-KE")
    first, second = (render_error(backend, swahili) for _ in range(2))
    assert str(first) == str(second) and first.status == 500 and first.retryable and first.final_if_repeated
    assert "`language: sw-KE`" in str(first) and "does not take that language" in str(first)
    # in English a 500 is an ordinary burst: retried as often as the scheduler allows
    gemini_server.languages = {"de-DE"}
    assert not render_error(backend, HELLO).final_if_repeated


# -- model names to come ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,expected", [
    ("gemini-4-flash-tts", (4, 0)), ("gemini-5.1-pro-tts", (5, 1)), ("gemini-3.8-flash-tts", (3, 8)),
    ("gemini-2.5-flash-preview-tts", (2, 5)), ("gemini-flash-tts", None), ("espeak-ng", None)])
def test_the_version_rule_reads_every_gemini_name(name, expected):
    assert version(name) == expected


@pytest.mark.parametrize("name", ["gemini-4-flash-tts", "gemini-5.1-flash-lite-tts"])
def test_newer_models_get_the_newest_known_contract(name):
    info, newest = model_info(name), model_info("gemini-3.8-flash-tts")
    assert (info.dialect, info.sampling, info.tags, info.voice_ids) == (
        newest.dialect, newest.sampling, newest.tags, newest.voice_ids)
    assert info.prices == newest.prices and info.tag_names == newest.tag_names
    assert GeminiBackend.owns_model(name) and not GeminiBackend.target(name).sampling


def test_gemini_4_gets_the_38_request_shape(gemini_server, backend):
    gemini_server.models["gemini-4-flash-tts"] = "wav"  # the service serves it once it ships
    request = dataclasses.replace(req("Hello from the future.", model="gemini-4-flash-tts"), temperature=1.3,
                                  turns=(RequestTurn("Alex", "Zephyr", "Hello from the future.", "bright"),))
    rendered = backend.render(request)  # the stand-in rejects temperature on 3.8-style models with a 400
    [rec] = gemini_server.generate_requests()
    assert rec.status == 200 and rendered.audio.seconds > 0
    config = rec.body["generationConfig"]
    assert "temperature" not in config
    assert config["speechConfig"]["voice_config"] == {"voice": "Zephyr"}
    assert rec.body["contents"][0]["parts"][0]["speechMetadata"] == {"style": "bright"}


# -- prices with dates --------------------------------------------------------------------------------------

def test_prices_carry_their_dates_and_source():
    launch = model_info("gemini-3.8-flash-tts").price_on(dt.date(2026, 12, 2))
    assert (launch.input_per_m, launch.output_per_m, launch.end, launch.note) == (0.5, 9.0, "2026-12-31",
                                                                                  "launch price")
    assert launch.source
    assert prices("gemini-3.8-flash-tts", dt.date(2026, 12, 2)) == (0.5, 9.0)
    basis = price_basis("gemini-3.8-flash-tts", dt.date(2026, 12, 2))
    assert "launch price" in basis and "2026-12-31" in basis and "ended" not in basis
    later = price_basis("gemini-3.8-flash-tts", dt.date(2027, 1, 1))
    assert "ended 2026-12-31" in later and "PODPIPE_PRICES" in later
    assert price_basis("espeak-ng") == ""


# -- languages --------------------------------------------------------------------------------------------

def test_request_size_follows_the_output_cap_and_the_language():
    english = GeminiBackend.request_chars("gemini-3.8-flash-tts", "en-US")
    chinese = GeminiBackend.request_chars("gemini-3.8-flash-tts", "zh-CN")
    assert english == MAX_REQUEST_CHARS == 3360  # English requests (and their keys) are sized as always
    assert chinese == 1200 and GeminiBackend.request_chars("gemini-3.8-flash-tts", "ja-JP") == 1440
    for language, size in (("en-US", english), ("zh-CN", chinese)):
        _, output = estimate_tokens(req("字" * size if language == "zh-CN" else "a" * size, language=language))
        assert output <= MAX_OUTPUT_TOKENS * 0.5  # well inside the cap, at the language's rate
        assert output / AUDIO_TOKENS_PER_SECOND <= 240


def test_documented_tags():
    assert {"laugh", "sigh", "cough", "breath", "short pause", "gasp"} <= TAGS_38
    assert GeminiBackend.tag_names("gemini-3.8-flash-tts") == TAGS_38
    assert GeminiBackend.tag_names("gemini-2.5-flash-preview-tts") is None  # no list published: no warning
