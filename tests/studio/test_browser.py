"""The studio in a real headless browser (Debian's chromium driven by Playwright, never its own download),
against ``podpipe studio`` running as a process on a free loopback port, on one project built once per module
with the offline voice: open the episode, play a line and seek with the keyboard, see the flagged line and
its reason, render another take (cost first: $0.00), pick it (the spec's diff is one line), edit a line's
text (it goes stale, and renders on request), an invalid edit refused with its message, and an edit made on
disk appearing in the page (and never overwritten: saving over it shows both versions). No console errors.
Every wait is on an event or a DOM state, never a sleep."""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")

from tests.support import REPO  # noqa: E402
from tests.support.browser import chromium  # noqa: E402
from tests.support.studio import built_project, studio_process  # noqa: E402

WAIT = 60_000  # ms: a bound for a stuck page, not a timing assumption (renders on a loaded machine)


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return built_project(tmp_path_factory)


@pytest.fixture(scope="module")
def studio(project):
    with studio_process(project, "ep.yaml") as url:
        yield url


@pytest.fixture
def page(browser, studio, tmp_path):
    """A fresh page on the studio, with the episode shown; fails the test on any console error, page error,
    failed request or HTTP error answer."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and not _refused(m) else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    # a media element aborts its first request when it switches to byte ranges: that is no failure
    page.on("requestfailed", lambda r: None if r.failure == "net::ERR_ABORTED" else problems.append(r.url))
    page.on("response", lambda r: problems.append(f"{r.url}: {r.status}")
            if r.status >= 400 and not (r.status in EDIT_ANSWERS and "/api/edit?" in r.url) else None)
    page.goto(studio, wait_until="load")
    page.wait_for_selector('.line[data-id="s5"]')
    page.wait_for_function("() => podpipeStudio.live")  # the event stream is open: changes on disk reach it
    page.screenshots = tmp_path  # type: ignore[attr-defined]
    yield page
    context.close()
    assert not problems, problems


EDIT_ANSWERS = (409, 422)  # an edit refused (the validation message) or a conflict: answers the page shows


def _refused(message) -> bool:
    """Chromium's own console line for an edit the server refused or found in conflict, which the tests
    make on purpose; any other console error fails the test."""
    return ("/api/edit?" in (message.location or {}).get("url", "")
            and any(f"status of {code}" in message.text for code in EDIT_ANSWERS))


def _line(page, segment: str):
    return page.locator(f'.line[data-id="{segment}"]')


def _status(page, segment: str, status: str) -> None:
    page.wait_for_selector(f'.line[data-id="{segment}"][data-status="{status}"]')


def test_open_play_a_line_and_see_the_flagged_one(page):
    assert page.locator("h1").inner_text() == "Studio test"
    assert page.locator(".chapter-head").all_inner_texts() == ["HELLO", "GOODBYE"]
    assert page.locator(".mark button").all_inner_texts() == ["Hello", "Goodbye"]  # marks on the waveform
    flagged = _line(page, "s2")
    assert flagged.get_attribute("data-status") == "flagged"
    assert flagged.locator(".badge").inner_text() == "flagged"
    assert flagged.locator(".reasons li").all_inner_texts() == ["noise"]
    dialogue = _line(page, "s3")  # a dialogue: its turns, each with its speaker
    assert dialogue.locator(".turn").all_inner_texts() == ["Alex: So, what brings you to the studio?",
                                                           "Sam: The takes, mostly. And the coffee."]
    assert _line(page, "s1").locator(".badge").inner_text() == "cached"
    assert page.locator("#wave").evaluate("c => c.width > 0")
    page.screenshot(path=str(page.screenshots / "episode.png"))

    # the line's play button plays its current take
    _line(page, "s2").locator(".play-line").click()
    take = page.locator("#take-audio")
    page.wait_for_function("a => a.currentTime > 0 || a.ended", arg=take.element_handle())
    current = page.evaluate("() => podpipeStudio.view.lines[1].take")
    assert f"take={current}" in take.evaluate("a => a.src")

    # clicking a line seeks the episode there; Space plays, and the line under the playhead is highlighted
    audio = page.locator("#episode-audio")
    audio.evaluate("a => a.readyState >= 1 || new Promise(r => a.addEventListener('loadedmetadata', r))")
    target = _line(page, "s5")
    start = float(target.get_attribute("data-start"))
    assert start > 1
    target.locator(".text").click()
    page.wait_for_function("([a, t]) => Math.abs(a.currentTime - t) < 0.05 && !a.seeking",
                           arg=[audio.element_handle(), start])
    page.keyboard.press(" ")
    page.wait_for_function("a => !a.paused", arg=audio.element_handle())
    page.wait_for_selector('.line.playing[data-id="s5"]')
    page.keyboard.press(" ")
    page.wait_for_function("a => a.paused", arg=audio.element_handle())
    # j and k walk the lines
    page.keyboard.press("k")
    page.wait_for_selector('.line.selected[data-id="s3"]')
    page.keyboard.press("j")
    page.wait_for_selector('.line.selected[data-id="s5"]')
    # a dialogue is followed turn by turn: the turn under the playhead stands out
    turns = _line(page, "s3").locator(".turn")
    second = float(turns.nth(1).get_attribute("data-start"))
    assert second > float(turns.nth(0).get_attribute("data-start"))
    audio.evaluate("(a, t) => { a.currentTime = t; }", second + 0.2)
    page.wait_for_function("el => el.classList.contains('playing')", arg=turns.nth(1).element_handle())
    assert "playing" not in turns.nth(0).get_attribute("class")


def test_another_take_picked_a_line_edited_and_rebuilt(page, project):
    spec = project / "ep.yaml"
    line = _line(page, "s1")
    line.locator(".more").click()
    line.locator(".try").click()
    confirm = line.locator(".confirm")
    confirm.wait_for()
    assert "$0.00" in confirm.inner_text()  # the cost first; nothing rendered yet
    assert line.locator(".take").count() == 1
    confirm.locator(".render").click()
    page.wait_for_function("() => document.querySelectorAll('.line[data-id=\"s1\"] .take').length === 2")
    page.wait_for_function("() => [...podpipeStudio.jobs.values()].some(j => j.kind === 'take' && j.state === 'done')")
    page.screenshot(path=str(page.screenshots / "takes.png"))

    new = line.locator(".take:not(.current)")
    new_id = new.get_attribute("data-take")
    before = spec.read_text()
    new.locator(".pick").click()
    page.wait_for_selector(f'.line[data-id="s1"] .take.current[data-take="{new_id}"]')
    changed = [d for d in difflib.unified_diff(before.splitlines(), spec.read_text().splitlines(), lineterm="", n=0)
               if d[:1] in "+-" and d[:3] not in ("+++", "---")]
    assert changed == ["+    take: 2"], changed  # exactly one line
    assert spec.read_text().startswith("# The studio's test episode")
    _status(page, "s1", "cached")  # take 2 is in the cache; the episode is built with take 1 until rebuilt

    # edit a line's text: saved, the line is stale; Re-render builds it, and the player has the new episode
    last = _line(page, "s5")
    last.locator(".more").click()
    last.locator("textarea").fill("That is all for today. See you next week.")
    assert last.locator("input[name=style]").input_value() == "warm and slow"
    last.locator(".edit button[type=submit]").click()
    _status(page, "s5", "stale")
    assert "See you next week." in last.locator(".text").inner_text()
    assert "    host: That is all for today. See you next week." in spec.read_text()
    version = page.locator("#episode-audio").get_attribute("data-version")
    build = page.locator("#build")
    assert build.inner_text() == "Re-render 1 stale line"
    build.click()
    _status(page, "s5", "cached")
    page.wait_for_function("v => document.getElementById('episode-audio').dataset.version !== v", arg=version)
    page.wait_for_selector("#build:disabled")

    # an invalid edit is refused with the validation message, and nothing is written
    before = spec.read_text()
    last.locator("input[name=style]").fill("   ")
    last.locator(".edit button[type=submit]").click()
    error = last.locator(".edit .error")
    error.wait_for()
    assert "ep.yaml" in error.inner_text()
    assert spec.read_text() == before
    page.screenshot(path=str(page.screenshots / "refused.png"))


def test_an_edit_on_disk_appears_live_and_is_never_overwritten(page, project):
    spec = project / "ep.yaml"
    line = _line(page, "s2")
    line.locator(".more").click()
    line.locator("textarea").fill("Typed in the studio.")  # not saved yet
    text = spec.read_text()
    assert "guest: 'Thanks for having me here.'" in text
    spec.write_text(text.replace("Thanks for having me here.", "Thanks, edited in another editor."))
    page.wait_for_function("() => document.querySelector('.line[data-id=\"s2\"] .text')"
                           ".textContent.includes('edited in another editor')")
    assert "changed on disk" in page.locator("#notice").inner_text()
    assert line.locator("textarea").input_value() == "Typed in the studio."  # what was typed is kept
    line.locator(".edit button[type=submit]").click()  # typed against the old file: a conflict
    dialog = page.locator("dialog#conflict")
    dialog.wait_for()
    assert "Typed in the studio." in dialog.locator("#mine").inner_text()
    assert "edited in another editor" in dialog.locator("#theirs").inner_text()
    page.screenshot(path=str(page.screenshots / "conflict.png"))
    assert "edited in another editor" in spec.read_text()  # nothing was overwritten
    dialog.locator("#conflict-theirs").click()  # keep the file on disk: what was typed is dropped
    page.wait_for_function("() => !document.getElementById('conflict').open")
    page.wait_for_function("() => document.querySelector('.line[data-id=\"s2\"] textarea')"
                           ".value === 'Thanks, edited in another editor.'")
    assert "edited in another editor" in spec.read_text()


@pytest.mark.skipif(os.environ.get("PODPIPE_STUDIO_SCREENSHOT") != "1",
                    reason="makes the README's picture: PODPIPE_STUDIO_SCREENSHOT=1 writes docs/studio.png")
def test_the_readme_picture(browser, tmp_path_factory):
    """docs/studio.png: the example episodes in the studio, ep12 built with the offline voice under a dead-air
    threshold tight enough to flag a line, that line's takes open after "Try another take"."""
    from tests.support.cli import run
    from tests.support.studio import CLEAN

    project = tmp_path_factory.mktemp("readme") / "episodes"
    shutil.copytree(REPO / "episodes", project)
    spec = project / "ep12-city-bees.yaml"
    spec.write_text(spec.read_text().replace("\nspeakers:\n", "\nreview:\n  retakes: 0\n  dead_air: 0.45\n\nspeakers:\n", 1))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        for var in CLEAN:
            mp.delenv(var, raising=False)
        run("build", spec.name)
    with studio_process(project, spec.name, "ep13-longitude.yaml", "ep14-bike-city-panel.yaml") as url:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(WAIT * 3)
        page.goto(url, wait_until="load")
        page.wait_for_selector(".line")
        assert page.locator('.line[data-status="flagged"]').count() >= 1
        # the second line edited (stale), the first with a second take and its takes open, playing
        lines = page.locator(".line")
        second = lines.nth(1)
        second.locator(".more").click()
        second.locator("textarea").fill("Hi Maya. Sorry about all the stairs. The bees don't mind them, but visitors do.")
        second.locator(".edit button[type=submit]").click()
        edited = second.get_attribute("data-id")
        page.wait_for_selector(f'.line[data-id="{edited}"][data-status="stale"]')
        second.locator(".more").click()  # closed again
        first = lines.nth(0)
        first.locator(".more").click()
        first.locator(".try").click()
        first.locator(".confirm .render").click()
        opened = first.get_attribute("data-id")
        page.wait_for_function(f"() => document.querySelectorAll('.line[data-id=\"{opened}\"] .take').length === 2")
        page.wait_for_function("() => !document.querySelector('.toast')")  # the job's notice has gone
        audio = page.locator("#episode-audio")
        audio.evaluate("a => a.readyState >= 1 || new Promise(r => a.addEventListener('loadedmetadata', r))")
        audio.evaluate("(a, t) => { a.currentTime = t; }", float(first.get_attribute("data-start")) + 6)
        page.wait_for_selector(".line.playing")
        page.evaluate("() => document.querySelector('main').scrollTo(0, 0)")
        page.screenshot(path=str(REPO / "docs" / "studio.png"))
        page.close()
