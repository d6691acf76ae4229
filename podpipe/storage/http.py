"""http(s):// remote caches: read-only, like ccache's HTTP storage. GET (and HEAD for a presence check) of
the same paths a writable remote writes, e.g. a static server or a CDN in front of a bucket that CI fills
with ``podpipe cache push``. Nothing is ever written, so there are no leases either.

The standard library's urllib does it, so no extra is needed. It honours the usual proxy variables.
Credentials in the URL (``user:password@``) are refused when the URL is read (``podpipe.storage.urls``):
podpipe keeps no credentials of its own.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from podpipe.storage.blobs import Blobs, Unsupported, copy_stream

_GONE = (404, 410)


class HttpBlobs(Blobs):
    writable = False

    def __init__(self, base: str, display: str, *, timeout: float):
        self.base = base.rstrip("/")  # scheme checked by the caller: http or https only
        self.display = display
        self.timeout = timeout
        self._opener = urllib.request.build_opener()

    def _open(self, path: str, method: str):
        request = urllib.request.Request(f"{self.base}/{quote(path)}", method=method,
                                         headers={"User-Agent": "podpipe-remote-cache"})
        try:
            return self._opener.open(request, timeout=self.timeout)  # nosec B310  # http(s) URLs only (urls.py)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in _GONE:
                return None
            raise

    def read(self, path: str) -> bytes | None:
        response = self._open(path, "GET")
        if response is None:
            return None
        with response:
            return response.read()

    def exists(self, path: str) -> bool:
        response = self._open(path, "HEAD")
        if response is None:
            return False
        response.close()
        return True

    def download(self, path: str, target: Path) -> bool:
        response = self._open(path, "GET")
        if response is None:
            return False
        with response:
            copy_stream(response, target)
        return True

    def explain(self, exc: BaseException) -> tuple[str, str] | None:
        if isinstance(exc, urllib.error.HTTPError) and exc.code in (401, 403):
            return "denied", str(exc.code)
        return super().explain(exc)

    def _read_only(self, *_args, **_kwargs):
        raise Unsupported(f"{self.display} is read-only (http(s) remote caches are only read)")

    write = create = delete = swap = upload = _read_only

    def listing(self, prefix: str) -> Iterator[tuple[str, int]]:
        raise Unsupported(f"{self.display} cannot be listed (http(s) remote caches are only read)")
