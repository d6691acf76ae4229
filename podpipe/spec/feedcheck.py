"""The checks of ``feed:`` and of what ``podpipe feed`` needs from each episode.

The schema checks the shape of ``feed:``; these rules check it against the world: Apple's category list, and
the cover image itself (format, size, squareness, colour mode, read from its header), which directories
otherwise reject days after the feed is out. ``podpipe feed`` also needs what a build does not: a ``feed:``
section and every episode's date.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from podpipe.categories import CATEGORIES
from podpipe.spec.image import read_image_info
from podpipe.spec.messages import suggest
from podpipe.spec.view import View
from podpipe.spec.yamldoc import DocPath

#: ``check_file(view, path, value)``: the file ``value`` written at ``path`` exists inside the project root
#: (``Checker.check_sound`` for artwork); reports to ``view`` when it does not
FileCheck = Callable[[View, DocPath, str], None]

#: a title that carries an episode or season number ("Episode 12: …", "Ep. 3 - …", "S2E5 …", "#12 …")
NUMBERED_TITLE = re.compile(r"\b(?:episode|ep\.?|season|part)\s*#?\d+|\bs\d+\s*e\d+\b|#\d+", re.IGNORECASE)
ARTWORK_MIN, ARTWORK_MAX = 1400, 3000  # Apple Podcasts' bounds for a show's cover, in pixels
_SUFFIXES = {"png": (".png",), "jpeg": (".jpg", ".jpeg")}


def check_feed(view: View, check_file: FileCheck, *, required: bool) -> None:
    """``feed:`` of the episode ``view``; with ``required`` (``podpipe feed``), also that there is one and that
    the episode has what an item needs (its date). ``check_file`` checks where the artwork file is."""
    data = view.data
    feed = data.get("feed")
    if required:
        if "feed" not in data:
            view.add((), "podpipe feed needs the show's feed metadata: add a feed: section (description, "
                         "artwork, category) to the show file this episode extends", field=("feed",))
        if "date" not in data:
            view.add((), "podpipe feed needs the episode's publication date: add `date: YYYY-MM-DD`",
                     field=("date",))
    if not isinstance(feed, dict):
        return
    title = data.get("title")
    if isinstance(title, str) and NUMBERED_TITLE.search(title):
        view.warn(("title",), f"the title {title.strip()!r} carries an episode or season number: Apple Podcasts asks "
                              "for titles without them (apps show episode: and season: on their own); write the "
                              "title without it (the feed's itunes:title already leaves out a leading "
                              "\"Episode N:\")")
    zone = feed.get("timezone")
    if isinstance(zone, str) and zone.strip() and not _known_zone(zone.strip()):
        view.add(("feed", "timezone"), f"{zone!r} is not a time zone podpipe knows: use an IANA name such as "
                                       "America/New_York, Europe/Berlin or UTC")
    if "title" not in feed and not isinstance(data.get("show"), str):
        view.add(("feed",), "the feed needs a title: add feed.title, or show: at the top level", key=True,
                 field=("feed", "title"))
    if "language" not in feed and not isinstance(data.get("language"), str):
        view.add(("feed",), "the feed needs a language (Apple requires one): add feed.language, or language: "
                            "at the top level, e.g. en-US", key=True, field=("feed", "language"))
    _check_category(view, feed)
    artwork = feed.get("artwork")
    if isinstance(artwork, str) and artwork.strip():
        before = len(view.diagnostics)
        check_file(view, ("feed", "artwork"), artwork)
        if len(view.diagnostics) == before:
            check_artwork(view, view.origin(("feed", "artwork")).target(artwork))


def _known_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _check_category(view: View, feed: dict) -> None:
    category, sub = feed.get("category"), feed.get("subcategory")
    if not isinstance(category, str):
        return
    if category not in CATEGORIES:
        hint = suggest(category, CATEGORIES)
        fix = f"did you mean {hint!r}?" if hint else f"use one of: {', '.join(CATEGORIES)}"
        view.add(("feed", "category"), f"{category!r} is not an Apple Podcasts category; {fix}")
        return
    if not isinstance(sub, str) or sub in CATEGORIES[category]:
        return
    subs = CATEGORIES[category]
    if not subs:
        fix = "it has no subcategories: remove subcategory"
    else:
        hint = suggest(sub, subs)
        fix = f"did you mean {hint!r}?" if hint else f"use one of: {', '.join(subs)}"
    view.add(("feed", "subcategory"), f"{sub!r} is not a subcategory of {category!r} on Apple Podcasts; {fix}")


def check_artwork(view: View, path: Path) -> None:
    """The cover at ``path`` (written at feed.artwork): a square RGB PNG or JPEG of 1400-3000 px."""
    where = ("feed", "artwork")
    try:
        info = read_image_info(path)
    except OSError as exc:
        view.add(where, f"artwork cannot be read ({exc.strerror or type(exc).__name__})")
        return
    if info is None:
        view.add(where, "artwork is not a PNG or JPEG image (its first bytes are neither's); save it as PNG or JPEG")
        return
    problems = []
    if path.suffix.lower() not in _SUFFIXES[info.format]:
        problems.append(f"it is a {info.format.upper()} image named {path.suffix}: rename it to "
                        f"{path.stem}{_SUFFIXES[info.format][0]}")
    if info.width != info.height:
        problems.append(f"it is {info.width}×{info.height} px, not square: crop it to a square")
    elif not ARTWORK_MIN <= info.width <= ARTWORK_MAX:
        problems.append(f"it is {info.width}×{info.height} px: Apple Podcasts takes {ARTWORK_MIN} to "
                        f"{ARTWORK_MAX} px, export it at {ARTWORK_MAX}×{ARTWORK_MAX}")
    if info.mode not in ("RGB", "RGBA"):
        problems.append(f"its colours are {info.mode}: save it in RGB")
    for problem in problems:
        view.add(where, f"artwork: {problem}")
    if not problems and info.mode == "RGBA":
        view.warn(where, "artwork has an alpha channel: some podcast apps show transparency as black; "
                         "save it in RGB without transparency")
