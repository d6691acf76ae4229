"""The scheduler on the service's bad days, with the real Gemini backend (google-genai) against the loopback
stand-in: a refusal is attempted once, an identical final-if-repeated 500 twice, a cut-off take is split and
joined under the whole's key (its parts never stored), and every attempt's billed tokens are counted."""

from __future__ import annotations

import pytest

from podpipe.backends.gemini import GeminiBackend
from podpipe.cache import FileStore
from podpipe.commands.build import compile_for
from podpipe.render import RenderOptions, Scheduler
from tests.support.episodes import episode, line
from tests.support.standin import CHARS_PER_SECOND

FAST = dict(backoff_base=0.001, backoff_max=0.002, rpm=0)


def requests(*texts: str, language: str | None = None):
    ep = episode(*(line(i, "host", t) for i, t in enumerate(texts)), language=language)
    return compile_for(GeminiBackend, ep).requests


@pytest.fixture
def backend(gemini_server):
    b = GeminiBackend(timeout=10)
    yield b
    b.close()


def test_a_refusal_is_attempted_once_and_nothing_of_it_is_stored(gemini_server, backend, tmp_path):
    store = FileStore(tmp_path)
    gemini_server.refuse_words = {"forbidden"}
    bad, good = requests("Something forbidden.", "Something fine.")
    result = Scheduler(backend, store, RenderOptions(jobs=1, attempts=5, **FAST)).run([bad, good])
    [failed] = result.failed
    assert failed.request == bad and failed.attempts == 1 and "(SAFETY" in failed.error
    assert failed.usage.total_tokens == gemini_server.requests[0].usage["totalTokenCount"] > 0  # billed
    assert not store.has(bad.key) and store.has(good.key)


def test_an_identical_final_if_repeated_failure_stops_after_two(gemini_server, backend, tmp_path):
    gemini_server.languages = {"en-US"}
    [request] = requests("Habari za asubuhi.", language="sw-KE")
    result = Scheduler(backend, FileStore(tmp_path), RenderOptions(jobs=1, attempts=5, **FAST)).run([request])
    [failed] = result.failed
    assert failed.attempts == 2 and len(gemini_server.generate_requests()) == 2
    assert failed.failures[0] == failed.failures[1]


def test_a_cut_off_take_is_split_recursively_and_joined_under_the_whole_key(gemini_server, backend, tmp_path):
    store = FileStore(tmp_path)
    text = " ".join(f"This is sentence number {i} of the reading." for i in range(8))  # 8 x ~42 characters
    [request] = requests(text)
    gemini_server.max_output_seconds = 7.0  # ~105 characters: the whole, and its halves, are cut off
    result = Scheduler(backend, store, RenderOptions(jobs=1, **FAST)).run([request])
    [done] = result.rendered
    recs = gemini_server.generate_requests()
    full = [r for r in recs if sum(map(len, r.texts)) / CHARS_PER_SECOND <= 7.0]
    assert len(recs) == 7 and done.parts == len(full) == 4  # whole, 2 halves cut off; 4 quarters in full
    assert " ".join(t for r in full for t in r.texts) == text
    assert done.attempts == 7 and done.usage.total_tokens == sum(r.usage["totalTokenCount"] for r in recs)
    audio = store.get(request.key)
    assert audio.seconds == pytest.approx(sum(sum(map(len, r.texts)) for r in full) / CHARS_PER_SECOND, abs=0.01)
    assert store.meta(request.key)["parts"] == 4
    assert len(list(store.keys())) == 1  # the parts are never stored: only the whole
    again = Scheduler(backend, store, RenderOptions(jobs=1, **FAST)).run([request])
    assert again.outcomes == () and len(gemini_server.generate_requests()) == 7  # found whole: nothing sent


def test_a_take_that_cannot_be_split_further_fails_naming_the_fix(gemini_server, backend, tmp_path):
    gemini_server.max_output_seconds = 0.01  # every take is cut off
    [request] = requests("Hi.")
    result = Scheduler(backend, FileStore(tmp_path), RenderOptions(jobs=1, **FAST)).run([request])
    [failed] = result.failed
    assert "cannot be split any further: shorten this line" in failed.error
    assert failed.usage.total_tokens == sum(r.usage["totalTokenCount"] for r in gemini_server.generate_requests())
