"""The offline espeak voice, rendering for real through the bundled libespeak-ng."""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import warnings

import pytest

from podpipe.backends import backend_class, espeak
from podpipe.backends.espeak import VOICE_MAP, EspeakBackend, words_per_minute
from podpipe.backends.gemini.catalog import FEMININE, GEMINI_VOICES
from podpipe.compile import RenderRequest, RequestTurn
from podpipe.errors import BackendError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

SENTENCE = "The quick brown fox jumps over the lazy dog, and then it runs away into the forest."


def request(*turns: tuple[str, str] | tuple[str, str, str], language: str | None = None) -> RenderRequest:
    rturns = tuple(RequestTurn(f"Speaker{t[0]}", t[0], t[1], t[2] if len(t) > 2 else None) for t in turns)
    return RenderRequest("k" * 64, "espeak", "espeak-ng", rturns, language=language)


@pytest.fixture(scope="module")
def backend():
    b = EspeakBackend()
    yield b
    b.close()


def median_f0(pcm: bytes, rate: int) -> float:
    """Median pitch of the voiced frames, by best self-match over lags of 2.5-16 ms (C speed via findfit)."""
    n, lo, hi = 512, rate // 400, rate // 60
    found = []
    for i in range(0, len(pcm) // 2 - hi - 2 * n, n):
        ref = pcm[2 * i:2 * (i + n)]
        if audioop.rms(ref, 2) < 1000:
            continue
        offset, _ = audioop.findfit(pcm[2 * (i + lo):2 * (i + hi + n)], ref)
        found.append(rate / (offset + lo))
    return statistics.median(found)


def test_import_loads_nothing():
    code = ("import sys, podpipe.backends.espeak as e; "
            "assert e._engine is None; assert 'espeakng_loader' not in sys.modules; "
            "assert not any('espeak' in l for l in open('/proc/self/maps'))" if sys.platform == "linux" else
            "import sys, podpipe.backends.espeak as e; assert e._engine is None")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registry_and_model():
    assert backend_class("espeak") is EspeakBackend
    assert EspeakBackend.name == "espeak"
    assert EspeakBackend.model_for("gemini-3.8-flash-tts") == "espeak-ng"
    assert EspeakBackend.model_for("gemini-2.5-pro-preview-tts") == "espeak-ng"


def test_renders_plausible_speech(backend):
    rendered = backend.render(request(("Zephyr", SENTENCE)))
    audio = rendered.audio
    assert audio.rate == 22050 and audio.channels == 1
    expected = len(SENTENCE.split()) / (165 / 60)
    assert 0.5 * expected < audio.seconds < 2.0 * expected
    assert audioop.rms(audio.pcm, 2) > 1000  # speech, not near-silence (full scale is 32767)
    assert rendered.usage.total_tokens == 0


def render_seconds(backend, *turns, **kw) -> float:
    return backend.render(request(*turns, **kw)).audio.seconds


def test_repeat_renders_agree(backend):
    # espeak carries pitch-flutter state across utterances, so samples differ slightly; timing must not
    first, second = (render_seconds(backend, ("Kore", SENTENCE)) for _ in range(2))
    assert abs(first - second) / first < 0.01


def test_voice_table_is_distinct_and_follows_register():
    assert set(VOICE_MAP) == set(GEMINI_VOICES)
    assert len({(v.variant, v.pitch) for v in VOICE_MAP.values()}) == 30
    for name, v in VOICE_MAP.items():
        assert v.variant.startswith("f") == (name in FEMININE), name


def test_voices_sharing_a_variant_differ_in_pitch(backend):
    by_variant: dict[str, list[tuple[int, float]]] = {}
    for name, v in VOICE_MAP.items():
        audio = backend.render(request((name, SENTENCE))).audio
        by_variant.setdefault(v.variant, []).append((v.pitch, median_f0(audio.pcm, audio.rate)))
    assert len(by_variant) == 13  # f1-f5, m1-m8: the variant itself (formants) already separates most voices
    for variant, voices in by_variant.items():
        f0s = [f0 for _, f0 in sorted(voices)]
        for lower, higher in zip(f0s, f0s[1:]):
            assert higher > 1.08 * lower, (variant, f0s)  # audibly different, in the order of the table


def test_feminine_voice_is_higher_than_masculine(backend):
    fem = backend.render(request(("Zephyr", SENTENCE))).audio
    masc = backend.render(request(("Charon", SENTENCE))).audio
    assert fem.pcm != masc.pcm
    assert median_f0(fem.pcm, fem.rate) > 1.5 * median_f0(masc.pcm, masc.rate)


def test_style_changes_rate(backend):
    slow = backend.render(request(("Puck", SENTENCE, "calm and relaxed"))).audio
    plain = backend.render(request(("Puck", SENTENCE, "cheerful"))).audio
    fast = backend.render(request(("Puck", SENTENCE, "Brisk, excited!"))).audio
    assert slow.seconds > plain.seconds > fast.seconds
    assert slow.seconds / fast.seconds > 1.15  # 1.12 / 0.88 = 1.27 on the words; pauses scale less


def test_words_per_minute():
    assert words_per_minute("Zephyr", None) == 165
    assert words_per_minute("Zephyr", "slowly") == round(165 * 0.88)
    assert words_per_minute("Zephyr", "QUICK and energetic") == round(165 * 1.12)
    assert words_per_minute("Zephyr", "slow but excited") == round(165 * 0.88 * 1.12)
    assert words_per_minute("Zephyr", "slowness") == 165  # whole words only
    assert words_per_minute("Fenrir", None) == round(165 * VOICE_MAP["Fenrir"].rate)


def test_multi_speaker_joins_turns_with_silence(backend):
    question = "So what really happened to the old lighthouse on the hill last winter?"
    answer = "It is a long story that starts with a storm and ends with a very surprised fisherman."
    a = backend.render(request(("Zephyr", question))).audio
    b = backend.render(request(("Charon", answer))).audio
    both = backend.render(request(("Zephyr", question), ("Charon", answer))).audio
    gap = round(0.2 * 22050)
    # espeak's lead-in silence varies by a few tens of ms with its carried-over state
    assert abs(both.frames - (a.frames + gap + b.frames)) < 0.03 * both.frames
    # the joint: Zephyr's turn, then at least 0.2 s of digital silence, then Charon's lower voice
    cut = both.pcm.find(bytes(2 * gap), 2 * int(a.frames * 0.9)) // 2
    assert abs(cut - a.frames) < 0.05 * a.frames
    first, second = both.pcm[:2 * cut], both.pcm[2 * (cut + gap):]
    assert median_f0(first, 22050) > 1.5 * median_f0(second, 22050)


def test_language_mapping(backend):
    engine = espeak._engine or (backend.render(request(("Puck", "hi"))) and espeak._engine)
    assert engine.espeak_language("en-US").lower() == "en-us"
    assert engine.espeak_language("en-GB") == "en"  # espeak's British English voice file is "en"
    assert engine.espeak_language("de-DE") == "de"
    assert engine.espeak_language("xx-YY").lower() == "en-us"
    assert engine.espeak_language(None).lower() == "en-us"
    text = "Guten Morgen, wie geht es dir heute?"
    german = render_seconds(backend, ("Puck", text), language="de-DE")
    english = render_seconds(backend, ("Puck", text), language="en-US")
    unknown = render_seconds(backend, ("Puck", text), language="xx-YY")
    assert abs(german - english) / english > 0.08  # German phonemes, not English spelling-out
    assert abs(unknown - english) / english < 0.01


def test_threads_render_correctly(backend):
    jobs = [request((v, f"Line number {i}. {SENTENCE}")) for i, v in
            enumerate(["Zephyr", "Puck", "Kore", "Charon", "Leda", "Fenrir", "Aoede", "Orus"])]
    serial = [backend.render(r).audio.seconds for r in jobs]
    results: dict[int, object] = {}
    barrier = threading.Barrier(4)

    def worker(offset: int) -> None:
        barrier.wait()
        for i in range(offset, len(jobs), 4):
            results[i] = backend.render(jobs[i]).audio

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # interleaved callbacks or voice settings would lengthen, shorten or re-pitch the results
    for i, job in enumerate(jobs):
        audio = results[i]
        assert abs(audio.seconds - serial[i]) / serial[i] < 0.02, job.turns[0].text
        f0 = median_f0(audio.pcm, audio.rate)
        assert (f0 > 140) == (job.turns[0].voice in FEMININE), (job.turns[0].voice, f0)


@pytest.mark.parametrize("text", ["", "   ", "?!"])
def test_no_audio_is_an_error(backend, text):
    with pytest.raises(BackendError, match="no audio") as info:
        backend.render(request(("Puck", text)))
    assert info.value.retryable is False


def test_any_voice_gets_a_stable_stand_in(backend):
    # library names and custom ids have no table entry: their stand-in is drawn from the name, run after run
    stand_ins = {name: espeak.espeak_voice(name) for name in ("Amberly", "Brisbane Kate", "voice_podpipe0001")}
    assert stand_ins == {name: espeak.espeak_voice(name) for name in stand_ins}
    assert len(set(stand_ins.values())) == 3
    assert all(v.variant in {*(f"f{n}" for n in range(1, 6)), *(f"m{n}" for n in range(1, 9))}
               and 30 <= v.pitch < 75 for v in stand_ins.values())
    assert espeak.espeak_voice("Zephyr") == espeak.VOICE_MAP["Zephyr"]
    rendered = backend.render(request(("Nobody", "hello there")))
    assert rendered.audio.seconds > 0.2


def test_missing_library_is_a_clear_error(tmp_path):
    with pytest.raises(BackendError, match="cannot load libespeak-ng") as info:
        espeak._Engine(str(tmp_path / "libespeak-ng.so"), str(tmp_path))
    assert info.value.retryable is False


def test_missing_data_is_a_clear_error_not_an_exit(tmp_path):
    # a fresh process: the library is process-global, and a failed initialisation must not take it down
    code = ("import sys, espeakng_loader; from podpipe.backends import espeak; from podpipe.errors import BackendError\n"
            "try:\n"
            f"    espeak._Engine(espeakng_loader.get_library_path(), {str(tmp_path)!r})\n"
            "except BackendError as e:\n"
            "    print('ERROR', e.retryable, e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ERROR False libespeak-ng failed to initialise")


def test_voices_list():
    voices = EspeakBackend.voices()
    assert [v.name for v in voices] == list(VOICE_MAP)
    zephyr = next(v for v in voices if v.name == "Zephyr")
    assert zephyr.description.startswith("bright; offline: en-us+f3, pitch 60")
