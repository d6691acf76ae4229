"""Freshness: whether an output must be mixed again and why (``mix.freshness``), and that ``podpipe plan``
says exactly what ``podpipe build`` then does, also when renders of an intact output are gone from the cache."""

from __future__ import annotations

import json
import os

import pytest

from podpipe.compile import SilencePiece
from podpipe.mix import mix_episode
from podpipe.mix.freshness import freshness
from tests.support.audio import speech, tone
from tests.support.cli import run
from tests.support.hardening import write_specs

KEY_A, KEY_B = "a" * 64, "b" * 64


@pytest.fixture
def built(episode_of):
    compiled = episode_of([speech(KEY_A, 0), SilencePiece(0.25, "gap"), speech(KEY_B, 1)], loudness=None)
    mix_episode(compiled, {KEY_A: tone(440, 0.5), KEY_B: tone(330, 0.5)}.__getitem__)
    return compiled


# --- the status and its reasons --------------------------------------------------------------------------

def test_never_built(episode_of):
    state = freshness(episode_of([speech(KEY_A, 0)]), has=lambda key: False)
    assert not state.up_to_date and state.state == "stale"
    assert state.reasons == ("no manifest", "output missing") and state.missing == (KEY_A,)
    assert state.describe() == "no manifest; output missing; 1 render missing from the cache"


def test_up_to_date_needs_no_cache_lookup(built):
    state = freshness(built, has=lambda key: pytest.fail("looked up a render of an up-to-date output"))
    assert state.up_to_date and state.reasons == () and state.missing == () and state.describe() == "up to date"


def test_each_reason(built, episode_of):
    output = built.rundown.output
    assert freshness(built, force=True).reasons == ("forced",)
    changed = episode_of([speech(KEY_A, 0, text="Hi."), SilencePiece(0.25, "gap"), speech(KEY_B, 1)], loudness=None)
    assert freshness(changed).reasons == ("inputs changed",)

    data = bytearray(output.read_bytes())
    data[-1] ^= 0xFF
    output.write_bytes(bytes(data))  # same size, new mtime: hashed, and found changed
    assert freshness(built).reasons == ("output changed since it was mixed",)

    output.with_suffix(".vtt").unlink()
    output.unlink()
    assert freshness(built).reasons == ("output missing", "sidecar missing: ep.vtt")

    manifest = output.with_name("ep.manifest.json")
    manifest.write_text("{")
    assert freshness(built).reasons == ("manifest unreadable (JSONDecodeError)", "output missing")
    manifest.write_text(json.dumps({"manifest_version": 0, "output": {}}))
    assert freshness(built).reasons[0] == "manifest of another podpipe version"


def test_missing_renders_are_listed_once_in_first_use_order(episode_of):
    compiled = episode_of([speech(KEY_B, 0), speech(KEY_A, 1), speech(KEY_B, 2)])
    assert freshness(compiled, has=lambda key: False).missing == (KEY_B, KEY_A)
    assert freshness(compiled, has=lambda key: key == KEY_B).missing == (KEY_A,)


# --- plan and build agree ---------------------------------------------------------------------------------

@pytest.fixture
def project(tmp_path, monkeypatch):
    """Two episodes sharing renders (the hardening tests' specs), built offline with espeak in tmp_path."""
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "PODPIPE_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    write_specs(tmp_path)
    return tmp_path


def plan() -> dict:
    return json.loads(run("plan", "--json", "a.yaml", "b.yaml").output)


def build(project, *args: str) -> tuple[str, set[str]]:
    """The build's output and the keys it rendered (from its report)."""
    result = run("build", "--report", "report.json", *args, "a.yaml", "b.yaml")
    report = json.loads((project / "report.json").read_text())
    return result.output, {r["key"] for r in report["requests"] if r["outcome"] == "rendered"}


def actions(doc: dict, episode: int) -> dict[str, str]:
    return {r["key"]: r["action"] for r in doc["episodes"][episode]["requests"]}


def to_render(doc: dict) -> set[str]:
    return {key for e in range(len(doc["episodes"])) for key, action in actions(doc, e).items() if action == "render"}


def shared_key(project) -> str:
    """The render both episodes use first ("Welcome back to the show ...")."""
    keys = [[p["key"] for p in json.loads((project / "build" / name).read_text())["pieces"] if p.get("key")]
            for name in ("a.manifest.json", "b.manifest.json")]
    assert keys[0][0] == keys[1][0]
    return keys[0][0]


def forget(project, key: str) -> None:
    """Remove a render from the cache."""
    for path in (project / ".podpipe-cache").rglob(f"{key}.*"):
        path.unlink()


def test_intact_outputs_do_not_need_their_lost_renders(project):
    first = plan()
    _, rendered = build(project)
    assert to_render(first) == rendered and len(rendered) == 6  # two of them shared
    lost = shared_key(project)
    forget(project, lost)

    doc = plan()
    # before issue 11, plan said "up to date" and then listed the lost render as one to render
    assert [e["up_to_date"] for e in doc["episodes"]] == [True, True] and to_render(doc) == set()
    assert actions(doc, 0)[lost] == actions(doc, 1)[lost] == "skip"
    assert [(e["state"], e["reasons"]) for e in doc["episodes"]] == [("up to date", [])] * 2
    assert (doc["totals"]["render"], doc["totals"]["skip"], doc["totals"]["cached"]) == (0, 1, 5)
    text = run("plan", "a.yaml", "b.yaml").output
    assert "a.yaml: up to date" in text and "b.yaml: up to date" in text
    assert "0 to render" in text and "5 cached, 1 not needed" in text

    stamp = (project / "build" / "a.wav").stat().st_mtime_ns
    output, rendered = build(project, "--frozen")  # nothing to render: --frozen passes
    assert "a: up to date" in output and "b: up to date" in output and rendered == set()
    assert (project / "build" / "a.wav").stat().st_mtime_ns == stamp
    assert not list((project / ".podpipe-cache").rglob(f"{lost}.*"))


@pytest.mark.parametrize("change", ["edit a line", "delete the output", "delete a sidecar"])
def test_a_stale_output_gets_its_lost_renders_back(project, change):
    build(project)
    lost = shared_key(project)
    forget(project, lost)
    if change == "edit a line":
        spec = project / "a.yaml"
        spec.write_text(spec.read_text().replace("Thanks, glad to be here again.", "Thanks, glad to be back."))
        reasons = ["inputs changed"]
    elif change == "delete the output":
        os.remove(project / "build" / "a.wav")
        reasons = ["output missing"]
    else:
        os.remove(project / "build" / "a.srt")
        reasons = ["sidecar missing: a.srt"]

    doc = plan()
    a, b = doc["episodes"]
    assert (a["state"], a["reasons"], b["state"]) == ("stale", reasons, "up to date")
    # the render both use comes back for the stale episode; the up-to-date one does not need it itself
    assert actions(doc, 0)[lost] == "render" and actions(doc, 1)[lost] == "skip" and doc["totals"]["skip"] == 0
    missing = 2 if change == "edit a line" else 1
    assert f"({'; '.join(reasons)}; {missing} render" in run("plan", "a.yaml", "b.yaml").output
    output, rendered = build(project)
    assert "a: built" in output and "b: up to date" in output
    assert rendered == to_render(doc) and lost in rendered and len(rendered) == missing
