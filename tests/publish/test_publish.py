"""``podpipe.publish.publish`` against a real S3 API server (moto on 127.0.0.1, through s3fs; every request
counted at the server) and a file:// directory: headers, skipping by hash, the feed last, interrupted
publishes that leave the old feed live, dry runs and the errors a user sees."""

from __future__ import annotations

import hashlib
import json
import sys

import pytest

from podpipe.errors import ExitCode, PublishError, UsageError
from podpipe.feed import ROLES, Site, SiteFile
from podpipe.publish import CACHE_CONTROL, INDEX_NAME, publish
from tests.publish.conftest import BASE_URL, feed_xml, make_site
from tests.support.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY

FAST = dict(timeout=60.0, attempts=1)  # a safety net: no test here waits for a timeout


def _puts(bucket, since: int = 0) -> list[str]:
    """The object keys PUT (or POSTed: multipart) to the bucket, in order, since request number ``since``."""
    return [r.path.split("/", 2)[2] for r in bucket.server.requests[since:]
            if r.method in ("PUT", "POST", "DELETE") and r.path.startswith(f"/{bucket.name}/")]


def _mark(bucket) -> int:
    return len(bucket.server.requests)


def test_the_cache_control_table_covers_every_role() -> None:
    assert sorted(CACHE_CONTROL) == sorted(ROLES)


def test_a_first_publish_uploads_everything_with_its_headers_feed_last_then_the_index(s3_bucket, show) -> None:
    site = make_site(show, "ep1", "ep2")
    published = publish(site, s3_bucket.url("site"), **FAST)

    keys = _puts(s3_bucket)
    assert keys[-2:] == ["site/feed.xml", f"site/{INDEX_NAME}"]
    assert sorted(keys) == sorted([f"site/{f.path}" for f in site.files] + [f"site/{INDEX_NAME}"])
    roles = {f"site/{f.path}": f.role for f in site.files}
    assert [ROLES.index(roles[k]) for k in keys[:-1]] == sorted(ROLES.index(roles[k]) for k in keys[:-1])
    assert [a.path for a in published.actions] == [k[len("site/"):] for k in keys[:-1]]
    assert all(a.upload and a.reason == "new" for a in published.actions) and published.index_written
    assert published.feed_url == f"{BASE_URL}/feed.xml"
    assert published.summary().startswith(f"uploaded {len(site.files)} files (")

    client = s3_bucket.server.client()
    for f in site.files:
        head = client.head_object(Bucket=s3_bucket.name, Key=f"site/{f.path}")
        assert head["ContentType"] == f.media_type
        assert head["CacheControl"] == CACHE_CONTROL[f.role]
        assert head["Metadata"]["sha256"] == hashlib.sha256(f.read()).hexdigest()
        assert client.get_object(Bucket=s3_bucket.name, Key=f"site/{f.path}")["Body"].read() == f.read()
    assert head["CacheControl"] == "public, max-age=300"  # the feed: polled by apps, short
    index = json.loads(s3_bucket.objects()[f"site/{INDEX_NAME}"])
    assert index["files"]["ep1.mp3"]["sha256"] == hashlib.sha256((show / "ep1.mp3").read_bytes()).hexdigest()


def test_a_second_publish_with_nothing_changed_makes_no_put(s3_bucket, show) -> None:
    site = make_site(show, "ep1", "ep2")
    publish(site, s3_bucket.url("site"), **FAST)
    before, mark = s3_bucket.objects(), _mark(s3_bucket)

    again = publish(make_site(show, "ep1", "ep2"), s3_bucket.url("site"), **FAST)
    assert _puts(s3_bucket, mark) == []
    assert {a.reason for a in again.actions} == {"unchanged"} and not again.uploads and not again.index_written
    assert [r.method for r in s3_bucket.server.requests[mark:]].count("HEAD") == 0  # the index said it all
    assert s3_bucket.objects() == before
    assert again.summary().startswith(f"uploaded 0 files (0 B) to s3://{s3_bucket.name}/site, 13 unchanged")


