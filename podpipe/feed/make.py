"""``make_site``: the specs of a show, built, as the ``Site`` that ``podpipe feed`` writes and ``podpipe
publish`` uploads: the episodes' audio and sidecars, the artwork, the show page and, last, the feed.

One layout, wherever the episodes were built and wherever ``feed -o`` writes: the feed and ``index.html`` at
the site root, and every file they point at under a content-addressed name (``name_for``): the episodes'
audio and sidecars in ``episodes/``, the show's and episodes' artwork in ``artwork/``, each named
``<stem>.<hash><suffix>`` with the first ``HASH_CHARS`` hex digits of the file's sha256
(``episodes/ep12.1f2e3d4c5b6a.mp3``). A rebuilt file is a new name, never a change in place: publish serves
these as immutable, and a feed never names bytes it was not made from.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit

from podpipe import backends
from podpipe.errors import NotBuiltError, UsageError
from podpipe.feed.built import BuiltEpisode, built_episode, channel_guid
from podpipe.feed.page import page
from podpipe.feed.rss import newest_first, rss
from podpipe.feed.site import Site, SiteFile
from podpipe.formats import sidecar_of
from podpipe.spec import Episode, load_episodes, read_image_info

FEED_NAME = "feed.xml"  # the feed's name when no path is given
PAGE_NAME = "index.html"
EPISODES_DIR = "episodes"  # the episodes' audio and sidecars
ARTWORK_DIR = "artwork"  # the show's and the episodes' artwork
HASH_CHARS = 12  # hex digits of the sha256 in a content-addressed name (48 bits)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def name_for(folder: str, source: Path, suffix: str | None = None) -> str:
    """The content-addressed path of ``source`` in the site: ``folder/<stem>.<hash><suffix>``; ``suffix``
    (default: the file's last one) is the part of the name kept after the hash (``.chapters.json``)."""
    suffix = suffix if suffix is not None else source.suffix.lower()
    stem = source.name[:len(source.name) - len(suffix)] if source.name.lower().endswith(suffix.lower()) \
        else source.stem
    return f"{folder}/{stem}.{file_sha256(source)[:HASH_CHARS]}{suffix}"


def make_site(spec_paths: Sequence[str | Path], base_url: str, *, skip_unbuilt: bool = False,
              feed_path: str | Path | None = None, root: Path | None = None, allow_outside: bool = False,
              strict: bool = False, notes: Callable[[str], None] | None = None) -> Site:
    """Everything the show of ``spec_paths`` needs published, the feed last.

    ``base_url`` is where the site root will be served (``https://example.com/podcast``). ``feed_path``
    names the feed (its file name; its folder is where ``podpipe feed -o`` writes the site); default:
    ``feed.xml``. ``root`` is the project root (default: the working directory). An episode
    that is not built is a ``NotBuiltError`` naming it, or, with ``skip_unbuilt``, left out and named to
    ``notes`` (which also gets the specs' warnings). Specs without a feed section or a date, or of different
    shows, are a ``SpecError`` / ``UsageError``.
    """
    note = notes or (lambda message: None)
    base_url = _base_url(base_url)
    root = Path(os.path.abspath(root if root is not None else os.getcwd()))
    loaded = load_episodes(spec_paths, root=root, allow_outside=allow_outside, strict=strict, feed=True,
                           rules=backends)
    for warning in loaded.warnings:
        note(str(warning))
    episodes = loaded.episodes
    if not episodes:
        raise UsageError("podpipe feed: no episodes given")
    feed = _one_feed(episodes, root)
    feed_name = FEED_NAME if feed_path is None else Path(feed_path).name
    built = []
    for episode in episodes:
        try:
            built.append(built_episode(episode, feed, root))
        except NotBuiltError as exc:
            if not skip_unbuilt:
                raise
            note(f"skipped {exc}")
    built = newest_first(built, feed.timezone)

    tree = _Tree()
    files = []
    for b in built:
        files.append(SiteFile(tree.place(EPISODES_DIR, b.output), b.mime, "media", source=b.output))
        for p in b.sidecars:
            sidecar = sidecar_of(p)
            files.append(SiteFile(tree.place(EPISODES_DIR, p, sidecar.suffix), sidecar.media_type, sidecar.role,
                                  source=p))
    for art in [feed.artwork] + [b.episode.artwork for b in built if b.episode.artwork is not None]:
        if art not in tree.placed:
            info = read_image_info(art)  # validation made sure the show's cover is a PNG or JPEG
            if info is None:
                raise UsageError(f"{art}: artwork is not a PNG or JPEG image; save it as PNG or JPEG")
            art_type = info.media_type
            files.append(SiteFile(tree.place(ARTWORK_DIR, art), art_type, "artwork", source=art))
    feed_rel = tree.claim(feed_name, "the feed")
    page_rel = tree.claim(PAGE_NAME, "the show page")
    feed_url, page_url = f"{base_url}/{quote(feed_rel)}", f"{base_url}/{quote(page_rel)}"
    anchors = _anchors(built)

    def anchor(b: BuiltEpisode) -> str:
        return anchors[b.output]

    xml = rss(feed, built, feed_url=feed_url, page_url=page_url, guid=channel_guid(feed, feed_url),
              url=lambda p: f"{base_url}/{quote(tree.placed[p])}", link=lambda b: f"{page_url}#{anchor(b)}")
    html = page(feed, built, href=lambda p: quote(tree.placed[p]), feed_href=quote(feed_rel), anchor=anchor)
    files.append(SiteFile(page_rel, "text/html; charset=utf-8", "page", data=html))
    files.append(SiteFile(feed_rel, "application/rss+xml; charset=utf-8", "feed", data=xml))
    return Site(base_url, tuple(files))


def _anchors(built: Sequence[BuiltEpisode]) -> dict[Path, str]:
    """Each episode's id on the page: its output's stem (stable across rebuilds), unique."""
    out: dict[Path, str] = {}
    taken: set[str] = set()
    for b in built:
        base = "".join(c if c.isalnum() or c in "-_" else "-" for c in b.output.stem) or "episode"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        out[b.output] = name
    return out


def _base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise UsageError(f"--base-url {url!r}: give the absolute http(s) URL the feed's folder is served at, "
                         "e.g. https://example.com/podcast")
    return url.strip().rstrip("/")


def _one_feed(episodes: Sequence[Episode], root: Path):
    """The show's feed section: every episode must have the same one (one feed is one show)."""
    first = episodes[0]
    for other in episodes[1:]:
        if other.feed != first.feed:
            a, b = (os.path.relpath(e.path, root) for e in (first, other))
            raise UsageError(f"{a} and {b} have different feed: sections: a feed is one show, so give the "
                             "episodes of one show the same feed: (from the show file they extend) and make "
                             "one feed per show")
    return first.feed


class _Tree:
    """Where each file goes in the site: its content-addressed name; two files never share a path."""

    def __init__(self):
        self.placed: dict[Path, str] = {}
        self._owners: dict[str, str] = {}

    def place(self, folder: str, source: Path, suffix: str | None = None) -> str:
        if source not in self.placed:
            rel = name_for(folder, source, suffix)
            # the same name means the same bytes: two copies of one file are one object
            self._owners.setdefault(rel, f"content {rel}")
            self.placed[source] = rel
        return self.placed[source]

    def claim(self, rel: str, what: str) -> str:
        owner = self._owners.setdefault(rel, what)
        if owner != what:
            raise UsageError(f"{what} and {owner} would both be published as {rel}: give the feed another name "
                             "with -o")
        return rel
