"""From a store URL (``--remote-cache``, ``publish --to``) to the ``Blobs`` of that store.

| scheme | store | needs | writable |
|---|---|---|---|
| ``s3://bucket/prefix`` | S3 or an S3-compatible service (``AWS_ENDPOINT_URL``) | s3fs: ``podpipe[s3]`` | yes |
| ``gs://bucket/prefix`` (``gcs://``) | Google Cloud Storage | gcsfs: ``podpipe[gcs]`` | yes |
| ``az://container/prefix`` (``abfs://``) | Azure Blob Storage | adlfs: ``podpipe[azure]`` | yes |
| ``file:///abs/path`` | a directory (local, NFS) | nothing | yes |
| ``http(s)://host/path`` | any web server (GET, HEAD) | nothing | no: read only |

A URL carries no credentials and no options: a ``user:password@`` part or a query string is refused (the
credentials come from each provider's own chain; a URL ends up in CI logs). The object-storage libraries
are imported only here, when a store is opened, so importing ``podpipe.cache`` or ``podpipe.storage`` stays
cheap.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from podpipe.errors import UsageError
from podpipe.storage.blobs import Blobs


@dataclass(frozen=True)
class Scheme:
    store: str
    module: str | None  # the optional library, or None for the standard library
    extra: str | None  # the podpipe extra that installs it
    writable: bool


SCHEMES: dict[str, Scheme] = {
    "s3": Scheme("S3", "s3fs", "s3", True),
    "gs": Scheme("Google Cloud Storage", "gcsfs", "gcs", True),
    "az": Scheme("Azure Blob Storage", "adlfs", "azure", True),
    "file": Scheme("a directory", None, None, True),
    "http": Scheme("a web server (read only)", None, None, False),
    "https": Scheme("a web server (read only)", None, None, False),
}
ALIASES = {"gcs": "gs", "abfs": "az"}
SCHEME_LIST = "s3://, gs://, az://, file://, http://, https://"


@dataclass(frozen=True)
class Location:
    """A parsed remote cache URL."""

    scheme: str  # canonical: s3, gs, az, file, http, https
    bucket: str  # bucket or container; the host for http(s); "" for file
    prefix: str  # the path inside it, no leading or trailing slash
    display: str  # what messages show

    @property
    def writable(self) -> bool:
        return SCHEMES[self.scheme].writable


def parse_url(url: str, what: str = "remote cache") -> Location:
    """Check a store URL; raises ``UsageError`` saying what is wrong and what would do. ``what`` names the
    URL's use in messages (``remote cache``, ``--to``)."""
    where = f"{what} {url!r}"
    parts = urlsplit(url.strip())
    raw_scheme = parts.scheme.lower()
    if "@" in parts.netloc:  # checked first, so no message below repeats a password
        raise UsageError(f"{what} {raw_scheme}://…@…: credentials in the URL are not supported; podpipe "
                         f"uses the provider's own credential chain (environment, config files, roles)")
    scheme = ALIASES.get(raw_scheme, raw_scheme)
    if not raw_scheme:
        hint = f"; for a directory write file://{Path(url).absolute()}" if url.strip() else ""
        raise UsageError(f"{where}: not a URL{hint} (use one of {SCHEME_LIST})")
    if scheme not in SCHEMES:
        raise UsageError(f"{where}: unknown scheme {raw_scheme}://; use one of {SCHEME_LIST}")
    if parts.query or parts.fragment:
        raise UsageError(f"{where}: a store URL takes no query string or fragment; configure the "
                         f"store through its provider's environment (e.g. AWS_ENDPOINT_URL)")
    path = unquote(parts.path)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise UsageError(f"{where}: file:// URLs name a local path: file:///absolute/path")
        if not path.startswith("/"):
            raise UsageError(f"{where}: file:// needs an absolute path: file:///absolute/path")
        root = os.path.normpath(path)
        return Location("file", "", root, f"file://{root}")
    if not parts.netloc:
        part = "host" if scheme in ("http", "https") else "bucket" if scheme != "az" else "container"
        raise UsageError(f"{where}: no {part}; write {scheme}://{part}/prefix")
    prefix = path.strip("/")
    if any(part in (".", "..") for part in prefix.split("/")):
        raise UsageError(f"{where}: '.' and '..' are not allowed in the path")
    display = f"{scheme}://{parts.netloc}/{prefix}".rstrip("/")
    return Location(scheme, parts.netloc, prefix, display)


def open_blobs(location: Location, *, timeout: float, attempts: int) -> Blobs:
    """The ``Blobs`` of ``location``; a missing optional library is a ``UsageError`` naming the extra."""
    scheme = SCHEMES[location.scheme]
    if scheme.module is not None:
        try:
            importlib.import_module(scheme.module)
        except ImportError as exc:
            raise UsageError(f"{location.scheme}:// needs {scheme.module}: pip install 'podpipe[{scheme.extra}]' "
                             f"({type(exc).__name__}: {exc})") from None
    if location.scheme == "file":
        from podpipe.storage.local import LocalBlobs
        return LocalBlobs(Path(location.prefix), location.display)
    if location.scheme in ("http", "https"):
        from podpipe.storage.http import HttpBlobs
        base = f"{location.scheme}://{location.bucket}/{location.prefix}".rstrip("/")
        return HttpBlobs(base, location.display, timeout=timeout)
    if location.scheme == "s3":
        from podpipe.storage.s3 import S3Blobs
        return S3Blobs(location.bucket, location.prefix, location.display, timeout=timeout, attempts=attempts)
    import fsspec

    from podpipe.storage.fsspec_store import FsspecBlobs
    root = f"{location.bucket}/{location.prefix}".rstrip("/")
    return FsspecBlobs(fsspec.filesystem(location.scheme, skip_instance_cache=True), root, location.display,
                       scheme=location.scheme)
