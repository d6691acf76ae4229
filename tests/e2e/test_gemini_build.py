"""Whole builds through the CLI with the real google-genai client against the loopback stand-in."""

from __future__ import annotations

import json
import logging

import pytest

from tests.support.cli import run
from tests.support.standin import StandIn

CANARY = "AIza" "SyCANARY-podpipe-must-never-write-this-0"  # split: a key-shaped literal trips secret scanners

PANEL = """\
title: Panel
model: {model}
style: lively studio panel
speakers:
  host: {{voice: Zephyr, name: Alex, style: warm}}
  one: {{voice: Puck, name: Sam}}
  two: {{voice: Kore, name: Kim}}
segments:
  - host: Welcome to the panel, everyone.
  - dialogue:
      - host: Sam, you first. What did you see?
      - one: Mostly bicycles, and a lot of them.
      - two: I counted the buses instead.
      - host: Kim, tell us more about the buses.
      - two: There were eleven, all of them late.
      - one: That sounds about right for a Monday.
  - pause: 0.5
  - host: Thanks for listening.
output: {{format: wav}}
"""


def _write(project, model="gemini-3.8-flash-tts"):
    (project / "panel.yaml").write_text(PANEL.format(model=model), encoding="utf-8")


@pytest.mark.parametrize("model", ["gemini-3.8-flash-tts", "gemini-2.5-flash-preview-tts"])
def test_gemini_is_the_default_with_a_key_and_builds_both_dialects(gemini_server, project, model):
    _write(project, model)
    result = run("build", "--rpm", "0", "panel.yaml")
    assert "offline espeak" not in result.output
    bodies = gemini_server.generate_requests()
    assert len(bodies) == 5  # 2 single lines + a 3-speaker dialogue split into 3 requests of <= 2 speakers
    for rec in bodies:
        assert rec.model == model
        speech = rec.body["generationConfig"]["speechConfig"]
        multi = speech.get("multi_speaker_voice_config") or speech.get("multiSpeakerVoiceConfig")
        if multi:
            configs = multi.get("speaker_voice_configs") or multi.get("speakerVoiceConfigs")
            assert len(configs) <= 2
    assert "5 segments rendered" in result.output and "panel: built" in result.output
    again = run("build", "--frozen", "panel.yaml")
    assert "up to date" in again.output and len(gemini_server.generate_requests()) == 5


def test_transient_faults_recover_and_report_matches_server(gemini_server, project):
    _write(project)
    gemini_server.script([None, "500", "other", "empty-wav"])
    run("build", "--rpm", "0", "-j", "1", "--report", "report.json", "panel.yaml")
    report = json.loads((project / "report.json").read_text())
    assert report["totals"]["attempts"] == len(gemini_server.generate_requests()) == 8
    assert report["totals"]["failed_attempts"] == 3 and report["totals"]["failed"] == 0
    assert report["totals"]["tokens"] > 0 and report["totals"]["cost_usd"] > 0
    assert sum(report["totals"]["voice_usage"].values()) >= 5


def test_persistent_failure_exit_1_keeps_what_succeeded(gemini_server, project):
    _write(project)
    welcome = "Welcome to the panel, everyone."
    gemini_server.fault_fn = lambda rec: "503" if welcome in json.dumps(rec.body) else None
    result = run("build", "--rpm", "0", "--retries", "2", "panel.yaml", code=1)
    assert "1 render failed" in result.output and "503" in result.output
    assert "panel: failed" in result.output
    assert not (project / "build" / "panel.wav").exists()
    gemini_server.fault_fn = None
    retry = run("build", "--rpm", "0", "panel.yaml")
    assert "1 segment rendered, 4 cached" in retry.output  # only the failed one was sent again


def test_bad_key_fails_fast_naming_the_variable(gemini_server, project, monkeypatch):
    _write(project)
    monkeypatch.setenv("GEMINI_API_KEY", "AIza" "SyWRONG-key-0000000000000000000")  # split literal: not key-shaped
    result = run("build", "--rpm", "0", "panel.yaml", code=1)
    assert "GEMINI_API_KEY" in result.output
    assert "AIzaSyWRONG" not in result.output
    assert all(r.status in (400, 401) for r in gemini_server.requests)
    assert len(gemini_server.generate_requests()) == 5  # one attempt each: no retries on a bad key


def test_backend_espeak_forces_the_offline_voice(gemini_server, project):
    _write(project)
    run("build", "--backend", "espeak", "panel.yaml")
    assert gemini_server.generate_requests() == []


