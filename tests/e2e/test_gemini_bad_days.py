"""Whole builds on the real service's bad days, through the CLI and the real google-genai client against the
loopback stand-in: a refused line, a take cut off at the output cap, a language the model does not take,
and the tokens every failed attempt was billed."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.cli import run

SHOW = """\
title: Bad days
model: gemini-3.8-flash-tts
{language}speakers:
  host: {{voice: Zephyr, name: Alex}}
segments:
  - host: Welcome to the show.
  - host: Today we talk about bread.
  - id: risky
    host: This line says forbidden things.
  - host: Thanks for listening.
output: {{format: wav}}
"""


def _write(project, text: str = SHOW, language: str = "") -> None:
    (project / "show.yaml").write_text(text.format(language=language), encoding="utf-8")


def _sent(server, words: str) -> list:
    return [r for r in server.generate_requests() if any(words in t for t in r.texts)]


def test_refused_line_is_sent_once_located_and_the_rest_cached(gemini_server, project):
    _write(project)
    gemini_server.refuse_words = {"forbidden"}
    result = run("build", "--rpm", "0", "--retries", "5", "--report", "report.json", "show.yaml", code=1)
    assert len(_sent(gemini_server, "forbidden")) == 1  # final: one attempt, however many retries are allowed
    # located like a validation error: file:line:col of the segment, its id, the reason and the fix
    line = next(i for i, text in enumerate(SHOW.splitlines(), 1) if "id: risky" in text)
    assert re.search(rf"show\.yaml:{line}:5: segment risky: Alex: This line says forbidden things\. — the model "
                     r"refused this line for safety \(SAFETY, gemini-3\.8-flash-tts\): rephrase it \(after 1 "
                     r"attempt\)", result.output), result.output
    # every other line was rendered and cached: a plan sends only the refused one again
    plan = json.loads(run("plan", "--json", "show.yaml").output)
    actions = {r["segment"]: r["action"] for r in plan["episodes"][0]["requests"]}
    assert actions == {"s1": "cached", "s2": "cached", "risky": "render", "s4": "cached"}
    # the refusal was billed (its prompt tokens), so the report counts it
    report = json.loads((project / "report.json").read_text())
    [failed] = [r for r in report["requests"] if r["outcome"] == "failed"]
    [rec] = _sent(gemini_server, "forbidden")
    assert failed["tokens"]["total"] == rec.usage["totalTokenCount"] > 0 and failed["cost_usd"] > 0
    assert report["totals"]["tokens"] == sum(r.usage["totalTokenCount"] for r in gemini_server.generate_requests())


def test_failed_attempts_tokens_appear_in_the_report(gemini_server, project):
    _write(project)
    gemini_server.script(["other", "max-tokens"])  # billed, no usable audio; then a cut-off take, billed in full
    run("build", "--rpm", "0", "-j", "1", "--report", "report.json", "show.yaml")
    report = json.loads((project / "report.json").read_text())
    billed = sum(r.usage["totalTokenCount"] for r in gemini_server.generate_requests())
    assert report["totals"]["tokens"] == billed
    assert sum(r["tokens"]["total"] for r in report["requests"]) == billed
    assert report["totals"]["failed"] == 0 and report["totals"]["failed_attempts"] == 2


LONG = ("Sentence number {i} of the long reading goes on for a while, as sentences do. " * 1)


def test_a_line_longer_than_the_cap_is_split_and_comes_out_complete(gemini_server, project):
    text = "".join(LONG.format(i=i) for i in range(12)).strip()  # ~950 characters: ~63 s at the stand-in's rate
    (project / "show.yaml").write_text(f"""\
title: Long
model: gemini-3.8-flash-tts
speakers:
  host: {{voice: Zephyr, name: Alex}}
segments:
  - host: {text}
