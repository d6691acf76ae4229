"""A real show's site (``podpipe.feed.make_site`` over an offline build) published to the loopback S3 server:
content-addressed names served immutable, a rebuilt episode under new keys beside the old ones until
``--prune``, the guid kept, the headers of every object, and an upload that fails part way leaving the live
feed pointing only at complete, matching files."""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET

import pytest

from podpipe.errors import PublishError
from podpipe.feed import make_site
from podpipe.publish import CACHE_CONTROL, IMMUTABLE, INDEX_NAME, publish
from tests.support.cli import run

BASE = "https://podcast.example.org/show"
SPECS = ["ep01.yaml", "ep02.yaml"]
FAST = dict(timeout=5.0, attempts=1)
NS = {"podcast": "https://podcastindex.org/namespace/1.0"}


@pytest.fixture
def show(show_project):
    return show_project


def rebuild_ep02(show) -> None:
    spec = show / "ep02.yaml"
    spec.write_text(spec.read_text().replace("Good to be back.", "Good to be back, again."), encoding="utf-8")
    run("build", "ep02.yaml")


def linked(feed: bytes) -> dict[str, int | None]:
    """Every site path the feed points at -> the length it gives (None for sidecars and artwork)."""
    root = ET.fromstring(feed)
    out: dict[str, int | None] = {}
    for el in root.iter():
        url = el.get("url") or el.get("href")
        if url and url.startswith(BASE + "/") and not url.endswith("feed.xml"):
            out[url[len(BASE) + 1:]] = int(el.get("length")) if el.tag == "enclosure" else None
    return out


def live_feed_is_whole(bucket, prefix: str = "site") -> bytes:
    """The live feed, after checking that each file it names is in the bucket, complete and as described."""
    objects = bucket.objects()
    feed = objects[f"{prefix}/feed.xml"]
    for path, length in linked(feed).items():
        data = objects.get(f"{prefix}/{path}")
        assert data is not None, path
        digest = re.search(r"\.([0-9a-f]{12})\.", path).group(1)
        assert hashlib.sha256(data).hexdigest()[:12] == digest, path  # the bytes the name promises
        assert length is None or length == len(data), path
    return feed


def test_every_object_is_served_with_its_type_and_cache_control(s3_bucket, show) -> None:
    site = make_site(SPECS, BASE)
    publish(site, s3_bucket.url("site"), **FAST)
    client = s3_bucket.server.client()
    types = set()
    for f in site.files:
        head = client.head_object(Bucket=s3_bucket.name, Key=f"site/{f.path}")
        assert head["ContentType"] == f.media_type and head["CacheControl"] == CACHE_CONTROL[f.role], f.path
        if f.role in ("media", "sidecar", "artwork"):
            assert head["CacheControl"] == IMMUTABLE == "public, max-age=31536000, immutable"
            assert re.search(r"\.[0-9a-f]{12}\.", f.path), f.path
        else:
            assert head["CacheControl"] == "public, max-age=300"
        types.add((f.path.rsplit(".", 2)[-2] if f.path.endswith(".chapters.json") else f.path.rsplit(".", 1)[-1],
                   head["ContentType"]))
    assert types >= {("mp3", "audio/mpeg"), ("vtt", "text/vtt; charset=utf-8"), ("png", "image/png"),
                     ("srt", "application/x-subrip; charset=utf-8"), ("chapters", "application/json+chapters"),
                     ("html", "text/html; charset=utf-8"), ("xml", "application/rss+xml; charset=utf-8")}
    index = client.head_object(Bucket=s3_bucket.name, Key=f"site/{INDEX_NAME}")
    assert index["CacheControl"] == "no-cache"
    live_feed_is_whole(s3_bucket)


