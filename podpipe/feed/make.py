"""``make_site``: the specs of a show, built, as the ``Site`` that ``podpipe feed`` writes and ``podpipe
publish`` uploads: the episodes' audio and sidecars, the cover, the show page and, last, the feed.

The site is rooted at the feed's directory. A file inside it keeps its path relative to it (build into the
folder the feed goes to, and nothing is copied). A file outside it (an output built elsewhere, the cover
in episodes/assets) is placed under ``files/`` by its path relative to the project root
(``files/episodes/assets/cover.png``), or by its name when it lies outside the project too; two files that
would land on one path are an error, never a silent overwrite.
"""

from __future__ import annotations

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
OUTSIDE = "files"  # where files from outside the site root go


def make_site(spec_paths: Sequence[str | Path], base_url: str, *, skip_unbuilt: bool = False,
              feed_path: str | Path | None = None, root: Path | None = None, allow_outside: bool = False,
              strict: bool = False, notes: Callable[[str], None] | None = None) -> Site:
    """Everything the show of ``spec_paths`` needs published, the feed last.

    ``base_url`` is where the site root will be served (``https://example.com/podcast``). ``feed_path`` is
    where the feed file goes (its folder is the site root, its name the feed's); default: ``feed.xml`` in the
    folder holding all the outputs. ``root`` is the project root (default: the working directory). An episode
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
    if feed_path is None:
        site_root = Path(os.path.commonpath([e.output.path.parent for e in episodes]))
        feed_name = FEED_NAME
    else:
        feed_file = Path(os.path.abspath(feed_path))
        site_root, feed_name = feed_file.parent, feed_file.name
    built = []
    for episode in episodes:
        try:
            built.append(built_episode(episode, feed, root))
        except NotBuiltError as exc:
            if not skip_unbuilt:
                raise
            note(f"skipped {exc}")
    built = newest_first(built)

    tree = _Tree(site_root, root)
    files = []
    for b in built:
        files.append(SiteFile(tree.place(b.output), b.mime, "media", source=b.output))
        for p in b.sidecars:
            sidecar = sidecar_of(p)
            files.append(SiteFile(tree.place(p), sidecar.media_type, sidecar.role, source=p))
    artwork_type = read_image_info(feed.artwork).media_type  # validation made sure it is a PNG or JPEG
    files.append(SiteFile(tree.place(feed.artwork), artwork_type, "artwork", source=feed.artwork))
    feed_rel = tree.claim(feed_name, "the feed")
    page_rel = tree.claim(PAGE_NAME, "the show page")
    feed_url, page_url = f"{base_url}/{quote(feed_rel)}", f"{base_url}/{quote(page_rel)}"

    def anchor(b: BuiltEpisode) -> str:
        return "".join(c if c.isalnum() or c in "-_" else "-" for c in tree.placed[b.output].rsplit(".", 1)[0])

    xml = rss(feed, built, feed_url=feed_url, page_url=page_url, guid=channel_guid(feed, feed_url),
              url=lambda p: f"{base_url}/{quote(tree.placed[p])}", link=lambda b: f"{page_url}#{anchor(b)}")
    html = page(feed, built, href=lambda p: quote(tree.placed[p]), feed_href=quote(feed_rel), anchor=anchor)
    files.append(SiteFile(page_rel, "text/html; charset=utf-8", "page", data=html))
    files.append(SiteFile(feed_rel, "application/rss+xml; charset=utf-8", "feed", data=xml))
    return Site(base_url, tuple(files))


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
    """Where each file goes below the site root; two files never share a path."""

    def __init__(self, site_root: Path, project_root: Path):
        self.site_root, self.project_root = site_root, project_root
        self.placed: dict[Path, str] = {}
        self._owners: dict[str, str] = {}

    def place(self, source: Path) -> str:
        if source in self.placed:
            return self.placed[source]
        if source.is_relative_to(self.site_root):
            rel = source.relative_to(self.site_root).as_posix()
        elif source.is_relative_to(self.project_root):
            rel = f"{OUTSIDE}/{source.relative_to(self.project_root).as_posix()}"
        else:
            rel = f"{OUTSIDE}/{source.name}"
        self.claim(rel, str(source))
        self.placed[source] = rel
        return rel

    def claim(self, rel: str, what: str) -> str:
        owner = self._owners.setdefault(rel, what)
        if owner != what:
            raise UsageError(f"{what} and {owner} would both be published as {rel}: give one of them another "
                             "name or folder (or put the feed elsewhere with -o)")
        return rel