output: {{format: wav}}
""", encoding="utf-8")
    gemini_server.max_output_seconds = 20.0  # the whole take would be cut off; halves, then quarters fit
    result = run("build", "--rpm", "0", "--report", "report.json", "show.yaml")
    assert "show: built" in result.output
    recs = gemini_server.generate_requests()
    parts = [r for r in recs if sum(map(len, r.texts)) / 15 <= 20.0]  # what the stand-in answered in full
    cut = [r for r in recs if r not in parts]
    assert cut and "\n".join(cut[0].texts) == text  # the whole went first and was cut off
    # every part ends at a sentence end, and the parts, in order, are the whole text
    assert all("\n".join(r.texts).endswith(".") for r in parts)
    assert " ".join("\n".join(r.texts) for r in parts) == text
    # the audio is the whole line's: the parts joined (the stand-in speaks 15 characters a second)
    report = json.loads((project / "report.json").read_text())
    [record] = report["requests"]
    assert record["outcome"] == "rendered" and record["parts"] == len(parts) >= 4
    assert record["audio_seconds"] == pytest.approx(sum(len("\n".join(r.texts)) for r in parts) / 15, abs=0.01)
    assert record["tokens"]["total"] == sum(r.usage["totalTokenCount"] for r in recs)  # cut-off takes billed
    # nothing changed: the next build renders nothing (the whole's key holds the joined audio)
    (project / "build" / "show.wav").unlink()
    again = run("build", "--rpm", "0", "show.yaml")
    assert len(gemini_server.generate_requests()) == len(recs) and "show: built" in again.output


def test_an_unsupported_language_fails_after_two_identical_500s(gemini_server, project):
    _write(project, language="language: sw-KE\n")
    gemini_server.languages = {"en-US"}
    result = run("build", "--rpm", "0", "--retries", "5", "show.yaml", code=1)
    assert len(gemini_server.generate_requests()) == 4 * 2  # each line: the 500, the same 500, then final
    assert "`language: sw-KE`" in result.output and "does not take that language" in result.output
    assert "(after 2 attempts)" in result.output


def test_plan_says_which_dated_price_it_used(gemini_server, project, monkeypatch):
    _write(project)
    text = run("plan", "show.yaml").output
    assert "price: gemini-3.8-flash-tts: $0.5 in / $9 out per 1M tokens (launch price" in text
    assert "2026-12-31" in text  # the launch price's end date, and where it was read
    (project / "prices.json").write_text(json.dumps({"gemini-3.8-flash-tts": {"output": 12.0}}))
    monkeypatch.setenv("PODPIPE_PRICES", str(project / "prices.json"))
    planned = json.loads(run("plan", "--json", "show.yaml").output)
    assert planned["prices"] == [f"gemini-3.8-flash-tts: $0.5 in / $12 out per 1M tokens (from PODPIPE_PRICES="
                                 f"{project / 'prices.json'})"]


def test_prices_in_the_show_file_override_the_catalog_and_the_variable_overrides_both(gemini_server, project,
                                                                                       monkeypatch):
    (project / "show").mkdir()
    (project / "show" / "show.yaml").write_text("prices:\n  gemini-3.8-flash-tts: {output: 18}\n")
    _write(project, SHOW.replace("title: Bad days\n", "title: Bad days\nextends: show/show.yaml\n"))
    base = json.loads(run("plan", "--json", "show.yaml").output)
    assert base["prices"] == ["gemini-3.8-flash-tts: $0.5 in / $18 out per 1M tokens (from prices: in the spec)"]
    catalog = sum(r["output_tokens"] * 9 + r["input_tokens"] * 0.5 for r in base["episodes"][0]["requests"]) / 1e6
    doubled = sum(r["output_tokens"] * 18 + r["input_tokens"] * 0.5 for r in base["episodes"][0]["requests"]) / 1e6
    assert base["totals"]["cost_usd"] == pytest.approx(doubled, abs=1e-4) and doubled > catalog
    (project / "prices.json").write_text(json.dumps({"gemini-3.8-flash-tts": {"input": 1.0}}))
    monkeypatch.setenv("PODPIPE_PRICES", str(project / "prices.json"))
    both = json.loads(run("plan", "--json", "show.yaml").output)
    assert both["prices"] == [f"gemini-3.8-flash-tts: $1 in / $18 out per 1M tokens (from PODPIPE_PRICES="
                              f"{project / 'prices.json'})"]  # per key: the file's input, the show's output
    monkeypatch.delenv("PODPIPE_PRICES")
    gemini_server.refuse_words = set()
    run("build", "--rpm", "0", "--report", "report.json", "show.yaml")
    report = json.loads((project / "report.json").read_text())
    billed = [r.usage for r in gemini_server.generate_requests()]
    expected = sum(u["promptTokenCount"] * 0.5 + u["candidatesTokenCount"] * 18 for u in billed) / 1e6
    assert report["totals"]["cost_usd"] == pytest.approx(expected, abs=1e-6)


def test_a_bad_price_is_a_located_error(project):
    _write(project, SHOW.replace("title: Bad days\n", "title: Bad days\nprices:\n  gemini-3.8-flash-tts: "
                                                      "{{output: -1}}\n"))
    result = run("validate", "show.yaml", code=2)
    assert "show.yaml:3:34: prices['gemini-3.8-flash-tts'].output: must be at least 0, got -1" in result.output