def test_a_rebuilt_episode_gets_new_keys_and_the_old_stay_until_prune(s3_bucket, show) -> None:
    url = s3_bucket.url("site")
    first = make_site(SPECS, BASE)
    publish(first, url, **FAST)
    rebuild_ep02(show)
    second = make_site(SPECS, BASE)
    published = publish(second, url, **FAST)
    new = {f.path for f in second.files} - {f.path for f in first.files}
    old = {f.path for f in first.files} - {f.path for f in second.files}
    assert {p.split(".")[0] for p in new} == {"episodes/ep02"} and len(new) == len(old) == 3  # mp3, vtt, srt
    assert {a.path for a in published.uploads} == new | {"index.html", "feed.xml"}  # ep01 untouched
    objects = s3_bucket.objects()
    assert all(f"site/{p}" in objects for p in old | new)  # the old URLs still answer
    feed = live_feed_is_whole(s3_bucket)
    assert not set(linked(feed)) & old
    guids = [re.findall(rb"<guid[^>]*>([^<]+)</guid>", s.feed.read()) for s in (first, second)]
    assert guids[0] == guids[1]  # a new media URL is the same episode

    kept = publish(second, url, prune=2, **FAST)  # the last 2 revisions name the old files: all stay
    assert kept.pruned == () and all(f"site/{p}" in s3_bucket.objects() for p in old)
    mark = len(s3_bucket.server.requests)
    dry = publish(second, url, prune=1, dry_run=True, **FAST)
    assert set(dry.pruned) == old and all(f"site/{p}" in s3_bucket.objects() for p in old)
    assert not [r for r in s3_bucket.server.requests[mark:] if r.method == "DELETE"]
    pruned = publish(second, url, prune=1, **FAST)
    assert set(pruned.pruned) == old and "pruned 3 old objects" in pruned.summary()
    objects = s3_bucket.objects()
    assert not any(f"site/{p}" in objects for p in old)
    assert all(f"site/{f.path}" in objects for f in second.files)
    index = json.loads(objects[f"site/{INDEX_NAME}"])
    assert index["format"] == 2 and not set(index["files"]) & old
    assert sorted(index["revisions"][0]) == sorted(f.path for f in second.files)
    live_feed_is_whole(s3_bucket)


def test_an_upload_that_fails_part_way_leaves_the_live_feed_whole(s3_bucket, show) -> None:
    url = s3_bucket.url("site")
    publish(make_site(SPECS, BASE), url, **FAST)
    old_feed = live_feed_is_whole(s3_bucket)
    rebuild_ep02(show)
    second = make_site(SPECS, BASE)
    vtt = next(f.path for f in second.files if f.path.startswith("episodes/ep02.") and f.path.endswith(".vtt"))
    s3_bucket.server.fault = lambda method, path: "503" if method == "PUT" and path.endswith(vtt) else None
    with pytest.raises(PublishError, match=f"uploading {re.escape(vtt)} failed .*the previous feed is still live"):
        publish(second, url, **FAST)
    assert live_feed_is_whole(s3_bucket) == old_feed  # the new audio went up under a new name: nothing moved
    s3_bucket.server.fault = None
    publish(second, url, **FAST)
    assert live_feed_is_whole(s3_bucket) == second.feed.read()


def test_prune_keeps_at_least_one_revision(s3_bucket, show) -> None:
    from podpipe.errors import UsageError

    with pytest.raises(UsageError, match="--prune 0"):
        publish(make_site(SPECS, BASE), s3_bucket.url("site"), prune=0, **FAST)


def test_the_cli_prunes_with_keep(s3_bucket, show) -> None:
    url = s3_bucket.url("site")
    run("publish", *SPECS, "--to", url, "--base-url", BASE, "-q")
    rebuild_ep02(show)
    run("publish", *SPECS, "--to", url, "--base-url", BASE, "-q")
    stay = run("publish", *SPECS, "--to", url, "--base-url", BASE, "--prune")  # keep 5: nothing goes
    assert "pruned" not in stay.output
    gone = run("publish", *SPECS, "--to", url, "--base-url", BASE, "--prune", "--keep", "1")
    assert re.search(r"^pruned  episodes/ep02\.[0-9a-f]{12}\.mp3$", gone.output, re.M)
    assert "pruned 3 old objects" in gone.output


def test_the_index_keeps_revisions_and_reads_format_1_as_one() -> None:
    from podpipe.publish import KEEP_REVISIONS, Entry, Index, dump_index, parse_index, prunable, with_revision

    entry = Entry("0" * 64, 1, "audio/mpeg", IMMUTABLE)
    old = json.dumps({"format": 1, "files": {"a.mp3": entry.__dict__, "feed.xml": entry.__dict__}}).encode()
    index = parse_index(old)
    assert index.revisions == (("a.mp3", "feed.xml"),)  # its files were the previous feed's, as far as we know
    new = Index({**index.entries, "b.mp3": entry}, with_revision(index.revisions, ("feed.xml", "b.mp3")))
    assert prunable(new, 2) == [] and prunable(new, 1) == ["a.mp3"]
    assert with_revision(new.revisions, ("b.mp3", "feed.xml")) == new.revisions  # the same site: no new revision
    again = parse_index(dump_index(new))
    assert again == new
    many = new.revisions
    for n in range(KEEP_REVISIONS + 3):
        many = with_revision(many, (f"{n}.mp3", "feed.xml"))
    assert len(many) == KEEP_REVISIONS and many[0] == (f"{KEEP_REVISIONS + 2}.mp3", "feed.xml")
    assert parse_index(b'{"format": 2, "files": {}}') is None  # format 2 without revisions: not trusted
