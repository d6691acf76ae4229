"""A backend shipped by a third party: found through the ``podpipe.backends`` entry-point group, asked for
everything vendor-specific through the ``Backend`` interface, and built end to end with no change to podpipe.

The backend is ``tests/support/beep_backend.py``; it is registered the way an installed package registers
one, by a ``*.dist-info`` with an ``entry_points.txt`` on the path (in-process, or PYTHONPATH for a child).
"""

from __future__ import annotations

import array
import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from podpipe import backends
from podpipe.errors import SpecError, UsageError
from podpipe.spec import load_episodes
from tests.support import beep_backend
from tests.support.beep_backend import SECONDS_PER_CHAR, BeepBackend
from tests.support.hardening import child_env, run_podpipe

REPO = Path(__file__).resolve().parents[2]


def _clear() -> None:
    backends._entry_points.cache_clear()
    backends.backend_class.cache_clear()


@pytest.fixture
def beep(tmp_path, monkeypatch):
    """The beep backend installed for this test only (in this process)."""
    site = tmp_path / "site"
    beep_backend.install(site)
    monkeypatch.syspath_prepend(str(site))
    _clear()
    yield site
    _clear()


def spec(tmp_path: Path, voice: str, model: str | None = "beep-1", guest: str = "Bass") -> Path:
    path = tmp_path / "ep.yaml"
    model_line = f"model: {model}\n" if model else ""
    path.write_text(f"title: Beeps\n{model_line}speakers:\n  host: {{voice: {voice}}}\n  guest: {{voice: {guest}}}\n"
                    "segments:\n  - host: Hello there.\n  - dialogue:\n      - host: Hi.\n      - guest: Hello.\n"
                    "output: {format: wav}\n", encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    try:
        load_episodes([path], root=path.parent, rules=backends)
    except SpecError as exc:
        return [d.message for d in exc.diagnostics if d.severity == "error"]
    return []


def test_the_registry_lists_it_and_loads_it_only_when_asked(beep):
    assert backends.names() == ["beep", "espeak", "gemini"]
    assert backends.backend_class("beep") is BeepBackend
    assert backends.model_owner("beep-2") is BeepBackend and backends.model_owner("beep-9") is BeepBackend
    assert backends.model_owner(None).name == "gemini"  # a spec without model: stays Gemini's
    assert backends.default_backend_name({}) == "espeak"  # not configured: the offline draft voice still wins
    assert backends.default_backend_name({"BEEP_ENABLED": "1"}) == "beep"
    assert backends.default_backend_name({"BEEP_ENABLED": "1", "GEMINI_API_KEY": "k"}) == "gemini"


def test_unknown_and_broken_backends_are_named(beep):
    with pytest.raises(UsageError, match=r"unknown backend 'nope': choose one of beep, espeak, gemini"):
        backends.backend_class("nope")
    beep_backend.install(beep, "broken = tests.support.no_such_module:Backend\n"
                               "misnamed = tests.support.beep_backend:BeepBackend")
    _clear()
    with pytest.raises(UsageError) as broken:
        backends.backend_class("broken")
    assert ("cannot load backend 'broken' (entry point 'tests.support.no_such_module:Backend' in group "
            "'podpipe.backends', from podpipe-beep 0.1): ModuleNotFoundError") in str(broken.value)
    with pytest.raises(UsageError, match="entry point's name and the class's `name` must agree"):
        backends.backend_class("misnamed")


def test_its_model_means_its_voices_and_its_messages(beep, tmp_path):
    assert problems(spec(tmp_path, "Treble")) == []
    assert problems(spec(tmp_path, "Zephyr")) == [  # a Gemini voice is no beep voice
        "unknown voice 'Zephyr'; `podpipe voices --backend beep` lists the voices (beep voices: Alto, Bass, Tenor, "
        "Treble)"]
    assert problems(spec(tmp_path, "alto")) == [
        "unknown voice 'alto'; did you mean 'Alto'? (voice names are case-sensitive) (beep voices: Alto, Bass, "
        "Tenor, Treble)"]
    # without model: the default family (Gemini) judges, and beep's voices are not Gemini's
    found = problems(spec(tmp_path, "Treble", model=None))
    assert len(found) == 2 and all("unknown voice" in p and "prebuilt voices" in p for p in found)


def test_a_model_nobody_owns_is_a_warning_that_suggests_every_backends_models(beep, tmp_path):
    path = spec(tmp_path, "Kore", model="bep-1", guest="Puck")
    warnings = [d.message for d in load_episodes([path], root=tmp_path, rules=backends).warnings]
    assert warnings == ["unknown model 'bep-1' (it is passed to the backend as is); did you mean 'beep-1'?"]


def test_build_end_to_end_in_a_child_podpipe(tmp_path):
    """What a user with the package installed runs: `podpipe validate`, `plan` and `build --backend beep`."""
    site = tmp_path / "site"
    beep_backend.install(site)
    project = tmp_path / "project"
    project.mkdir()
    spec(project, "Alto")
    env = child_env(PYTHONPATH=os.pathsep.join([str(site), str(REPO)]), PODPIPE_CACHE_DIR=str(tmp_path / "cache"))

    listed = run_podpipe(project, "voices", "--backend", "beep", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["Alto", "440", "Hz", "Bass", "110", "Hz", "Tenor", "220", "Hz", "Treble",
                                     "880", "Hz"]
    validated = run_podpipe(project, "validate", "ep.yaml", env=env)
    assert validated.returncode == 0 and "1 spec valid" in validated.stdout, validated.stderr
    plan = run_podpipe(project, "plan", "--json", "--backend", "beep", "ep.yaml", env=env)
    assert plan.returncode == 0, plan.stderr
    totals = json.loads(plan.stdout)["totals"]
    assert (totals["render"], totals["cost_usd"]) == (2, 0)

    built = run_podpipe(project, "build", "--backend", "beep", "--report", "report.json", "ep.yaml", env=env)
    assert built.returncode == 0, built.stderr
    with wave.open(str(project / "build" / "ep.wav")) as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = array.array("h", wav.readframes(wav.getnframes()))[::channels]
    spoken = SECONDS_PER_CHAR * (len("Hello there.") + len("Hi.") + len("Hello."))
    assert spoken < len(samples) / rate < spoken + 2  # the tones, the gaps between segments and turns
    start = next(i for i, v in enumerate(samples) if abs(v) > 100)
    window = samples[start:start + rate // 5]  # 0.2 s of the host's first line: Alto, 440 Hz
    crossings = sum(1 for a, b in zip(window, window[1:]) if (a < 0) != (b < 0))
    assert crossings / 2 / 0.2 == pytest.approx(440, rel=0.05)
    report = json.loads((project / "report.json").read_text(encoding="utf-8"))
    assert {(r["backend"], r["model"], r["outcome"]) for r in report["requests"]} == {("beep", "beep-1", "rendered")}
    again = run_podpipe(project, "build", "--backend", "beep", "ep.yaml", env=env)
    assert again.returncode == 0 and "up to date" in again.stderr + again.stdout

    # a draft backend renders stand-ins of beep's voices; Gemini does not render beep's model
    drafted = run_podpipe(project, "build", "--backend", "espeak", "ep.yaml", env=env)
    assert drafted.returncode == 0 and "2 segments rendered" in drafted.stdout, drafted.stderr
    wrong = run_podpipe(project, "plan", "--backend", "gemini", "ep.yaml", env=env)
    assert wrong.returncode == 2 and "ep.yaml names beep-1, which backend 'beep' renders, not 'gemini'" in wrong.stderr
    unknown = run_podpipe(project, "build", "--backend", "nope", "ep.yaml", env=env)
    assert unknown.returncode == 2 and "'nope' is not one of 'beep', 'espeak', 'gemini'" in unknown.stderr


def test_say_asks_the_models_backend_for_its_voices(beep, tmp_path):
    from podpipe.commands.say import say

    out = say("Hello.", tmp_path / "hi.wav", voice="treble", model="beep-1", backend="beep",
              cache_dir=tmp_path / "cache")
    assert out.rendered and out.duration == pytest.approx(SECONDS_PER_CHAR * len("Hello."), abs=0.02)  # Treble
    with pytest.raises(UsageError, match=r"^-v: unknown voice 'Zephyr'; .*\(beep voices: Alto, Bass, Tenor, Treble\)"):
        say("Hello.", tmp_path / "hi.wav", voice="Zephyr", model="beep-1", backend="beep", cache_dir=tmp_path / "cache")
    default = say("Hello.", tmp_path / "default.wav", model="beep-2", backend="beep", cache_dir=tmp_path / "cache")
    assert default.rendered  # no -v: beep's default voice (Alto), for beep's other model


def test_reading_the_registry_imports_no_backend(tmp_path):
    site = tmp_path / "site"
    beep_backend.install(site)
    code = ("import sys; from podpipe import backends; print(backends.names()); "
            "print(sorted(m for m in sys.modules if m.startswith(('podpipe.backends.', 'tests.support.beep'))))")
    env = child_env(PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["['beep', 'espeak', 'gemini']", "[]"]