def test_a_changed_episode_uploads_its_files_then_the_page_and_the_feed(s3_bucket, show) -> None:
    publish(make_site(show, "ep1", "ep2"), s3_bucket.url("site"), **FAST)
    (show / "ep2.mp3").write_bytes((show / "ep2.mp3").read_bytes() + b"\x00" * 417)  # a re-mixed episode
    (show / "ep2.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\n<v Alex>A fixed line\n", encoding="utf-8")
    mark = _mark(s3_bucket)

    published = publish(make_site(show, "ep1", "ep2", version=2), s3_bucket.url("site"), **FAST)
    assert _puts(s3_bucket, mark) == ["site/ep2.mp3", "site/ep2.vtt", "site/index.html", "site/feed.xml",
                                      f"site/{INDEX_NAME}"]
    assert [(a.path, a.reason) for a in published.uploads] == [("ep2.mp3", "changed"), ("ep2.vtt", "changed"),
                                                            ("index.html", "changed"), ("feed.xml", "changed")]
    assert s3_bucket.objects()["site/feed.xml"] == feed_xml("ep1", "ep2", version=2)


def test_an_interrupted_publish_leaves_the_old_feed_live_and_the_next_one_finishes(s3_bucket, show) -> None:
    publish(make_site(show, "ep1"), s3_bucket.url("site"), **FAST)
    old_feed = s3_bucket.objects()["site/feed.xml"]
    server = s3_bucket.server
    # the store fails part way: ep2's audio went up, its transcript is refused (503 SlowDown, no retries left)
    server.fault = lambda method, path: "503" if method == "PUT" and path.endswith("/site/ep2.vtt") else None
    mark = _mark(s3_bucket)
    new_site = make_site(show, "ep1", "ep2", version=2)
    with pytest.raises(PublishError) as info:
        publish(new_site, s3_bucket.url("site"), **FAST)
    message = str(info.value)
    assert info.value.exit_code == ExitCode.FAILED
    assert f"publish to s3://{s3_bucket.name}/site: uploading ep2.vtt failed" in message
    assert "reduce your request rate" in message  # the server's own words
    assert "the previous feed is still live" in message and "run the same command again" in message
    assert SECRET_ACCESS_KEY not in message and ACCESS_KEY_ID not in message
    objects = s3_bucket.objects()
    assert objects["site/feed.xml"] == old_feed  # subscribers still get the old feed, whose files are all there
    assert "site/ep2.mp3" in objects and "site/ep2.vtt" not in objects
    assert "site/feed.xml" not in _puts(s3_bucket, mark)

    server.fault = None
    mark = _mark(s3_bucket)
    published = publish(new_site, s3_bucket.url("site"), **FAST)
    reasons = {a.path: a.reason for a in published.actions}
    assert reasons["ep2.mp3"] == "already there"  # sent by the interrupted publish: its sha256 is on the object
    assert reasons["ep1.mp3"] == "unchanged" and reasons["ep2.vtt"] == "new"
    assert "site/ep2.mp3" not in _puts(s3_bucket, mark) and _puts(s3_bucket, mark)[-2:] == [
        "site/feed.xml", f"site/{INDEX_NAME}"]
    assert s3_bucket.objects()["site/feed.xml"] == feed_xml("ep1", "ep2", version=2)


def test_a_dry_run_lists_every_file_with_its_reason_and_size_and_writes_nothing(s3_bucket, show) -> None:
    publish(make_site(show, "ep1"), s3_bucket.url("site"), **FAST)
    before, mark = s3_bucket.objects(), _mark(s3_bucket)
    seen = []
    published = publish(make_site(show, "ep1", "ep2", version=2), s3_bucket.url("site"), dry_run=True,
                     on_action=seen.append, **FAST)
    assert _puts(s3_bucket, mark) == [] and s3_bucket.objects() == before
    assert seen == list(published.actions) and published.dry_run and not published.index_written
    lines = [a.line() for a in published.actions]
    size = (show / "ep2.mp3").stat().st_size
    assert f"upload  ep2.mp3  ({size / 1e3:.1f} kB): new" in lines
    assert any(line.startswith("skip    ep1.mp3  (") and line.endswith("): unchanged") for line in lines)
    assert "upload  feed.xml  (" in lines[-1] and lines[-1].endswith("): changed")
    assert published.summary().startswith("would upload 7 files (")  # ep2 and its 4 sidecars, page, feed


