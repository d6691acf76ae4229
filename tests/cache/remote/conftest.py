"""Builders for the remote cache tests: one store reachable as file:// or s3:// (a real moto S3 server),
"machines" (a local FileStore each) sharing it, a back door to edit the store's objects behind podpipe's
back, and a read-only http server over a directory."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from podpipe.cache import FileStore
from podpipe.cache.remote import RemoteCache, open_remote, parse_url, resolve_mode
from podpipe.cache.tiered import TieredStore

# lease_wait and timeout: safety nets only (a test that needs one to fire sets it itself), generous for a busy
# machine, where a waiter giving up after 5 s would render twice
FAST = dict(poll_interval=0.02, lease_wait=120.0, attempts=1, timeout=60.0)


@dataclass
class Shared:
    """A remote store as tests see it: its URL for podpipe, and direct access to its objects."""

    url: str
    kind: str  # "file" or "s3"
    root: Path | None = None  # file://
    bucket: object = None  # s3:// (a tests.support.s3.Bucket)
    prefix: str = "cache"
    warnings: list[str] = field(default_factory=list)
    clients: dict = field(default_factory=dict)

    def open(self, mode: str | None = None, **options) -> RemoteCache:
        """A new RemoteCache on the store (a new "machine"'s view of it); its warnings go to ``warnings``.

        Machines with the same client settings share one client of the store (a new S3 client costs a few
        hundred milliseconds of botocore start-up): what makes a machine, its RemoteCache with its own
        counters, rejected keys and leases, is new each time."""
        options = {**FAST, **options}
        client = (options.pop("timeout"), options.pop("attempts"))
        if client not in self.clients:
            remote = open_remote(self.url, mode, on_warning=self.warnings.append, timeout=client[0],
                                 attempts=client[1], **options)
            assert remote is not None
            self.clients[client] = remote.blobs
            return remote
        mode = resolve_mode(mode, {}, parse_url(self.url))
        return RemoteCache(self.clients[client], mode, on_warning=self.warnings.append, **options)

    def machine(self, tmp_path: Path, name: str, mode: str | None = None, **options) -> TieredStore:
        return TieredStore(FileStore(tmp_path / name), self.open(mode, **options))

    def objects(self) -> dict[str, bytes]:
        """Every object below the root: relative path -> bytes (lock and guard files are no objects)."""
        if self.kind == "file":
            return {p.relative_to(self.root).as_posix(): p.read_bytes() for p in sorted(self.root.rglob("*"))
                    if p.is_file() and not p.name.startswith(".")}
        start = len(self.prefix) + 1
        return {k[start:]: v for k, v in self.bucket.objects().items() if k.startswith(self.prefix + "/")}

    def write(self, path: str, data: bytes) -> None:
        if self.kind == "file":
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        else:
            self.bucket.put(f"{self.prefix}/{path}", data)

    def delete(self, path: str) -> None:
        if self.kind == "file":
            (self.root / path).unlink()
        else:
            self.bucket.server.client().delete_object(Bucket=self.bucket.name, Key=f"{self.prefix}/{path}")

    def read(self, path: str) -> bytes:
        return self.objects()[path]


@pytest.fixture(params=["file", "s3"])
def shared(request, tmp_path: Path) -> Shared:
    """The same remote behaviour over file:// and over s3:// (moto's S3 server, through s3fs)."""
    if request.param == "file":
        root = tmp_path / "remote"
        return Shared(f"file://{root}", "file", root=root)
    bucket = request.getfixturevalue("s3_bucket")
    return Shared(bucket.url("cache"), "s3", bucket=bucket)


@pytest.fixture
def file_shared(tmp_path: Path) -> Shared:
    root = tmp_path / "remote"
    return Shared(f"file://{root}", "file", root=root)


@pytest.fixture
def s3_shared(s3_bucket) -> Shared:
    return Shared(s3_bucket.url("cache"), "s3", bucket=s3_bucket)


@pytest.fixture
def entry_files() -> Callable[[FileStore, str], tuple[bytes, bytes]]:
    """``entry_files(store, key)``: the (wav, record) bytes of a local entry."""
    def read(store: FileStore, key: str) -> tuple[bytes, bytes]:
        wav, record = store.entry_paths(key)
        return wav.read_bytes(), record.read_bytes()
    return read


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[Callable[[Path], str]]:
    """``serve(directory)``: serve ``directory`` read-only on 127.0.0.1; returns its http:// URL."""
    servers = []

    def serve(directory: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=os.fspath(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()
