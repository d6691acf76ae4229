"""The show page in a real headless browser (Debian's chromium driven by Playwright), served from a loopback
HTTP server with byte ranges, as a static host serves it: it loads with no console error, a chapter click
seeks the player, the captions track loads, and the transcript follows playback."""

from __future__ import annotations

import os
import shutil

import pytest

from podpipe.feed import make_site
from tests.support.cli import run
from tests.support.show import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"chromium not found at {CHROMIUM}: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def test_page_plays_seeks_captions_and_follows(show, browser):
    run("feed", "ep01.yaml", "ep02.yaml", "--base-url", "https://example.com/show", "-o", "site/feed.xml")
    site = make_site(["ep01.yaml", "ep02.yaml"], "https://example.com/show", feed_path=show / "site" / "feed.xml")
    problems = []
    with serve(show / "site", {f.path: f.media_type for f in site.files}) as url:
        page = browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        # a media element aborts its first request when it switches to byte ranges: that is no failure
        page.on("requestfailed", lambda r: None if r.failure == "net::ERR_ABORTED" else problems.append(r.url))
        page.on("response", lambda r: problems.append(f"{r.url}: {r.status}") if r.status >= 400 else None)
        ranged = []
        page.on("response", lambda r: ranged.append(r.url) if r.status == 206 else None)
        page.goto(f"{url}/index.html", wait_until="load")
        article = page.locator("article", has_text="Episode 1: Hello")
        audio = article.locator("audio")
        audio.evaluate("a => a.readyState >= 1 || new Promise(r => a.addEventListener('loadedmetadata', r))")
        assert audio.evaluate("a => a.duration") > 3

        # captions: the <track> loads the VTT with its cues
        cues = audio.evaluate("""a => new Promise(resolve => {
            const el = a.querySelector('track');
            const done = () => resolve([el.readyState, el.track.cues ? el.track.cues.length : 0]);
            if (el.readyState === 2) done();
            else { el.addEventListener('load', done); el.addEventListener('error', done); }
        })""")
        assert cues[0] == 2 and cues[1] > 0, cues

        # a chapter click seeks the player to the chapter's start
        chapter = article.locator(".chapters button", has_text="Goodbye")
        start = float(chapter.get_attribute("data-start"))
        assert start > 1
        chapter.click()
        page.wait_for_function("([a, t]) => a.currentTime >= t - 0.01 && !a.seeking",
                               arg=[audio.element_handle(), start])
        assert start - 0.01 <= audio.evaluate("a => a.currentTime") < start + 1.5
        audio.evaluate("a => a.pause()")

        # the transcript marks the cue under the playhead, and follows a seek
        for cue in (article.locator(".cue").first, article.locator(".cue").last):
            middle = (float(cue.get_attribute("data-start")) + float(cue.get_attribute("data-end"))) / 2
            audio.evaluate("(a, t) => { a.currentTime = t; }", middle)
            page.wait_for_function("c => c.classList.contains('current')", arg=cue.element_handle())
            assert article.locator(".cue.current").count() == 1
        page.close()
    assert not problems, problems
    assert any(u.endswith(".mp3") for u in ranged)  # the player seeks by byte ranges