def test_without_the_index_files_are_compared_by_head_and_etag(s3_bucket, show) -> None:
    site = make_site(show, "ep1")
    publish(site, s3_bucket.url("site"), **FAST)
    client = s3_bucket.server.client()
    client.delete_object(Bucket=s3_bucket.name, Key=f"site/{INDEX_NAME}")
    # put there by another tool: same bytes, no sha256 metadata, no headers; the ETag is its MD5
    client.put_object(Bucket=s3_bucket.name, Key="site/ep1.vtt", Body=(show / "ep1.vtt").read_bytes(),
                      ContentType="text/vtt", CacheControl=CACHE_CONTROL["sidecar"])
    client.put_object(Bucket=s3_bucket.name, Key="site/ep1.srt", Body=(show / "ep1.srt").read_bytes())
    mark = _mark(s3_bucket)
    published = publish(site, s3_bucket.url("site"), **FAST)
    reasons = {a.path: a.reason for a in published.actions}
    assert reasons["ep1.mp3"] == reasons["ep1.vtt"] == "already there"  # sha256 metadata; the ETag's MD5
    assert reasons["ep1.srt"] == "headers changed"  # the same bytes, served without a Cache-Control
    assert _puts(s3_bucket, mark) == ["site/ep1.srt", f"site/{INDEX_NAME}"]
    assert any("is not there (yet)" in note for note in published.notes)

    s3_bucket.put(f"site/{INDEX_NAME}", b'{"format": 1, "files": {"ep1.mp3": ')  # damaged: no index at all
    mark = _mark(s3_bucket)
    published = publish(site, s3_bucket.url("site"), **FAST)
    assert {a.reason for a in published.actions} == {"already there"} and any("damaged" in n for n in published.notes)
    assert _puts(s3_bucket, mark) == [f"site/{INDEX_NAME}"]  # mended, so the next publish reads hashes again


def test_an_object_removed_behind_podpipes_back_is_uploaded_again(s3_bucket, show) -> None:
    site = make_site(show, "ep1")
    publish(site, s3_bucket.url("site"), **FAST)
    s3_bucket.server.client().delete_object(Bucket=s3_bucket.name, Key="site/ep1.mp3")
    mark = _mark(s3_bucket)
    published = publish(site, s3_bucket.url("site"), **FAST)
    assert [(a.path, a.reason) for a in published.uploads] == [("ep1.mp3", "missing from the store")]
    assert _puts(s3_bucket, mark) == ["site/ep1.mp3"]  # the index already says what is there now


def test_changed_headers_alone_upload_the_file_again(s3_bucket, show) -> None:
    site = make_site(show, "ep1")
    publish(site, s3_bucket.url("site"), **FAST)
    retyped = Site(site.base_url, tuple(SiteFile(f.path, "text/plain; charset=utf-8", f.role, f.source, f.data)
                                        if f.path == "ep1.srt" else f for f in site.files))
    published = publish(retyped, s3_bucket.url("site"), **FAST)
    assert [(a.path, a.reason) for a in published.uploads] == [("ep1.srt", "headers changed")]
    head = s3_bucket.server.client().head_object(Bucket=s3_bucket.name, Key="site/ep1.srt")
    assert head["ContentType"] == "text/plain; charset=utf-8"


def test_a_publish_to_the_bucket_root_works_beside_other_objects(s3_bucket, show) -> None:
    s3_bucket.put("unrelated/thing.txt", b"not ours")
    site = make_site(show, "ep1")
    publish(site, s3_bucket.url(""), **FAST)
    mark = _mark(s3_bucket)
    assert not publish(site, s3_bucket.url(""), **FAST).uploads and _puts(s3_bucket, mark) == []
    assert s3_bucket.objects()["unrelated/thing.txt"] == b"not ours"  # nothing is ever deleted


# -- file:// ----------------------------------------------------------------------------------------------

def test_a_directory_is_published_the_same_way(show, tmp_path) -> None:
    target = tmp_path / "www"
    site = make_site(show, "ep1", "ep2")
    first = publish(site, f"file://{target}")
    assert len(first.uploads) == len(site.files) and first.index_written
    for f in site.files:
        assert (target / f.path).read_bytes() == f.read()
    stamps = {p.name: p.stat().st_mtime_ns for p in target.iterdir()}

    again = publish(make_site(show, "ep1", "ep2"), f"file://{target}")
    assert not again.uploads and not again.index_written
    assert {p.name: p.stat().st_mtime_ns for p in target.iterdir()} == stamps  # not one file written

    (target / INDEX_NAME).unlink()
    assert {a.reason for a in publish(site, f"file://{target}").actions} == {"already there"}  # hashed there


