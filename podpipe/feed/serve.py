"""``podpipe feed --serve``: the show's ``Site`` served on the loopback interface, as a host should serve it.

It answers byte ranges (``Range: bytes=…`` -> 206 with ``Content-Range``; ``Accept-Ranges: bytes`` on every
file): a player seeks by asking for the bytes at the new position, and without ranges (``python -m
http.server``) a chapter link silently restarts the audio at 0. Every file gets the site's ``Content-Type``
and ``Access-Control-Allow-Origin: *`` (web players fetch transcripts and chapters across origins), so what
works here works on a host set up as the publishing docs say.

The files are served from the ``Site`` itself (the built files and the generated page and feed), at the
same paths ``podpipe feed -o`` writes and ``podpipe publish`` uploads; nothing is written to disk.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from podpipe.feed.site import Site, SiteFile

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
BLOCK = 1 << 16


def byte_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """The (first, last) byte a ``Range`` header asks for; None: no (usable) range, the whole file; False:
    not satisfiable (416). Only single ranges are answered as ranges (players ask for one)."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):  # the last N bytes
        n = int(m.group(2))
        return (max(0, size - n), size - 1) if n and size else False
    first = int(m.group(1))
    last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if first >= size or last < first:
        return False
    return first, last


class _Handler(BaseHTTPRequestHandler):
    server: PreviewServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        self.server.log(f"{self.command} {self.path} {args[1] if len(args) > 1 else ''}".rstrip())

    def _file(self) -> SiteFile | None:
        path = unquote(urlsplit(self.path).path).lstrip("/")
        return self.server.files.get(path or "index.html")

    def _common(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", "Content-Length, Content-Range, Accept-Ranges")

    def do_OPTIONS(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(204)
        self._common()
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Range")
        self.send_header("Access-Control-Max-Age", "3000")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        f = self._file()
        if f is None:
            data = b"not found\n"
            self.send_response(404)
            self._common()
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)
            return
        size = len(f.data) if f.data is not None else Path(f.source).stat().st_size
        wanted = byte_range(self.headers.get("Range"), size)
        if wanted is False:
            self.send_response(416)
            self._common()
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        first, last = wanted if wanted else (0, size - 1)
        self.send_response(206 if wanted else 200)
        self._common()
        self.send_header("Content-Type", f.media_type)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-cache")  # a preview changes with every build
        if wanted:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(max(0, last - first + 1)))
        self.end_headers()
        if not body or size == 0:
            return
        if f.data is not None:
            self.wfile.write(f.data[first:last + 1])
            return
        with open(f.source, "rb") as src:
            src.seek(first)
            remaining = last - first + 1
            while remaining > 0 and (block := src.read(min(BLOCK, remaining))):
                self.wfile.write(block)
                remaining -= len(block)


class PreviewServer(ThreadingHTTPServer):
    """An HTTP server on ``host``:``port`` (0: any free port) for one ``Site``; ``url`` is where it answers.
    Bind first, make the site for ``url``, then ``show(site)`` and ``serve_forever()``."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0, log: Callable[[str], None] | None = None):
        super().__init__((host, port), _Handler)
        self.files: dict[str, SiteFile] = {}
        self.log = log or (lambda line: None)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}"

    def show(self, site: Site) -> None:
        self.files = {f.path: f for f in site.files}

    def start(self) -> threading.Thread:
        """Serve in a daemon thread (``shutdown()`` stops it)."""
        thread = threading.Thread(target=self.serve_forever, name="podpipe-preview", daemon=True)
        thread.start()
        return thread
