"""The RSS 2.0 feed, with Apple's iTunes tags and the Podcasting 2.0 namespace.

Deterministic: the same episodes, files and base URL give the same bytes (no build time, no clock, elements
and attributes in a fixed order), so a feed kept in version control diffs by what changed. Every URL is
absolute, as feeds require; ``url`` maps a local file to the address it is published at.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # nosec B405  # writes the feed; parses no XML
from collections.abc import Callable, Sequence
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from podpipe import __version__
from podpipe.feed.built import BuiltEpisode
from podpipe.formats import SIDECARS
from podpipe.spec import Episode, Feed, Person

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
ATOM = "http://www.w3.org/2005/Atom"
_PREFIXES = {"itunes": ITUNES, "podcast": PODCAST, "atom": ATOM}


# a leading episode number Apple asks titles not to carry: "Episode 12: ", "Ep. 3 - ", "#12 ", "S1E2: "
_NUMBERING = re.compile(r"^\s*(?:(?:episode|ep\.?)\s*#?\d+|#\d+|s\d+\s*e\d+)\s*(?:[:.\-–—|]\s*|\s+)", re.IGNORECASE)


def published(date: str, zone: str = "UTC") -> datetime:
    """An episode's ``date:`` as an aware datetime: a bare date is midnight in ``zone`` (the show's
    feed.timezone), a time without an offset is in ``zone``, an offset (or Z) is its own."""
    when = datetime.fromisoformat(date.replace(" ", "T"))
    return when if when.tzinfo is not None else when.replace(tzinfo=ZoneInfo(zone))


def pub_date(date: str, zone: str = "UTC") -> str:
    """``date:`` as an RFC 2822 date with its offset, the form RSS's pubDate takes."""
    return format_datetime(published(date, zone))


def itunes_title(title: str) -> str:
    """The title without a leading episode number (itunes:episode carries it); the title as is when nothing
    else would be left."""
    stripped = _NUMBERING.sub("", title, count=1).strip()
    return stripped or title


def newest_first(episodes: Sequence[BuiltEpisode], zone: str = "UTC") -> list[BuiltEpisode]:
    """By publication time, then season and episode number, then spec path: a total order, so the feed is
    stable."""
    def key(b: BuiltEpisode):
        ep = b.episode
        when = published(ep.date, zone).timestamp() if ep.date else float("-inf")
        return (when, ep.season or 0, ep.episode or 0, str(ep.path))
    return sorted(episodes, key=key, reverse=True)


def episode_persons(episode: Episode, feed: Feed) -> list[Person]:
    """The episode's podcast:person: each speaker who speaks in it, with the role its ``role:`` gives, else
    the role (and picture, page) of the show's person of that name, else guest."""
    speaking = {t.speaker for s in episode.segments for t in s.turns}
    show = {p.name: p for p in feed.persons}
    out = []
    for speaker in episode.speakers:
        if speaker.id not in speaking:
            continue
        known = show.get(speaker.name)
        if known is not None:
            out.append(Person(speaker.name, speaker.role or known.role, known.group, known.img, known.href))
        else:
            out.append(Person(speaker.name, speaker.role or "guest"))
    return out


def _person(parent: ET.Element, person: Person) -> None:
    _el(parent, "podcast:person", person.name, role=person.role, group=person.group,
        **{k: v for k, v in (("img", person.img), ("href", person.href)) if v})


def _el(parent: ET.Element, tag: str, content: str | None = None, /, **attrs: str) -> ET.Element:
    prefix, _, name = tag.rpartition(":")
    element = ET.SubElement(parent, f"{{{_PREFIXES[prefix]}}}{name}" if prefix else name, attrs)
    if content is not None:
        element.text = content
    return element


def _bool(value: bool) -> str:
    return "true" if value else "false"


