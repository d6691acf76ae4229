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

Headers (``Meta``): gcsfs takes ``content_type``, ``fixed_key_metadata={"cache_control": …}`` and user
``metadata`` (the sha256); adlfs takes ``content_settings`` (an azure ``ContentSettings``) but sets the blob's
user metadata itself, so an Azure object carries no sha256 and ``publish`` relies on its index there.

NOT TESTED against a real service: there is no GCS or Azure server on this machine (no emulator without
Docker or Node). The code only uses calls both libraries document; a library too old for ``mode="create"``
(a TypeError) makes leases ``Unsupported``, never a failed build.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from podpipe.storage.blobs import Blobs, Meta, Stat, Unsupported, content_tag


def _header_kwargs(scheme: str, meta: Meta | None) -> dict[str, Any]:
    """``meta`` in the keyword arguments of gcsfs's or adlfs's ``pipe_file``/``put_file``."""
    if meta is None:
        return {}
    if scheme == "gs":
        kwargs: dict[str, Any] = {"content_type": meta.content_type}
        if meta.cache_control:
            kwargs["fixed_key_metadata"] = {"cache_control": meta.cache_control}
        if meta.sha256:
            kwargs["metadata"] = {"sha256": meta.sha256}
        return {name: value for name, value in kwargs.items() if value}
    from azure.storage.blob import ContentSettings  # adlfs's own dependency

    return {"content_settings": ContentSettings(content_type=meta.content_type, cache_control=meta.cache_control)}


class FsspecBlobs(Blobs):
    probe_conditional = True

    def set_cors(self, cors) -> None:
        how = {"gs": "gcloud storage buckets update gs://BUCKET --cors-file=cors.json",
               "az": "az storage cors add --services b --origins '*' --methods GET HEAD OPTIONS "
                     "--allowed-headers Range --exposed-headers '*' --max-age 3600"}.get(self.scheme, "")
        raise Unsupported(f"podpipe cannot set CORS on {self.display} (a service setting there): run "
                          f"{how or 'the provider’s CORS command'} (docs/publishing.md shows the configuration)")

    def __init__(self, fs: Any, root: str, display: str, *, scheme: str):
        self.fs, self.root, self.display, self.scheme = fs, root.rstrip("/"), display, scheme

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

    def write(self, path: str, data: bytes, meta: Meta | None = None) -> None:
        self.fs.pipe_file(self._path(path), data, **_header_kwargs(self.scheme, meta))

    def stat(self, path: str) -> Stat | None:
        try:
            info = self.fs.info(self._path(path))
        except FileNotFoundError:
            return None
        if info.get("type", "file") != "file":
            return None
        metadata = info.get("metadata") or {}
        return Stat(int(info.get("size") or 0), meta=Meta(sha256=metadata.get("sha256")))

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

    def upload(self, path: str, source: Path, meta: Meta | None = None) -> None:
        self.fs.put_file(str(source), self._path(path), **_header_kwargs(self.scheme, meta))

    def download(self, path: str, target: Path) -> bool:
        try:
            self.fs.get_file(self._path(path), str(target))
        except FileNotFoundError:
            return False
        return True
