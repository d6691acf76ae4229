"""The compiler: request splitting, style combination, gaps and, above all, what does and doesn't change a key."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from podpipe.compile import MAX_REQUEST_CHARS, SilencePiece, SpeechPiece, Target, compile_episode, split_text
from podpipe.spec import Output
from tests.support.episodes import dialogue, episode, line, pause

GOLDEN = Path(__file__).parent / "golden"


def _compile(ep, backend="gemini", model="gemini-3.8-flash-tts"):
    if backend == "gemini":
        from podpipe.backends.gemini import GeminiBackend

        return compile_episode(ep, GeminiBackend.target(model))
    return compile_episode(ep, Target(backend, model))


def _keys(ep, **kw):
    return [r.key for r in _compile(ep, **kw).requests]


BASE = (line(0, "host", "Welcome to the show!", chapter="Intro"),
        dialogue(1, ("host", "So what happened?"), ("guest", "It's a long story.")),
        pause(2, 1.5),
        line(3, "guest", "Thanks for having me."))


def test_golden_plan():
    """The whole compiled plan of a small episode, pinned; regenerate with PODPIPE_REGEN=1 after a deliberate change."""
    compiled = _compile(episode(*BASE, style="Warm radio show", temperature=1.0, language="en-US"))
    doc = {
        "requests": [dataclasses.asdict(r) for r in compiled.requests],
        "pieces": [{"type": type(p).__name__, **{k: v for k, v in dataclasses.asdict(p).items() if k != "path"}}
                   for p in compiled.rundown.pieces],
    }
    golden = GOLDEN / "basic.json"
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("PODPIPE_REGEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_gaps_between_spoken_pieces_only():
    pieces = _compile(episode(*BASE, gap=0.4)).rundown.pieces
    kinds = [(type(p).__name__, getattr(p, "reason", None)) for p in pieces]
    assert kinds == [("SpeechPiece", None), ("SilencePiece", "gap"), ("SpeechPiece", None),
                     ("SilencePiece", "pause"), ("SpeechPiece", None)]
    assert pieces[1].seconds == 0.4 and pieces[3].seconds == 1.5


def test_zero_gap_adds_no_silence():
    pieces = _compile(episode(*BASE, gap=0)).rundown.pieces
    assert not [p for p in pieces if isinstance(p, SilencePiece) and p.reason == "gap"]


def test_styles_combine_episode_speaker_segment_in_order():
    compiled = _compile(episode(line(0, "host", "Hi.", style="whispering"), style="Warm radio show"))
    assert compiled.requests[0].turns[0].style == "Warm radio show; bright; whispering"
    compiled = _compile(episode(line(0, "guest", "Hi.")))  # guest has no style
    assert compiled.requests[0].turns[0].style is None


def test_three_speaker_dialogue_never_puts_three_in_one_request():
    turns = [("host", "One."), ("guest", "Two."), ("third", "Three."), ("host", "Four."), ("third", "Five."),
             ("guest", "Six."), ("guest", "Seven."), ("host", "Eight.")]
    compiled = _compile(episode(dialogue(0, *turns)))
    assert all(len(r.speakers) <= 2 for r in compiled.requests)
    spoken = [t.text for r in compiled.requests for t in r.turns]
    assert spoken == [t for _, t in turns]  # order preserved, nothing lost or duplicated
    # greedy: a request is cut exactly when a third speaker would join
    assert [r.speakers for r in compiled.requests] == [("Alex", "Sam"), ("Kim", "Alex"), ("Sam", "Alex")]


def test_long_line_is_split_at_sentences_under_the_cap():
    text = " ".join(f"Sentence number {i} is about as long as the others in this paragraph." for i in range(120))
    compiled = _compile(episode(line(0, "host", text)))
    assert len(compiled.requests) >= 3
    for r in compiled.requests:
        assert len(r.turns[0].text) <= MAX_REQUEST_CHARS
        assert r.turns[0].text.endswith(".")
    assert " ".join(r.turns[0].text for r in compiled.requests) == text
    # split pieces of one segment are separated by the gap and only the first carries the chapter
    speech = [p for p in compiled.rundown.pieces if isinstance(p, SpeechPiece)]
    assert {p.segment_id for p in speech} == {"s1"}


def test_split_text_handles_a_run_on_sentence():
    text = "word " * 2000
    chunks = split_text(text.strip(), 100)
    assert all(len(c) <= 100 for c in chunks)
    assert " ".join(chunks) == text.strip()


def test_long_dialogue_turns_split_by_size():
    big = "A fairly long sentence for the dialogue. " * 120  # ~4,900 chars
    compiled = _compile(episode(dialogue(0, ("host", big), ("guest", "Short reply."))))
    assert all(r.characters <= MAX_REQUEST_CHARS for r in compiled.requests)
    assert len(compiled.requests) >= 2


def test_whitespace_only_edits_do_not_change_keys():
    a = _keys(episode(line(0, "host", "Hello   there,\n  friend.")))
    b = _keys(episode(line(0, "host", "Hello there, friend.")))
    assert a == b


@pytest.mark.parametrize("change", [
    dict(title="Another title"), dict(description="New description"), dict(author="Someone"), dict(episode=7),
])
def test_metadata_does_not_change_keys(change):
    assert _keys(episode(*BASE)) == _keys(episode(*BASE, **change))


def test_mix_settings_do_not_change_keys():
    base = episode(*BASE)
    other = dataclasses.replace(base, output=Output(Path("/elsewhere/x.mp3"), "mp3", 1.0))
    assert _keys(base) == _keys(other)
    # nor do pauses, chapters or inserted pauses between the same lines
    moved = episode(line(0, "host", "Welcome to the show!"),
                    dialogue(1, ("host", "So what happened?"), ("guest", "It's a long story.")),
                    pause(2, 3.0), pause(3, 0.5), line(4, "guest", "Thanks for having me.", chapter="Outro"))
    assert _keys(base) == _keys(moved)


@pytest.mark.parametrize("change", ["text", "voice", "style", "temperature", "language", "take", "model",
                                    "backend", "speaker_name"])
def test_every_audio_input_changes_the_key(change):
    from podpipe.spec import Speaker

    ep = episode(line(0, "host", "Hello."))
    kw = dict(backend="gemini", model="gemini-3.8-flash-tts")
    if change == "text":
        ep = episode(line(0, "host", "Hello!"))
    elif change == "voice":
        ep = dataclasses.replace(ep, speakers=(Speaker("host", "Kore", "Alex", "bright"), *ep.speakers[1:]))
    elif change == "speaker_name":
        ep = dataclasses.replace(ep, speakers=(Speaker("host", "Zephyr", "Alexa", "bright"), *ep.speakers[1:]))
    elif change == "style":
        ep = episode(line(0, "host", "Hello.", style="sad"))
    elif change == "temperature":  # a model that takes it (3.8 does not: see below)
        kw["model"] = "gemini-3.1-flash-tts-preview"
        assert _keys(episode(line(0, "host", "Hello.", temperature=1.3)), **kw) != _keys(
            episode(line(0, "host", "Hello.")), **kw)
        return
    elif change == "language":
        ep = episode(line(0, "host", "Hello."), language="en-GB")
    elif change == "take":
        ep = episode(line(0, "host", "Hello.", take=2))
    elif change == "model":
        kw["model"] = "gemini-3.8-flash-lite-tts"
    elif change == "backend":
        kw["backend"] = "espeak"
    assert _keys(ep, **kw) != _keys(episode(line(0, "host", "Hello.")))


LEGACY = "gemini-3.1-flash-tts-preview"


def test_int_and_float_temperature_share_a_key():
    assert (_keys(episode(line(0, "host", "Hi."), temperature=1), model=LEGACY)
            == _keys(episode(line(0, "host", "Hi."), temperature=1.0), model=LEGACY))


def test_segment_temperature_overrides_episode():
    compiled = _compile(episode(line(0, "host", "Hi.", temperature=0.7), line(1, "host", "Yo."), temperature=1.1),
                        model=LEGACY)
    assert [r.temperature for r in compiled.requests] == [0.7, 1.1]


@pytest.mark.parametrize("model", ["gemini-3.8-flash-tts", "gemini-3.8-flash-lite-tts", "gemini-4.1-flash-tts"])
def test_models_without_sampling_neither_get_nor_key_temperature(model):
    with_t = _compile(episode(line(0, "host", "Hi.", temperature=0.7), temperature=1.1), model=model)
    assert [r.temperature for r in with_t.requests] == [None]
    assert _keys(episode(line(0, "host", "Hi.", temperature=0.7), temperature=1.1), model=model) == _keys(
        episode(line(0, "host", "Hi.")), model=model)


def test_offline_voice_keys_ignore_temperature_and_get_no_tags():
    from podpipe.backends.espeak import EspeakBackend

    target = EspeakBackend.target("gemini-3.8-flash-tts")
    a = compile_episode(episode(line(0, "host", "Hi <laughs> there.", temperature=0.7)), target)
    b = compile_episode(episode(line(0, "host", "Hi [laughs] there.")), target)
    assert a.requests[0].key == b.requests[0].key
    assert a.requests[0].turns[0].text == "Hi there." and a.requests[0].turns[0].shown == "Hi [laughs] there."


@pytest.mark.parametrize("model, sent", [
    ("gemini-3.8-flash-tts", "Well <sigh> it was [1] year. <short pause> Okay. Brackets: sic."),
    ("gemini-2.5-flash-preview-tts", "Well [sigh] it was [1] year. [short pause] Okay. Brackets: <sic>."),
])
def test_vocal_tags_are_sent_in_the_form_the_model_reads(model, sent):
    text = r"Well [sigh] it was [1] year. <short pause> Okay. Brackets: \<sic\>."
    turn = _compile(episode(line(0, "host", text)), model=model).requests[0].turns[0]
    assert turn.text == sent
    assert turn.shown == "Well [sigh] it was [1] year. [short pause] Okay. Brackets: <sic>."
    # the same cue written in either form is the same request
    other = text.replace("[sigh]", "<sigh>").replace("<short pause>", "[short pause]")
    assert _keys(episode(line(0, "host", other)), model=model) == _keys(episode(line(0, "host", text)), model=model)


def test_lexicon_changes_the_speech_not_the_written_text():
    from podpipe.spec import LexiconEntry

    lexicon = (LexiconEntry("SQL", "sequel"), LexiconEntry("nguyen", "win", ignore_case=True))
    ep = episode(line(0, "host", "Ask Nguyen about SQL <laughs> and SQLite."), line(1, "host", "No names."),
                 lexicon=lexicon)
    first, second = _compile(ep).requests
    assert first.turns[0].text == "Ask win about sequel <laughs> and SQLite."  # whole words only
    assert first.turns[0].shown == "Ask Nguyen about SQL [laughs] and SQLite."
    plain = _compile(episode(line(0, "host", "Ask Nguyen about SQL <laughs> and SQLite."), line(1, "host", "No names.")))
    assert first.key != plain.requests[0].key and second.key == plain.requests[1].key


def test_identical_lines_share_one_request():
    compiled = _compile(episode(line(0, "host", "Same."), line(1, "host", "Same.")))
    assert len(compiled.requests) == 1
    assert len(compiled.rundown.keys) == 2 and len(set(compiled.rundown.keys)) == 1


def test_identical_requests_across_episodes_share_keys(tmp_path):
    a = _compile(episode(line(0, "host", "Shared line."), tmp=tmp_path / "a", title="A"))
    b = _compile(episode(line(0, "guest", "Other."), line(1, "host", "Shared line."), tmp=tmp_path / "b", title="B"))
    assert a.requests[0].key in {r.key for r in b.requests}


def test_chapter_marks_land_on_the_first_piece_of_their_segment():
    compiled = _compile(episode(*BASE))
    speech = [p for p in compiled.rundown.pieces if isinstance(p, SpeechPiece)]
    assert speech[0].chapter == "Intro"
    assert [p.chapter for p in speech[1:]] == [None, None]


def test_the_key_is_the_hash_of_the_recorded_material():
    from podpipe.compile import cache_key, request_material

    compiled = _compile(episode(*BASE, style="Warm radio show", language="en-US"), model=LEGACY)
    for request in compiled.requests:
        material = request_material(request)
        assert cache_key(material) == request.key
        assert cache_key({**material, "take": 2}) != request.key
