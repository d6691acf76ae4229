"""End to end through the CLI (click's CliRunner) with the real offline espeak voice and the real mixer."""

from __future__ import annotations

import json
import re
import shutil
import wave

import pytest

from podpipe import __version__
from tests.support.cli import run

EPISODE = """\
title: "Episode 1: Hello"
author: The Test Show
speakers:
  host: {voice: Zephyr, name: Alex, style: bright}
  guest: {voice: Puck, name: Sam}
segments:
  - chapter: Introduction
    speaker: host
    text: Welcome to the show!
  - guest: Thanks for having me.
  - id: story
    dialogue:
      - host: So what happened?
      - guest: It's a long story.
  - pause: 0.5
  - host: That's all for today.
output:
  format: wav
"""


@pytest.fixture
def project(workdir):
    (workdir / "ep01.yaml").write_text(EPISODE, encoding="utf-8")
    return workdir


def summary(result) -> str:
    return [line for line in result.output.splitlines() if "segments rendered" in line or "segment rendered" in line][-1]


def test_build_renders_then_nothing_then_one_line(project):
    first = run("build", "ep01.yaml")
    assert "no GEMINI_API_KEY: rendering draft audio with the offline espeak voice" in first.output
    assert summary(first).startswith("4 segments rendered, 0 cached, 0 failed")
    out = project / "build" / "ep01.wav"
    with wave.open(str(out)) as w:
        seconds = w.getnframes() / w.getframerate()
    manifest = json.loads((project / "build" / "ep01.manifest.json").read_text())
    speech = [p for p in manifest["pieces"] if p.get("key")]
    assert len(speech) == 4 and abs(manifest["pieces"][-1]["end"] - seconds) < 0.01

    stamp = out.stat().st_mtime_ns
    again = run("build", "ep01.yaml")
    assert "ep01: up to date" in again.output
    assert summary(again).startswith("0 segments rendered, 4 cached, 0 failed")
    assert out.stat().st_mtime_ns == stamp  # not stitched again

    spec = project / "ep01.yaml"
    spec.write_text(spec.read_text().replace("That's all for today.", "That's all for this week."))
    edited = run("build", "ep01.yaml")
    assert summary(edited).startswith("1 segment rendered, 3 cached, 0 failed")
    assert "ep01: built" in edited.output

    spec.write_text(spec.read_text().replace('title: "Episode 1: Hello"', 'title: "Episode 1: Hi"'))
    retitled = run("build", "ep01.yaml")
    assert summary(retitled).startswith("0 segments rendered, 4 cached, 0 failed")
    assert "ep01: built" in retitled.output  # re-mixed (the title is a tag), never re-rendered


def test_gap_change_remixes_without_rendering(project):
    run("build", "ep01.yaml")
    spec = project / "ep01.yaml"
    spec.write_text(spec.read_text().replace("format: wav", "format: wav\n  gap: 0.8"))
    result = run("build", "ep01.yaml")
    assert summary(result).startswith("0 segments rendered") and "ep01: built" in result.output


def test_damaged_output_is_rebuilt(project):
    run("build", "ep01.yaml")
    out = project / "build" / "ep01.wav"
    out.write_bytes(out.read_bytes()[:1000])
    result = run("build", "ep01.yaml")
    assert "ep01: built" in result.output and summary(result).startswith("0 segments rendered")


def test_damaged_cache_entry_is_a_miss_and_rerendered(project):
    run("build", "ep01.yaml")
    victim = next((project / ".podpipe-cache").rglob("*.wav"))
    victim.write_bytes(victim.read_bytes()[:100])
    (project / "build" / "ep01.wav").unlink()
    result = run("build", "ep01.yaml")
    assert summary(result).startswith("1 segment rendered, 3 cached")


def test_frozen_fails_with_exit_3_and_renders_nothing(project):
    result = run("build", "--frozen", "ep01.yaml", code=None)
    assert result.exit_code == 3
    assert "not in the cache" in result.output
    assert re.search(r"^  ep01\.yaml:\d+:\d+: segment s1: ", result.output, re.M), result.output  # located
    assert not list((project).rglob("*.wav"))
    run("build", "ep01.yaml")
    assert "up to date" in run("build", "--frozen", "ep01.yaml").output


