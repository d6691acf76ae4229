"""The ``Blobs`` contract's headers: ``write``/``upload`` with a ``Meta`` and ``stat`` reading it back, on a
real S3 server (moto on 127.0.0.1, through s3fs) and on a directory, which keeps no headers."""

from __future__ import annotations

import hashlib

import pytest

from podpipe.storage import Meta, open_blobs, parse_url

DATA = b"ID3" + bytes(range(256)) * 8
META = Meta("audio/mpeg", "public, max-age=86400", hashlib.sha256(DATA).hexdigest())


@pytest.fixture(params=["s3", "file"])
def store(request, tmp_path):
    if request.param == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        return open_blobs(parse_url(bucket.url("meta")), timeout=5.0, attempts=1), bucket
    return open_blobs(parse_url(f"file://{tmp_path / 'www'}"), timeout=5.0, attempts=1), None


def test_written_and_uploaded_objects_carry_their_headers(store, tmp_path) -> None:
    blobs, bucket = store
    source = tmp_path / "ep.mp3"
    source.write_bytes(DATA)
    blobs.write("a/written.mp3", DATA, META)
    blobs.upload("a/uploaded.mp3", source, META)
    assert blobs.stat("a/none.mp3") is None
    for path in ("a/written.mp3", "a/uploaded.mp3"):
        stat = blobs.stat(path)
        assert stat.size == len(DATA) and stat.meta.sha256 == META.sha256
        if bucket is None:
            assert stat.meta.content_type is None and stat.meta.cache_control is None  # a file has no headers
        else:
            assert stat.meta == META
            assert stat.md5 == hashlib.md5(DATA, usedforsecurity=False).hexdigest()  # a single-part ETag
    assert sorted(blobs.listing("")) == [("a/uploaded.mp3", len(DATA)), ("a/written.mp3", len(DATA))]


def test_writes_without_meta_are_what_they_were(store) -> None:
    blobs, bucket = store
    blobs.write("plain.json", b"{}")
    stat = blobs.stat("plain.json")
    assert stat.size == 2 and blobs.read("plain.json") == b"{}"
    if bucket is not None:
        assert stat.meta.sha256 is None and stat.meta.cache_control is None