def test_canary_key_never_written_or_logged(project, monkeypatch, caplog, capfd):
    """The key is in the environment; it must appear in no file podpipe writes and no output or log line."""
    caplog.set_level(logging.DEBUG)
    with StandIn(api_key=CANARY) as server:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        monkeypatch.setenv("GEMINI_API_KEY", CANARY)
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        _write(project)
        server.script(["429", "500"])
        outputs = [run("build", "--rpm", "0", "-v", "--report", "build/report.json", "panel.yaml").output]
        server.fault_fn = lambda rec: "echo-key"
        spec = project / "panel.yaml"
        spec.write_text(spec.read_text().replace("Thanks for listening.", "Thanks, and goodbye."))
        outputs.append(run("build", "--rpm", "0", "--retries", "1", "panel.yaml", code=1).output)
        outputs.append(run("plan", "--json", "panel.yaml").output)
        outputs.append(run("cache", "info").output)
    files = [p for p in project.rglob("*") if p.is_file()]
    assert any(p.suffix == ".wav" for p in files) and any(p.name == "report.json" for p in files)
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), path
    captured = capfd.readouterr()
    for text in (*outputs, captured.out, captured.err, caplog.text):
        assert CANARY not in text


def test_price_file_overrides_the_table(gemini_server, project, monkeypatch):
    _write(project)
    base = json.loads(run("plan", "--json", "panel.yaml").output)["totals"]["cost_usd"]
    (project / "prices.json").write_text(json.dumps({"gemini-3.8-flash-tts": {"input": 5.0, "output": 90.0}}))
    monkeypatch.setenv("PODPIPE_PRICES", str(project / "prices.json"))
    from podpipe.commands.cost import file_prices

    file_prices.cache_clear()
    tenfold = json.loads(run("plan", "--json", "panel.yaml").output)["totals"]["cost_usd"]
    assert tenfold == pytest.approx(base * 10, rel=0.01)
    (project / "prices.json").write_text("not json")
    file_prices.cache_clear()
    bad = run("plan", "panel.yaml", code=2)
    assert "PODPIPE_PRICES" in bad.output



def test_retries_from_the_environment(gemini_server, project, monkeypatch):
    _write(project)
    monkeypatch.setenv("PODPIPE_RETRIES", "2")
    gemini_server.fault_fn = lambda rec: "503"
    result = run("build", "--rpm", "0", "panel.yaml", code=1)
    assert "after 2 attempts" in result.output
    assert len(gemini_server.generate_requests()) == 5 * 2


def test_say_through_gemini_shares_builds_retries_and_failure_messages(gemini_server, project):
    gemini_server.script(["500"])
    out = run("say", "Hello from the stand-in.", "-v", "Puck", "-o", "hi.wav", "--rpm", "0").output
    assert "wrote" in out and (project / "hi.wav").exists()
    assert len(gemini_server.generate_requests()) == 2  # one retry after the 500
    gemini_server.fault_fn = lambda rec: "400-key"
    bad = run("say", "Another line.", "-v", "Puck", "-o", "x.wav", "--rpm", "0", code=1)
    assert "GEMINI_API_KEY" in bad.output and "after 1 attempt" in bad.output
    warned = run("say", "Low.", "-v", "Puck", "-o", "y.wav", "--model", "gemini-2.5-flash-preview-tts",
                 "--temperature", "0.3", "--retries", "1", code=1)
    assert "known to fail" in warned.output


SAMPLED = """\
title: Sampled
model: {model}
temperature: 1.3
lexicon: {{SQL: sequel, Nguyen: win}}
speakers:
  host: {{voice: {voice}, name: Alex}}
  guest: {{voice: Puck, name: Sam}}
segments:
  - host: Welcome. Today, SQL <laughs> for beginners.
  - guest: Thanks. I learnt SQL from Nguyen.
    temperature: 0.9
  - host: And nothing else today.
output: {{format: wav}}
"""


def test_temperature_on_the_default_model_is_not_sent_and_the_build_succeeds(gemini_server, project):
    (project / "ep.yaml").write_text(SAMPLED.format(model="gemini-3.8-flash-tts", voice="Zephyr"), encoding="utf-8")
    result = run("build", "--rpm", "0", "ep.yaml")  # the stand-in answers 400 to any temperature on 3.8
    assert "ep.yaml:3:14: warning: temperature: gemini-3.8-flash-tts does not take temperature" in result.output
    assert "(set in 2 places in this spec)" in result.output and "1 up to date" not in result.output
    sent = gemini_server.generate_requests()
    assert len(sent) == 3 and all(r.status == 200 for r in sent)
    assert not any("temperature" in r.body["generationConfig"] for r in sent)
    assert "warning" in run("plan", "ep.yaml").output
    assert run("build", "--strict", "ep.yaml", code=2).output.count("an error under --strict") == 1


