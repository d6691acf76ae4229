"""The studio's web app through Starlette's TestClient (the real app, its lifespan and watcher running), on a
project built once per module with the offline voice: the token, CSRF on every state-changing request, the
Host check, paths that leave the project root, byte ranges for the episode and its takes, and edits (saved,
refused with the validation message, a conflict with both versions)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

pytest.importorskip("starlette")

from starlette.testclient import TestClient  # noqa: E402

from podpipe.studio.app import Studio, create_app  # noqa: E402
from podpipe.studio.guard import cookie_name, csrf_for  # noqa: E402
from tests.support.studio import CLEAN, built_project  # noqa: E402

BASE = "http://127.0.0.1:8765"
POSTS = ["/api/edit", "/api/estimate", "/api/render", "/api/build"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return built_project(tmp_path_factory)


@pytest.fixture
def project(built, tmp_path, monkeypatch) -> Path:
    """A private copy of the built project (spec, output and cache), made the working directory."""
    copy = tmp_path / "project"
    shutil.copytree(built, copy, symlinks=True)
    monkeypatch.chdir(copy)
    for var in CLEAN:
        monkeypatch.delenv(var, raising=False)
    return copy


def _studio(project: Path) -> Studio:
    return Studio(root=project, specs=["ep.yaml"], token="secret-token-for-tests")


@pytest.fixture
def client(project):
    """A client with the session cookie (it opened the URL with the token) and the CSRF header set."""
    studio = _studio(project)
    with TestClient(create_app(studio), base_url=BASE) as c:
        r = c.get("/?token=secret-token-for-tests", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"
        c.headers["X-CSRF-Token"] = csrf_for(studio.token)
        yield c


def test_the_token_is_required_and_kept_in_a_strict_httponly_cookie(project):
    app = create_app(_studio(project))
    with TestClient(app, base_url=BASE) as c:
        for path in ("/", "/api/session", "/static/studio.js", "/api/episode?spec=ep.yaml", "/api/events",
                     "/api/audio?spec=ep.yaml"):
            assert c.get(path).status_code == 403, path
            assert c.get(path + ("&" if "?" in path else "?") + "token=wrong").status_code == 403, path
        r = c.get("/?token=secret-token-for-tests", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"  # the token leaves the address bar
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{cookie_name(8765)}=secret-token-for-tests")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert c.get("/").status_code == 200  # the cookie opens the session from now on
        assert "podpipe studio" in c.get("/").text
        session = c.get("/api/session").json()
        assert session["csrf"] == csrf_for("secret-token-for-tests")
        assert [e["spec"] for e in session["episodes"]] == ["ep.yaml"]
        assert session["episodes"][0]["title"] == "Studio test"
    with TestClient(app, base_url=BASE) as c:  # a script can send the token as a header instead
        assert c.get("/api/session", headers={"Authorization": "token secret-token-for-tests"}).status_code == 200


def test_only_the_loopback_host_is_answered(project):
    """A DNS-rebinding page reaches 127.0.0.1 under a name of its own: its Host header gives it away."""
    with TestClient(create_app(_studio(project)), base_url="http://evil.example:8765") as c:
        assert c.get("/api/session?token=secret-token-for-tests").status_code == 403
    with TestClient(create_app(_studio(project)), base_url="http://localhost:8765") as c:
        assert c.get("/api/session?token=secret-token-for-tests").status_code == 200


@pytest.mark.parametrize("path", POSTS)
def test_every_state_changing_request_needs_the_csrf_token(client, project, path):
    spec = project / "ep.yaml"
    before = spec.read_bytes()
    body = {"line": "s1", "base": hashlib.sha256(before).hexdigest(),
            "edit": {"kind": "text", "line": "s1", "text": "Changed by a forged request."}}
    for headers in ({"X-CSRF-Token": ""}, {"X-CSRF-Token": "0" * 64}):
        r = client.post(f"{path}?spec=ep.yaml", json=body, headers=headers)
        assert r.status_code == 403 and "CSRF" in r.text
    # the right token, but sent from another site's page
    r = client.post(f"{path}?spec=ep.yaml", json=body, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert spec.read_bytes() == before  # nothing was written, nothing started


def test_paths_that_leave_the_project_root_are_refused(client, project, tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text((project / "ep.yaml").read_text())
    (project / "link.yaml").symlink_to(outside)
    (project / "sub").mkdir()
    for given in ("../outside.yaml", "sub/../../outside.yaml", str(outside), "/etc/passwd", "link.yaml",
                  "sub\\..\\..\\outside.yaml", "C:\\outside.yaml"):
        for endpoint in ("/api/episode", "/api/audio"):
            r = client.get(endpoint, params={"spec": given})
            assert r.status_code == 403, (endpoint, given, r.text)
            assert "refused" in r.json()["error"]
        r = client.post("/api/edit", params={"spec": given},
                        json={"base": "0" * 64, "edit": {"kind": "text", "line": "s1", "text": "x"}})
        assert r.status_code == 403, given
    assert client.get("/api/episode?spec=..%2Foutside.yaml").status_code == 403  # escaped in the URL
    # inside the root, but not a spec the studio was started with
    (project / "other.yaml").write_text("title: x\n")
    assert client.get("/api/episode", params={"spec": "other.yaml"}).status_code == 404
    assert client.get("/static/../ep.yaml").status_code == 404
    assert client.get("/api/take", params={"spec": "ep.yaml", "take": "../../etc/passwd"}).status_code == 400


def test_the_episode_and_its_takes_are_served_with_byte_ranges(client, project):
    view = client.get("/api/episode?spec=ep.yaml").json()
    data = (project / "build" / "studio-test.mp3").read_bytes()
    whole = client.get("/api/audio?spec=ep.yaml")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "audio/mpeg" and whole.headers["accept-ranges"] == "bytes"
    part = client.get("/api/audio?spec=ep.yaml", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == data[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    tail = client.get("/api/audio?spec=ep.yaml", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    assert client.get("/api/audio?spec=ep.yaml", headers={"Range": f"bytes={len(data) + 5}-"}).status_code == 416

    take = next(t for line in view["lines"] for t in line.get("takes", []))
    take_id = take.get("id") or take.get("take")
    audio = client.get(f"/api/take?spec=ep.yaml&take={take_id}", headers={"Range": "bytes=0-43"})
    assert audio.status_code == 206 and audio.content[:4] == b"RIFF" and len(audio.content) == 44
    assert client.get("/api/take?spec=ep.yaml&take=0123456789ab").status_code == 404


def test_an_edit_is_saved_refused_or_a_conflict_with_both_versions(client, project):
    spec = project / "ep.yaml"
    before = spec.read_text()
    base = hashlib.sha256(spec.read_bytes()).hexdigest()

    r = client.post("/api/edit?spec=ep.yaml", json={"base": base, "edit": {"kind": "style", "line": "s1", "style": "  "}})
    assert r.status_code == 422 and "ep.yaml" in r.json()["error"], r.text  # the validation message
    assert spec.read_text() == before

    r = client.post("/api/edit?spec=ep.yaml",
                    json={"base": base, "edit": {"kind": "text", "line": "s1", "text": "Welcome back."}})
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["sha256"] == hashlib.sha256(spec.read_bytes()).hexdigest()
    changed = [line for line in saved["diff"].splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["-    host: Welcome to the studio test.", "+    host: Welcome back."]
    assert spec.read_text().startswith("# The studio's test episode")

    # the page still holds the old sha256: the file changed since, so nothing is written and both are shown
    r = client.post("/api/edit?spec=ep.yaml",
                    json={"base": base, "edit": {"kind": "style", "line": "s1", "style": "warm"}})
    assert r.status_code == 409
    conflict = r.json()
    assert conflict["theirs"] == spec.read_text() and "Welcome back." in conflict["theirs"]
    assert "style: warm" in conflict["mine"] and conflict["sha256"] == saved["sha256"]

    r = client.post("/api/edit?spec=ep.yaml", json={"base": base, "edit": {"kind": "nonsense"}})
    assert r.status_code == 422 and "unknown edit" in r.json()["error"]


def test_each_kind_of_edit_the_page_sends_is_saved_as_its_minimal_diff(client, project):
    """The page's records (text of a dialogue's turn, style, pronunciation, a chapter mark, a picked take)
    reach the spec as the one change each asks for."""
    spec = project / "ep.yaml"
    view = client.get("/api/episode?spec=ep.yaml").json()
    flagged = next(line for line in view["lines"] if line["segment_id"] == "s2")
    assert flagged["status"] == "flagged" and flagged["reasons"] == ["noise"]
    records = [
        ({"kind": "text", "line": "s3", "turn": 1, "text": "The takes. And the coffee."},
         ["-      - guest: The takes, mostly. And the coffee.", "+      - guest: The takes. And the coffee."]),
        ({"kind": "style", "line": "s5", "style": "bright"},
         ["-    style: warm and slow", "+    style: bright"]),
        ({"kind": "chapter", "title": "Goodbye", "line": "s3"},  # the mark leaves the head of s5's item
         ["+    chapter: Goodbye", "-  - chapter: Goodbye", "-    host: That is all for today. Goodbye.",
          "+  - host: That is all for today. Goodbye."]),
        ({"kind": "take", "line": "s2", "take": None, "accept": flagged["take"]},
         [f"+    accept: {flagged['take']}"]),
        ({"kind": "pronunciation", "word": "studio", "say": "stew-dee-oh"}, None),
    ]
    base = view["sha256"]
    for record, expected in records:
        r = client.post("/api/edit?spec=ep.yaml", json={"base": base, "edit": record})
        assert r.status_code == 200, (record, r.text)
        base = r.json()["sha256"]
        changed = [line for line in r.json()["diff"].splitlines()
                   if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        if expected is not None:
            assert sorted(changed) == sorted(expected), (record, changed)
    assert "stew-dee-oh" in spec.read_text()
    assert spec.read_text().startswith("# The studio's test episode")  # the comments are kept
    after = client.get("/api/episode?spec=ep.yaml").json()
    assert next(line for line in after["lines"] if line["segment_id"] == "s2")["status"] == "pinned"
    r = client.post("/api/edit?spec=ep.yaml", json={"base": base, "edit": {"kind": "take", "line": "s2", "take": "2"}})
    assert r.status_code == 422 and "whole number" in r.json()["error"]


def test_a_job_runs_off_the_event_loop_and_reports_its_progress_to_every_page():
    import asyncio
    import json
    import threading

    from podpipe.studio.live import Bus, Jobs

    async def scenario() -> list[dict]:
        bus = Bus()
        bus.bind(asyncio.get_running_loop())
        jobs = Jobs(bus)
        loop_thread = threading.get_ident()
        seen: list[dict] = []

        def work(progress) -> dict:
            assert threading.get_ident() != loop_thread  # heavy work never runs on the event loop
            progress.rendering(2)
            progress.rendered(None)
            progress.rendered(None)
            return {"take": 2}

        async def closed() -> bool:
            return False

        stream = bus.stream(closed)
        assert "retry" in await anext(stream)
        assert "hello" in await anext(stream)
        jobs.start("take", "ep.yaml", work, line="s1", describe=lambda r: {"message": f"take {r['take']}"})
        while not seen or seen[-1]["state"] not in ("done", "failed"):
            chunk = await anext(stream)
            seen.append(json.loads(chunk.split("data: ", 1)[1]))
        jobs.close()
        return seen

    seen = asyncio.run(scenario())
    assert [e["state"] for e in seen][0] == "queued" and seen[-1]["state"] == "done"
    assert seen[-1]["message"] == "take 2" and seen[-1]["line"] == "s1"
    assert [(e["done"], e["total"]) for e in seen if e["message"].startswith("rendered")] == [(1, 2), (2, 2)]


def test_every_spec_is_listed_and_one_that_does_not_load_says_why(project):
    (project / "bad.yaml").write_text("title: Broken\nsegments: 12\n")
    studio = Studio(root=project, specs=["ep.yaml", "bad.yaml"], token="t" * 16)
    with TestClient(create_app(studio), base_url=BASE, headers={"Authorization": "token " + "t" * 16}) as c:
        episodes = c.get("/api/session").json()["episodes"]
        assert [(e["spec"], e["title"]) for e in episodes] == [("ep.yaml", "Studio test"), ("bad.yaml", "bad")]
        assert "bad.yaml" in episodes[1]["error"]
        view = c.get("/api/episode?spec=bad.yaml").json()
        assert view["lines"] == [] and any("segments" in e for e in view["errors"])
        assert c.get("/api/audio?spec=bad.yaml").status_code == 404  # never built
