"""Choosing among a line's takes by ear: ``accept:`` naming a rejected take picks it, ``request_takes`` lists
every take of a request, an id that names no take warns (an error under --strict).

One project is built once per module (worker) against the loopback stand-in: its line s2 fails review on
every take, each in another way, so its three takes differ. Each test works on a copy of it."""

from __future__ import annotations

import itertools
import json
import wave

import pytest

from podpipe.cache import FileStore
from tests.support.built import SPEC, built_project, project_copy
from tests.support.cli import run
from tests.support.standin import Fault

BAD = "eleven buses"
BAD_LINE = "  - guest: I counted eleven buses this morning and every single one of them was late.\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The built project (flagged line s2, two rejected takes) and the running stand-in."""
    kinds = itertools.cycle(["dead-air", "cut", "read-thrice"])
    with built_project(tmp_path_factory.mktemp("picks"), SPEC,
                       fault_fn=lambda rec: Fault(next(kinds)) if any(BAD in t for t in rec.texts) else None) as done:
        yield done


@pytest.fixture
def copy(built, tmp_path, monkeypatch):
    """A copy of the built project, made the working directory; the stand-in's requests so far."""
    return project_copy(built, tmp_path / "p", monkeypatch)


def _takes(segment_id="s2"):
    from podpipe.commands import BuildOptions
    from podpipe.commands.build import prepare
    from podpipe.commands.review import request_takes
    from podpipe.compile import SpeechPiece

    prepared = prepare(["eps/ep.yaml"], BuildOptions(backend="gemini"))
    [compiled] = prepared.episodes
    piece = next(p for p in compiled.rundown.pieces if isinstance(p, SpeechPiece) and p.segment_id == segment_id)
    request = next(r for r in compiled.requests if r.key == piece.request_key)
    return request, request_takes(request, prepared.local, piece.accept)