def test_invalid_spec_exits_2_and_writes_nothing(project):
    (project / "bad.yaml").write_text(EPISODE.replace("speaker: host", "speaker: hots"))
    result = run("build", "ep01.yaml", "bad.yaml", code=None)
    assert result.exit_code == 2
    assert "bad.yaml:8:14: segments[0].speaker:" in result.output and "hots" in result.output and "host" in result.output
    assert not (project / "build").exists() and not (project / ".podpipe-cache").exists()
    assert run("validate", "ep01.yaml", code=None).exit_code == 0
    assert run("validate", "bad.yaml", code=None).exit_code == 2


def test_only_renders_just_that_segment(project):
    result = run("build", "--only", "story", "ep01.yaml")
    assert summary(result).startswith("1 segment rendered")
    assert "ep01: not mixed" in result.output
    assert not (project / "build" / "ep01.wav").exists()
    full = run("build", "ep01.yaml")
    assert summary(full).startswith("3 segments rendered, 1 cached")
    bad = run("build", "--only", "nope", "ep01.yaml", code=None)
    assert bad.exit_code == 2 and "story" in bad.output


def test_plan_says_what_and_why(project):
    before = json.loads(run("plan", "--json", "ep01.yaml").output)
    assert before["totals"]["render"] == 4 and before["totals"]["cached"] == 0
    assert {r["reason"] for r in before["episodes"][0]["requests"]} == {"never built"}
    run("build", "ep01.yaml")
    spec = project / "ep01.yaml"
    spec.write_text(spec.read_text().replace("  - guest: Thanks for having me.",
                                             "  - guest: Thanks for having me.\n    take: 2"))
    after = json.loads(run("plan", "--json", "ep01.yaml").output)
    to_render = [r for r in after["episodes"][0]["requests"] if r["action"] == "render"]
    assert [(r["segment"], r["reason"]) for r in to_render] == [("s2", "new take 2")]
    text = run("plan", "ep01.yaml").output
    assert "1 to render" in text and "3 cached" in text


def test_report_file(project):
    run("build", "--report", "build/report.json", "ep01.yaml")
    report = json.loads((project / "build" / "report.json").read_text())
    assert report["totals"]["rendered"] == 4 and report["totals"]["attempts"] == 4
    assert {r["outcome"] for r in report["requests"]} == {"rendered"}
    assert report["requests"][0]["uses"] == [{"episode": "ep01.yaml", "segment": "s1"}]


def test_cache_dir_option_and_env(project, monkeypatch):
    run("build", "--cache-dir", "elsewhere", "ep01.yaml")
    assert len(list((project / "elsewhere").rglob("*.wav"))) == 4
    monkeypatch.setenv("PODPIPE_CACHE_DIR", str(project / "fromenv"))
    shutil.rmtree(project / "build")
    run("build", "ep01.yaml")
    assert len(list((project / "fromenv").rglob("*.wav"))) == 4


def test_cache_commands(project):
    run("build", "ep01.yaml")
    info = run("cache", "info").output
    assert "entries: 4" in info and "espeak" in info
    assert "4 entries ok, 0 problems" in run("cache", "verify").output
    victim = next((project / ".podpipe-cache").rglob("*.wav"))
    victim.write_bytes(b"RIFF garbage")
    assert run("cache", "verify", code=None).exit_code == 1
    assert "3 entries ok" in run("cache", "verify", "--remove").output
    spec = project / "ep01.yaml"
    spec.write_text(spec.read_text().replace("That's all for today.", "Bye."))
    run("build", "ep01.yaml")
    dry = run("cache", "prune", "ep01.yaml", "--dry-run").output
    assert "would remove 1 entry" in dry
    assert "removed 1 entry" in run("cache", "prune", "ep01.yaml").output
    assert run("cache", "prune", code=None).exit_code == 2


