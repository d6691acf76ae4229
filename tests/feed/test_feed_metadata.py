"""Episode metadata podcast apps show, in the feed of a show built for real: episode-level podcast:person from
the speakers (with roles), an episode's own artwork as its itunes:image, itunes:title without "Episode N:"
(and validate's warning about numbered titles), and publication times with their zone."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime

import feedparser
import pytest

from podpipe.feed import make_site
from podpipe.feed.rss import itunes_title, pub_date
from tests.support.cli import run
from tests.support.show import png

BASE = "https://example.com/show"
SPECS = ["ep01.yaml", "ep02.yaml"]
NS = {"itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd", "podcast": "https://podcastindex.org/namespace/1.0"}


def edit(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def items(show) -> dict[str, ET.Element]:
    root = ET.fromstring(make_site(SPECS, BASE).feed.read())
    return {i.find("title").text: i for i in root.find("channel").findall("item")}


def test_episode_persons_come_from_the_speakers_with_their_roles(show):
    got = items(show)
    persons = [(p.text, p.get("role"), p.get("group")) for p in got["Episode 1: Hello"].findall("podcast:person", NS)]
    assert persons == [("Alex", "host", "cast"), ("Sam", "guest", "cast")]  # Alex: the show's host; Sam: a guest
    edit(show / "show.yaml", "guest: {voice: Puck, name: Sam}", "guest: {voice: Puck, name: Sam, role: co-host}")
    got = items(show)
    assert [(p.text, p.get("role")) for p in got["Episode 1: Hello"].findall("podcast:person", NS)] == [
        ("Alex", "host"), ("Sam", "co-host")]
    (show / "ep02.yaml").write_text((show / "ep02.yaml").read_text().replace("  - guest: Good to be back.\n", ""))
    assert [p.text for p in items(show)["Episode 2: Again"].findall("podcast:person", NS)] == ["Alex"]  # speaks


def test_an_episodes_own_artwork_is_its_itunes_image(show):
    png(show / "ep01.png", 1400, 1400, colour_type=0)
    edit(show / "ep01.yaml", "episode: 1\n", "episode: 1\nartwork: ep01.png\n")
    site = make_site(SPECS, BASE)
    got = items(show)
    href = got["Episode 1: Hello"].find("itunes:image", NS).get("href")
    digest = hashlib.sha256((show / "ep01.png").read_bytes()).hexdigest()[:12]
    assert href == f"{BASE}/artwork/ep01.{digest}.png"
    assert got["Episode 2: Again"].find("itunes:image", NS) is None  # the show's cover stands for it
    art = {f.path: f for f in site.files if f.role == "artwork"}
    assert f"artwork/ep01.{digest}.png" in art and len(art) == 2


def test_itunes_title_leaves_out_the_episode_number_and_validate_warns(show):
    got = items(show)
    item = got["Episode 1: Hello"]
    assert item.find("itunes:title", NS).text == "Hello" and item.find("itunes:episode", NS).text == "1"
    parsed = feedparser.parse(make_site(SPECS, BASE).feed.read())
    assert not parsed.bozo and parsed.entries[1].title == "Episode 1: Hello"
    result = run("validate", "ep01.yaml")
    assert "carries an episode or season number" in result.output and "'Episode 1: Hello'" in result.output
    edit(show / "ep01.yaml", 'title: "Episode 1: Hello"', "title: Hello")
    assert "episode or season number" not in run("validate", "ep01.yaml").output


@pytest.mark.parametrize("title, expected", [
    ("Episode 12: Forty Thousand Neighbours", "Forty Thousand Neighbours"),
    ("Ep. 3 - Bees", "Bees"), ("#7 Rivers", "Rivers"), ("S2E5: Finale", "Finale"), ("episode 4 — Wind", "Wind"),
    ("Episode 12", "Episode 12"),  # nothing else left: kept
    ("The 12 Labours", "The 12 Labours"), ("Seven Episodes of Rain", "Seven Episodes of Rain"),
])
def test_itunes_title(title, expected):
    assert itunes_title(title) == expected


def test_dates_carry_a_time_and_zone(show):
    edit(show / "show.yaml", "  locked: false\n", "  locked: false\n  timezone: America/New_York\n")
    edit(show / "ep01.yaml", "date: 2026-01-05", "date: 2026-01-12T09:00:00-05:00")
    edit(show / "ep02.yaml", "date: 2026-01-12", "date: '2026-01-12T06:30:00+01:00'")
    got = items(show)
    assert list(got) == ["Episode 1: Hello", "Episode 2: Again"]  # 14:00 UTC is newer than 05:30 UTC
    assert got["Episode 1: Hello"].find("pubDate").text == "Mon, 12 Jan 2026 09:00:00 -0500"
    assert got["Episode 2: Again"].find("pubDate").text == "Mon, 12 Jan 2026 06:30:00 +0100"
    edit(show / "ep02.yaml", "date: '2026-01-12T06:30:00+01:00'", "date: 2026-01-12")  # midnight in New York
    assert items(show)["Episode 2: Again"].find("pubDate").text == "Mon, 12 Jan 2026 00:00:00 -0500"
    edit(show / "ep01.yaml", "date: 2026-01-12T09:00:00-05:00", "date: 2026-07-01T09:00")  # summer time there
    assert items(show)["Episode 1: Hello"].find("pubDate").text == "Wed, 01 Jul 2026 09:00:00 -0400"
    assert run("validate", "ep01.yaml").exit_code == 0


def test_a_bare_date_is_midnight_utc_by_default_and_bad_values_are_refused(show):
    assert pub_date("2026-01-05") == "Mon, 05 Jan 2026 00:00:00 +0000"
    assert parsedate_to_datetime(pub_date("2026-11-23T06:00:00Z")).isoformat() == "2026-11-23T06:00:00+00:00"
    edit(show / "show.yaml", "  locked: false\n", "  locked: false\n  timezone: Mars/Olympus\n")
    bad = run("validate", "ep01.yaml", code=2).output
    assert "'Mars/Olympus' is not a time zone" in bad and "America/New_York" in bad
    edit(show / "show.yaml", "  timezone: Mars/Olympus\n", "")
    edit(show / "ep01.yaml", "date: 2026-01-05", "date: 2026-01-05 at six")
    assert "2026-11-23T06:00:00-05:00" in run("validate", "ep01.yaml", code=2).output
