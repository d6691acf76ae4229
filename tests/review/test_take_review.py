"""Take review end to end: the real google-genai client against the loopback stand-in's bad takes."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from podpipe.cache import FileStore
from tests.support.cli import run
from tests.support.standin import TAKE_FAULTS, body_digest

# every line is long enough (>= 3 s) that a take cut to a third is clearly short
SHOW = """\
title: Review {n}
model: gemini-3.8-flash-tts
speakers:
  host: {{voice: Zephyr, name: Alex}}
  guest: {{voice: Puck, name: Sam}}
segments:
  - host: Welcome back to the show, where we read the news of the week out loud.
  - guest: Thanks for having me again, it is always a pleasure to be on this programme.
  - host: Today we talk about bicycles, buses and the trains that never come on time.
  - guest: I counted eleven buses this morning and every single one of them was late.
  - pause: 0.5
  - host: That sounds about right for a Monday morning in this part of the city.
  - guest: The trams were worse, I waited twenty minutes for one that never arrived.
  - host: Thank you all for listening, and we will be back at the same time next week.
output: {{format: wav, path: {out}}}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PODPIPE_CACHE_DIR", raising=False)
    return tmp_path


def _write(directory, episodes=2):
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for n in range(episodes):
        (directory / f"ep{n}.yaml").write_text(SHOW.format(n=n, out=f"{directory.name}/ep{n}.wav").replace("the week", f"week {n}"), encoding="utf-8")
        names.append(str(directory / f"ep{n}.yaml"))
    return names


def test_bad_takes_are_caught_and_rerolled_once_and_the_audio_equals_a_clean_build(gemini_server, project):
    clean = _write(project / "clean")
    run("build", "--rpm", "0", "--cache-dir", "clean-cache", *clean)
    clean_requests = len(gemini_server.generate_requests())
    assert clean_requests == 8  # 7 lines, of which the first differs between the two episodes
    gemini_server.reset()

    specs = _write(project / "faulty")
    gemini_server.bad_first_takes(TAKE_FAULTS)
    result = run("build", "--rpm", "0", "--cache-dir", "faulty-cache", "--report", "report.json", *specs)
    bad = dict(gemini_server.bad_bodies)
    assert set(bad.values()) == set(TAKE_FAULTS)  # every kind of bad take was sent
    sent = Counter(body_digest(r) for r in gemini_server.generate_requests())
    assert {d for d, n in sent.items() if n == 2} == set(bad)  # each bad take re-rolled exactly once
    assert all(n == 1 for d, n in sent.items() if d not in bad)  # no good take rendered twice
    assert len(sent) == clean_requests and bad
    assert f"({len(bad)} re-rolls, 0 flagged)" in result.output

    for n in range(2):
        assert (project / "faulty" / f"ep{n}.wav").read_bytes() == (project / "clean" / f"ep{n}.wav").read_bytes()
    report = json.loads((project / "report.json").read_text())
    assert report["totals"]["retakes"] == len(bad) and report["totals"]["flagged"] == 0
    rerolled = [r for r in report["requests"] if r["retakes"]]
    assert len(rerolled) == len(bad)
    expected = {"read-thrice": "runaway", "cut": "truncated", "dead-air": "dead_air", "noise": "noise"}
    assert sorted(reason for r in rerolled for reason in r["review"]["rejected"][0]["reasons"]) == \
        sorted(expected[kind] for kind in bad.values())
    # the rejected takes stay in the cache, marked rejected, beside the accepted take
    store = FileStore(project / "faulty-cache")
    for r in rerolled:
        assert r["review"]["status"] == "accepted" and r["review"]["take"] == 2
        kept = store.meta(r["key"])["review"]
        assert kept["rejected"][0]["key"] == r["review"]["rejected"][0]["key"]
        rejected = store.meta(kept["rejected"][0]["key"])
        assert rejected["review"]["status"] == "rejected" and rejected["review"]["of"] == r["key"]
        assert store.get(kept["rejected"][0]["key"]) is not None

    listed = run("review", "--cache-dir", "faulty-cache", "--json", *specs)
    lines = json.loads(listed.output)
    # one row per line of each episode: a take both episodes share is listed under each
    assert {line["key"] for line in lines} == {r["key"] for r in rerolled}
    assert len(lines) == sum(len(r["uses"]) for r in rerolled)
    assert all(line["status"] == "accepted" for line in lines)
    assert all(line["position"] != "--:--" and len(line["takes"]) == 2 for line in lines)

    again = run("build", "--rpm", "0", "--cache-dir", "faulty-cache", *specs)
    assert "up to date" in again.output and len(gemini_server.generate_requests()) == sum(sent.values())


def test_ordinary_standin_takes_reroll_nothing(gemini_server, project):
    specs = _write(project / "eps", episodes=3)
    result = run("build", "--rpm", "0", "--report", "report.json", *specs)
    report = json.loads((project / "report.json").read_text())
    assert report["totals"]["retakes"] == 0 and report["totals"]["flagged"] == 0
    assert "re-roll" not in result.output
    assert all(r["review"]["status"] == "accepted" for r in report["requests"])


def _always_bad(server, text, kind="dead-air"):
    """Every take of the line holding ``text`` is bad (``kind``); the rest are answered normally."""
    from tests.support.standin import Fault

    server.fault_fn = lambda rec: Fault(kind) if any(text in t for t in rec.texts) else None


