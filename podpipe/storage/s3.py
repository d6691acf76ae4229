"""s3:// remote caches through s3fs (the ``podpipe[s3]`` extra): AWS S3 and S3-compatible services.

s3fs supplies what podpipe must not do itself: the credential chain (environment, shared config and
credentials files, SSO, container and instance roles: botocore's), the region, and the endpoint: an
S3-compatible service (MinIO, R2, Ceph) is chosen the standard way, with ``AWS_ENDPOINT_URL`` or
``AWS_ENDPOINT_URL_S3``. Requests go straight to s3fs's aiobotocore client (one request per operation,
exact error codes) on s3fs's event loop.

- conditional create: ``PutObject`` with ``If-None-Match: *`` (412 when the key exists; 409 when a
  concurrent conditional write won);
- swap and tagged delete: ``If-Match: <ETag>``; a service that rejects a conditional delete gets a
  compare-then-delete instead (a lease's release, harmless when it misses);
- a service that ignores ``If-None-Match`` (older S3-compatible servers) is caught by the remote cache's
  one-time probe (``probe_conditional``), and then podpipe renders without leases;
- timeouts: ``connect_timeout``/``read_timeout`` and botocore's standard retry mode with ``attempts``
  (which also backs off on throttling: 503 SlowDown).

Tested against moto's S3 server (``tests/support/s3.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from podpipe.storage.blobs import CHUNK, Blobs, Cors, Meta, Stat, Unsupported

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_LOST = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_NO_CONDITION = {"NotImplemented", "501", "InvalidArgument"}
_DENIED = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
           "AllAccessDisabled", "AccountProblem"}
_NO_BUCKET = {"NoSuchBucket"}


def _headers(meta: Meta | None) -> dict[str, Any]:
    """``meta`` as PutObject / CreateMultipartUpload parameters."""
    if meta is None:
        return {}
    headers: dict[str, Any] = {"ContentType": meta.content_type, "CacheControl": meta.cache_control}
    if meta.sha256:
        headers["Metadata"] = {"sha256": meta.sha256}
    return {name: value for name, value in headers.items() if value}


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode"))


class S3Blobs(Blobs):
    compare_and_swap = True
    probe_conditional = True

    def __init__(self, bucket: str, prefix: str, display: str, *, timeout: float, attempts: int):
        import s3fs  # the caller turned a missing s3fs into a UsageError naming the extra
        from botocore.exceptions import ClientError, ParamValidationError
        from fsspec.asyn import sync

        self.bucket, self.prefix, self.display = bucket, prefix, display
        self._client_error = ClientError
        self._no_such_parameter = ParamValidationError  # a botocore too old for IfNoneMatch / IfMatch
        self._sync = sync
        self.fs = s3fs.S3FileSystem(
            skip_instance_cache=True, use_listings_cache=False,
            config_kwargs={"connect_timeout": min(timeout, 5.0), "read_timeout": timeout,
                           "retries": {"max_attempts": attempts, "mode": "standard"}})
        self.fs.retries = 1  # botocore retries (standard mode); s3fs's own loop on top would multiply them

    def _key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def _run(self, coroutine_function, *args, **kwargs) -> Any:
        return self._sync(self.fs.loop, coroutine_function, *args, **kwargs)

    async def _client(self):
        await self.fs.set_session()
        return await self.fs.get_s3(self.bucket)

    def explain(self, exc: BaseException) -> tuple[str, str] | None:
        if self._is(exc, _DENIED):
            return "denied", _code(exc)
        if self._is(exc, _NO_BUCKET):
            return "missing", _code(exc)
        return super().explain(exc)

    def _is(self, exc: BaseException, codes: set[str]) -> bool:
        return isinstance(exc, self._client_error) and _code(exc) in codes

    # -- reads --------------------------------------------------------------------------------------------

    def read(self, path: str) -> bytes | None:
        got = self.read_tagged(path)
        return None if got is None else got[0]

    async def _object_call(self, operation: str, path: str) -> dict | None:
        """GetObject or HeadObject of ``path``; None when there is no such object."""
        s3 = await self._client()
        try:
            return await getattr(s3, operation)(Bucket=self.bucket, Key=self._key(path))
        except self._client_error as exc:
            if self._is(exc, _NOT_FOUND):
                return None
            raise

    async def _get_object(self, path: str) -> dict | None:
        return await self._object_call("get_object", path)

    def read_tagged(self, path: str) -> tuple[bytes, str] | None:
        async def go():
            response = await self._get_object(path)
            if response is None:
                return None
            async with response["Body"] as body:
                return await body.read(), response.get("ETag", "")
        return self._run(go)

    def _head(self, path: str) -> dict | None:
        return self._run(self._object_call, "head_object", path)

    def exists(self, path: str) -> bool:
        return self._head(path) is not None

    def stat(self, path: str) -> Stat | None:
        head = self._head(path)
        if head is None:
            return None
        etag = str(head.get("ETag", "")).strip('"')
        # a multipart upload's ETag ("<md5 of the parts' md5s>-<parts>") is no content hash
        md5 = etag.lower() if len(etag) == 32 and "-" not in etag else None
        return Stat(int(head.get("ContentLength", 0)), md5,
                    Meta(head.get("ContentType"), head.get("CacheControl"), head.get("Metadata", {}).get("sha256")))

    def download(self, path: str, target: Path) -> bool:
        async def go():
            response = await self._get_object(path)
            if response is None:
                return False
            with open(target, "wb") as out:
                async with response["Body"] as body:
                    while chunk := await body.read(CHUNK):
                        out.write(chunk)
            return True
        return self._run(go)

    def listing(self, prefix: str) -> Iterator[tuple[str, int]]:
        async def go():
            s3 = await self._client()
            base = self._key(prefix.strip("/") + "/") if prefix.strip("/") else self._key("")
            found = []
            async for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
                for item in page.get("Contents", ()):
                    found.append((item["Key"][len(self._key("")):], int(item["Size"])))
            return found
        yield from self._run(go)

    # -- writes -------------------------------------------------------------------------------------------

    def _put(self, path: str, data: bytes, meta: Meta | None = None, **condition) -> str | None:
        async def go():
            s3 = await self._client()
            try:
                response = await s3.put_object(Bucket=self.bucket, Key=self._key(path), Body=data, **_headers(meta),
                                               **condition)
            except self._no_such_parameter:
                if condition:
                    raise Unsupported(f"this botocore cannot send {', '.join(condition)}; upgrade s3fs") from None
                raise
            except self._client_error as exc:
                if condition and self._is(exc, _LOST):
                    return None
                if condition and self._is(exc, _NO_CONDITION):
                    raise Unsupported(f"{self.display} does not take conditional writes ({_code(exc)})") from None
                raise
            return response.get("ETag", "")
        return self._run(go)

    def write(self, path: str, data: bytes, meta: Meta | None = None) -> None:
        self._put(path, data, meta)

    def create(self, path: str, data: bytes) -> str | None:
        return self._put(path, data, IfNoneMatch="*")

    def swap(self, path: str, data: bytes, tag: str) -> str | None:
        return self._put(path, data, IfMatch=tag)

    def upload(self, path: str, source: Path, meta: Meta | None = None) -> None:
        # s3fs's put_file: one PutObject, or a multipart upload for big files (an object appears only
        # when CompleteMultipartUpload succeeds): atomic either way. It sends the headers with either.
        self._run(self.fs._put_file, str(source), f"{self.bucket}/{self._key(path)}", **_headers(meta))

    def delete(self, path: str, tag: str | None = None) -> None:
        async def go():
            s3 = await self._client()
            condition = {"IfMatch": tag} if tag else {}
            try:
                await s3.delete_object(Bucket=self.bucket, Key=self._key(path), **condition)
            except self._client_error as exc:
                if self._is(exc, _NOT_FOUND | _LOST):
                    return True
                if tag and self._is(exc, _NO_CONDITION):
                    return False  # no conditional deletes here: compare, then delete
                raise
            return True
        if not self._run(go):
            current = self.read_tagged(path)
            if current is not None and current[1] == tag:
                self.delete(path)

    def set_cors(self, cors: Cors) -> None:
        """PutBucketCors: replaces the bucket's CORS rules with ``cors`` (it needs s3:PutBucketCORS)."""
        rule = {"AllowedOrigins": list(cors.origins), "AllowedMethods": list(cors.methods),
                "AllowedHeaders": list(cors.request_headers), "ExposeHeaders": list(cors.expose_headers),
                "MaxAgeSeconds": cors.max_age}

        async def go():
            s3 = await self._client()
            await s3.put_bucket_cors(Bucket=self.bucket, CORSConfiguration={"CORSRules": [rule]})
        self._run(go)
