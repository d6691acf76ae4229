"""Builders for the publish tests: a real offline build (an mp3 with its sidecars, made once a session) and
``Site`` trees over copies of it, with hand-made page and feed bytes, as ``podpipe.feed.make_site`` will
give them."""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from podpipe.feed import Site, SiteFile
from tests.support.cli import run
from tests.support.show import write_show

SPEC = """\
title: Publish {n}
speakers:
  host: {{voice: Zephyr, name: Alex}}
segments:
  - chapter: Hello
    host: Welcome to episode {n}, about publishing.
  - chapter: Goodbye
    host: That was all for episode {n}.
output: {{format: mp3}}
"""
SIDECARS = ("manifest.json", "vtt", "srt", "chapters.json")
TYPES = {"mp3": "audio/mpeg", "manifest.json": "application/json", "vtt": "text/vtt", "srt": "application/x-subrip",
         "chapters.json": "application/json+chapters"}
BASE_URL = "https://podcast.example.org/show"


def _png() -> bytes:
    """A 1x1 PNG: the show's artwork."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x80\x00")) + chunk(b"IEND", b""))


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """Two episodes built for real with the offline voice: ``build/ep1.mp3``, ``ep2.mp3`` and their sidecars."""
    from podpipe.commands import BuildOptions, build

    project = tmp_path_factory.mktemp("built")
    for n in (1, 2):
        (project / f"ep{n}.yaml").write_text(SPEC.format(n=n), encoding="utf-8")
    old = Path.cwd()
    os.chdir(project)
    try:
        build([project / "ep1.yaml", project / "ep2.yaml"],
              BuildOptions(backend="espeak", cache_dir=project / "cache", remote_mode="off"))
    finally:
        os.chdir(old)
    (project / "build" / "cover.png").write_bytes(_png())
    return project / "build"


@pytest.fixture
def show(built, tmp_path) -> Path:
    """A copy of the built outputs that a test may change."""
    return Path(shutil.copytree(built, tmp_path / "build"))


def feed_xml(*episodes: str, version: int = 1) -> bytes:
    items = "".join(f'<item><title>{e}</title><enclosure url="{BASE_URL}/{e}.mp3" type="audio/mpeg"/></item>'
                    for e in episodes)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Show v{version}</title>'
            f'{items}</channel></rss>\n').encode()


def make_site(directory: Path, *episodes: str, version: int = 1) -> Site:
    """The site ``podpipe.feed.make_site`` would give for ``episodes`` built in ``directory``."""
    files = [SiteFile(f"{e}.mp3", TYPES["mp3"], "media", source=directory / f"{e}.mp3") for e in episodes]
    files += [SiteFile(f"{e}.{ext}", TYPES[ext], "sidecar", source=directory / f"{e}.{ext}")
              for e in episodes for ext in SIDECARS if (directory / f"{e}.{ext}").exists()]
    files.append(SiteFile("cover.png", "image/png", "artwork", source=directory / "cover.png"))
    files.append(SiteFile("index.html", "text/html; charset=utf-8", "page",
                          data=f"<html><body>Show v{version}: {', '.join(episodes)}</body></html>\n".encode()))
    files.append(SiteFile("feed.xml", "application/rss+xml; charset=utf-8", "feed",
                          data=feed_xml(*episodes, version=version)))
    return Site(BASE_URL, tuple(files))


_NO_KEYS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "PODPIPE_CACHE_DIR", "PODPIPE_REMOTE_CACHE")


@pytest.fixture(scope="session")
def built_show_project(tmp_path_factory) -> Path:
    """The feed tests' show (``tests.support.show``: a feed: section, two episodes, one with chapters), built
    once a session with the offline voice."""
    project = tmp_path_factory.mktemp("site")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        for var in _NO_KEYS:
            mp.delenv(var, raising=False)
        run("build", *write_show(project))
    return project


@pytest.fixture
def show_project(built_show_project, tmp_path, monkeypatch) -> Path:
    """A private copy of that show, made the working directory."""
    project = Path(shutil.copytree(built_show_project, tmp_path / "project"))
    monkeypatch.chdir(project)
    for var in _NO_KEYS:
        monkeypatch.delenv(var, raising=False)
    return project
