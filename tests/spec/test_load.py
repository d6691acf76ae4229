"""A load (``podpipe.spec.load``): files read once, ``extends`` chains merged, every problem of every file
collected and sorted, warnings returned with a valid load."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from podpipe import backends
from podpipe.errors import SpecError
from podpipe.spec import load_episodes

SPECS = Path(__file__).resolve().parent / "specs"


def test_extends_deep_merge(monkeypatch):
    monkeypatch.chdir(SPECS)
    ep = load_episodes(["valid/extends_merge.yaml"], root=SPECS, rules=backends).episodes[0]
    host = ep.speaker("host")
    assert (host.voice, host.name, host.style) == ("Puck", "Alex", "bright")  # mapping merged, episode wins
    assert [s.id for s in ep.speakers] == ["host", "cohost", "guest"]
    assert len(ep.segments) == 2  # lists replace: the show file's segment is gone
    assert (ep.show, ep.author, ep.language, ep.temperature) == ("The Fixture Hour", "Podpipe Tests", "en-GB", 1.1)
    # output.path without a suffix gets the format's; the show file's format and gap are inherited
    assert (ep.output.path, ep.output.format, ep.output.gap) == (SPECS / "build" / "merged.wav", "wav", 0.5)


def test_extends_chain_resolves_sounds_relative_to_the_file_that_names_them(monkeypatch):
    monkeypatch.chdir(SPECS)
    result = load_episodes(["valid/extends_chain.yaml", "valid/extends_nested_show.yaml"], root=SPECS, rules=backends)
    chain, nested = result.episodes
    assert (chain.show, chain.author, chain.style) == ("Chain Top", "Middle Author", "From the top of the chain")
    assert (chain.speaker("host").voice, chain.speaker("host").name) == ("Leda", "Top Host")
    assert chain.segments[1].sound.path == SPECS / "assets" / "ding.wav"
    assert chain.output.gap == 0.1 and chain.output.format == "wav"
    assert nested.segments[0].sound.path == SPECS / "assets" / "ding.wav"


def test_missing_unreadable_and_directory_paths_are_clean_diagnostics(tmp_path, monkeypatch, write, minimal):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir.yaml").mkdir()
    locked = write(tmp_path / "locked.yaml", minimal)
    locked.chmod(0)
    try:
        with pytest.raises(SpecError) as info:
            load_episodes(["nope.yaml", "adir.yaml", "locked.yaml"], rules=backends)
    finally:
        locked.chmod(0o644)
    messages = {d.file: d.message for d in info.value.diagnostics}
    assert messages["nope.yaml"] == "no such file"
    assert messages["adir.yaml"] == "is a directory, not a spec file"
    if os.geteuid() != 0:  # root reads anything
        assert messages["locked.yaml"].startswith("cannot read the file: Permission denied")
    assert all(d.line == 0 for d in info.value.diagnostics)


def test_a_path_given_twice_is_loaded_once(monkeypatch):
    monkeypatch.chdir(SPECS)
    result = load_episodes(["valid/minimal.yaml", Path("valid/minimal.yaml"), SPECS / "valid/minimal.yaml"], rules=backends)
    assert len(result.episodes) == 1


def test_all_files_are_checked_and_diagnostics_sorted_by_file_then_line(monkeypatch):
    monkeypatch.chdir(SPECS)
    with pytest.raises(SpecError) as info:
        load_episodes(["invalid/voices.yaml", "valid/minimal.yaml", "invalid/ranges.yaml",
                       "invalid/low_temperature_error.yaml"], root=SPECS, rules=backends)
    err = info.value
    keys = [(d.file, d.line, d.column) for d in err.diagnostics]
    assert keys == sorted(keys)
    assert {d.file for d in err.diagnostics} == {"invalid/voices.yaml", "invalid/ranges.yaml",
                                                 "invalid/low_temperature_error.yaml"}
    # low temperature on 2.5 (two), temperature on a 3.8 model (once per spec: ranges.yaml)
    assert len(err.warnings) == 3 and all(w.severity == "warning" for w in err.warnings)
    assert str(err).endswith(f"{len(err.diagnostics)} errors in 3 files")


def test_warnings_come_back_with_a_valid_load(monkeypatch):
    monkeypatch.chdir(SPECS)
    result = load_episodes(["valid/low_temperature.yaml", "valid/future_model.yaml"], root=SPECS, rules=backends)
    assert [e.title for e in result.episodes] == ["Low temperature", "Future model"]
    assert [(w.file, w.field, w.severity) for w in result.warnings] == [
        ("valid/future_model.yaml", "temperature", "warning"),
        ("valid/low_temperature.yaml", "temperature", "warning"),
        ("valid/low_temperature.yaml", "segments[0].temperature", "warning")]
    # a model newer than 3.8 follows the 3.8 rule: no sampling settings (and no low-temperature warning)
    assert "gemini-4.0-flash-tts does not take temperature" in result.warnings[0].message


def test_paths_are_shown_as_given(tmp_path, write, minimal):
    path = write(tmp_path / "abs.yaml", minimal.replace("host: Hello.", "hots: Hello."))
    with pytest.raises(SpecError) as info:
        load_episodes([path], root=tmp_path, rules=backends)
    assert info.value.diagnostics[0].file == str(path)


def test_load_result_is_frozen(monkeypatch):
    monkeypatch.chdir(SPECS)
    result = load_episodes(["valid/minimal.yaml"], rules=backends)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.episodes = ()
