"""Which voices a Gemini spec may name (the Gemini backend's ``check_voice``, which ``validate`` asks): the 30
prebuilt ones everywhere; on 3.8 models also custom ids and the Extended Voice Library names from the list
`podpipe voices --backend gemini` keeps in the cache directory."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from podpipe import backends
from podpipe.backends.gemini import voices
from podpipe.backends.gemini.voices import LIBRARY_FILE, LibraryVoice, VoiceLibrary, load_library, save_library
from podpipe.cli import cli
from podpipe.errors import SpecError
from podpipe.spec import load_episodes

LIBRARY = VoiceLibrary((LibraryVoice("Zephyr", "prebuilt", "Bright"),
                        LibraryVoice("Amberly", "prebuilt", "Warm storyteller", "en-GB", "female", "British"),
                        LibraryVoice("voice_mine01", "prompted", "My narrator", "en-US")), "2026-12-01T00:00:00+00:00")


def spec(voice: str, model: str = "gemini-3.8-flash-tts") -> str:
    return f"title: T\nmodel: {model}\nspeakers:\n  host: {{voice: {voice}}}\nsegments:\n  - host: Hello.\n"


def problems(tmp_path, voice: str, model: str = "gemini-3.8-flash-tts", library=None) -> list[str]:
    (tmp_path / "ep.yaml").write_text(spec(voice, model), encoding="utf-8")
    cache_root = tmp_path / "cache"
    if library is not None:
        save_library(cache_root, library)
    else:
        (cache_root / LIBRARY_FILE).unlink(missing_ok=True)
    try:
        load_episodes([tmp_path / "ep.yaml"], root=tmp_path, cache_root=cache_root, rules=backends)
    except SpecError as exc:
        return [d.message for d in exc.diagnostics]
    return []


@pytest.mark.parametrize("voice", ["Kore", "voice_abc123", "voicekey_Zx9-8_y"])
def test_prebuilt_and_custom_ids_need_no_list(tmp_path, voice):
    assert problems(tmp_path, voice) == []


def test_library_names_are_known_from_the_stored_list(tmp_path):
    assert problems(tmp_path, "Amberly", library=LIBRARY) == []
    assert problems(tmp_path, "Amberley", library=LIBRARY) == ["unknown voice 'Amberley'; did you mean 'Amberly'?"]
    without = problems(tmp_path, "Amberly")
    assert len(without) == 1 and "podpipe voices --backend gemini --refresh" in without[0]


@pytest.mark.parametrize("library", [None, LIBRARY])
def test_a_name_that_is_no_gemini_voice_keeps_failing(tmp_path, library):
    # "Uranus" is listed by older tools, but Gemini has no such voice
    assert problems(tmp_path, "Uranus", library=library)[0].startswith("unknown voice 'Uranus'")


@pytest.mark.parametrize("voice, library", [("voice_abc123", None), ("Amberly", LIBRARY)])
def test_custom_and_library_voices_need_a_model_that_takes_them(tmp_path, voice, library):
    found = problems(tmp_path, voice, "gemini-2.5-flash-preview-tts", library)
    assert len(found) == 1 and "gemini-2.5-flash-preview-tts cannot use" in found[0]
    assert "30 prebuilt voices" in found[0]
    assert problems(tmp_path, voice, "gemini-2.5-flash-preview-tts".replace("2.5", "3.9"), library) == []


def test_the_list_is_read_only_when_a_voice_needs_it(tmp_path, monkeypatch):
    calls = []
    real = voices.load_library
    monkeypatch.setattr(voices, "load_library", lambda root: calls.append(root) or real(root))
    save_library(tmp_path / "cache", LIBRARY)
    for voice in ("Kore", "voice_abc123"):
        (tmp_path / "ep.yaml").write_text(spec(voice), encoding="utf-8")
        load_episodes([tmp_path / "ep.yaml"], root=tmp_path, cache_root=tmp_path / "cache", rules=backends)
    assert calls == []
    (tmp_path / "ep.yaml").write_text(spec("Amberly"), encoding="utf-8")
    load_episodes([tmp_path / "ep.yaml"], root=tmp_path, cache_root=tmp_path / "cache", rules=backends)
    assert calls == [tmp_path / "cache"]


def test_stored_list_round_trip_and_damage(tmp_path):
    assert load_library(tmp_path) is None
    save_library(tmp_path, LIBRARY)
    assert load_library(tmp_path) == LIBRARY
    (tmp_path / LIBRARY_FILE).write_text('{"format": 1, "voices": [{"nonsense": 1}]}', encoding="utf-8")
    assert load_library(tmp_path) is None  # damaged: as good as none, never a crash
    (tmp_path / LIBRARY_FILE).write_text("not json", encoding="utf-8")
    assert load_library(tmp_path) is None


def test_validate_reads_the_list_from_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PODPIPE_CACHE_DIR", raising=False)
    (tmp_path / "ep.yaml").write_text(spec("Amberly"), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(cli, ["validate", "ep.yaml"]).exit_code == 2
    save_library(tmp_path / "voices-cache", LIBRARY)
    assert runner.invoke(cli, ["validate", "--cache-dir", "voices-cache", "ep.yaml"]).exit_code == 0
    monkeypatch.setenv("PODPIPE_CACHE_DIR", "voices-cache")
    assert runner.invoke(cli, ["validate", "ep.yaml"]).exit_code == 0
    listed = runner.invoke(cli, ["voices", "--backend", "gemini", "--search", "EN-gb"])
    assert listed.exit_code == 0 and listed.stdout.split() == ["Amberly", "prebuilt", "en-GB", "Warm", "storyteller"]
    assert "1 of 3 voices" in listed.stderr
    stored = json.loads((tmp_path / "voices-cache" / LIBRARY_FILE).read_text(encoding="utf-8"))
    assert stored["format"] == 1 and len(stored["voices"]) == 3
