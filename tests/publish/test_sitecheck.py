"""``podpipe publish --check URL`` against local servers: ``podpipe feed --serve``'s (byte ranges, CORS, the
site's types), a plain ``http.server`` (neither ranges nor CORS, guessed types) and a file changed behind the
feed's back; and ``--set-cors`` on the loopback S3 server and on a directory."""

from __future__ import annotations

import urllib.request
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler

import pytest

from podpipe.commands.feed import preview_server, write_feed
from podpipe.publish import CORS
from podpipe.sitecheck import check_site
from tests.support.cli import run
from tests.support.show import http_server

SPECS = ["ep01.yaml", "ep02.yaml"]


@contextmanager
def preview(specs=SPECS):
    server = preview_server(specs)
    server.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextmanager
def plain_server(directory):
    """``python -m http.server``: no byte ranges, no CORS, types guessed from suffixes."""
    with http_server(partial(_Quiet, directory=str(directory))) as url:
        yield url


def test_the_preview_server_answers_ranges_and_cors(show_project):
    with preview() as server:
        mp3 = next(f for f in server.files.values() if f.role == "media")
        size = mp3.source.stat().st_size
        request = urllib.request.Request(f"{server.url}/{mp3.path}", headers={"Range": "bytes=10-19"})
        with urllib.request.urlopen(request) as r:
            assert r.status == 206 and r.read() == mp3.source.read_bytes()[10:20]
            assert r.headers["Content-Range"] == f"bytes 10-19/{size}" and r.headers["Accept-Ranges"] == "bytes"
            assert r.headers["Access-Control-Allow-Origin"] == "*" and r.headers["Content-Type"] == "audio/mpeg"
        with urllib.request.urlopen(urllib.request.Request(f"{server.url}/{mp3.path}",
                                                           headers={"Range": "bytes=-5"})) as r:
            assert r.status == 206 and r.read() == mp3.source.read_bytes()[-5:]
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(urllib.request.Request(f"{server.url}/{mp3.path}",
                                                          headers={"Range": f"bytes={size}-"}))
        assert info.value.code == 416 and info.value.headers["Content-Range"] == f"bytes */{size}"
        with urllib.request.urlopen(f"{server.url}/feed.xml") as r:
            assert server.url.encode() + b"/episodes/" in r.read()  # the feed points at the preview itself


def test_a_site_served_as_a_host_should_has_no_problems(show_project):
    with preview() as server:
        checked = check_site(f"{server.url}/feed.xml")
    assert checked.problems == () and checked.ok
    assert checked.files == 2 + 2 + 2 + 1 + 1  # 2 enclosures, 2 VTT, 2 SRT, 1 chapters, the cover
    assert checked.requests == 1 + 2 * 2 + 5 + 1


def test_a_plain_http_server_gets_each_problem_with_its_fix(show_project):
    with plain_server(show_project / "www") as url:
        write_feed(SPECS, url, show_project / "www" / "feed.xml")
        checked = check_site(f"{url}/feed.xml")
    by_kind: dict[str, list] = {}
    for p in checked.problems:
        kind = ("ranges" if "byte ranges" in p.what else "cors" if "CORS" in p.what
                else "type" if "served as" in p.what else p.what)
        by_kind.setdefault(kind, []).append(p)
    assert {p.url.rsplit(".", 1)[-1] for p in by_kind.pop("ranges")} == {"mp3"}
    assert len([p for p in checked.problems if "byte ranges" in p.what]) == 2
    cors = by_kind.pop("cors")
    assert len(cors) == 5 and all("--set-cors" in p.fix and "docs/publishing.md" in p.fix for p in cors)
    types = {p.url.rsplit("/", 1)[-1].split(".", 2)[-1]: p for p in by_kind.pop("type")}
    assert "chapters.json" in types and "the feed says type application/json+chapters" in types["chapters.json"].what
    assert "Content-Type: application/json+chapters" in types["chapters.json"].fix
    assert not by_kind, by_kind  # nothing else: lengths and statuses are right
    assert all(p.fix for p in checked.problems)


def test_a_length_that_no_longer_matches_is_reported(show_project):
    with preview() as server:
        mp3 = next(f for f in server.files.values() if f.role == "media")
        with open(mp3.source, "ab") as f:  # the file changes after the feed was made
            f.write(b"\0" * 100)
        checked = check_site(f"{server.url}/feed.xml")
    lengths = [p for p in checked.problems if "the feed says length" in p.what]
    assert [p.url.endswith(mp3.path) for p in lengths] == [True, True]  # the HEAD's length and the Range total
    assert "publish again" in lengths[0].fix


def test_the_cli_prints_problems_and_exits_1(show_project):
    with preview() as server:
        good = run("publish", "--check", f"{server.url}/feed.xml")
        assert "no problems" in good.output
        missing = run("publish", "--check", f"{server.url}/nothing.xml", code=1)
        assert "the feed answered HTTP 404" in missing.output and "fix: " in missing.output
    assert "--check 'ftp://x/feed.xml'" in run("publish", "--check", "ftp://x/feed.xml", code=2).output


def test_set_cors_on_s3_and_advice_for_a_directory(s3_bucket, show_project, tmp_path):
    result = run("publish", "--to", s3_bucket.url("site"), "--set-cors")
    assert "set CORS on the bucket" in result.output
    rules = s3_bucket.server.client().get_bucket_cors(Bucket=s3_bucket.name)["CORSRules"]
    assert len(rules) == 1 and rules[0]["AllowedOrigins"] == ["*"]
    assert sorted(rules[0]["AllowedMethods"]) == ["GET", "HEAD"] and "Range" in rules[0]["AllowedHeaders"]
    assert set(CORS.expose_headers) <= set(rules[0]["ExposeHeaders"])
    advice = run("publish", "--to", (tmp_path / "www").as_uri(), "--set-cors")
    assert "CORS is set by the web server" in advice.output and not (tmp_path / "www").exists()
