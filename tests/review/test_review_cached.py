"""``build --review-cached``: cached takes judged again by a tuned review, from their stored measures; flags set
and cleared without a render; with ``--retakes N`` a take that now fails is re-rolled exactly once.

One project (three clean lines, Puck reads s2) is built once per module against the loopback stand-in; each test
works on a copy. Tightening Puck's ``noise`` limit below the stand-in's tone (0.017 crossings per sample) makes
exactly that take fail."""

from __future__ import annotations

import json

import pytest

from podpipe.cache import FileStore
from podpipe.cache.takes import rejected_key
from tests.support.built import SPEC, built_project, project_copy
from tests.support.cli import run

TIGHT = "review:\n  voices:\n    Puck: {noise: 0.01}\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    with built_project(tmp_path_factory.mktemp("rejudge"), SPEC) as done:
        yield done


@pytest.fixture
def copy(built, tmp_path, monkeypatch):
    return project_copy(built, tmp_path / "p", monkeypatch)


@pytest.fixture
def measured(monkeypatch):
    """How often a take's audio is measured (decoded and analysed) from now on."""
    import podpipe.review

    calls = []
    real = podpipe.review.measure

    def spy(audio, figures=None):
        calls.append(audio)
        return real(audio, figures)

    monkeypatch.setattr(podpipe.review, "measure", spy)
    return calls


def _manifest_status(root, segment):
    manifest = json.loads((root / "eps" / "ep.manifest.json").read_text())
    return next(p for p in manifest["pieces"] if p.get("segment_id") == segment)["review"]["status"]


def _puck_key(root):
    manifest = json.loads((root / "eps" / "ep.manifest.json").read_text())
    return next(p for p in manifest["pieces"] if p.get("segment_id") == "s2")["key"]


def test_a_tighter_review_flags_cached_takes_without_rendering_and_a_looser_one_clears_them(copy, measured):
    root, server, sent = copy
    spec = root / "eps" / "ep.yaml"
    key = _puck_key(root)
    store = FileStore(root / ".podpipe-cache")
    spec.write_text(SPEC + TIGHT, encoding="utf-8")
    assert "reviewed again" not in run("build", "eps/ep.yaml").output  # a review: change alone re-judges nothing
    assert store.meta(key)["review"]["status"] == "accepted"

    tight = run("build", "--review-cached", "--report", "report.json", "eps/ep.yaml")
    assert "cached takes reviewed again: 3 re-judged, 1 newly flagged, 0 cleared, 0 re-rolled" in tight.output
    assert "0 segments rendered, 3 cached" in tight.output and "1 episode built" in tight.output
    assert len(server.generate_requests()) == sent and measured == []  # no render, no audio measured
    review = store.meta(key)["review"]
    assert review["status"] == "flagged" and review["reasons"] == ["noise"]
    assert _manifest_status(root, "s2") == "flagged"  # mixed again: the manifest (publish's gate) agrees
    report = json.loads((root / "report.json").read_text())
    assert report["review_cached"] == {"rejudged": 3, "measured": 0, "flagged": [key], "cleared": [],
                                       "rerolled": []}
    run("build", "--strict", "eps/ep.yaml", code=4)
    assert "up to date" in run("build", "eps/ep.yaml").output

    spec.write_text(SPEC, encoding="utf-8")
    loose = run("build", "--review-cached", "--strict", "eps/ep.yaml")
    assert "3 re-judged, 0 newly flagged, 1 cleared, 0 re-rolled" in loose.output
    assert store.meta(key)["review"]["status"] == "accepted" and _manifest_status(root, "s2") == "accepted"
    assert len(server.generate_requests()) == sent and measured == []
    again = run("build", "--review-cached", "eps/ep.yaml")  # nothing changes: nothing is mixed again
    assert "3 re-judged, 0 newly flagged, 0 cleared" in again.output and "1 up to date" in again.output


def test_retakes_with_review_cached_rerolls_a_newly_failing_take_exactly_once(copy):
    root, server, sent = copy
    key = _puck_key(root)
    store = FileStore(root / ".podpipe-cache")
    old = store.meta(key)["sha256"]
    (root / "eps" / "ep.yaml").write_text(SPEC + TIGHT, encoding="utf-8")

    result = run("build", "--rpm", "0", "--review-cached", "--retakes", "1", "--report", "report.json", "eps/ep.yaml")
    assert "1 segment rendered, 2 cached" in result.output and "1 re-rolled" in result.output
    assert [r.texts[0][:20] for r in server.generate_requests()[sent:]] == ["I counted eleven bus"]
    report = json.loads((root / "report.json").read_text())
    assert report["review_cached"]["rerolled"] == [key]
    [record] = [r for r in report["requests"] if r["key"] == key]
    assert record["outcome"] == "rendered" and record["flagged"] and record["tokens"]["total"] > 0
    assert report["totals"]["cost_usd"] > 0
    # the old take is kept as rejected, numbered 1; the new one (failing too: the same tone) is take 2, flagged
    aside = store.meta(rejected_key(key, 1))
    assert aside["sha256"] == old and aside["review"]["status"] == "rejected" and aside["review"]["of"] == key
    review = store.meta(key)["review"]
    assert review["status"] == "flagged" and review["take"] == 2
    assert [(r["key"], r["take"], r["reasons"]) for r in review["rejected"]] == [(rejected_key(key, 1), 1, ["noise"])]
    [line] = json.loads(run("review", "--json", "eps/ep.yaml").output)
    assert line["status"] == "flagged" and len(line["takes"]) == 2

    # already flagged: asked again, it is not re-rolled again
    again = run("build", "--rpm", "0", "--review-cached", "--retakes", "1", "eps/ep.yaml")
    assert "0 newly flagged, 0 cleared, 0 re-rolled" in again.output
    assert len(server.generate_requests()) == sent + 1


def test_a_take_cached_before_review_is_measured_once_and_its_measures_stored(copy, measured):
    root, server, sent = copy
    key = _puck_key(root)
    store = FileStore(root / ".podpipe-cache")
    record_path = store.entry_paths(key)[1]
    record = json.loads(record_path.read_text())
    del record["review"]
    record_path.write_text(json.dumps(record), encoding="utf-8")

    first = run("build", "--review-cached", "eps/ep.yaml")
    assert "3 re-judged, 0 newly flagged" in first.output and len(measured) == 1
    assert store.meta(key)["review"]["status"] == "accepted" and store.meta(key)["review"]["measures"]
    run("build", "--review-cached", "eps/ep.yaml")
    assert len(measured) == 1 and len(server.generate_requests()) == sent