def _seconds(path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def _accept(spec, take_id: str, line: str = BAD_LINE) -> None:
    text = spec.read_text(encoding="utf-8")
    assert line in text
    spec.write_text(text.replace(line, f"{line}    accept: {take_id}\n"), encoding="utf-8")


def test_request_takes_lists_the_kept_and_the_rejected_takes(copy):
    request, takes = _takes()
    assert [t.number for t in takes] == [1, 1, 1]
    kept, *rejected = takes
    assert kept.kept and kept.used and kept.key == request.key and kept.status == "flagged"
    assert [t.kept or t.used for t in rejected] == [False, False]
    assert {t.status for t in rejected} == {"rejected"}
    assert sorted(t.attempt for t in takes) == [1, 2, 3]
    assert len({t.take_id for t in takes}) == 3 and all(len(t.take_id) == 12 for t in takes)
    assert all(t.path.is_file() and t.reasons and t.checks and t.duration > 0 for t in takes)
    assert {r for t in takes for r in t.reasons} == {"dead_air", "truncated", "runaway"}
    assert rejected[0].choose == {"take": 1, "accept": rejected[0].take_id}
    assert kept.choose == {"take": 1, "accept": kept.take_id}  # flagged: accept it to clear the flag
    record = rejected[0].to_record()
    assert record["used"] is False and record["path"].endswith(".wav") and record["choose"]["take"] == 1
    _, good = _takes("s1")
    assert [(t.status, t.used, t.choose) for t in good] == [("accepted", True, {"take": 1, "accept": None})]


def test_accepting_a_rejected_take_picks_it_and_renders_nothing(copy):
    root, server, sent = copy
    _, takes = _takes()
    kept = takes[0]
    picked = max(takes[1:], key=lambda t: t.duration)  # the longest: its length shows in the episode's
    before = _seconds(root / "eps" / "ep.wav")
    _accept(root / "eps" / "ep.yaml", picked.take_id)

    result = run("build", "--strict", "--report", "report.json", "eps/ep.yaml")
    assert "warning" not in result.output
    assert len(server.generate_requests()) == sent  # nothing rendered
    assert _seconds(root / "eps" / "ep.wav") == pytest.approx(before + picked.duration - kept.duration, abs=0.02)
    manifest = json.loads((root / "eps" / "ep.manifest.json").read_text())
    [piece] = [p for p in manifest["pieces"] if p.get("segment_id") == "s2"]
    assert piece["key"] == picked.key
    assert piece["review"]["status"] == "picked" and piece["review"]["take"] == picked.take_id
    assert piece["review"]["of"] == kept.key
    report = json.loads((root / "report.json").read_text())
    assert report["picked"] == [{"episode": "ep.yaml", "segment": "s2", "request": kept.key, "key": picked.key,
                                 "accept": [picked.take_id]}]
    assert kept.key not in {r["key"] for r in report["requests"]}  # the request is not needed: not rendered

    [line] = json.loads(run("review", "--json", "eps/ep.yaml").output)
    assert line["status"] == "picked" and line["take"] == picked.take_id and line["key"] == kept.key
    assert line["takes"][0] == str(picked.path) and len(line["takes"]) == 3
    listed = run("review", "eps/ep.yaml").output
    assert "0 flagged, 0 re-rolled, 1 picked" in listed
    assert f"      {picked.take_id} picked ({', '.join(picked.reasons)}) {picked.path}" in listed
    assert f"      {kept.take_id} flagged ({', '.join(kept.reasons)}) {kept.path}" in listed  # every take's id
    assert [c["take_id"] for c in line["choices"]][0] == picked.take_id
    _, now = _takes()
    assert [t.key for t in now if t.used] == [picked.key] and next(t for t in now if t.used).status == "picked"
    gate = run("publish", "eps/ep.yaml", "--to", f"file://{root / 'site'}", "--base-url", "https://example.org/s",
               "--dry-run", code=None)
    assert gate.exit_code != 4 and "refusing to publish" not in gate.output

    assert "up to date" in run("build", "eps/ep.yaml").output  # the pick is part of the mix's inputs
    spec = root / "eps" / "ep.yaml"
    spec.write_text(spec.read_text().replace(f"    accept: {picked.take_id}\n", ""), encoding="utf-8")
    run("build", "--strict", "eps/ep.yaml", code=4)  # back to the kept take, flagged
    assert _seconds(root / "eps" / "ep.wav") == pytest.approx(before, abs=0.001)
    assert len(server.generate_requests()) == sent


def test_an_accept_naming_no_take_warns_and_fails_strict_before_rendering(copy):
    root, server, sent = copy
    spec = root / "eps" / "ep.yaml"
    _accept(spec, "0123abcd0123")
    result = run("build", "eps/ep.yaml")
    line = next(n for n, text in enumerate(spec.read_text().splitlines(), 1) if BAD in text)  # the segment's
    assert f"eps/ep.yaml:{line}:5: warning: segments[1].accept: 0123abcd0123 names no take of segment s2" \
           in result.output
    assert "`podpipe review` lists the segment's takes" in result.output
    assert "(2 re-rolls, 1 flagged)" not in result.output  # nothing rendered; the flag stands
    strict = run("build", "--strict", "eps/ep.yaml", code=2)
    assert "(an error under --strict)" in strict.output and "segments[1].accept" in strict.output
    assert "warning" in run("review", "eps/ep.yaml").output
    assert len(server.generate_requests()) == sent

    # a segment not rendered yet: its ids cannot be judged until it is (no warning, no --strict failure)
    new = "  - host: A brand new closing line that nobody has rendered before today.\n"
    text = spec.read_text().replace("    accept: 0123abcd0123\n", "")
    spec.write_text(text.replace("output:", f"{new}    accept: 0123abcd0123\noutput:", 1), encoding="utf-8")
    first = run("build", "--strict", "eps/ep.yaml", code=4)  # rendered; s2 is still flagged
    assert "names no take" not in first.output
    assert len(server.generate_requests()) == sent + 1
    again = run("build", "eps/ep.yaml")
    assert "segments[3].accept: 0123abcd0123 names no take of segment s4" in again.output


def test_earlier_take_numbers_are_listed_and_pruning_by_specs_keeps_rejected_takes(copy):
    root, server, sent = copy
    spec = root / "eps" / "ep.yaml"
    first = "  - host: Welcome back to the show, where we read the news of the week out loud.\n"
    spec.write_text(spec.read_text().replace(first, first + "    take: 2\n"), encoding="utf-8")
    run("build", "eps/ep.yaml")
    assert len(server.generate_requests()) == sent + 1
    _, takes = _takes("s1")
    assert [(t.number, t.kept, t.used) for t in takes] == [(1, True, False), (2, True, True)]
    assert takes[0].choose == {"take": 1, "accept": None}

    store = FileStore(root / ".podpipe-cache")
    _, bad = _takes()
    run("cache", "prune", "eps/ep.yaml")
    assert all(store.has(t.key) for t in bad)  # the rejected takes of a line the spec uses stay
