"""``podpipe publish SPECS --to URL --base-url URL``: the show's site (``podpipe.feed.make_site``: outputs,
sidecars, artwork, page, feed) uploaded to object storage by ``podpipe.publish``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from podpipe.errors import FlaggedError, UsageError
from podpipe.publish import Action, Published, check_target, publish, set_cors
from podpipe.sitecheck import Problem, SiteCheck, check_site


@dataclass(frozen=True)
class PublishOptions:
    to: str  # the store: s3://bucket/prefix, gs://, az://, file:///path
    base_url: str  # the public URL that store is served at (a CDN, a custom domain): the feed's links point there
    dry_run: bool = False
    skip_unbuilt: bool = False  # leave episodes that are not built out of the site instead of refusing
    timeout: float = 30.0  # seconds per request
    attempts: int = 3  # tries per request (the storage library's retries)
    prune: int | None = None  # remove what none of the last N feed revisions points at (None: remove nothing)
    allow_flagged: bool = False  # publish episodes with takes that failed review and are not accepted in the spec


def public_base(url: str) -> str:
    """``--base-url``, checked: an http(s) URL with a host and no query, without a trailing slash."""
    parts = urlsplit(url.strip())
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment
            or "@" in parts.netloc):
        raise UsageError(f"--base-url {url!r}: give the public http(s) URL the files are served at, e.g. "
                         f"https://cdn.example.org/show (no query string, no credentials)")
    return url.strip().rstrip("/")


def publish_specs(specs: Sequence[str | Path], options: PublishOptions,
                  on_action: Callable[[Action], None] | None = None) -> Published:
    """Build the site of ``specs`` and publish it; the target and the base URL are checked before any spec is
    read, so a typo costs nothing."""
    check_target(options.to)
    base = public_base(options.base_url)
    if not options.allow_flagged:
        from podpipe.commands.review import flagged_outputs

        flagged = flagged_outputs(specs)
        if flagged:
            raise FlaggedError("\n".join([
                f"refusing to publish: {len(flagged)} line{'s' if len(flagged) != 1 else ''} failed take review on "
                "every take and nobody accepted them (`podpipe review SPECS` lists their takes to listen to):",
                *flagged,
                "Accept a take with `accept: <take id>` on its segment, re-roll it with a new `take:`, or publish "
                "anyway with --allow-flagged."]))
    from podpipe.feed import make_site  # the feed package's site builder

    site = make_site(list(specs), base, skip_unbuilt=options.skip_unbuilt)
    return publish(site, options.to, dry_run=options.dry_run, timeout=options.timeout, attempts=options.attempts,
                   on_action=on_action, prune=options.prune)


def check_published(feed_url: str, on_problem: Callable[[Problem], None] | None = None) -> SiteCheck:
    """``podpipe publish --check URL``: the live show at ``feed_url`` checked as apps and web players fetch it
    (``podpipe.sitecheck``)."""
    return check_site(feed_url, on_problem=on_problem)


def set_bucket_cors(options: PublishOptions) -> str | None:
    """``podpipe publish --set-cors``: the CORS rule web players need, set on the bucket of ``options.to``;
    None when set, else what to do instead (where podpipe cannot set it)."""
    return set_cors(options.to, timeout=options.timeout, attempts=options.attempts)