def test_voices_schema_version(project):
    voices = run("voices").stdout.splitlines()
    assert len(voices) == 30 and voices[0].startswith("Zephyr")
    gemini = run("voices", "--backend", "gemini")  # no key, no stored list: the 30, and how to get the rest
    assert len(gemini.stdout.splitlines()) == 30 and "Puck" in gemini.stdout and "upbeat" in gemini.stdout
    assert "Extended Voice Library" in gemini.stderr
    schema = json.loads(run("schema").output)
    assert schema["$schema"].endswith("2020-12/schema")
    assert __version__ in run("--version").output


def test_say_single_and_multi(project):
    out = run("say", "Hello there, listener.", "-v", "Kore", "-o", "hello.wav").output
    assert "wrote" in out and (project / "hello.wav").exists()
    assert "offline espeak voice" in out  # the same notice as build, through the same code
    again = run("say", "Hello there, listener.", "-v", "Kore", "-o", "hello.wav").output
    assert "from the cache" in again and "offline espeak" not in again  # nothing rendered: no notice
    run("say", "Alex: Hi Sam!\nSam: Hi Alex, good to see you.", "--speaker", "Alex:Zephyr",
        "--speaker", "Sam:Puck", "-o", "hi.mp3")
    assert (project / "hi.mp3").stat().st_size > 1000
    bad = run("say", "Hi", "-v", "Zephir", "-o", "x.wav", code=None)
    assert bad.exit_code == 2 and "unknown voice" in bad.output


def test_every_command_has_help_with_an_example():
    for command in (["build"], ["validate"], ["plan"], ["voices"], ["say"], ["schema"], ["cache"],
                    ["cache", "info"], ["cache", "verify"], ["cache", "prune"]):
        text = run(*command, "--help").output
        assert "Example" in text, command


def test_one_episodes_bad_sound_does_not_cost_the_others_their_mix(project):
    (project / "noise.wav").write_bytes(b"this is not audio at all" * 40)
    (project / "z.yaml").write_text(EPISODE.replace("  - pause: 0.5", "  - sound: noise.wav"))
    result = run("build", "ep01.yaml", "z.yaml", code=None)
    assert result.exit_code == 1
    assert "ep01: built" in result.output and "z: failed" in result.output
    assert "z.yaml: could not be mixed" in result.output and "noise.wav" in result.output
    assert (project / "build" / "ep01.wav").exists() and not (project / "build" / "z.wav").exists()
    assert summary(result).startswith("4 segments rendered")  # everything rendered once, and kept


def test_piping_into_head_is_not_an_internal_error(project):
    import subprocess
    import sys

    proc = subprocess.run(f"{sys.executable} -m podpipe voices | head -1", shell=True, capture_output=True,
                          text=True, cwd=project)
    assert proc.stdout.startswith("Zephyr") and "internal error" not in proc.stderr


def test_paths_outside_the_project_need_the_explicit_flag(project):
    outside = project.parent / f"{project.name}-outside"
    outside.mkdir()
    spec = project / "ep01.yaml"
    spec.write_text(spec.read_text().replace("output:\n  format: wav", f"output:\n  path: {outside / 'ep.wav'}"))
    refused = run("build", "ep01.yaml", code=None)
    assert refused.exit_code == 2 and "outside the project root" in refused.output
    assert not (outside / "ep.wav").exists()
    run("build", "--allow-outside-root", "ep01.yaml")
    assert (outside / "ep.wav").exists()


def test_readme_documents_every_exit_code():
    from podpipe.errors import ExitCode
    from tests.support import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Exit codes", 1)[1].split("\n\n", 2)[1]
    documented = {int(row.split("|")[1]) for row in table.splitlines()[2:] if row.startswith("|")}
    assert documented == {int(code) for code in ExitCode}


def test_plan_frozen_fails_only_when_something_would_be_rendered(project):
    frozen = run("plan", "--frozen", "ep01.yaml", code=3)
    assert "to render" in frozen.output and "--frozen: 4 requests are not in the cache" in frozen.output
    run("build", "ep01.yaml")
    assert "0 to render" in run("plan", "--frozen", "ep01.yaml").output
    assert not list((project / ".podpipe-cache").glob("**/*.tmp"))
