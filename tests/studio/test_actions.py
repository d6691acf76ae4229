"""The studio's actions: the cost of one more take (as `podpipe plan` estimates it), one more take rendered now
without editing the spec, picking it, and rebuilding the episode, with the offline voice (and the Gemini
stand-in for a paid backend's estimate and a reviewed take)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from podpipe.commands.build import BuildOptions, Progress, build
from podpipe.commands.plan import make_plan
from podpipe.errors import UsageError
from podpipe.studio.actions import build_episode, estimate_take, render_take
from podpipe.studio.edits import PickTake, SetText, apply_edit
from podpipe.studio.view import episode_view, take_audio

SPEC = """\
title: Studio actions
speakers:
  host: {voice: Zephyr, name: Alex}
  guest: {voice: Puck, name: Sam}
segments:
  - host: Welcome to the studio, where we try another take.
  - guest: Thanks, I am glad to be here.
  - pause: 0.5
  - host: That is all for today.
output: {format: wav}
"""


class Recorded(Progress):
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def note(self, message):
        self.calls.append(("note", message))

    def rendering(self, total):
        self.calls.append(("rendering", total))

    def attempt(self, request, attempt):
        self.calls.append(("attempt", attempt))

    def rendered(self, outcome):
        self.calls.append(("rendered", outcome.ok))

    def episode(self, status):
        self.calls.append(("episode", status.state))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("studio-actions")
    (root / "ep.yaml").write_text(SPEC, encoding="utf-8")
    build([root / "ep.yaml"], BuildOptions(backend="espeak", cache_dir=root / "cache", root=root, mix_jobs=1))
    return root


@pytest.fixture
def copy(built, tmp_path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(built, root)
    return root


def _kw(root: Path) -> dict:
    return {"root": root, "cache_dir": root / "cache", "backend": "espeak"}


def _view(root: Path) -> dict:
    return episode_view(root / "ep.yaml", **_kw(root))


def test_the_offline_voice_costs_nothing(built):
    cost = estimate_take(built / "ep.yaml", "s2", **_kw(built))
    assert cost["take"] == 2 and cost["backend"] == "espeak" and not cost["paid"]
    assert cost["usd"] == 0 and cost["usd_max"] == 0 and cost["characters"] == len("Thanks, I am glad to be here.")


def test_a_paid_take_is_estimated_as_plan_estimates_it(built, tmp_path):
    cost = estimate_take(built / "ep.yaml", "s2", root=built, cache_dir=tmp_path, backend="gemini")
    assert cost["paid"] and cost["take"] == 1 and cost["usd"] > 0  # no Gemini take yet: its written take
    assert cost["usd_max"] == pytest.approx(cost["usd"] * 3) and cost["price"]
    plan = make_plan([built / "ep.yaml"], BuildOptions(backend="gemini", cache_dir=tmp_path, root=built))
    [planned] = [r for r in plan.episodes[0].requests if r.segment == "s2"]
    assert planned.cost_usd == pytest.approx(cost["usd"]) and planned.output_tokens == cost["output_tokens"]


def test_another_take_is_rendered_listed_and_picked_with_a_one_line_edit(copy):
    spec = copy / "ep.yaml"
    before = spec.read_bytes()
    progress = Recorded()
    entry = render_take(spec, "s2", progress=progress, **_kw(copy))
    assert spec.read_bytes() == before  # rendering a take edits nothing
    assert ("rendering", 1) in progress.calls and ("rendered", True) in progress.calls
    assert entry["take"] == 2 and not entry["current"] and not entry["rejected"] and entry["status"] == "accepted"
    wav = take_audio(copy, copy / "cache", entry["id"])
    assert hashlib.sha256(wav.read_bytes()).hexdigest().startswith(entry["id"])

    view = _view(copy)
    line = view["lines"][1]
    assert [(t["take"], t["current"]) for t in line["takes"]] == [(1, True), (2, False)]
    assert line["takes"][1]["id"] == entry["id"] and view["fresh"]  # the episode is as it was
    assert estimate_take(spec, "s2", **_kw(copy))["take"] == 3  # the next one after it

    saved = apply_edit(spec, PickTake("s2", 2), base_sha256=view["sha256"], root=copy)
    assert [ln for ln in saved.diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")] == \
        ["+    take: 2"]
    view = _view(copy)
    line = view["lines"][1]
    assert line["take"] == entry["id"] and line["status"] == "cached" and not view["fresh"]
    assert [(t["take"], t["current"]) for t in line["takes"]] == [(1, False), (2, True)]

    progress = Recorded()
    result = build_episode(spec, progress=progress, **_kw(copy))
    assert result["state"] == "built" and result["rendered"] == 0 and result["output"] == "build/ep.wav"
    assert ("episode", "built") in progress.calls
    view = _view(copy)
    assert view["fresh"] and view["lines"][1]["start"] is not None


def test_an_edited_line_goes_stale_then_renders(copy):
    spec = copy / "ep.yaml"
    view = _view(copy)
    apply_edit(spec, SetText("s4", "That is all for this week."), base_sha256=view["sha256"], root=copy)
    assert _view(copy)["lines"][2]["status"] == "stale"
    assert estimate_take(spec, "s4", **_kw(copy))["take"] == 1  # its written take is the one it lacks
    progress = Recorded()
    result = build_episode(spec, progress=progress, **_kw(copy))
    assert result["rendered"] == 1 and ("rendering", 1) in progress.calls
    view = _view(copy)
    assert view["fresh"] and view["lines"][2]["status"] == "cached"
    assert view["lines"][2]["text"] == "That is all for this week."


def test_only_spoken_segments_get_takes(built):
    with pytest.raises(UsageError, match="'s3': no spoken segment has that id; spoken segment ids are: s1, s2, s4"):
        estimate_take(built / "ep.yaml", "s3", **_kw(built))
    with pytest.raises(UsageError, match="'nope'"):
        render_take(built / "ep.yaml", "nope", **_kw(built))


def test_a_take_from_the_stand_in_is_reviewed_and_rejected_takes_are_listed(gemini_server, project):
    from tests.support.standin import Fault

    (project / "ep.yaml").write_text(SPEC, encoding="utf-8")
    build([project / "ep.yaml"], BuildOptions(root=project, rpm=0, mix_jobs=1))
    sent = []

    def first_bad(rec):
        sent.append(rec.texts[0])
        return Fault("noise") if len(sent) == 1 else None

    gemini_server.fault_fn = first_bad
    entry = render_take(project / "ep.yaml", "s1", root=project)
    assert len(sent) == 2 and entry["take"] == 2 and entry["status"] == "accepted"
    line = episode_view(project / "ep.yaml", root=project)["lines"][0]
    assert [(t["take"], t["rejected"], t["current"]) for t in line["takes"]] == [
        (1, False, True), (2, False, False), (2, True, False)]
    assert line["takes"][2]["reasons"] == ["noise"]
