"""Opening a remote cache: URLs and their schemes, the mode and its default, the environment variables, a
missing optional library named with its extra, credentials refused in URLs and scrubbed from texts, and an
import of podpipe.cache that loads none of it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from podpipe.cache import open_remote
from podpipe.cache.remote import parse_url
from podpipe.secrets import scrub_text
from podpipe.errors import UsageError
from tests.support import REPO


@pytest.mark.parametrize("url, scheme, bucket, prefix, display", [
    ("s3://my-bucket/podpipe/cache/", "s3", "my-bucket", "podpipe/cache", "s3://my-bucket/podpipe/cache"),
    ("s3://my-bucket", "s3", "my-bucket", "", "s3://my-bucket"),
    ("gcs://b/p", "gs", "b", "p", "gs://b/p"),
    ("abfs://container/p", "az", "container", "p", "az://container/p"),
    ("file:///srv/cache/../podpipe", "file", "", "/srv/podpipe", "file:///srv/podpipe"),
    ("HTTPS://cache.example.org/podpipe", "https", "cache.example.org", "podpipe", "https://cache.example.org/podpipe"),
])
def test_urls_are_parsed(url, scheme, bucket, prefix, display) -> None:
    location = parse_url(url)
    assert (location.scheme, location.bucket, location.prefix, location.display) == (scheme, bucket, prefix, display)


@pytest.mark.parametrize("url, message", [
    ("ftp://host/cache", "unknown scheme ftp://; use one of s3://, gs://, az://, file://, http://, https://"),
    ("cache-dir", "not a URL; for a directory write file://"),
    ("s3:///prefix", "no bucket; write s3://bucket/prefix"),
    ("az:///prefix", "no container"),
    ("file://server/share", "file:// URLs name a local path"),
    ("s3://bucket/p?endpoint=http://minio", "takes no query string"),
    ("s3://bucket/a/../b", "'.' and '..' are not allowed"),
])
def test_bad_urls_are_usage_errors_that_say_what_would_do(url, message) -> None:
    with pytest.raises(UsageError, match="remote cache") as info:
        open_remote(url)
    assert message in str(info.value)


def test_credentials_in_a_url_are_refused_without_repeating_them() -> None:
    for url in ("https://ci:hunter2-password@cache.example.org/p", "s3://AKIAEXAMPLE:secretvalue@bucket/p",
                "ftp://user:pw-in-url@host/x"):
        with pytest.raises(UsageError, match="credentials in the URL are not supported") as info:
            open_remote(url)
        assert "hunter2" not in str(info.value) and "secretvalue" not in str(info.value)
        assert "pw-in-url" not in str(info.value)


def test_url_and_mode_come_from_options_then_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PODPIPE_REMOTE_CACHE", raising=False)
    monkeypatch.delenv("PODPIPE_REMOTE_CACHE_MODE", raising=False)
    assert open_remote() is None and open_remote("") is None
    monkeypatch.setenv("PODPIPE_REMOTE_CACHE", "  ")  # CI systems export empty variables
    assert open_remote() is None
    monkeypatch.setenv("PODPIPE_REMOTE_CACHE", f"file://{tmp_path}/env")
    remote = open_remote()
    assert remote.url == f"file://{tmp_path}/env" and remote.mode == "write"  # the default where writable
    assert open_remote(f"file://{tmp_path}/option").url == f"file://{tmp_path}/option"
    monkeypatch.setenv("PODPIPE_REMOTE_CACHE_MODE", "read")
    assert open_remote().mode == "read"
    assert open_remote(mode="write").mode == "write"  # the option wins
    assert open_remote(mode="off") is None
    with pytest.raises(UsageError, match=r"--remote-cache-mode 'sometimes': choose one of read, write, off"):
        open_remote(mode="sometimes")


@pytest.mark.parametrize("url, module, extra", [("s3://b/p", "s3fs", "s3"), ("gs://b/p", "gcsfs", "gcs"),
                                                ("az://c/p", "adlfs", "azure")])
def test_a_missing_library_names_the_extra(monkeypatch, url, module, extra) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import <module>` fail
    with pytest.raises(UsageError) as info:
        open_remote(url)
    assert str(info.value).startswith(f"{url[:2]}:// needs {module}: pip install 'podpipe[{extra}]'")


def test_importing_the_cache_loads_no_storage_library() -> None:
    fresh = subprocess.run([sys.executable, "-c", "import json, sys, podpipe.cache, podpipe.commands; "
                            "print(json.dumps(sorted(sys.modules)))"],
                           capture_output=True, text=True, cwd=REPO, check=True)
    loaded = json.loads(fresh.stdout)
    storage = ("fsspec", "s3fs", "botocore", "aiobotocore", "aiohttp", "gcsfs", "adlfs")
    assert [m for m in loaded if m.split(".")[0] in storage or m.startswith("podpipe.cache.remote")] == []
    assert "podpipe.cache.tiered" not in loaded


def test_error_texts_lose_every_credential() -> None:
    env = {"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
           "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0==",
           "SHORT_KEY": "1234567", "PATH": "/usr/bin"}
    text = ("AccessDenied for AKIAIOSFODNN7EXAMPLE using wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY; "
            "url https://user:pw@host/x?X-Amz-Signature=abcdef&X-Amz-Credential=AKIAOTHER0000000000/x "
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIAXX, Signature=beef; "
            "conn AccountKey=c2VjcmV0==; sas ?sv=2024&sig=abc%2Bdef; another OTHERsecretKEYthatIS40charsLONG/abcdefgh; "
            "kept: v1/ab/" + "a" * 64 + ".json sha1 " + "ab" * 20 + " /usr/bin 1234567")
    clean = scrub_text(text, env, limit=2000)
    for secret in ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "user:pw", "abcdef&", "AKIAOTHER", "c2VjcmV0",
                   "abc%2Bdef", "beef", "OTHERsecretKEY"):
        assert secret not in clean, secret
    for kept in ("AccessDenied", "v1/ab/" + "a" * 64 + ".json", "ab" * 20, "/usr/bin 1234567"):
        assert kept in clean
    assert len(scrub_text("x" * 1000, {})) == 300
