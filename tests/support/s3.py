"""A real S3 API server for the remote cache's tests: moto's ``ThreadedMotoServer`` on 127.0.0.1.

podpipe talks to it through s3fs exactly as to AWS (``AWS_ENDPOINT_URL`` chooses it, the way an
S3-compatible service is chosen); nothing of the client is mocked. moto 5.2.5 implements the conditional
writes the leases rely on: ``If-None-Match: *`` (412 on an existing key) and ``If-Match`` on PutObject and
DeleteObject.

A WSGI layer in front of moto records every request (``server.requests``: method, path, query) so a test
can count PUTs, and injects faults on demand (``server.fault = lambda method, path: ...`` returning
``"403"``, ``"503"`` (SlowDown), ``"500"``, ``(kind, message)`` for one of those with another message, or
``("hang", seconds)``, or None to pass the request on), or
drops the conditions of conditional writes (``server.ignore_conditions = True``), as some S3-compatible
servers do.

    with S3Server() as server:                     # or the ``s3_server`` / ``s3_bucket`` fixtures
        bucket = server.create_bucket()            # a fresh, validly named bucket
        ...
        server.stop()                              # mid-run: the port then refuses connections

moto keeps its state per process, not per server: every test gets its own bucket.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REGION = "us-east-1"
ACCESS_KEY_ID = "AKIAPODPIPETESTFAKE01"
# Fake, but shaped like a real secret access key (40 characters, mixed case), so scrubbing is exercised.
SECRET_ACCESS_KEY = "podpipeFAKEsecret" "/0123456789abcdefGHIJKLmn"

_ERRORS = {"403": ("403 Forbidden", "AccessDenied", "Access Denied"),
           "500": ("500 Internal Server Error", "InternalError", "We encountered an internal error."),
           "503": ("503 Slow Down", "SlowDown", "Please reduce your request rate.")}
_names = itertools.count(1)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str


class _Front:
    """The WSGI app in front of moto: records, and answers with an injected fault when asked to."""

    def __init__(self, app: Any):
        self.app = app
        self.requests: list[Request] = []
        self.fault: Callable[[str, str], Any] | None = None
        self.ignore_conditions = False  # behave like an S3-compatible server without conditional writes
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
        with self.lock:
            self.requests.append(request)
        if self.ignore_conditions:
            environ.pop("HTTP_IF_NONE_MATCH", None)
            environ.pop("HTTP_IF_MATCH", None)
        fault = self.fault(request.method, request.path) if self.fault else None
        if isinstance(fault, tuple) and fault[0] == "hang":
            time.sleep(fault[1])
            fault = None
        if fault is None:
            return self.app(environ, start_response)
        kind, message = fault if isinstance(fault, tuple) else (fault, None)
        status, code, default = _ERRORS[kind]
        message = message or default
        body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
                f'<RequestId>podpipe-test</RequestId></Error>').encode()
        start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
        return [body]


class S3Server:
    """moto's S3 server on 127.0.0.1 (a free port), recording requests and injecting faults."""

    def __init__(self) -> None:
        self._server: Any = None
        self._front: _Front | None = None
        self.endpoint = ""
        self.running = False

    def __enter__(self) -> S3Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        from moto.server import ThreadedMotoServer  # heavy: only when a test wants a server

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        wsgi = self._server._server  # werkzeug's server: its handlers call ``server.app`` per request
        self._front = _Front(wsgi.app)
        wsgi.app = self._front
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self._server.stop()

    @property
    def requests(self) -> list[Request]:
        assert self._front is not None
        with self._front.lock:
            return list(self._front.requests)

    @property
    def ignore_conditions(self) -> bool:
        return bool(self._front and self._front.ignore_conditions)

    @ignore_conditions.setter
    def ignore_conditions(self, value: bool) -> None:
        assert self._front is not None
        self._front.ignore_conditions = value

    @property
    def fault(self) -> Callable[[str, str], Any] | None:
        return self._front.fault if self._front else None

    @fault.setter
    def fault(self, fn: Callable[[str, str], Any] | None) -> None:
        assert self._front is not None
        self._front.fault = fn

    def writes(self, bucket: str) -> list[Request]:
        """The PUT, POST and DELETE requests that reached ``bucket``'s objects."""
        return [r for r in self.requests
                if r.method in ("PUT", "POST", "DELETE") and r.path.startswith(f"/{bucket}/")]

    def client(self) -> Any:
        """A boto3 client for the test's own setup and inspection (podpipe itself goes through s3fs)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY)

    def create_bucket(self) -> str:
        name = f"podpipe-cache-{next(_names)}-{int(time.time() * 1000) % 100000}"
        self.client().create_bucket(Bucket=name)
        return name


def environment(endpoint: str) -> dict[str, str | None]:
    """What a test sets so botocore finds the server and no real AWS configuration leaks in (None: unset)."""
    return {
        "AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_S3": None, "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY, "AWS_SESSION_TOKEN": None, "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": None, "AWS_PROFILE": None, "AWS_CONFIG_FILE": "/nonexistent/podpipe-test-aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/podpipe-test-aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def point_at(monkeypatch, endpoint: str) -> None:
    """Set ``environment(endpoint)`` for one test through pytest's ``monkeypatch`` (undone after it)."""
    for name, value in environment(endpoint).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@dataclass
class Bucket:
    """A fresh bucket on a running server, with the environment pointing at it."""

    server: S3Server
    name: str

    def url(self, prefix: str = "cache") -> str:
        return f"s3://{self.name}/{prefix}" if prefix else f"s3://{self.name}"

    def objects(self) -> dict[str, bytes]:
        """Every object in the bucket (key -> bytes), read with boto3."""
        client = self.server.client()
        keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
                for o in page.get("Contents", ())]
        return {k: client.get_object(Bucket=self.name, Key=k)["Body"].read() for k in keys}

    def put(self, key: str, data: bytes) -> None:
        self.server.client().put_object(Bucket=self.name, Key=key, Body=data)