def rss(feed: Feed, episodes: Sequence[BuiltEpisode], *, feed_url: str, page_url: str, guid: str,
        url: Callable[[Path], str], link: Callable[[BuiltEpisode], str]) -> bytes:
    """The feed of ``episodes`` (built, newest first) for the show ``feed``; ``guid`` is its podcast:guid,
    ``link`` gives an episode's address on the show page."""
    for prefix, uri in _PREFIXES.items():
        ET.register_namespace(prefix, uri)
    root = ET.Element("rss", {"version": "2.0"})
    channel = _el(root, "channel")
    _el(channel, "title", feed.title)
    _el(channel, "link", feed.link or page_url)
    _el(channel, "description", feed.description)
    _el(channel, "language", feed.language)
    if feed.copyright:
        _el(channel, "copyright", feed.copyright)
    _el(channel, "generator", f"podpipe {__version__}")
    _el(channel, "atom:link", href=feed_url, rel="self", type="application/rss+xml")
    image = _el(channel, "image")
    _el(image, "url", url(feed.artwork))
    _el(image, "title", feed.title)
    _el(image, "link", feed.link or page_url)
    if feed.author:
        _el(channel, "itunes:author", feed.author)
    if feed.owner:
        owner = _el(channel, "itunes:owner")
        _el(owner, "itunes:name", feed.owner.name)
        _el(owner, "itunes:email", feed.owner.email)
    _el(channel, "itunes:image", href=url(feed.artwork))
    category = _el(channel, "itunes:category", text=feed.category)
    if feed.subcategory:
        _el(category, "itunes:category", text=feed.subcategory)
    _el(channel, "itunes:explicit", _bool(feed.explicit))
    _el(channel, "itunes:type", feed.type)
    _el(channel, "podcast:guid", guid)
    if feed.locked is not None:
        attrs = {"owner": feed.owner.email} if feed.owner else {}
        _el(channel, "podcast:locked", "yes" if feed.locked else "no", **attrs)
    for funding in feed.funding:
        _el(channel, "podcast:funding", funding.text, url=funding.url)
    for person in feed.persons:
        _person(channel, person)
    for built in episodes:
        _item(channel, feed, built, url, link)
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8",
                                                                     xml_declaration=False) + b"\n"


def _item(channel: ET.Element, feed: Feed, built: BuiltEpisode, url: Callable[[Path], str],
          link: Callable[[BuiltEpisode], str]) -> None:
    ep = built.episode
    item = _el(channel, "item")
    _el(item, "title", ep.title)
    if ep.description:
        _el(item, "description", ep.description)
    _el(item, "link", link(built))
    _el(item, "guid", built.guid, isPermaLink="false")
    if ep.date:
        _el(item, "pubDate", pub_date(ep.date, feed.timezone))
    _el(item, "enclosure", url=url(built.output), length=str(built.size), type=built.mime)
    _el(item, "itunes:title", itunes_title(ep.title))
    if ep.artwork is not None:
        _el(item, "itunes:image", href=url(ep.artwork))
    _el(item, "itunes:duration", str(round(built.duration)))
    _el(item, "itunes:episodeType", ep.episode_type)
    if ep.season is not None:
        _el(item, "itunes:season", str(ep.season))
    if ep.episode is not None:
        _el(item, "itunes:episode", str(ep.episode))
    _el(item, "itunes:explicit", _bool(feed.explicit if ep.explicit is None else ep.explicit))
    if ep.season is not None:
        _el(item, "podcast:season", str(ep.season))
    if ep.episode is not None:
        _el(item, "podcast:episode", str(ep.episode))
    language = {"language": ep.language} if ep.language else {}
    if built.vtt:
        _el(item, "podcast:transcript", url=url(built.vtt), type=SIDECARS["vtt"].feed_type, rel="captions", **language)
    if built.srt:
        _el(item, "podcast:transcript", url=url(built.srt), type=SIDECARS["srt"].feed_type, **language)
    if built.chapters:
        _el(item, "podcast:chapters", url=url(built.chapters), type=SIDECARS["chapters"].feed_type)
    for person in episode_persons(ep, feed):
        _person(item, person)

