"""Every language: sentence ends of every script, requests sized by the model's output cap at the language's
speaking rate, clause marks only for a sentence too long alone, and how a cut-off request is halved."""

from __future__ import annotations

import dataclasses

import pytest

from podpipe.backends.gemini import GeminiBackend
from podpipe.backends.gemini.catalog import MAX_OUTPUT_TOKENS
from podpipe.backends.gemini.wire import estimate_tokens
from podpipe.commands.build import compile_for
from podpipe.compile import MAX_REQUEST_CHARS, cache_key, compile_episode, key_material, sentences, split_request, split_text
from tests.support.episodes import dialogue, episode, line

ENDS = "。！？"


def chinese(chars: int) -> str:
    """Sentences of 12-47 characters, each ending in 。！ or ？, about ``chars`` long in all."""
    out, i = [], 0
    body = "今天我们在节目里讨论面包的历史和做法以及各地的不同习惯还有很多有趣的故事"
    while sum(map(len, out)) < chars:
        n = 11 + (i * 7) % 36
        out.append((body * 2)[i % len(body):i % len(body) + n] + ENDS[i % 3])
        i += 1
    return "".join(out)


def test_a_3000_character_chinese_line_becomes_requests_that_end_at_sentences_and_fit_the_cap():
    text = chinese(3000)
    assert len(text) >= 3000 and " " not in text
    compiled = compile_for(GeminiBackend, episode(line(0, "host", text), language="zh-CN"))
    requests = compiled.requests
    limit = GeminiBackend.request_chars("gemini-3.8-flash-tts", "zh-CN")
    assert len(requests) >= 3
    for r in requests:
        [turn] = r.turns
        assert len(turn.text) <= limit and turn.text[-1] in ENDS  # never cut mid-sentence
        _, audio_tokens = estimate_tokens(r)
        assert audio_tokens <= MAX_OUTPUT_TOKENS / 2  # about half the output cap at most, at Chinese speed
    assert "".join(r.turns[0].text for r in requests) == text  # no spaces put between CJK sentences


def test_english_requests_are_sized_and_keyed_as_before():
    text = " ".join(f"Sentence number {i} is about as long as the others in this paragraph." for i in range(120))
    ep = episode(line(0, "host", text), language="en-US")
    via_backend = compile_for(GeminiBackend, ep)
    assert all(len(r.turns[0].text) <= MAX_REQUEST_CHARS for r in via_backend.requests)
    assert [r.key for r in via_backend.requests] == [
        r.key for r in compile_episode(ep, GeminiBackend.target(None), limit=MAX_REQUEST_CHARS).requests]


@pytest.mark.parametrize("text,expected", [
    ("第一句。第二句！第三句？", ["第一句。", "第二句！", "第三句？"]),
    ("「你好。」他说。", ["「你好。」", "他说。"]),
    ("यह पहला वाक्य है। यह दूसरा है।", ["यह पहला वाक्य है। ", "यह दूसरा है।"]),
    ("هل أنت بخير؟ نعم.", ["هل أنت بخير؟ ", "نعم."]),
    ("یہ پہلا جملہ ہے۔ یہ دوسرا ہے۔", ["یہ پہلا جملہ ہے۔ ", "یہ دوسرا ہے۔"]),
    ("One. Two! Three? \"Four.\" Five", ["One. ", "Two! ", "Three? ", "\"Four. ", "Five"]),
])
def test_sentence_ends_of_every_script(text, expected):
    assert sentences(text) == expected


def test_only_a_sentence_too_long_alone_is_cut_inside_at_a_clause_mark():
    clause = "这是一个很长的分句没有结束"  # 13 characters
    text = "，".join([clause] * 10) + "。"  # one sentence of 140 characters
    chunks = split_text(text, 50)
    assert all(len(c) <= 50 for c in chunks) and "".join(chunks) == text
    assert all(c[-1] in "，。" for c in chunks)
    thai = " ".join(["สวัสดีครับวันนี้อากาศดี"] * 10)  # no sentence marks: cut at the spaces between phrases
    assert all(len(c) <= 60 and not c.startswith(" ") for c in split_text(thai, 60))


def test_a_cut_off_request_is_halved_at_the_sentence_end_nearest_the_middle():
    text = "One short sentence. Another one here. A third sentence now. And the last one."
    [request] = compile_for(GeminiBackend, episode(line(0, "host", text))).requests
    first, second = split_request(request)
    assert (first.turns[0].text, second.turns[0].text) == (
        "One short sentence. Another one here.", "A third sentence now. And the last one.")
    for part in (first, second):  # a part's key is what its own material gives; the whole keeps its own
        assert part.key == cache_key(key_material(part.backend, part.model, part.turns, part.temperature,
                                                  part.language, part.take)) != request.key
    [talk] = compile_for(GeminiBackend, episode(dialogue(0, ("host", "Hi there."), ("guest", "Hello."),
                                                         ("host", "How are you?")))).requests
    a, b = split_request(talk)  # several turns: cut between turns
    assert [t.text for t in a.turns] + [t.text for t in b.turns] == ["Hi there.", "Hello.", "How are you?"]
    [tiny] = compile_for(GeminiBackend, episode(line(0, "host", "Hi"))).requests
    assert split_request(tiny) is not None  # two characters still halve (hard); one cannot
    one = dataclasses.replace(tiny, turns=(dataclasses.replace(tiny.turns[0], text="X"),))
    assert split_request(one) is None
