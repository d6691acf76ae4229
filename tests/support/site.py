"""Whether ``podpipe.feed.make_site`` (issue 14 parts 1-3, the feed branch) is there yet: the tests of the
whole ``podpipe publish`` command need it and are skipped until it lands. Delete this once it has."""

from __future__ import annotations

import pytest

import podpipe.feed

HAVE_MAKE_SITE = hasattr(podpipe.feed, "make_site")

needs_make_site = pytest.mark.skipif(not HAVE_MAKE_SITE, reason="podpipe.feed.make_site comes with the feed branch")
