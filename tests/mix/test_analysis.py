"""A render's loudness figures are computed once and kept beside its cache entry: a re-mix reads no render's
audio for analysis, and a stored analysis that is damaged, of an older version or of other audio is
computed again, never trusted."""

from __future__ import annotations

import json

import numpy as np
import pytest

from podpipe.cache import FileStore
from podpipe.compile import SilencePiece
from podpipe.mix import mix_episode
from podpipe.mix.loudness import figures as figures_module
from podpipe.mix.loudness.figures import ANALYSIS_VERSION, Figures, from_record, to_record
from tests.mix.helpers import compiled_episode
from tests.support.audio import speech, voice

KEYS = ("a" * 64, "b" * 64)


@pytest.fixture
def cached(tmp_path):
    store = FileStore(tmp_path / "cache")
    store.put(KEYS[0], voice(1, 3.0, 0.05), {})
    store.put(KEYS[1], voice(2, 3.0, 0.3), {})
    pieces = [speech(KEYS[0], 0, "Alex"), SilencePiece(0.3, "gap"), speech(KEYS[1], 1, "Sam"),
              SilencePiece(0.3, "gap"), speech(KEYS[0], 2, "Alex")]
    return store, compiled_episode(tmp_path, pieces, "wav", title="Cached")


def loudness(result) -> dict:
    return json.loads(result.manifest.read_text())["steps"]["loudness"]


def test_the_first_mix_stores_each_renders_analysis_and_a_re_mix_reads_no_audio_for_it(cached, monkeypatch):
    store, compiled = cached
    first = mix_episode(compiled, store.get, analyses=store)
    for key in KEYS:
        record = store.analysis(key)
        assert record is not None and record["version"] == ANALYSIS_VERSION
        audio = store.get(key)
        assert from_record(record, audio.rate, audio.frames) is not None
    stamps = {key: store.analysis_path(key).stat().st_mtime_ns for key in KEYS}

    def no_analysis(audio):
        raise AssertionError("a render was analysed again")

    monkeypatch.setattr(figures_module, "analyze", no_analysis)
    again = mix_episode(compiled, store.get, analyses=store)
    assert again.output.read_bytes() == first.output.read_bytes()
    assert {key: store.analysis_path(key).stat().st_mtime_ns for key in KEYS} == stamps


def test_the_stored_figures_are_what_the_mix_levels_with(cached):
    """Tampered figures (Alex's energy ×4, +6 dB) that still check out are used as they are: proof that the
    mix solves from the stored analysis, not from the audio."""
    store, compiled = cached
    before = loudness(mix_episode(compiled, store.get, analyses=store))
    audio = store.get(KEYS[0])
    stored = from_record(store.analysis(KEYS[0]), audio.rate, audio.frames)
    store.put_analysis(KEYS[0], to_record(Figures(stored.rate, stored.frames, stored.energy * 4, stored.peak)))
    after = loudness(mix_episode(compiled, store.get, analyses=store))
    shift = after["speakers"]["Alex"]["input_lufs"] - before["speakers"]["Alex"]["input_lufs"]
    assert shift == pytest.approx(10 * np.log10(4), abs=0.05)
    assert after["speakers"]["Sam"]["input_lufs"] == before["speakers"]["Sam"]["input_lufs"]


@pytest.mark.parametrize("damage", ["garbage", "old version", "other audio", "short", "negative", "wrong rate"])
def test_a_damaged_or_outdated_analysis_is_computed_again(cached, damage):
    store, compiled = cached
    first = mix_episode(compiled, store.get, analyses=store)
    path = store.analysis_path(KEYS[0])
    wrapper = json.loads(path.read_text())
    record = wrapper["analysis"]
    if damage == "garbage":
        path.write_bytes(b"\x00{not json")
    else:
        if damage == "old version":
            record["version"] = ANALYSIS_VERSION - 1
        elif damage == "other audio":
            wrapper["audio_sha256"] = "0" * 64
        elif damage == "short":
            record["energy"] = record["energy"][:-12]
        elif damage == "negative":
            audio = store.get(KEYS[0])
            stored = from_record(record, audio.rate, audio.frames)
            record = to_record(Figures(stored.rate, stored.frames, -stored.energy, stored.peak))
        elif damage == "wrong rate":
            record["rate"] = 48000
        wrapper["analysis"] = record
        path.write_text(json.dumps(wrapper))
    again = mix_episode(compiled, store.get, analyses=store)
    assert again.output.read_bytes() == first.output.read_bytes()
    assert loudness(again) == loudness(first)
    repaired = json.loads(path.read_text())
    assert repaired["analysis"]["version"] == ANALYSIS_VERSION
    assert repaired["audio_sha256"] == store.meta(KEYS[0])["sha256"]


def test_an_entry_rendered_again_gets_a_new_analysis(cached):
    """The analysis is bound to the audio: a new render under the same key is analysed anew."""
    store, compiled = cached
    mix_episode(compiled, store.get, analyses=store)
    store.put(KEYS[0], voice(7, 3.0, 0.2), {})
    assert store.analysis(KEYS[0]) is None
    mix_episode(compiled, store.get, analyses=store)
    assert store.analysis(KEYS[0]) is not None


def test_prune_and_delete_take_the_analysis_with_the_entry(cached):
    from podpipe.cache import prune

    store, compiled = cached
    mix_episode(compiled, store.get, analyses=store)
    store.delete(KEYS[0])
    assert not store.analysis_path(KEYS[0]).exists()
    prune(store, keep=set(), older_than=0)
    assert not store.analysis_path(KEYS[1]).exists()
    assert not list((store.root).rglob("*.analysis"))


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 24000, 44100, 48000])
def test_windows_cover_every_frame_once_and_agree_with_first_window(rate):
    """Every window holds at least one frame (a render of 71663 frames at 22.05 kHz once ended in an empty
    one, which failed its mix), and ``first_window`` names the window each frame is in."""
    from podpipe.mix.loudness.figures import first_window, window_edges

    for frames in [*range(1, 1200, 7), 71663, 1_000_003]:
        edges = window_edges(rate, frames)
        assert edges[0] == 0 and edges[-1] == frames and (np.diff(edges) > 0).all()
        starts = edges[:-1]
        assert [first_window(int(f), rate) for f in starts] == list(range(len(starts)))
        assert [first_window(int(f) - 1, rate) for f in edges[1:]] == list(range(len(starts)))
