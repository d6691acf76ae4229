"""Semantic checks (``podpipe.spec.checks``) on paths: files and outputs stay inside the project root and
never clash. Voices are in ``test_voices.py``; the other checks' exact messages are in the golden files."""

from __future__ import annotations

from pathlib import Path

import pytest

from podpipe import backends
from podpipe.errors import SpecError
from podpipe.spec import load_episodes


def test_symlinked_sound_pointing_outside_the_root_is_rejected(tmp_path, write, minimal):
    root, outside = tmp_path / "project", tmp_path / "elsewhere"
    secret = write(outside / "secret.wav", "not really audio")
    (root / "assets").mkdir(parents=True)
    (root / "assets" / "link.wav").symlink_to(secret)
    (root / "assets" / "inside.wav").write_bytes(b"RIFF")
    (root / "assets" / "alias.wav").symlink_to(root / "assets" / "inside.wav")
    spec_path = write(root / "ep.yaml", minimal + "  - sound: assets/link.wav\n  - sound: assets/alias.wav\n"
                                                 f"  - sound: {root / 'assets' / 'inside.wav'}\n")
    with pytest.raises(SpecError) as info:
        load_episodes([spec_path], root=root, rules=backends)
    (d,) = info.value.diagnostics
    assert d.field == "segments[1].sound" and "symlink to a file outside the project root" in d.message
    (spec_path.parent / "assets" / "link.wav").unlink()
    spec_path.write_text(minimal + "  - sound: assets/alias.wav\n"
                                   f"  - sound: {root / 'assets' / 'inside.wav'}\n")
    ep = load_episodes([spec_path], root=root, rules=backends).episodes[0]
    assert ep.segments[1].sound.path == root / "assets" / "alias.wav"  # a symlink inside is fine
    assert ep.segments[2].sound.path == root / "assets" / "inside.wav"  # so is an absolute path inside


def test_two_episodes_writing_the_same_output_or_manifest_clash(tmp_path, write, minimal):
    a = write(tmp_path / "a.yaml", minimal)
    b = write(tmp_path / "sub" / "a.yaml", minimal)  # same stem -> same default output
    c = write(tmp_path / "c.yaml", minimal + "output: {path: build/a.wav}\n")  # same manifest as a
    d = write(tmp_path / "d.yaml", minimal + "output: {path: build/d.mp3}\n")
    with pytest.raises(SpecError) as info:
        load_episodes([a, b, c, d], root=tmp_path, rules=backends)
    clashes = [(Path(x.file).relative_to(tmp_path).as_posix(), x.line, x.field) for x in info.value.diagnostics]
    assert clashes == [("c.yaml", 6, "output.path"), ("sub/a.yaml", 1, "output.path")]
    assert all(f"of {a}" in x.message for x in info.value.diagnostics)


def test_output_paths_are_relative_to_the_root_not_the_spec(tmp_path, write, minimal):
    root = tmp_path / "project"
    spec_path = write(root / "episodes" / "ep.yaml", minimal + "output: {path: out/ep.wav}\n")
    ep = load_episodes([spec_path], root=root, rules=backends).episodes[0]
    assert ep.output.path == root / "out" / "ep.wav" and ep.output.format == "wav"


def test_sound_escaping_the_root_through_dotdot_inside_the_path(tmp_path, write, minimal):
    root = tmp_path / "project"
    write(tmp_path / "outside.wav", "x")
    spec_path = write(root / "ep.yaml", minimal + "  - sound: assets/../../outside.wav\n")
    (root / "assets").mkdir()
    with pytest.raises(SpecError) as info:
        load_episodes([spec_path], root=root, rules=backends)
    assert "outside the project root" in info.value.diagnostics[0].message


def test_models_and_voices_are_judged_by_the_rules_the_caller_hands_in(tmp_path, write, minimal):
    """The spec stage imports no backend: voices and models are judged only by the ``rules`` it is given
    (the commands give ``podpipe.backends``), and then by the backend that owns the spec's model."""
    spec = minimal.replace("voice: Zephyr", "voice: Uranus") + "model: gemnii-3.8-flash-tts\n"
    assert "voice: Uranus" in spec
    path = write(tmp_path / "ep.yaml", spec)
    unjudged = load_episodes([path], root=tmp_path)
    assert not unjudged.warnings and [s.voice for s in unjudged.episodes[0].speakers] == ["Uranus"]
    with pytest.raises(SpecError) as info:
        load_episodes([path], root=tmp_path, rules=backends)
    (error,) = info.value.diagnostics
    assert error.field == "speakers.host.voice" and "unknown voice 'Uranus'" in error.message
    path.write_text(spec.replace("Uranus", "Zephyr"), encoding="utf-8")
    (warning,) = load_episodes([path], root=tmp_path, rules=backends).warnings
    assert warning.field == "model" and "did you mean 'gemini-3.8-flash-tts'" in warning.message
