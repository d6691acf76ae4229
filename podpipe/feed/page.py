"""The show page, ``index.html`` beside the feed: every episode with a player, its chapters and transcript.

Static and self-contained (styles and script inline, no fonts or libraries fetched), so it works opened
from disk as well as published, and every link in it is relative to it. Chapters and transcript cues are
written into the page from the built sidecars rather than fetched at view time: a page opened from disk may
not fetch its neighbours. The captions ``<track>`` still points at the VTT (browsers load it over HTTP);
where it cannot load, the script builds the same captions from the cues in the page.

The transcript is one paragraph per turn (the consecutive cues of one speaker that follow each other without
a gap), each cue a span that seeks the player when clicked or activated from the keyboard (Tab, then Enter
or Space). Starting one episode pauses any other. The header holds the show's links (feed, website, each
``podcast:funding``) and keeps its layout on a 390 px phone screen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from podpipe.feed.built import BuiltEpisode
from podpipe.spec import Feed

_TIMING = re.compile(r"^(\d+):(\d\d):(\d\d)[.,](\d{3}) --> (\d+):(\d\d):(\d\d)[.,](\d{3})")
_VOICE = re.compile(r"^<v(?:\.[^ >]*)? ([^>]*)>(.*?)(?:</v>)?$", re.S)


def read_vtt(path: Path) -> list[tuple[float, float, str, str]]:
    """(start, end, speaker, text) of each cue of a WebVTT file as podpipe writes it (a ``<v Speaker>`` span a
    cue)."""
    cues = []
    for block in path.read_text(encoding="utf-8").replace("\r\n", "\n").split("\n\n"):
        lines = block.strip("\n").split("\n")
        timing = next((i for i, line in enumerate(lines) if _TIMING.match(line)), None)
        if timing is None:
            continue
        t = [int(x) for x in _TIMING.match(lines[timing]).groups()]
        start = t[0] * 3600 + t[1] * 60 + t[2] + t[3] / 1000
        end = t[4] * 3600 + t[5] * 60 + t[6] + t[7] / 1000
        body = " ".join(lines[timing + 1:])
        voice = _VOICE.match(body)
        speaker, text = (voice.group(1), voice.group(2)) if voice else ("", body)
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        cues.append((start, end, speaker.replace("&amp;", "&"), text))
    return cues


def read_chapters(path: Path) -> list[tuple[float, str]]:
    """(start, title) of each chapter in a Podcasting 2.0 chapters file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(float(c["startTime"]), str(c.get("title", ""))) for c in data.get("chapters", [])]


def clock(seconds: float) -> str:
    """0:42, 12:05, 1:02:03."""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def page(feed: Feed, episodes: Sequence[BuiltEpisode], *, href: Callable[[Path], str], feed_href: str,
         anchor: Callable[[BuiltEpisode], str]) -> bytes:
    """``index.html`` for ``episodes`` (newest first); ``href`` gives a file's address relative to the page."""
    lang = escape(feed.language)
    links = [f'<a href="{escape(feed_href)}">Podcast feed (RSS)</a>']
    if feed.link:
        links.append(f'<a href="{escape(feed.link)}">Website</a>')
    links += [f'<a class="funding" href="{escape(f.url)}">{escape(f.text)}</a>' for f in feed.funding]
    parts = [f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(feed.title)}</title>
<link rel="icon" href="data:,">
<link rel="alternate" type="application/rss+xml" title="{escape(feed.title)}" href="{escape(feed_href)}">
<style>{_STYLE}</style>
</head>
<body>
<header>
<img class="cover" src="{escape(href(feed.artwork))}" alt="{escape(feed.title)} cover" width="160" height="160">
<div>
<h1>{escape(feed.title)}</h1>
{f'<p class="author">{escape(feed.author)}</p>' if feed.author else ''}
<p>{escape(feed.description)}</p>
<p class="links">{" · ".join(links)}</p>
</div>
</header>
<main>
"""]
    for built in episodes:
        parts.append(_episode(built, href, anchor(built), feed.language))
    parts.append(f"""</main>
<footer>{escape(feed.copyright) if feed.copyright else ''}</footer>
<script>{_SCRIPT}</script>
</body>
</html>
""")
    return "".join(parts).encode("utf-8")


def _episode(built: BuiltEpisode, href: Callable[[Path], str], anchor: str, show_language: str) -> str:
    ep = built.episode
    lang = escape(ep.language or show_language)
    meta = [m for m in (ep.date[:10] if ep.date else None, clock(built.duration),
                        " ".join(x for x in (f"S{ep.season}" if ep.season else "",
                                             f"E{ep.episode}" if ep.episode is not None else "") if x),
                        ep.episode_type if ep.episode_type != "full" else "") if m]
    track = (f'\n<track kind="captions" src="{escape(href(built.vtt))}" srclang="{lang}" label="Transcript" default>'
             if built.vtt else "")
    out = [f"""<article class="episode" id="{escape(anchor)}">
