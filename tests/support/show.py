"""A small show for the feed tests, built for real with the offline voice: a show file with a ``feed:``
section and a cover, and episodes (one with chapters), mixed to MP3 by ``podpipe build``. Plus image files
of any size and colour mode (only their headers matter to the checks) and a loopback server for a site."""

from __future__ import annotations

import os
import struct
import threading
import zlib
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SHOW = """\
show: The Test Show
author: The Test Team
language: en-US
speakers:
  host: {voice: Zephyr, name: Alex}
  guest: {voice: Puck, name: Sam}
output:
  format: mp3
feed:
  description: A show made for tests.
  link: https://example.com/test-show
  owner: {name: Alex, email: alex@example.com}
  artwork: cover.png
  category: Technology
  persons:
    - {name: Alex, role: host}
  funding:
    - {url: https://example.com/support, text: Support us}
  locked: false
"""

EPISODES = {
    "ep01": """\
extends: show.yaml
title: "Episode 1: Hello"
description: The first one.
episode: 1
season: 1
date: 2026-01-05
segments:
  - chapter: Hello
    host: Welcome to the test show.
  - guest: Thanks for having me here today.
  - chapter: Goodbye
    host: That is all for now. Goodbye.
""",
    "ep02": """\
extends: show.yaml
title: "Episode 2: Again"
episode: 2
season: 1
date: 2026-01-12
segments:
  - host: Welcome back to the test show.
  - guest: Good to be back.
""",
}

UNBUILT = """\
extends: show.yaml
title: "Episode 3: Not yet"
episode: 3
date: 2026-01-19
segments:
  - host: This one is not built.
"""


def png(path: Path, width: int, height: int, colour_type: int = 2) -> Path:
    """A PNG whose header says ``width``×``height`` in ``colour_type`` (2 RGB, 0 grey, 3 palette, 6 RGBA)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    row = b"\x00" + b"\x80" * (width * channels)
    body = zlib.compress(row * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def jpeg_header(path: Path, width: int, height: int, components: int = 3) -> Path:
    """The start of a JPEG (SOI, an APP0 segment, a baseline SOF0) with this size and component count."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = struct.pack(">BHHB", 8, height, width, components) + b"\x01\x11\x00" * components
    path.write_bytes(b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0
                     + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9")
    return path


def write_show(project: Path) -> list[str]:
    """The show's files in ``project``; returns the episode spec names."""
    (project / "show.yaml").write_text(SHOW, encoding="utf-8")
    png(project / "cover.png", 1400, 1400)
    for name, text in EPISODES.items():
        (project / f"{name}.yaml").write_text(text, encoding="utf-8")
    return [f"{name}.yaml" for name in EPISODES]


class _Handler(SimpleHTTPRequestHandler):
    """Serves files with the Content-Type the site gives them, and byte ranges (seeking needs them)."""

    types: dict[str, str] = {}

    def log_message(self, *args) -> None:
        pass

    def guess_type(self, path) -> str:
        rel = Path(os.path.relpath(path, self.directory)).as_posix()
        return self.types.get(rel) or super().guess_type(path)

    def send_head(self):
        spec = self.headers.get("Range", "")
        path = self.translate_path(self.path)
        if not spec.startswith("bytes=") or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        first, _, last = spec[len("bytes="):].split(",")[0].partition("-")
        start = int(first) if first else max(0, size - int(last))
        end = min(int(last), size - 1) if first and last else size - 1
        if start >= size:
            self.send_error(416)
            return None
        f = open(path, "rb")
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self._remaining = end - start + 1
        return f

    def copyfile(self, source, outputfile) -> None:
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            return super().copyfile(source, outputfile)
        while remaining > 0:
            block = source.read(min(1 << 16, remaining))
            if not block:
                break
            outputfile.write(block)
            remaining -= len(block)
        self._remaining = None


@contextmanager
def serve(directory: Path, types: dict[str, str]):
    """A threaded HTTP server on 127.0.0.1 serving ``directory`` (with Range support); yields its URL."""
    handler = type("Handler", (_Handler,), {"types": dict(types)})
    with http_server(partial(handler, directory=str(directory))) as url:
        yield url


@contextmanager
def http_server(handler):
    """A threaded HTTP server on 127.0.0.1 (a free port) with this request handler; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
