"""``podpipe publish``: a ``podpipe.feed.Site`` uploaded to object storage (s3://, gs://, az://, file://)
through ``podpipe.storage``, with the right headers, only what changed, the feed last.

``publish(site, to)`` keeps the live feed whole:

1. Plan (reads only): the publish index, one listing of the target, and for each file whose index entry
   does not match, one ``stat`` (HEAD) of its object: a file already there with the same content hash
   (our sha256 metadata, an S3 single-part ETag's MD5, or a file:// file's own hash) and headers is not
   sent again, e.g. after an interrupted publish.
2. Upload what differs, in role order, each with its ``Content-Type`` (the site's: ``podpipe.formats`` for
   media and sidecars) and ``Cache-Control``; the feed goes last, so a publish that fails part way leaves
   the previous feed live, naming only files that are there.
3. With ``prune``, delete what no kept feed revision names (the feed is live by then); write the index,
   when it changed.

Nothing is deleted unless asked: a file no longer in the site stays (podcast apps and CDNs keep old URLs),
until ``prune=N`` (``podpipe publish --prune``) removes the objects podpipe published that none of the last N
feed revisions points at. What was done comes back as ``Published`` (its ``summary()`` is the line the CLI
prints).

How files are served (``CACHE_CONTROL``, one table by role):

- media, sidecars and artwork (``public, max-age=31536000, immutable``): the site names them by their
  content (``podpipe.feed.make``: a short hash in the name), so an object never changes in place: a rebuilt
  episode is a new object at a new URL, and a CDN may keep every object for a year;
- the page and the feed (``max-age=300``): podcast apps poll the feed, and a new episode (or a rebuilt one's
  new URL) must show within minutes;
- the publish index (``no-cache``): podpipe's own record, never something to serve stale.

Upload order follows ``podpipe.feed.ROLES``: media, sidecars, artwork, the page, then the feed, so the live
feed never names a file that is not there yet; the index goes after the feed.

The publish index, ``.podpipe-publish.json`` at the target's root, records what podpipe last published
there, so the next publish compares hashes instead of asking the store about every file. It is written
after the feed (so it never claims a file an interrupted publish did not finish)::

    {"format": 2, "files": {"episodes/ep12.1f2e3d4c5b6a.mp3": {"sha256": "…", "size": 3456789,
                              "content_type": "audio/mpeg", "cache_control": "public, max-age=31536000, immutable"}},
     "revisions": [["episodes/ep12.1f2e3d4c5b6a.mp3", "feed.xml", …], …]}

``revisions`` are the paths of the sites of the last ``KEEP_REVISIONS`` published feeds, newest first: what
``--prune`` keeps. An index of format 1 (no revisions) counts all its files as the previous feed's, so
nothing it named is pruned until newer revisions push it out.

A file is trusted as published when its entry matches the local sha256 and headers and the store's listing
shows an object of that size. An index that is missing, unreadable or of another format is no index: then
every file is compared with what the store says of its object (``Blobs.stat``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

from podpipe.errors import PodpipeError, PublishError, UsageError
from podpipe.feed import ROLES, Site, SiteFile
from podpipe.secrets import scrub_text
from podpipe.storage import Blobs, Cors, Location, Meta, Unsupported, open_blobs, parse_url

CHUNK = 1 << 20

IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_CONTROL: dict[str, str] = {
    "media": IMMUTABLE,
    "sidecar": IMMUTABLE,
    "artwork": IMMUTABLE,
    "page": "public, max-age=300",
    "feed": "public, max-age=300",
}

#: podpipe's record of what it published, at the root of the target (the publish index)
INDEX_NAME = ".podpipe-publish.json"
INDEX_CACHE_CONTROL = "no-cache"
INDEX_MEDIA_TYPE = "application/json"


def order(role: str) -> int:
    """Where files of ``role`` go in the upload order."""
    return ROLES.index(role)


# -- the publish index --------------------------------------------------------------------------------------

INDEX_FORMAT = 2
KEEP_REVISIONS = 20  # feed revisions the index remembers (``--prune N`` keeps what the last N point at)
PRUNE_DEFAULT = 5


@dataclass(frozen=True)
class Entry:
    sha256: str
    size: int
    content_type: str
    cache_control: str


@dataclass(frozen=True)
class Index:
    entries: dict[str, Entry]
    revisions: tuple[tuple[str, ...], ...] = ()  # the paths of each published site, newest first


def parse_index(data: bytes | None) -> Index | None:
    """A stored index; None when there is none or it cannot be trusted."""
    if data is None:
        return None
    try:
        doc = json.loads(data)
        if doc.get("format") not in (1, INDEX_FORMAT):
            return None
        entries = {str(path): Entry(str(e["sha256"]), int(e["size"]), str(e["content_type"]),
                                    str(e["cache_control"])) for path, e in doc["files"].items()}
        if doc["format"] == 1:  # no history: its files were what the previous feed named, as far as we know
            return Index(entries, (tuple(sorted(entries)),) if entries else ())
        return Index(entries, tuple(tuple(str(p) for p in r) for r in doc["revisions"]))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def dump_index(index: Index) -> bytes:
    """The index as stored: sorted, so the same entries give the same bytes (no needless rewrite)."""
    entries = index.entries
    doc = {"format": INDEX_FORMAT, "files": {path: asdict(entries[path]) for path in sorted(entries)},
           "revisions": [sorted(r) for r in index.revisions[:KEEP_REVISIONS]]}
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def with_revision(revisions: tuple[tuple[str, ...], ...], paths: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """``revisions`` after publishing a site of ``paths`` (a site equal to the newest is no new revision)."""
    paths = tuple(sorted(paths))
    if revisions and tuple(sorted(revisions[0])) == paths:
        return revisions[:KEEP_REVISIONS]
    return ((paths,) + revisions)[:KEEP_REVISIONS]


def prunable(index: Index, keep: int) -> list[str]:
    """The objects podpipe published (the index's entries) that none of the last ``keep`` revisions names."""
    kept = {p for r in index.revisions[:keep] for p in r}
    return sorted(p for p in index.entries if p not in kept)


# -- publishing ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Action:
    """What publish does (or, in a dry run, would do) with one file."""

    path: str
    role: str
    size: int
    upload: bool
    reason: str  # new, changed, headers changed, missing from the store, unchanged, already there, …

    def line(self) -> str:
        return f"{'upload' if self.upload else 'skip':<6}  {self.path}  ({human_size(self.size)}): {self.reason}"


@dataclass(frozen=True)
class Published:
    """What a publish did (or, in a dry run, would do)."""

    target: str  # the store URL as shown (no credentials)
    feed_url: str  # the feed's public URL
    dry_run: bool
    actions: tuple[Action, ...]  # in upload order, the feed last
    index_written: bool
    notes: tuple[str, ...] = ()
    pruned: tuple[str, ...] = ()  # objects --prune removed (in a dry run: would remove)

    @property
    def uploads(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.upload)

    def summary(self) -> str:
        up = self.uploads
        size = human_size(sum(a.size for a in up))
        skipped = len(self.actions) - len(up)
        verb = "would upload" if self.dry_run else "uploaded"
        pruned = (f", {'would prune' if self.dry_run else 'pruned'} {len(self.pruned)} old "
                  f"object{'s' if len(self.pruned) != 1 else ''}") if self.pruned else ""
        return (f"{verb} {len(up)} file{'s' if len(up) != 1 else ''} ({size}) to {self.target}, {skipped} unchanged"
                f"{pruned}; feed: {self.feed_url}")


def human_size(n: int) -> str:
    return f"{n} B" if n < 1000 else f"{n / 1e3:.1f} kB" if n < 1e6 else f"{n / 1e6:.1f} MB"


def publish(site: Site, to: str, *, dry_run: bool = False, timeout: float = 30.0, attempts: int = 3,
            on_action: Callable[[Action], None] | None = None, prune: int | None = None,
            environ: Mapping[str, str] | None = None) -> Published:
    """Upload ``site`` to the store ``to`` (s3://, gs://, az://, file://); see the module docstring.

    ``on_action`` is told of each file as it is uploaded or skipped (in a dry run: as it is planned).
    ``prune=N`` then deletes the objects podpipe published that none of the last N feed revisions (this one
    included) points at, after the feed is live.
    ``timeout``/``attempts`` bound each request, as for the remote cache. Raises ``UsageError`` for a bad
    URL, a read-only store, a missing extra or a site that cannot be published, and ``PublishError`` when
    the store fails (unreachable, denied, throttled after retries): its message names the URL and says
    that the live feed is unchanged.
    """
    location = check_target(to)
    files = _checked(site)
    if prune is not None and prune < 1:
        raise UsageError(f"--prune {prune}: keep at least the live feed's files (1 or more revisions)")
    env = os.environ if environ is None else environ
    blobs = open_blobs(location, timeout=timeout, attempts=attempts)
    run = _Run(blobs, env)
    try:
        return run.go(site, files, dry_run, on_action or (lambda action: None), prune)
    finally:
        blobs.close()


#: what web players need of the bucket: any origin may GET and HEAD (with Range) transcripts and chapters
CORS = Cors()


def set_cors(to: str, *, timeout: float = 30.0, attempts: int = 3,
             environ: Mapping[str, str] | None = None) -> str | None:
    """Give the bucket of ``to`` the CORS rule ``CORS`` (``podpipe publish --set-cors``). Returns None when
    it was set, or, where podpipe cannot set it (file://, gs://, az://), what to do instead. Raises
    ``PublishError`` when the store refuses (e.g. credentials without s3:PutBucketCORS)."""
    location = check_target(to)
    blobs = open_blobs(location, timeout=timeout, attempts=attempts)
    try:
        blobs.set_cors(CORS)
        return None
    except Unsupported as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - whatever the storage library raises is the store failing
        detail = scrub_text(f"{type(exc).__name__}: {exc}", os.environ if environ is None else environ, limit=600)
        raise PublishError(f"setting CORS on {blobs.display} failed ({detail}); the bucket's CORS is a bucket "
                           f"setting: use credentials that may change it (s3:PutBucketCORS), or set it in the "
                           f"provider's console as docs/publishing.md shows") from exc
    finally:
        blobs.close()


def check_target(to: str) -> Location:
    """The store ``--to`` names, if podpipe can publish there; raises ``UsageError`` saying why not."""
    location = parse_url(to, "--to")
    if not location.writable:
        raise UsageError(f"--to {location.display}: {location.scheme}:// is read only; publish to an s3://, gs://, "
                         f"az:// or file:// URL")
    return location


def _checked(site: Site) -> list[SiteFile]:
    """The site's files in upload order; refuses a site that could not be published as it is."""
    seen: set[str] = set()
    for f in site.files:
        parts = PurePosixPath(f.path).parts
        if (not f.path or f.path.startswith("/") or "\\" in f.path or any(p in (".", "..") for p in parts)
                or f.path != "/".join(parts)):
            raise UsageError(f"cannot publish {f.path!r}: site paths are relative POSIX paths without '.' or '..'")
        if f.path == INDEX_NAME or f.path in seen:
            raise UsageError(f"cannot publish {f.path!r}: "
                             f"{'the name of the publish index' if f.path == INDEX_NAME else 'two files of one name'}")
        if f.role not in ROLES:
            raise UsageError(f"cannot publish {f.path!r}: unknown role {f.role!r} (one of {', '.join(ROLES)})")
        seen.add(f.path)
    feeds = [f for f in site.files if f.role == "feed"]
    if len(feeds) != 1:
        raise UsageError(f"cannot publish a site with {len(feeds)} feeds: it needs exactly one")
    return sorted(site.files, key=lambda f: order(f.role))  # stable: the site's order within a role


@dataclass
class _Local:
    file: SiteFile
    sha256: str
    size: int


def _digest(f: SiteFile, algorithm: str = "sha256") -> tuple[str, int]:
    h = hashlib.new(algorithm, usedforsecurity=False)  # md5: S3's ETag, a comparison, not a seal
    if f.data is not None:
        h.update(f.data)
        return h.hexdigest(), len(f.data)
    try:
        with open(f.source, "rb") as src:
            while chunk := src.read(CHUNK):
                h.update(chunk)
            return h.hexdigest(), src.tell()
    except FileNotFoundError:
        raise UsageError(f"cannot publish {f.path}: {f.source} does not exist (run podpipe build first, or "
                         f"leave unbuilt episodes out with --skip-unbuilt)") from None


class _Run:
    def __init__(self, blobs: Blobs, environ: Mapping[str, str]):
        self.blobs, self.environ = blobs, environ
        self.doing = ""

    def _fail(self, exc: Exception, uploaded: list[Action], feed_done: bool) -> PublishError:
        detail = scrub_text(f"{type(exc).__name__}: {exc}", self.environ, limit=600)
        if feed_done:
            state = "the new feed is live; only podpipe's publish index was not updated"
        elif uploaded:
            state = (f"{len(uploaded)} file{'s' if len(uploaded) != 1 else ''} went up before it, but the feed was "
                     f"not touched: the previous feed is still live")
        else:
            state = "nothing was changed"
        return PublishError(f"publish to {self.blobs.display}: {self.doing} failed ({detail}); {state}; run the "
                            f"same command again to finish")

    def go(self, site: Site, files: list[SiteFile], dry_run: bool, on_action: Callable[[Action], None],
           prune: int | None) -> Published:
        uploaded: list[Action] = []
        feed_done = False
        try:
            self.doing = f"reading {INDEX_NAME}"
            raw_index = self.blobs.read(INDEX_NAME)
            index = parse_index(raw_index)
            notes = []
            if index is None:
                state = "is damaged" if raw_index is not None else "is not there (yet)"
                notes.append(f"the publish index {self.blobs.display}/{INDEX_NAME} {state}: comparing each file "
                             f"with the store")
            known = index.entries if index else {}
            self.doing = "listing the target"
            present = self._present()
            actions: list[Action] = []
            entries = dict(known)
            for f in files:
                local = _Local(f, *_digest(f))
                self.doing = f"looking at {f.path}"
                action = self._decide(local, known.get(f.path), present)
                actions.append(action)
                entries[f.path] = Entry(local.sha256, local.size, f.media_type, CACHE_CONTROL[f.role])
                if action.upload and not dry_run:
                    self.doing = f"uploading {f.path}"
                    self._put(f, local.sha256)
                    uploaded.append(action)
                    feed_done = f.role == "feed"
                on_action(action)
            new = Index(entries, with_revision(index.revisions if index else (), tuple(f.path for f in files)))
            pruned: tuple[str, ...] = ()
            if prune is not None:
                pruned = tuple(prunable(new, prune))
                if not dry_run:
                    for path in pruned:
                        self.doing = f"pruning {path}"
                        self.blobs.delete(path)
                        del entries[path]
            new_index = dump_index(new)
            index_written = not dry_run and new_index != raw_index
            if index_written:
                self.doing = f"writing {INDEX_NAME}"
                self.blobs.write(INDEX_NAME, new_index, Meta(INDEX_MEDIA_TYPE, INDEX_CACHE_CONTROL))
        except PodpipeError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the storage library raises is the store failing
            raise self._fail(exc, uploaded, feed_done) from exc
        return Published(self.blobs.display, site.url(site.feed.path), dry_run, tuple(actions), index_written,
                         tuple(notes), pruned)

    def _present(self) -> dict[str, int] | None:
        """path -> size of every object below the target, or None for a store that cannot list."""
        try:
            return dict(self.blobs.listing(""))
        except Unsupported:
            return None

    def _decide(self, local: _Local, entry: Entry | None, present: dict[str, int] | None) -> Action:
        f = local.file
        wanted = Meta(f.media_type, CACHE_CONTROL[f.role], local.sha256)

        def act(upload: bool, reason: str) -> Action:
            return Action(f.path, f.role, local.size, upload, reason)

        listed = None if present is None else present.get(f.path)
        if present is not None and listed is None:
            return act(True, "missing from the store" if entry else "new")
        if entry is not None and (entry.sha256, entry.size, entry.content_type, entry.cache_control) == \
                (local.sha256, local.size, wanted.content_type, wanted.cache_control) and listed in (None, local.size):
            return act(False, "unchanged")
        stat = self.blobs.stat(f.path)
        if stat is None:
            return act(True, "new")
        if stat.size != local.size:
            return act(True, "changed")
        if stat.meta.sha256 is not None:
            same = stat.meta.sha256 == local.sha256
        elif stat.md5 is not None:
            same = stat.md5 == _digest(f, "md5")[0]
        else:
            return act(True, "cannot compare with the store's copy")
        if not same:
            return act(True, "changed")
        for name in ("content_type", "cache_control"):
            there = getattr(stat.meta, name)
            if there is not None and there != getattr(wanted, name):
                return act(True, "headers changed")
        return act(False, "already there")

    def _put(self, f: SiteFile, sha256: str) -> None:
        meta = Meta(f.media_type, CACHE_CONTROL[f.role], sha256)
        if f.data is not None:
            self.blobs.write(f.path, f.data, meta)
        else:
            self.blobs.upload(f.path, f.source, meta)
