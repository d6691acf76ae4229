"""What keeps the studio to its user and its project: the URL's token, the CSRF token, the Host check and
the project root.

- **The token.** ``podpipe studio`` prints a URL with a random token in it (as Jupyter does). A request
  without it, or without the cookie the first request with it sets, is refused (403). The cookie is
  HttpOnly and SameSite=Strict, and named after the port, since browsers share cookies between the ports of
  one host.
- **CSRF.** Every request that changes something (any method but GET, HEAD and OPTIONS) carries the header
  ``X-CSRF-Token``, checked against the session: the value is an HMAC of the session's token, which the page
  reads from ``/api/session`` (a page of another origin cannot read it). A request with an ``Origin`` of
  another site is refused too.
- **The Host header** must name the loopback address (127.0.0.1, localhost, [::1]): a DNS-rebinding page
  that reaches the port under a name of its own is refused.
- **The project root.** ``inside`` turns a path the page sends into a file under the root, refusing
  absolute paths, ``..`` and symlinks that lead out of it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from http.cookies import SimpleCookie
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import parse_qs, urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


class PathRefused(ValueError):
    """A path the page sent that would leave the project root."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_for(token: str) -> str:
    """The CSRF token of the session ``token`` opens."""
    return hmac.new(token.encode(), b"podpipe-studio-csrf", hashlib.sha256).hexdigest()


def cookie_name(port: int | None) -> str:
    return f"podpipe-studio-{port or 0}"


def inside(root: Path, given: str) -> Path:
    """``given`` (a path relative to ``root``, as the page sends it) as a path under ``root``; raises
    ``PathRefused`` for an empty, absolute or ``..`` path, or one that leads out of the root through a
    symlink."""
    if not given or "\x00" in given:
        raise PathRefused("no path given")
    if PurePosixPath(given).is_absolute() or PureWindowsPath(given).is_absolute() or PureWindowsPath(given).drive:
        raise PathRefused(f"{given}: an absolute path; give one relative to the project root")
    if ".." in PurePosixPath(given.replace("\\", "/")).parts:
        raise PathRefused(f"{given}: '..' leads out of the project root")
    base = root.resolve()
    path = (base / given).resolve()
    if not path.is_relative_to(base):
        raise PathRefused(f"{given}: leads out of the project root (a symlink)")
    return path


def within(path: Path, *bases: Path) -> bool:
    """Whether ``path``, with every symlink followed, lies under one of ``bases``."""
    real = path.resolve()
    return any(real.is_relative_to(base.resolve()) for base in bases)


def _refuse(status: int, message: str, extra: list[tuple[bytes, bytes]] = ()):
    body = message.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store"), *extra]

    async def respond(send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    return respond


class Guard:
    """ASGI middleware that lets through only requests with the token (query, cookie or ``Authorization:
    token …``), from the loopback Host, and, for state-changing methods, with the session's CSRF token. The
    first load of the page with ``?token=`` sets the cookie and redirects to ``/`` without the token, so it
    leaves the address bar and the history."""

    def __init__(self, app, token: str) -> None:
        self.app = app
        self.token = token
        self.csrf = csrf_for(token)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        port = (scope.get("server") or (None, None))[1]
        if _hostname(headers.get("host", "")) not in LOOPBACK:
            await _refuse(403, "refused: the studio answers only on the loopback address\n")(send)
            return
        name = cookie_name(port)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = query.get("token", [None])[0]
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is no session
            cookie = SimpleCookie()
        from_cookie = cookie[name].value if name in cookie else None
        auth = headers.get("authorization", "")
        from_header = auth[6:].strip() if auth.lower().startswith("token ") else None
        if not any(t is not None and hmac.compare_digest(t, self.token) for t in (given, from_cookie, from_header)):
            await _refuse(403, "refused: this needs the studio's token; open the URL podpipe studio printed\n")(send)
            return
        method = scope["method"].upper()
        if method not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin and _hostname(urlsplit(origin).netloc) not in LOOPBACK:
                await _refuse(403, "refused: a request from another site\n")(send)
                return
            if not hmac.compare_digest(headers.get(CSRF_HEADER, ""), self.csrf):
                await _refuse(403, "refused: missing or wrong CSRF token (X-CSRF-Token); reload the page\n")(send)
                return
        if given is not None and method == "GET" and scope.get("path") == "/" and from_cookie != self.token:
            morsel = (f"{name}={self.token}; Path=/; HttpOnly; SameSite=Strict").encode()
            await _refuse(303, "", [(b"location", b"/"), (b"set-cookie", morsel)])(send)
            return
        await self.app(scope, receive, send)


def _hostname(netloc: str) -> str:
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[:netloc.find("]") + 1]
    return netloc.rsplit(":", 1)[0] if ":" in netloc else netloc
