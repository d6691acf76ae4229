"""``feed:`` and the per-episode feed fields: resolved once, checked against Apple's category list and the
cover image's header, with every problem at its file, line and field."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from podpipe import backends
from podpipe.categories import CATEGORIES
from podpipe.errors import SpecError
from podpipe.spec import Feed, Person, load_episodes, read_image_info
from tests.support.show import jpeg_header, png

REPO = Path(__file__).resolve().parents[2]
SHOW = """\
show: My Show
language: en-GB
author: Me
feed:
  description: About things.
  artwork: cover.png
  category: Science
  subcategory: Astronomy
"""
EPISODE = "extends: show.yaml\ntitle: T\nspeakers:\n  host: {voice: Zephyr}\nsegments:\n  - host: Hello.\n"


@pytest.fixture
def project(tmp_path, write):
    write(tmp_path / "show.yaml", SHOW)
    png(tmp_path / "cover.png", 3000, 3000)
    write(tmp_path / "ep.yaml", EPISODE)
    return tmp_path


def errors(project: Path, *, feed: bool = False) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_episodes([project / "ep.yaml"], root=project, feed=feed, rules=backends)
    return [str(d).replace(str(project) + "/", "") for d in info.value.diagnostics]


def test_feed_resolves_with_its_fallbacks_and_defaults(project):
    (project / "ep.yaml").write_text(EPISODE + "season: 2\nepisode_type: bonus\nexplicit: true\nguid: abc\n")
    ep = load_episodes([project / "ep.yaml"], root=project, rules=backends).episodes[0]
    assert ep.feed == Feed(title="My Show", description="About things.", artwork=project / "cover.png",
                           category="Science", subcategory="Astronomy", language="en-GB", author="Me")
    assert (ep.feed.explicit, ep.feed.type, ep.feed.locked) == (False, "episodic", None)
    assert (ep.season, ep.episode_type, ep.explicit, ep.guid) == (2, "bonus", True, "abc")
    (project / "show.yaml").write_text(SHOW + "  title: Own Title\n  persons: [{name: Ann}]\n")
    ep = load_episodes([project / "ep.yaml"], root=project, rules=backends).episodes[0]
    assert ep.feed.title == "Own Title" and ep.feed.persons == (Person("Ann"),)


def test_category_and_subcategory_must_be_apples(project):
    (project / "show.yaml").write_text(SHOW.replace("Science", "Sciense").replace("Astronomy", "Astrology"))
    assert errors(project) == ["show.yaml:7:13: feed.category: 'Sciense' is not an Apple Podcasts category; "
                               "did you mean 'Science'?"]
    (project / "show.yaml").write_text(SHOW.replace("Astronomy", "Astronomie"))
    assert errors(project) == ["show.yaml:8:16: feed.subcategory: 'Astronomie' is not a subcategory of 'Science' "
                               "on Apple Podcasts; did you mean 'Astronomy'?"]
    (project / "show.yaml").write_text(SHOW.replace("Science", "Technology"))
    assert "it has no subcategories: remove subcategory" in errors(project)[0]


@pytest.mark.parametrize("make, problem", [
    (lambda p: png(p, 1000, 1000), "artwork: it is 1000×1000 px: Apple Podcasts takes 1400 to 3000 px"),
    (lambda p: png(p, 3200, 3200), "artwork: it is 3200×3200 px"),
    (lambda p: png(p, 1400, 1500), "artwork: it is 1400×1500 px, not square: crop it to a square"),
    (lambda p: png(p, 1400, 1400, colour_type=0), "artwork: its colours are grayscale: save it in RGB"),
    (lambda p: png(p, 1400, 1400, colour_type=3), "artwork: its colours are indexed colour: save it in RGB"),
    (lambda p: jpeg_header(p, 1400, 1400), "artwork: it is a JPEG image named .png: rename it to cover.jpg"),
    (lambda p: p.write_bytes(b"GIF89a" + bytes(100)), "artwork is not a PNG or JPEG image"),
])
def test_artwork_is_checked_from_its_header(project, make, problem):
    make(project / "cover.png")
    (found,) = errors(project)
    assert found.startswith("show.yaml:6:12: feed.artwork: ") and problem in found, found


def test_cmyk_jpeg_and_alpha_png(project):
    (project / "show.yaml").write_text(SHOW.replace("cover.png", "cover.jpg"))
    jpeg_header(project / "cover.jpg", 1400, 1400, components=4)
    assert "its colours are CMYK: save it in RGB" in errors(project)[0]
    jpeg_header(project / "cover.jpg", 2000, 2000)
    assert load_episodes([project / "ep.yaml"], root=project, rules=backends).episodes[0].feed.artwork.name == "cover.jpg"
    png(project / "cover.png", 1400, 1400, colour_type=6)
    (project / "show.yaml").write_text(SHOW)
    (warning,) = load_episodes([project / "ep.yaml"], root=project, rules=backends).warnings
    assert warning.field == "feed.artwork" and "alpha channel" in warning.message


def test_missing_artwork_and_required_fields(project):
    (project / "cover.png").unlink()
    assert "artwork file not found: 'cover.png'" in errors(project)[0]
    (project / "show.yaml").write_text("show: S\nfeed:\n  artwork: cover.png\n")
    found = errors(project)
    assert any("feed.description: missing required field 'description'" in f for f in found)
    assert any("feed.category: missing required field 'category'" in f for f in found)
    assert any("feed.language: the feed needs a language" in f for f in found)


def test_podpipe_feed_needs_a_date_and_a_feed_section(project):
    assert errors(project, feed=True) == ["ep.yaml:1:1: date: podpipe feed needs the episode's publication date: "
                                          "add `date: YYYY-MM-DD`"]
    (project / "ep.yaml").write_text(EPISODE.replace("extends: show.yaml\n", "") + "date: 2026-01-01\n")
    assert "feed: podpipe feed needs the show's feed metadata" in errors(project, feed=True)[0]
    load_episodes([project / "ep.yaml"], root=project, rules=backends)  # a build needs neither


def test_image_headers(tmp_path):
    info = read_image_info(png(tmp_path / "a.png", 1400, 1401, colour_type=6))
    assert (info.format, info.width, info.height, info.mode, info.media_type) == ("png", 1400, 1401, "RGBA",
                                                                                  "image/png")
    info = read_image_info(jpeg_header(tmp_path / "a.jpg", 3000, 2000, components=1))
    assert (info.format, info.width, info.height, info.mode, info.media_type) == ("jpeg", 3000, 2000,
                                                                                  "grayscale", "image/jpeg")
    (tmp_path / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JF")
    assert read_image_info(tmp_path / "cut.jpg") is None
    (tmp_path / "empty.png").write_bytes(b"")
    assert read_image_info(tmp_path / "empty.png") is None


def test_category_list_is_well_formed():
    assert len(CATEGORIES) == 19 and "Society & Culture" in CATEGORIES and "Tech News" in CATEGORIES["News"]
    subs = [s for subs in CATEGORIES.values() for s in subs]
    assert len(subs) == len(set(subs)) and not set(subs) & set(CATEGORIES)


def test_example_show_has_a_valid_feed_and_its_cover_is_made_by_its_script(monkeypatch):
    monkeypatch.chdir(REPO)
    episodes = load_episodes(sorted(Path("episodes").glob("*.yaml")), feed=True, rules=backends).episodes
    cover = REPO / "episodes" / "assets" / "cover.png"
    assert all(ep.feed == episodes[0].feed and ep.date and ep.season for ep in episodes)
    assert episodes[0].feed.artwork == cover
    module_spec = importlib.util.spec_from_file_location("make_cover", cover.with_name("make_cover.py"))
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    # The committed file is the script's output: the same chunks around the same pixels. Drawing all 2 million
    # pixels in Python and compressing them at level 9 takes 10 s, so the pixels are compared on 4,000 spread
    # over the picture, every row of the PNG decoded (filter "up" undone) with numpy.
    import zlib

    import numpy as np

    data = cover.read_bytes()
    size = module.SIZE
    header = module.chunk(b"IHDR", (size).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0]))
    assert data.startswith(b"\x89PNG\r\n\x1a\n" + header) and data.endswith(module.chunk(b"IEND", b""))
    idat = data[8 + len(header):-len(module.chunk(b"IEND", b""))]
    body = idat[8:-4]
    assert idat == module.chunk(b"IDAT", body)
    raw = np.frombuffer(zlib.decompress(body), np.uint8).reshape(size, 1 + 3 * size)
    assert (raw[:, 0] == 2).all()  # every row filtered "up", as the script writes it
    image = np.cumsum(raw[:, 1:], axis=0, dtype=np.uint64).astype(np.uint8).reshape(size, size, 3)
    rng = np.random.default_rng(7)
    for x, y in rng.integers(0, size, (4000, 2)).tolist():
        assert tuple(image[y, x]) == module.pixel(x, y), (x, y)
