"""gs:// (gcsfs, the ``podpipe[gcs]`` extra) and az:// (adlfs, ``podpipe[azure]``) remote caches through
fsspec's generic file-system calls.

Credentials come from each library's own chain (gcsfs: ``google.auth.default()``, i.e.
``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's login, the metadata server; adlfs: ``AZURE_STORAGE_*``
variables, else ``DefaultAzureCredential``, with the account from ``AZURE_STORAGE_ACCOUNT_NAME``).

Conditional create is fsspec's ``pipe_file(mode="create")``: gcsfs sends ``ifGenerationMatch=0`` and adlfs
``upload_blob(overwrite=False)`` (``If-None-Match: *``); both raise ``FileExistsError`` when the object
exists. Neither library passes a generation or ETag condition through ``pipe_file``, so there is no exact
swap here (``compare_and_swap`` is False): an expired lease is taken over by a compare-then-delete and a new
conditional create (two machines taking over the same crashed lease at the same moment may both render
that key once), and a live lease is renewed by rewriting it.

NOT TESTED against a real service: there is no GCS or Azure server on this machine (no emulator without
Docker or Node). The code only uses calls both libraries document; a library too old for ``mode="create"``
(a TypeError) makes leases ``Unsupported``, never a failed build.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from podpipe.cache.remote.blobs import Blobs, Unsupported, content_tag


class FsspecBlobs(Blobs):
    probe_conditional = True

    def __init__(self, fs: Any, root: str, display: str):
        self.fs, self.root, self.display = fs, root.rstrip("/"), display

    def _path(self, path: str) -> str:
        return f"{self.root}/{path}"

    def read(self, path: str) -> bytes | None:
        try:
            return self.fs.cat_file(self._path(path))
        except FileNotFoundError:
            return None

    def exists(self, path: str) -> bool:
        try:
            return self.fs.info(self._path(path)).get("type", "file") == "file"
        except FileNotFoundError:
            return False

    def write(self, path: str, data: bytes) -> None:
        self.fs.pipe_file(self._path(path), data)

    def create(self, path: str, data: bytes) -> str | None:
        try:
            self.fs.pipe_file(self._path(path), data, mode="create")
        except FileExistsError:
            return None
        except (TypeError, NotImplementedError) as exc:
            raise Unsupported(f"{self.display}: this version of {type(self.fs).__module__.split('.')[0]} has "
                              f"no conditional create ({type(exc).__name__})") from None
        return content_tag(data)

    def delete(self, path: str, tag: str | None = None) -> None:
        if tag is not None:
            current = self.read(path)
            if current is None or content_tag(current) != tag:
                return
        try:
            self.fs.rm_file(self._path(path))
        except FileNotFoundError:
            pass

    def listing(self, prefix: str) -> Iterator[tuple[str, int]]:
        base = self._path(prefix.rstrip("/"))
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return
        for name, info in sorted(found.items()):
            if info.get("type", "file") == "file":
                yield name[len(self.root) + 1:], int(info.get("size") or 0)

    def upload(self, path: str, source: Path) -> None:
        self.fs.put_file(str(source), self._path(path))

    def download(self, path: str, target: Path) -> bool:
        try:
            self.fs.get_file(self._path(path), str(target))
        except FileNotFoundError:
            return False
        return True