def test_temperature_on_a_3_1_model_is_sent(gemini_server, project):
    (project / "ep.yaml").write_text(SAMPLED.format(model="gemini-3.1-flash-tts-preview", voice="Zephyr"),
                                     encoding="utf-8")
    result = run("build", "--rpm", "0", "ep.yaml")
    assert "warning" not in result.output
    sent = sorted(r.body["generationConfig"]["temperature"] for r in gemini_server.generate_requests())
    assert sent == [0.9, 1.3, 1.3]
    texts = [r.texts[0] for r in gemini_server.generate_requests()]
    assert "Welcome. Today, sequel [laughs] for beginners." in texts  # square tags, lexicon applied


def test_lexicon_edits_pay_for_exactly_the_lines_that_use_them(gemini_server, project):
    spec = SAMPLED.format(model="gemini-3.8-flash-tts", voice="Zephyr")
    (project / "ep.yaml").write_text(spec, encoding="utf-8")
    run("build", "--rpm", "0", "ep.yaml")
    assert len(gemini_server.generate_requests()) == 3
    gemini_server.reset()
    (project / "ep.yaml").write_text(spec.replace("Nguyen: win", "Nguyen: nwen"), encoding="utf-8")
    run("build", "--rpm", "0", "ep.yaml")
    [again] = gemini_server.generate_requests()
    assert again.texts == ["Thanks. I learnt sequel from nwen."]
    vtt = (project / "build" / "ep.vtt").read_text(encoding="utf-8")
    assert "I learnt SQL from Nguyen." in vtt and "[laughs]" in vtt and "<laughs>" not in vtt


def test_voice_library_is_listed_stored_and_used_offline(gemini_server, project, monkeypatch):
    from podpipe.backends.gemini import backend as gemini

    monkeypatch.setattr(gemini, "VOICE_PAGE_SIZE", 40)  # several pages from the stand-in's ~95 voices
    listed = run("voices", "--backend", "gemini")
    pages = gemini_server.voices_requests()
    assert len(pages) == 3 and pages[0].query.get("page_size") == ["40"]
    names = [line.split("  ")[0].strip() for line in listed.stdout.splitlines()]
    assert names[:2] == ["voice_podpipe0002", "voice_podpipe0001"] and "Brisbane Kate" in names
    assert len(names) == len(set(names)) and "Uranus" not in names and "Zephyr" in names
    assert run("voices", "--backend", "gemini").stdout == listed.stdout  # from the stored list: no new request
    assert len(gemini_server.voices_requests()) == 3
    run("voices", "--backend", "gemini", "--refresh")
    assert len(gemini_server.voices_requests()) == 6

    (project / "ep.yaml").write_text(SAMPLED.format(model="gemini-3.8-flash-tts", voice="Brisbane Kate"),
                                     encoding="utf-8")
    monkeypatch.delenv("GEMINI_API_KEY")
    assert run("validate", "ep.yaml").output.endswith("1 spec valid\n")  # offline, from the stored list
    run("build", "--backend", "espeak", "ep.yaml")  # the offline voice has a stand-in for any voice
    monkeypatch.setenv("GEMINI_API_KEY", gemini_server.api_key)
    run("build", "--rpm", "0", "--force", "ep.yaml")
    voices = {c["voice"] for r in gemini_server.generate_requests()
              for c in [r.body["generationConfig"]["speechConfig"].get("voice_config")] if c}
    assert voices == {"Brisbane Kate", "Puck"}
    (project / "ep.yaml").write_text(SAMPLED.format(model="gemini-2.5-flash-preview-tts", voice="Brisbane Kate"),
                                     encoding="utf-8")
    assert "gemini-2.5-flash-preview-tts cannot use Extended Voice Library voices" in run(
        "validate", "ep.yaml", code=2).output


def test_voice_listing_failures_name_the_fix(gemini_server, project, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "AIza" "SyWrongKey-0123456789abcdefghij")
    result = run("voices", "--backend", "gemini", code=1)
    assert "listing Gemini voices failed" in result.output and "check GEMINI_API_KEY" in result.output
    assert "SyWrongKey" not in result.output
    monkeypatch.delenv("GEMINI_API_KEY")
    assert "needs an API key" in run("voices", "--backend", "gemini", "--refresh", code=2).output
