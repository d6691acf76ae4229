"""The show as subscribers see it: the podcast feed, the show page, and the tree of files they are published as."""

from podpipe.feed.site import ROLES, Site, SiteFile

__all__ = ["ROLES", "Site", "SiteFile"]
