"""The show as subscribers see it: the podcast feed, the show page, and the tree of files they are published as.

``make_site`` turns built episodes into a ``Site``: their audio and sidecars, the cover, ``index.html`` and
the RSS feed (last), each at its path below the site root. ``podpipe feed`` writes it to disk, ``podpipe
publish`` uploads it.
"""

from podpipe.feed.make import make_site
from podpipe.feed.site import ROLES, Site, SiteFile

__all__ = ["ROLES", "Site", "SiteFile", "make_site"]
