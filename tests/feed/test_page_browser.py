"""The show page in a real headless browser (Debian's chromium driven by Playwright), served from a loopback
HTTP server with byte ranges, as a static host serves it, and by ``podpipe feed --serve``: it loads with no
console error, a chapter click seeks the player, the captions track loads, the transcript follows playback,
one player plays at a time, transcript lines work from the keyboard, and the header holds at 390 px."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from podpipe.feed import make_site
from tests.support.cli import run
from tests.support.browser import chromium
from tests.support.show import serve



@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


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
        _seek_by_chapter(page, article, audio, ready=False)

        # the transcript marks the cue under the playhead, and follows a seek
        for cue in (article.locator(".cue").first, article.locator(".cue").last):
            middle = (float(cue.get_attribute("data-start")) + float(cue.get_attribute("data-end"))) / 2
            audio.evaluate("(a, t) => { a.currentTime = t; }", middle)
            page.wait_for_function("c => c.classList.contains('current')", arg=cue.element_handle())
            assert article.locator(".cue.current").count() == 1
        page.close()
    assert not problems, problems
    assert any(u.endswith(".mp3") for u in ranged)  # the player seeks by byte ranges


@pytest.fixture
def preview(show):
    """``podpipe feed --serve --port 0`` running as a process; yields its URL (read from its first line)."""
    process = subprocess.Popen([sys.executable, "-m", "podpipe", "feed", "ep01.yaml", "ep02.yaml", "--serve",
                                "--port", "0"], cwd=show, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    try:
        line = process.stdout.readline()  # blocks until the server is listening and says where
        found = re.search(r"serving the show page at (http://127\.0\.0\.1:\d+)/", line)
        assert found, line
        yield found.group(1)
    finally:
        process.terminate()
        process.wait()


def _problems(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.url}: {r.status}") if r.status >= 400 else None)
    return problems


def _ready(audio) -> None:
    audio.evaluate("a => a.readyState >= 1 || new Promise(r => a.addEventListener('loadedmetadata', r))")


def _seek_by_chapter(page, article, audio, *, ready: bool) -> None:
    """Click the "Goodbye" chapter and wait until the player has sought to its start (and, with ``ready``,
    has data there), then pause it."""
    chapter = article.locator(".chapters button", has_text="Goodbye")
    start = float(chapter.get_attribute("data-start"))
    assert start > 1
    chapter.click()
    condition = "a.currentTime >= t - 0.01 && !a.seeking" + (" && a.readyState >= 2" if ready else "")
    page.wait_for_function(f"([a, t]) => {condition}", arg=[audio.element_handle(), start])
    assert start - 0.01 <= audio.evaluate("a => a.currentTime") < start + 1.5
    audio.evaluate("a => a.pause()")


def test_a_chapter_click_seeks_against_podpipe_feed_serve(preview, browser):
    page = browser.new_page()
    problems = _problems(page)
    ranged = []
    page.on("response", lambda r: ranged.append(r.url) if r.status == 206 else None)
    page.goto(f"{preview}/", wait_until="load")
    article = page.locator("article", has_text="Episode 1: Hello")
    audio = article.locator("audio")
    _ready(audio)
    _seek_by_chapter(page, article, audio, ready=True)
    page.close()
    assert not problems, problems
    assert any(re.search(r"/episodes/ep01\.[0-9a-f]{12}\.mp3$", u) for u in ranged)  # seeking used ranges


def test_one_player_at_a_time_and_transcript_lines_from_the_keyboard(preview, browser):
    page = browser.new_page()
    problems = _problems(page)
    page.goto(f"{preview}/", wait_until="load")
    first = page.locator("article", has_text="Episode 1: Hello").locator("audio")
    second = page.locator("article", has_text="Episode 2: Again").locator("audio")
    for audio in (first, second):
        _ready(audio)
    first.evaluate("a => a.play()")
    page.wait_for_function("a => !a.paused", arg=first.element_handle())
    second.evaluate("a => a.play()")
    page.wait_for_function("([a, b]) => a.paused && !b.paused", arg=[first.element_handle(), second.element_handle()])
    second.evaluate("a => a.pause()")

    # the transcript is one paragraph per turn; its lines are reached with Tab and activated with Enter/Space
    article = page.locator("article", has_text="Episode 1: Hello")
    turns = article.locator(".turn")
    assert turns.count() == 3 and turns.nth(1).get_attribute("data-speaker") == "Sam"
    target = article.locator(".cue").last
    start = float(target.get_attribute("data-start"))
    page.locator("h1").click()
    for _ in range(200):  # Tab through the page until the last line of the transcript has the focus
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            break
    assert target.evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    audio = article.locator("audio")
    page.wait_for_function("([a, t]) => a.currentTime >= t - 0.01 && a.currentTime < t + 1.5 && !a.seeking",
                           arg=[audio.element_handle(), start])
    page.wait_for_function("c => c.classList.contains('current')", arg=target.element_handle())
    audio.evaluate("a => a.pause()")
    first_cue = article.locator(".cue").first
    first_cue.focus()
    scrolled = page.evaluate("() => window.scrollY")
    page.keyboard.press(" ")
    page.wait_for_function("([a, t]) => a.currentTime >= t - 0.01 && a.currentTime < t + 1.5 && !a.seeking",
                           arg=[audio.element_handle(), float(first_cue.get_attribute("data-start"))])
    assert page.evaluate("() => window.scrollY") == scrolled  # Space seeks; it does not also scroll the page
    audio.evaluate("a => a.pause()")
    page.close()
    assert not problems, problems


def test_the_header_holds_on_a_390_px_phone(preview, browser, tmp_path):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{preview}/", wait_until="load")
    page.locator(".cover").evaluate("img => img.complete || new Promise(r => img.addEventListener('load', r))")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    cover = page.locator(".cover").bounding_box()
    title = page.locator("h1").bounding_box()
    assert cover["width"] <= 100 and title["x"] >= cover["x"] + cover["width"]  # side by side, the title beside
    assert title["x"] + title["width"] <= 390
    funding = page.locator("header a.funding")
    assert funding.get_attribute("href") == "https://example.com/support" and funding.inner_text() == "Support us"
    box = funding.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.screenshot(path=str(tmp_path / "page-390.png"))
    page.close()