def test_a_take_failing_every_attempt_is_flagged_gates_strict_and_publish_until_accepted(gemini_server, project):
    specs = _write(project / "eps", episodes=1)
    _always_bad(gemini_server, "eleven buses")
    result = run("build", "--rpm", "0", "--report", "report.json", *specs)
    assert "(2 re-rolls, 1 flagged)" in result.output
    assert sum("eleven buses" in r.texts[0] for r in gemini_server.generate_requests()) == 3  # 1 + --retakes 2
    report = json.loads((project / "report.json").read_text())
    [flagged] = [r for r in report["requests"] if r["flagged"]]
    assert flagged["review"]["status"] == "flagged" and flagged["review"]["reasons"] == ["dead_air"]
    assert len(flagged["review"]["rejected"]) == 2
    manifest = json.loads((project / "eps" / "ep0.manifest.json").read_text())
    [piece] = [p for p in manifest["pieces"] if p.get("review", {}).get("status") == "flagged"]
    assert piece["key"] == flagged["key"] and piece["segment_id"] == "s4"

    strict = run("build", "--strict", *specs, code=4)
    assert "s4 take " in strict.output and "dead_air" in strict.output
    listed = run("review", *specs)
    assert "00:" in listed.output and "s4" in listed.output and "1 flagged, 0 re-rolled" in listed.output
    refused = run("publish", *specs, "--to", f"file://{project / 'site'}", "--base-url", "https://example.org/s",
                  "--dry-run", code=4)
    assert "refusing to publish" in refused.output and "s4" in refused.output
    assert not (project / "site").exists()

    # accept the flagged take by ear: its flag clears everywhere, nothing is rendered again
    spec = project / "eps" / "ep0.yaml"
    sent = len(gemini_server.generate_requests())
    spec.write_text(spec.read_text().replace(
        "  - guest: I counted eleven buses this morning and every single one of them was late.\n",
        "  - guest: I counted eleven buses this morning and every single one of them was late.\n"
        f"    accept: {piece['review']['take']}\n"), encoding="utf-8")
    run("build", "--strict", *specs)
    assert "0 flagged" in run("review", *specs).output
    assert len(gemini_server.generate_requests()) == sent
    gate = run("publish", *specs, "--to", f"file://{project / 'site'}", "--base-url", "https://example.org/s",
               "--dry-run", code=None)
    assert gate.exit_code != 4 and "refusing to publish" not in gate.output


def test_retakes_zero_keeps_the_first_take_and_flags_it(gemini_server, project):
    specs = _write(project / "eps", episodes=1)
    _always_bad(gemini_server, "eleven buses", kind="noise")
    result = run("build", "--rpm", "0", "--retakes", "0", *specs)
    assert "(0 re-rolls, 1 flagged)" in result.output
    assert sum("eleven buses" in r.texts[0] for r in gemini_server.generate_requests()) == 1


@pytest.mark.parametrize("backend", ["espeak", "gemini"])
def test_example_episodes_reroll_and_flag_nothing(gemini_server, project, backend):
    """The demo episodes, read by the offline voice and by the stand-in: no false alarm, no extra spending."""
    import shutil

    from tests.support import REPO

    shutil.copytree(REPO / "episodes", project / "episodes")
    show = project / "episodes" / "shows" / "podpipe-weekly.yaml"  # mixed to WAV: the renders are the same,
    assert "output:\n  gap: 0.3\n" in show.read_text()            # and no MP3 encode of 11 minutes is paid
    show.write_text(show.read_text().replace("output:\n  gap: 0.3\n", "output:\n  gap: 0.3\n  format: wav\n"))
    specs = sorted(str(p) for p in (project / "episodes").glob("*.yaml"))
    run("build", "--backend", backend, "--rpm", "0", "--report", "report.json", *specs)
    report = json.loads((project / "report.json").read_text())
    assert report["totals"]["rendered"] > 10
    assert report["totals"]["retakes"] == 0 and report["totals"]["flagged"] == 0
    failed_checks = [(r["key"][:8], c) for r in report["requests"] for c in r["review"]["checks"] if not c["ok"]]
    assert failed_checks == []
    if backend == "gemini":
        assert len(gemini_server.generate_requests()) == report["totals"]["rendered"]
    run("build", "--strict", *specs)  # nothing flagged, so --strict passes


def test_review_section_sets_thresholds_per_voice_and_strict(gemini_server, project):
    specs = _write(project / "eps", episodes=1)
    spec = project / "eps" / "ep0.yaml"
    spec.write_text(spec.read_text() + "review:\n  strict: true\n  retakes: 1\n  voices:\n    Puck: {dead_air: 6}\n",
                    encoding="utf-8")
    from tests.support.standin import Fault

    gemini_server.fault_fn = lambda rec: Fault("dead-air") if any(
        "eleven buses" in t or "Today we talk" in t for t in rec.texts) else None
    failed = run("build", "--rpm", "0", *specs, code=4)  # review: strict, no --strict needed
    assert "(1 re-roll, 1 flagged)" in failed.output and "s3 take" in failed.output  # Zephyr's line
    sent = Counter(r.texts[0][:14] for r in gemini_server.generate_requests())
    assert sent["Today we talk "] == 2 and sent["I counted elev"] == 1  # retakes: 1; Puck may pause 6 s
    bad = spec.read_text().replace("Puck: {dead_air: 6}", "Puck: {dead_air: 0}")
    spec.write_text(bad, encoding="utf-8")
    invalid = run("validate", *specs, code=2)
    assert "review.voices.Puck.dead_air" in invalid.output
