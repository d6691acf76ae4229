"""``podpipe feed`` and ``make_site`` on a show built for real with the offline voice: the feed parses with a
real feed parser, carries Apple's required tags and follows the Podcasting 2.0 namespace's rules, and every
URL in it points at a file of the written tree, described exactly (length, duration)."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser

from podpipe.feed import ROLES, make_site
from tests.support.cli import run
from tests.support.show import UNBUILT

BASE = "https://example.com/show"
NS = {"itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd", "podcast": "https://podcastindex.org/namespace/1.0",
      "atom": "http://www.w3.org/2005/Atom"}
SPECS = ("ep01.yaml", "ep02.yaml")


def feed(*args: str, code: int = 0):
    return run("feed", *SPECS, "--base-url", BASE, *args, code=code)


def channel(path: Path) -> ET.Element:
    return ET.parse(path).getroot().find("channel")


def local(url: str, site: Path) -> Path:
    assert url.startswith(BASE + "/"), url
    return site / url[len(BASE) + 1:]


def test_feed_parses_and_has_apples_required_tags(show):
    feed("-o", "site/feed.xml")
    parsed = feedparser.parse(str(show / "site" / "feed.xml"))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "The Test Show" and parsed.feed.language == "en-US"
    assert [e.title for e in parsed.entries] == ["Episode 2: Again", "Episode 1: Hello"]  # newest first
    assert parsed.entries[0].published_parsed[:3] == (2026, 1, 12)
    ch = channel(show / "site" / "feed.xml")
    for tag in ("title", "description", "language", "itunes:image", "itunes:category", "itunes:explicit"):
        assert ch.find(tag, NS) is not None, tag
    assert ch.find("itunes:image", NS).get("href").startswith(BASE + "/")
    assert ch.find("itunes:category", NS).get("text") == "Technology"
    assert ch.find("itunes:explicit", NS).text in ("true", "false")
    assert ch.find("itunes:owner/itunes:email", NS).text == "alex@example.com"
    assert ch.find("atom:link", NS).get("href") == f"{BASE}/feed.xml"
    for item in ch.findall("item"):
        assert item.find("title").text and item.find("guid").text and item.find("pubDate").text
        enclosure = item.find("enclosure")
        assert enclosure.get("url") and enclosure.get("length") and enclosure.get("type") == "audio/mpeg"


def test_lengths_durations_and_sidecar_urls_match_the_built_files(show):
    feed("-o", "site/feed.xml")
    site = show / "site"
    ch = channel(site / "feed.xml")
    for item in ch.findall("item"):
        enclosure = local(item.find("enclosure").get("url"), site)
        assert enclosure.is_file() and int(item.find("enclosure").get("length")) == enclosure.stat().st_size
        assert re.fullmatch(r"ep0[12]\.[0-9a-f]{12}\.mp3", enclosure.name) and enclosure.parent.name == "episodes"
        stem = enclosure.name.split(".")[0]
        manifest = json.loads((show / "build" / f"{stem}.manifest.json").read_text())  # not published
        assert manifest["output"]["size"] == enclosure.stat().st_size
        assert int(item.find("itunes:duration", NS).text) == round(manifest["duration"])
        transcripts = {t.get("type"): t for t in item.findall("podcast:transcript", NS)}
        assert transcripts["text/vtt"].get("rel") == "captions"
        assert local(transcripts["text/vtt"].get("url"), site).read_text().startswith("WEBVTT")
        assert local(transcripts["application/x-subrip"].get("url"), site).is_file()
        assert item.find("podcast:season", NS).text == "1"
    chapters = {i.find("title").text: i.find("podcast:chapters", NS) for i in ch.findall("item")}
    assert chapters["Episode 2: Again"] is None  # no chapter: marks, no chapters file
    tag = chapters["Episode 1: Hello"]
    assert tag.get("type") == "application/json+chapters"
    data = json.loads(local(tag.get("url"), site).read_text())
    assert [c["title"] for c in data["chapters"]] == ["Hello", "Goodbye"]
    cover = local(ch.find("itunes:image", NS).get("href"), site)
    assert cover.read_bytes() == (show / "cover.png").read_bytes()


def test_channel_guid_is_the_namespace_uuid_of_the_feed_url(show):
    result = feed()  # no -o: the feed on stdout, nothing written
    assert not (show / "build" / "feed.xml").exists()
    root = ET.fromstring(result.stdout.encode())
    expected = uuid.uuid5(uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6"), "example.com/show/feed.xml")
    assert root.find("channel/podcast:guid", NS).text == str(expected)
    locked = root.find("channel/podcast:locked", NS)
    assert (locked.text, locked.get("owner")) == ("no", "alex@example.com")
    assert root.find("channel/podcast:person", NS).get("role") == "host"
    assert root.find("channel/podcast:funding", NS).get("url") == "https://example.com/support"


def test_same_inputs_same_bytes(show):
    feed("-o", "site/feed.xml")
    first = {p: (show / "site" / p).read_bytes() for p in ("feed.xml", "index.html")}
    feed("-o", "site/feed.xml")
    assert {p: (show / "site" / p).read_bytes() for p in first} == first


def test_a_retitled_episode_keeps_its_guid_and_a_pinned_guid_wins(show):
    before = feedparser.parse(feed().stdout)
    guids = {e.title: e.id for e in before.entries}
    spec = show / "ep01.yaml"
    spec.write_text(spec.read_text().replace('"Episode 1: Hello"', '"Episode 1: Hello, world"'))
    run("build", *SPECS)
    after = {e.title: e.id for e in feedparser.parse(feed().stdout).entries}
    assert after["Episode 1: Hello, world"] == guids["Episode 1: Hello"]
    assert after["Episode 2: Again"] == guids["Episode 2: Again"]
    assert len(set(after.values())) == 2
    spec.write_text(spec.read_text() + "guid: pinned-episode-one\n")
    pinned = {e.title: e.id for e in feedparser.parse(feed().stdout).entries}  # metadata only: no rebuild
    assert pinned["Episode 1: Hello, world"] == "pinned-episode-one"


def test_an_unbuilt_episode_is_an_error_naming_it_or_skipped(show):
    (show / "ep03.yaml").write_text(UNBUILT)
    failed = run("feed", *SPECS, "ep03.yaml", "--base-url", BASE, "-o", "site/feed.xml", code=2)
    assert "ep03.yaml: not built (build/ep03.mp3 is missing)" in failed.output
    assert not (show / "site").exists()  # nothing written
    skipped = run("feed", *SPECS, "ep03.yaml", "--base-url", BASE, "-o", "site/feed.xml", "--skip-unbuilt")
    assert "skipped ep03.yaml: not built" in skipped.output
    assert len(feedparser.parse(str(show / "site" / "feed.xml")).entries) == 2


def test_an_output_changed_after_its_build_is_not_built(show):
    output = show / "build" / "ep02.mp3"
    output.write_bytes(output.read_bytes() + b"\x00")
    result = feed(code=2)
    assert "ep02.yaml: build/ep02.mp3 changed since it was built" in result.output


def test_feed_needs_a_date_and_a_feed_section_with_file_and_line(show):
    spec = show / "ep02.yaml"
    spec.write_text(spec.read_text().replace("date: 2026-01-12\n", ""))
    result = feed(code=2)
    assert "ep02.yaml:1:1: date: podpipe feed needs the episode's publication date" in result.output
    run("validate", *SPECS)  # a build does not need a date
    (show / "show.yaml").write_text((show / "show.yaml").read_text().split("feed:")[0])
    result = feed(code=2)
    assert "ep01.yaml:1:1: feed: podpipe feed needs the show's feed metadata" in result.output


def test_episodes_of_different_shows_are_refused(show):
    spec = show / "ep02.yaml"
    spec.write_text(spec.read_text() + "feed: {description: Another show entirely.}\n")
    result = feed(code=2)
    assert "ep01.yaml and ep02.yaml have different feed: sections" in result.output


def test_bad_base_url(show):
    assert "--base-url 'example.com'" in run("feed", *SPECS, "--base-url", "example.com", code=2).output


ADDRESSED = r"[0-9a-f]{12}"


def test_make_site_is_the_tree_podpipe_feed_writes(show):
    site = make_site(list(SPECS), BASE + "/", feed_path=show / "site" / "podcast.xml")
    assert site.base_url == BASE
    roles = [f.role for f in site.files]
    assert set(roles) <= set(ROLES) and roles[-1] == "feed" and site.feed.path == "podcast.xml"
    assert roles.count("media") == 2 and roles.count("artwork") == 1 and roles.count("page") == 1
    by_path = {f.path: f for f in site.files}
    # every file the feed points at has a content-addressed name: its stem, a short sha256, its suffix
    for f in site.files:
        if f.role in ("media", "sidecar", "artwork"):
            digest = hashlib.sha256(f.source.read_bytes()).hexdigest()[:12]
            folder = "artwork" if f.role == "artwork" else "episodes"
            suffix = next(x for x in (".chapters.json", ".mp3", ".vtt", ".srt", ".png") if f.source.name.endswith(x))
            assert f.path == f"{folder}/{f.source.name[:-len(suffix)]}.{digest}{suffix}", f.path
    chapters = next(f for f in site.files if f.path.endswith(".chapters.json"))
    assert chapters.media_type == "application/json+chapters" and chapters.role == "sidecar"
    assert not any(p.endswith(".manifest.json") for p in by_path)
    assert site.url(site.feed.path) == f"{BASE}/podcast.xml"
    run("feed", *SPECS, "--base-url", BASE, "-o", "site/podcast.xml")
    for file in site.files:  # what podpipe feed wrote is exactly the site
        assert (show / "site" / file.path).read_bytes() == file.read(), file.path
    # the page links relatively, so it works from disk and published alike
    html = (show / "site" / "index.html").read_text()
    ep01 = next(f.path for f in site.files if f.role == "media" and "ep01" in f.path)
    assert f'src="{ep01}"' in html and 'href="podcast.xml"' in html and BASE not in html


def test_one_layout_wherever_the_feed_goes(show):
    """``feed`` without -o, ``feed -o`` into the build folder or elsewhere and publish: the same paths."""
    printed = feed().stdout.encode()
    feed("-o", "build/feed.xml")
    feed("-o", "elsewhere/deep/feed.xml")
    assert (show / "build" / "feed.xml").read_bytes() == printed
    assert (show / "elsewhere" / "deep" / "feed.xml").read_bytes() == printed
    assert make_site(list(SPECS), BASE).feed.read() == printed
    urls = re.findall(rb'(?:url|href)="' + re.escape(BASE.encode()) + rb'/([^"]+)"', printed)
    assert urls and not any(u.startswith((b"files/", b"build/")) for u in urls)
    for folder in ("build", "elsewhere/deep"):  # every URL of the feed is a file of both trees, the cover too
        for u in urls:
            assert (show / folder / u.decode()).is_file(), (folder, u)
    assert any(u.startswith(b"artwork/cover.") for u in urls)


def test_a_rebuilt_file_gets_a_new_name_and_keeps_its_guid(show):
    before = make_site(list(SPECS), BASE)
    vtt = show / "build" / "ep01.vtt"
    vtt.write_text(vtt.read_text().replace("Welcome", "Hello"))
    after = make_site(list(SPECS), BASE)
    changed = {f.path for f in before.files} ^ {f.path for f in after.files}
    assert len(changed) == 2 and all(re.fullmatch(rf"episodes/ep01\.{ADDRESSED}\.vtt", p) for p in changed)
    guids = [re.findall(rb"<guid[^>]*>([^<]+)</guid>", s.feed.read()) for s in (before, after)]
    assert guids[0] == guids[1] and len(guids[0]) == 2
