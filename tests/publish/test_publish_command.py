"""``podpipe publish SPECS --to URL --base-url URL`` through the CLI. The options are checked before a spec is
read (tested now); the whole command needs ``podpipe.feed.make_site`` (issue 14 parts 1-3, the feed branch):
those tests are skipped until it is there, then publish a real offline build (two short episodes of the example
show) to the loopback S3 server and to a directory."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.support import REPO
from tests.support.cli import run

BASE = "https://podcast.example.org/show"


@pytest.mark.parametrize("args, message", [
    (["--to", "https://cdn.example.org/show", "--base-url", BASE], "https:// is read only"),
    (["--to", "s3://a:b@bucket/show", "--base-url", BASE], "credentials in the URL are not supported"),
    (["--to", "file:///srv/show", "--base-url", "cdn.example.org/show"], "--base-url 'cdn.example.org/show': give "
                                                                         "the public http(s) URL"),
    (["--to", "file:///srv/show", "--base-url", "https://cdn.example.org/show?sig=1"], "no query string"),
])
def test_bad_options_exit_2_before_any_spec_is_read(args, message, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("publish", "missing.yaml", *args, code=2)
    assert message in result.output and "a:b@" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_to_and_base_url_are_required() -> None:
    assert "Missing option '--to'" in run("publish", "ep.yaml", "--base-url", BASE, code=2).output
    assert "Missing option '--base-url'" in run("publish", "ep.yaml", "--to", "file:///srv/x", code=2).output


EPISODE = """\
extends: shows/podpipe-weekly.yaml
title: "Episode {n}: Publishing"
description: Short episode {n}, for the publish tests.
episode: {n}
date: 2026-11-0{n}
segments:
  - host: Welcome to episode {n}. Today we publish.
output: {{format: mp3}}
"""


@pytest.fixture(scope="module")
def built_show(tmp_path_factory):
    """The example show file with two short episodes of its own, built once with the offline voice."""
    project = tmp_path_factory.mktemp("show")
    shutil.copytree(REPO / "episodes" / "shows", project / "episodes" / "shows")
    (project / "episodes" / "assets").mkdir()
    shutil.copy(REPO / "episodes" / "assets" / "cover.png", project / "episodes" / "assets")
    for n in (1, 2):
        (project / "episodes" / f"ep{n}.yaml").write_text(EPISODE.format(n=n), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "PODPIPE_REMOTE_CACHE", "PODPIPE_REMOTE_CACHE_MODE"):
            mp.delenv(var, raising=False)
        mp.setenv("PODPIPE_CACHE_DIR", str(project / ".cache"))
        run("build", "episodes/ep1.yaml", "episodes/ep2.yaml")
    return project


@pytest.fixture
def examples(built_show, tmp_path, monkeypatch):
    """A copy of the built show, made the working directory: (project, spec paths)."""
    project = shutil.copytree(built_show, tmp_path / "show")
    monkeypatch.chdir(project)
    return project, ["episodes/ep1.yaml", "episodes/ep2.yaml"]


def test_publish_uploads_the_built_show_feed_last_and_then_nothing(examples, s3_bucket) -> None:
    project, specs = examples
    url = s3_bucket.url("show")
    dry = run("publish", *specs, "--to", url, "--base-url", BASE, "--dry-run")
    assert s3_bucket.server.writes(s3_bucket.name) == [] and s3_bucket.objects() == {}
    assert re.search(r"^upload  episodes/ep1\.[0-9a-f]{12}\.mp3  \(", dry.output, re.M) and "would upload" in dry.output

    first = run("publish", *specs, "--to", url, "--base-url", BASE)
    puts = [r.path for r in s3_bucket.server.writes(s3_bucket.name)]
    assert puts[-1].endswith("/.podpipe-publish.json") and f"uploaded {len(puts) - 1} files" in first.output
    feed = puts[-2].rsplit("/", 1)[1]
    assert f"feed: {BASE}/{feed}" in first.output  # the feed went up last
    ep1 = _addressed(s3_bucket.objects(), "show/episodes/ep1.", ".mp3")
    assert s3_bucket.objects()[f"show/{feed}"].count(f"{BASE}/{ep1.removeprefix('show/')}".encode()) == 1

    mark = len(s3_bucket.server.writes(s3_bucket.name))
    again = run("publish", *specs, "--to", url, "--base-url", BASE, "-q")
    assert s3_bucket.server.writes(s3_bucket.name)[mark:] == []  # nothing changed: not one PUT
    assert again.output.startswith("uploaded 0 files (0 B)")


def test_unbuilt_episodes_are_refused_unless_skipped(examples, tmp_path) -> None:
    project, specs = examples
    (project / "build" / "ep2.mp3").unlink()
    target = tmp_path / "www"
    refused = run("publish", *specs, "--to", target.as_uri(), "--base-url", BASE, code=None)
    assert refused.exit_code == 2 and "ep2" in refused.output
    assert not target.exists()
    run("publish", *specs, "--to", target.as_uri(), "--base-url", BASE, "--skip-unbuilt")
    assert list((target / "episodes").glob("ep1.*.mp3")) and not list((target / "episodes").glob("ep2.*.mp3"))


def _addressed(objects, prefix: str, suffix: str) -> str:
    """The one key of ``objects`` named ``<prefix><12 hex digits><suffix>``."""
    found = [k for k in objects if k.startswith(prefix) and k.endswith(suffix)
             and re.fullmatch(r"[0-9a-f]{12}", k[len(prefix):-len(suffix)])]
    assert len(found) == 1, (prefix, sorted(objects))
    return found[0]
