"""The published show as a tree of files: what ``podpipe feed`` writes and ``podpipe publish`` uploads.

A ``Site`` is rooted at the feed's directory: every ``SiteFile.path`` is a relative POSIX path below it, and
the public URL of a file is ``base_url`` joined with that path. The feed is always the last file, so an
uploader that goes in order never publishes a feed pointing at a file that is not there yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROLES = ("media", "sidecar", "artwork", "page", "feed")


@dataclass(frozen=True)
class SiteFile:
    path: str  # relative POSIX path below the site root, e.g. "ep12-city-bees.mp3" or "feed.xml"
    media_type: str  # the Content-Type it is served with
    role: str  # one of ROLES: how it is cached once published
    source: Path | None = None  # a local file (an output, a sidecar, the artwork) ...
    data: bytes | None = None  # ... or generated content (the feed, the page)

    def read(self) -> bytes:
        return self.data if self.data is not None else Path(self.source).read_bytes()


@dataclass(frozen=True)
class Site:
    base_url: str  # the public URL of the site root, without a trailing slash
    files: tuple[SiteFile, ...]  # the feed last

    @property
    def feed(self) -> SiteFile:
        return self.files[-1]

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"
