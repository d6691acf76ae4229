"""``podpipe publish --check URL``: a live show checked the way podcast apps and web players will fetch it.

From the feed at ``URL`` (fetched once) it takes every file the feed names and asks the host:

- each enclosure: a ``HEAD`` (status, ``Content-Length`` against the enclosure's ``length``, ``Content-Type``
  against its ``type``) and a ``Range: bytes=0-1`` GET (a 206 with ``Content-Range: bytes 0-1/<length>``:
  Apple requires byte ranges, and players seek with them);
- each transcript and chapters file: a GET with an ``Origin`` header (status, ``Content-Type`` against the
  feed's ``type``, and ``Access-Control-Allow-Origin`` for that origin: web players fetch them from another
  origin and the Podcasting 2.0 transcript doc asks for CORS);
- the show's and episodes' artwork: a ``HEAD`` (status, an image type).

Each problem comes back as a ``Problem`` with the fix. Only the standard library (urllib) is used; nothing
is sent but these reads.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # nosec B405 - the show's own feed; expat refuses entity expansion bombs
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
PODCAST = "{https://podcastindex.org/namespace/1.0}"
ORIGIN = "https://player.example"  # the origin a web player would send (any origin must be allowed)
FEED_LIMIT = 20 << 20  # bytes of feed read at most
CORS_FIX = ("allow any origin to GET it: `podpipe publish --to URL --set-cors` sets the bucket's CORS rule on "
            "S3; on GCS, Azure or a web server set it as docs/publishing.md shows")


@dataclass(frozen=True)
class Problem:
    url: str
    what: str
    fix: str

    def lines(self) -> str:
        return f"{self.url}: {self.what}\n  fix: {self.fix}"


@dataclass(frozen=True)
class SiteCheck:
    feed_url: str
    files: int  # files the feed names that were checked
    requests: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        n = len(self.problems)
        state = "no problems" if not n else f"{n} problem{'s' if n != 1 else ''}"
        return (f"checked {self.feed_url}: {self.files} file{'s' if self.files != 1 else ''}, "
                f"{self.requests} requests, {state}")


@dataclass
class _Answer:
    status: int
    headers: Message
    body: bytes = b""


def _base(media_type: str | None) -> str:
    return (media_type or "").split(";", 1)[0].strip().lower()


@dataclass
class _Checker:
    timeout: float
    on_problem: Callable[[Problem], None]
    problems: list[Problem] = field(default_factory=list)
    requests: int = 0

    def problem(self, url: str, what: str, fix: str) -> None:
        p = Problem(url, what, fix)
        self.problems.append(p)
        self.on_problem(p)

    def ask(self, url: str, method: str = "GET", headers: dict[str, str] | None = None,
            read: int = 0) -> _Answer | None:
        """One request; None (and a problem) when the host cannot be reached at all."""
        self.requests += 1
        request = Request(url, method=method, headers={"User-Agent": "podpipe-check", **(headers or {})})
        try:
            with urlopen(request, timeout=self.timeout) as response:  # nosec B310 - http(s) only, checked
                return _Answer(response.status, response.headers, response.read(read) if read else b"")
        except HTTPError as exc:
            return _Answer(exc.code, exc.headers)
        except (URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            self.problem(url, f"cannot be fetched ({reason})", "check the URL and that the host answers")
            return None

    def status(self, url: str, answer: _Answer, what: str) -> bool:
        if answer.status in (200, 206):
            return True
        self.problem(url, f"{what} answered HTTP {answer.status}",
                     "upload it (`podpipe publish`; keep older files until --prune) or fix the feed's URL"
                     if answer.status in (403, 404) else "fix the host so it serves the file")
        return False

    def content_type(self, url: str, answer: _Answer, wanted: str, what: str) -> None:
        got = _base(answer.headers.get("Content-Type"))
        if got != _base(wanted):
            self.problem(url, f"served as {got or 'no Content-Type'}, the feed says {what} {_base(wanted)}",
                         f"serve it with Content-Type: {wanted} (`podpipe publish` sets it on each object; a web "
                         f"server needs the type for its suffix)")

    def enclosure(self, url: str, length: int | None, media_type: str) -> None:
        head = self.ask(url, "HEAD")
        if head is None or not self.status(url, head, "HEAD"):
            return
        size = head.headers.get("Content-Length")
        if length is not None and size is not None and size.isdigit() and int(size) != length:
            self.problem(url, f"the feed says length {length}, the host sends {size} bytes",
                         "publish again so the feed and the file agree (`podpipe publish`: the feed goes up after "
                         "the files it names); if a CDN serves an old copy, purge it")
        self.content_type(url, head, media_type, "type")
        ranged = self.ask(url, "GET", {"Range": "bytes=0-1"}, read=2)
        if ranged is None:
            return
        if ranged.status == 200:
            self.problem(url, "the host ignores byte ranges (a Range request got the whole file, HTTP 200): Apple "
                              "Podcasts requires them and players cannot seek",
                         "serve the files from object storage or a CDN (they answer ranges), or enable Range "
                         "requests in the web server; `podpipe feed --serve` shows the site served with them")
            return
        if ranged.status != 206:
            self.problem(url, f"a Range request answered HTTP {ranged.status}", "enable Range requests on the host")
            return
        match = re.fullmatch(r"bytes 0-1/(\d+)", (ranged.headers.get("Content-Range") or "").strip())
        if not match:
            self.problem(url, f"a Range request for bytes 0-1 came back as {ranged.headers.get('Content-Range')!r}",
                         "fix the host's Range support (it must answer Content-Range: bytes 0-1/<size>)")
        elif length is not None and int(match.group(1)) != length:
            self.problem(url, f"the feed says length {length}, the host's Content-Range says {match.group(1)}",
                         "publish again so the feed and the file agree")

    def sidecar(self, url: str, media_type: str | None, what: str) -> None:
        answer = self.ask(url, "GET", {"Origin": ORIGIN}, read=1)
        if answer is None or not self.status(url, answer, f"the {what}"):
            return
        if media_type:
            self.content_type(url, answer, media_type, "type")
        allowed = answer.headers.get("Access-Control-Allow-Origin")
        if allowed not in ("*", ORIGIN):
            self.problem(url, f"no CORS for web players: a GET with Origin: {ORIGIN} got "
                              f"{'no Access-Control-Allow-Origin' if allowed is None else repr(allowed)}", CORS_FIX)

    def artwork(self, url: str) -> None:
        head = self.ask(url, "HEAD")
        if head is None or not self.status(url, head, "HEAD"):
            return
        if _base(head.headers.get("Content-Type")) not in ("image/png", "image/jpeg"):
            self.problem(url, f"artwork served as {head.headers.get('Content-Type') or 'no Content-Type'}",
                         "serve it as image/png or image/jpeg (`podpipe publish` sets the type)")


def check_site(feed_url: str, *, timeout: float = 15.0,
               on_problem: Callable[[Problem], None] | None = None) -> SiteCheck:
    """Check the live show whose feed is at ``feed_url`` (http or https); see the module docstring.
    ``on_problem`` hears of each problem as it is found."""
    parts = urlsplit(feed_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        from podpipe.errors import UsageError

        raise UsageError(f"--check {feed_url!r}: give the feed's public http(s) URL, e.g. "
                         "https://cdn.example.org/show/feed.xml")
    checker = _Checker(timeout, on_problem or (lambda problem: None))
    feed = checker.ask(feed_url, "GET", read=FEED_LIMIT)
    if feed is None:
        return SiteCheck(feed_url, 0, checker.requests, tuple(checker.problems))
    if not checker.status(feed_url, feed, "the feed"):
        return SiteCheck(feed_url, 0, checker.requests, tuple(checker.problems))
    try:
        root = ET.fromstring(feed.body)  # nosec B314 - see the import
    except ET.ParseError as exc:
        checker.problem(feed_url, f"the feed is not XML ({exc})", "publish the feed again (`podpipe publish`)")
        return SiteCheck(feed_url, 0, checker.requests, tuple(checker.problems))
    channel = root.find("channel")
    files = 0
    seen: set[str] = set()

    def once(url: str | None) -> bool:
        nonlocal files
        if not url or url in seen:
            return False
        seen.add(url)
        files += 1
        return True

    for image in ([channel.find(f"{ITUNES}image")] if channel is not None else []):
        if image is not None and once(image.get("href")):
            checker.artwork(image.get("href"))
    for item in (channel.findall("item") if channel is not None else []):
        enclosure = item.find("enclosure")
        if enclosure is not None and once(enclosure.get("url")):
            length = enclosure.get("length")
            checker.enclosure(enclosure.get("url"), int(length) if length and length.isdigit() else None,
                              enclosure.get("type") or "")
        for tag, what in ((f"{PODCAST}transcript", "transcript"), (f"{PODCAST}chapters", "chapters")):
            for el in item.findall(tag):
                if once(el.get("url")):
                    checker.sidecar(el.get("url"), el.get("type"), what)
        image = item.find(f"{ITUNES}image")
        if image is not None and once(image.get("href")):
            checker.artwork(image.get("href"))
    return SiteCheck(feed_url, files, checker.requests, tuple(checker.problems))
