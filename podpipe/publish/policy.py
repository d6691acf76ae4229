"""How published files are served and in what order they go up: the one table of ``Cache-Control`` by role.

- media and sidecars (``public, max-age=86400``): large and fetched once per listener; a day lets a CDN
  carry them, while a rebuilt episode (a fixed line) still reaches everyone within a day;
- artwork (a week): changes least and is fetched by every app that shows the show;
- the page and the feed (``max-age=300``): podcast apps poll the feed, and a new episode must show within
  minutes;
- the publish index (``no-cache``): podpipe's own record, never something to serve stale.

Upload order follows ``podpipe.feed.ROLES``: media, sidecars, artwork, the page, then the feed, so the live
feed never names a file that is not there yet; the index goes after the feed.
"""

from __future__ import annotations

from podpipe.feed import ROLES

CACHE_CONTROL: dict[str, str] = {
    "media": "public, max-age=86400",
    "sidecar": "public, max-age=86400",
    "artwork": "public, max-age=604800",
    "page": "public, max-age=300",
    "feed": "public, max-age=300",
}

#: podpipe's record of what it published, at the root of the target (see ``podpipe.publish.index``)
INDEX_NAME = ".podpipe-publish.json"
INDEX_CACHE_CONTROL = "no-cache"
INDEX_MEDIA_TYPE = "application/json"


def order(role: str) -> int:
    """Where files of ``role`` go in the upload order."""
    return ROLES.index(role)