def test_an_interrupted_publish_to_a_directory_leaves_the_old_feed(show, tmp_path) -> None:
    target = tmp_path / "www"
    publish(make_site(show, "ep1"), f"file://{target}")
    (target / "ep2.vtt").mkdir()  # something in the way: the transcript cannot be written
    with pytest.raises(PublishError, match=rf"publish to file://{target}: uploading ep2.vtt failed .*the previous "
                                           r"feed is still live"):
        publish(make_site(show, "ep1", "ep2", version=2), f"file://{target}")
    assert (target / "feed.xml").read_bytes() == feed_xml("ep1")
    (target / "ep2.vtt").rmdir()
    published = publish(make_site(show, "ep1", "ep2", version=2), f"file://{target}")
    assert {a.path: a.reason for a in published.actions}["ep2.mp3"] == "already there"
    assert (target / "feed.xml").read_bytes() == feed_xml("ep1", "ep2", version=2)


# -- errors -----------------------------------------------------------------------------------------------

def test_a_denied_store_is_a_clear_error_naming_the_url_without_credentials(s3_bucket, show) -> None:
    s3_bucket.server.fault = lambda method, path: ("403", f"Access Denied for {ACCESS_KEY_ID} ({SECRET_ACCESS_KEY})")
    with pytest.raises(PublishError) as info:
        publish(make_site(show, "ep1"), s3_bucket.url("site"), **FAST)
    message = str(info.value)
    assert message.startswith(f"publish to s3://{s3_bucket.name}/site: reading {INDEX_NAME} failed (")
    assert "AccessDenied" in message and "nothing was changed" in message
    assert SECRET_ACCESS_KEY not in message and ACCESS_KEY_ID not in message


def test_an_unreachable_store_is_a_clear_error(monkeypatch, show) -> None:
    from tests.support.s3 import point_at

    point_at(monkeypatch, "http://127.0.0.1:9")  # the discard port: nobody listens
    with pytest.raises(PublishError, match=r"^publish to s3://nowhere-bucket/site: reading .* failed \(.*"
                                           r"nothing was changed"):
        publish(make_site(show, "ep1"), "s3://nowhere-bucket/site", **FAST)


@pytest.mark.parametrize("url, message", [
    ("https://cdn.example.org/show", r"--to https://cdn.example.org/show: https:// is read only"),
    ("s3://user:secret@bucket/site", r"--to s3://…@…: credentials in the URL are not supported"),
    ("ftp://host/site", r"--to 'ftp://host/site': unknown scheme ftp://"),
    ("site/", r"--to 'site/': not a URL; for a directory write file://"),
])
def test_a_bad_target_is_a_usage_error(url, message, show) -> None:
    with pytest.raises(UsageError, match=message) as info:
        publish(make_site(show, "ep1"), url)
    assert "secret" not in str(info.value) and info.value.exit_code == ExitCode.INVALID


def test_a_missing_library_names_the_extra(monkeypatch, show) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # makes `import s3fs` fail
    with pytest.raises(UsageError, match=r"s3:// needs s3fs: pip install 'podpipe\[s3\]'"):
        publish(make_site(show, "ep1"), "s3://bucket/site")


@pytest.mark.parametrize("path, role, message", [
    ("../escape.mp3", "media", "relative POSIX paths"), ("/abs.mp3", "media", "relative POSIX paths"),
    ("a//b.mp3", "media", "relative POSIX paths"), (INDEX_NAME, "sidecar", "the name of the publish index"),
    ("ep1.mp3", "media", "two files of one name"), ("x.bin", "download", "unknown role 'download'"),
    ("other.xml", "feed", "2 feeds"),
])
def test_a_site_that_cannot_be_published_is_refused_before_anything_is_sent(path, role, message, show,
                                                                            tmp_path) -> None:
    site = make_site(show, "ep1")
    bad = Site(site.base_url, (SiteFile(path, "audio/mpeg", role, data=b"x"), *site.files))
    with pytest.raises(UsageError, match=message):
        publish(bad, f"file://{tmp_path / 'www'}")
    assert not (tmp_path / "www").exists()


def test_an_unbuilt_file_says_how_to_build_it(show, tmp_path) -> None:
    (show / "ep1.mp3").unlink()
    with pytest.raises(UsageError, match=r"cannot publish ep1.mp3: .*ep1.mp3 does not exist \(run podpipe build"):
        publish(make_site(show, "ep1"), f"file://{tmp_path / 'www'}")


def test_importing_publish_loads_no_storage_library() -> None:
    import subprocess

    from tests.support import REPO
    fresh = subprocess.run([sys.executable, "-c", "import json, sys, podpipe.publish; print(json.dumps(sorted("
                            "sys.modules)))"], capture_output=True, text=True, cwd=REPO, check=True)
    loaded = json.loads(fresh.stdout)
    assert [m for m in loaded if m.split(".")[0] in ("fsspec", "s3fs", "botocore", "gcsfs", "adlfs")] == []