<h2>{escape(ep.title)}</h2>
<p class="meta">{escape(" · ".join(meta))}</p>
{f'<p>{escape(ep.description)}</p>' if ep.description else ''}
<audio controls preload="metadata" src="{escape(href(built.output))}">{track}
</audio>
"""]
    if built.chapters:
        items = "".join(f'<li><button type="button" data-start="{start:.3f}"><span class="time">{clock(start)}'
                        f'</span> {escape(title)}</button></li>\n' for start, title in read_chapters(built.chapters))
        out.append(f'<h3>Chapters</h3>\n<ol class="chapters">\n{items}</ol>\n')
    if built.vtt:
        paragraphs = "".join(_turn(speaker, turn) for speaker, turn in turns(read_vtt(built.vtt)))
        out.append(f'<details class="transcript" open><summary>Transcript</summary>\n'
                   f'<div class="cues" lang="{lang}">\n{paragraphs}</div>\n</details>\n')
    out.append("</article>\n")
    return "".join(out)


def turns(cues: Sequence[tuple[float, float, str, str]]) -> list[tuple[str, list[tuple[float, float, str]]]]:
    """The cues grouped into turns: (speaker, [(start, end, text), …]); a turn's cues follow each other with no
    gap (the transcript step splits a turn into cues end to end; a new turn starts after a pause or with
    another speaker)."""
    out: list[tuple[str, list[tuple[float, float, str]]]] = []
    last_end = None
    for start, end, speaker, text in cues:
        if out and out[-1][0] == speaker and last_end is not None and abs(start - last_end) < 0.0015:
            out[-1][1].append((start, end, text))
        else:
            out.append((speaker, [(start, end, text)]))
        last_end = end
    return out


def _turn(speaker: str, cues: Sequence[tuple[float, float, str]]) -> str:
    spans = " ".join(f'<span class="cue" role="button" tabindex="0" data-start="{start:.3f}" data-end="{end:.3f}">'
                     f'{escape(text)}</span>' for start, end, text in cues)
    return (f'<p class="turn" data-speaker="{escape(speaker)}"><span class="speaker">{escape(speaker)}</span> '
            f'{spans}</p>\n')


_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem;color:#222;background:#fdfcfa}
header{display:flex;gap:1.2rem;align-items:flex-start;margin-bottom:2rem}
header>div{min-width:0;flex:1}
.cover{border-radius:8px;flex:none}
h1{margin:.2rem 0;overflow-wrap:anywhere}.author{color:#666;margin:0}
.links a{white-space:nowrap}
@media (max-width:480px){header{gap:.8rem}.cover{width:88px;height:88px}h1{font-size:1.4rem}}
article{border-top:1px solid #ddd;padding:1rem 0 1.5rem}
.meta{color:#666;font-size:.9rem;margin:0}
audio{width:100%;margin:.6rem 0}
.chapters{padding-left:1.4rem}
.chapters button{border:0;background:none;padding:.1rem 0;font:inherit;color:#1a55a0;cursor:pointer;text-align:left}
.chapters button:hover{text-decoration:underline}
.time{font-variant-numeric:tabular-nums;color:#666;margin-right:.4rem}
.cues{max-height:16rem;overflow-y:auto;border:1px solid #e4e0da;border-radius:6px;padding:.2rem .8rem;position:relative}
.turn{margin:.45rem 0}
.cue{padding:.05rem .1rem;border-radius:4px;cursor:pointer}
.cue:focus-visible{outline:2px solid #1a55a0;outline-offset:1px}
.cue.current{background:#ffe9b3}
.speaker{font-weight:600;margin-right:.3rem}
footer{color:#888;font-size:.85rem;margin-top:2rem}
"""

# Chapter buttons and cues seek the episode's player (cues from the keyboard too: Enter or Space); starting
# one player pauses the others; the cue under the playhead is marked and kept in view. Captions: the <track> loads the VTT; where it cannot (a page opened from disk), the cues in the page
# become the player's captions track instead.
_SCRIPT = """
(function () {
  document.addEventListener("play", function (event) {
    document.querySelectorAll("audio").forEach(function (other) {
      if (other !== event.target && !other.paused) other.pause();
    });
  }, true);
  document.querySelectorAll("article.episode").forEach(function (article) {
    var audio = article.querySelector("audio");
    var cues = Array.prototype.slice.call(article.querySelectorAll(".cue"));
    var box = article.querySelector(".cues");
    var current = null;
    function seek(seconds) {
      audio.currentTime = seconds;
      var playing = audio.play();
      if (playing) playing.catch(function () {});
    }
    article.querySelectorAll("[data-start]").forEach(function (el) {
      el.addEventListener("click", function () { seek(parseFloat(el.dataset.start)); });
      if (el.tagName === "BUTTON") return;
      el.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" && event.key !== " ") return;
        event.preventDefault();
        seek(parseFloat(el.dataset.start));
      });
    });
    function follow() {
      var t = audio.currentTime, found = null;
      for (var i = 0; i < cues.length; i++) {
        var cue = cues[i];
        if (parseFloat(cue.dataset.start) <= t && t < parseFloat(cue.dataset.end)) { found = cue; break; }
      }
      if (found === current) return;
      if (current) current.classList.remove("current");
      current = found;
      if (found) {
        found.classList.add("current");
        var top = found.offsetTop, bottom = top + found.offsetHeight;
        var hidden = top < box.scrollTop || bottom > box.scrollTop + box.clientHeight;
        if (hidden) box.scrollTop = top - box.clientHeight / 3;
      }
    }
    audio.addEventListener("timeupdate", follow);
    audio.addEventListener("seeked", follow);
    var track = article.querySelector("track");
    if (!track) return;
    if (track.track.mode === "disabled") track.track.mode = "hidden";
    track.addEventListener("error", function () {
      if (typeof VTTCue === "undefined") return;
      var own = audio.addTextTrack("captions", track.label, track.srclang);
      cues.forEach(function (cue) {
        var speaker = cue.parentNode.dataset.speaker;
        own.addCue(new VTTCue(parseFloat(cue.dataset.start), parseFloat(cue.dataset.end),
                              "<v " + speaker + ">" + cue.textContent));
      });
      own.mode = "hidden";
    });
  });
})();
"""
