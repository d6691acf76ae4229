"""The episodes of a feed as built: each spec's output, its sidecars and the facts its manifest records.

A feed describes files, so everything it says about one comes from the file or from the manifest the build
wrote beside it (exact byte length, duration, which sidecars exist), never from the spec alone: an output
that is missing, has no manifest or changed since its build is "not built", with the reason.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from podpipe.errors import NotBuiltError
from podpipe.formats import FORMATS, sidecar_of
from podpipe.mix import ManifestError, read_manifest
from podpipe.spec import Episode, Feed

# The Podcasting 2.0 namespace's own UUID namespace for podcast:guid (docs/1.0.md, "guid").
PODCAST_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")


@dataclass(frozen=True)
class BuiltEpisode:
    episode: Episode
    guid: str
    output: Path
    mime: str  # the output format's media type (``podpipe.formats``)
    size: int  # bytes, as the file is now (and as its manifest recorded it)
    duration: float  # seconds, from the manifest
    vtt: Path | None = None
    srt: Path | None = None
    chapters: Path | None = None

    @property
    def sidecars(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.vtt, self.srt, self.chapters) if p is not None)


def channel_guid(feed: Feed, feed_url: str) -> str:
    """The show's podcast:guid: pinned by feed.guid, else the UUIDv5 of the feed URL without its scheme and
    trailing slashes (the namespace's rule, so any tool derives the same one)."""
    if feed.guid:
        return feed.guid.lower()
    bare = feed_url.split("://", 1)[-1].rstrip("/")
    return str(uuid.uuid5(PODCAST_NAMESPACE, bare))


def episode_guid(episode: Episode, feed: Feed, root: Path) -> str:
    """The episode's guid: pinned by ``guid:``, else derived from what identifies it and does not change
    when it is edited: the show's link (or title) and the spec's path relative to the project root. Never
    the episode's title, so a retitled episode stays the same episode in every app."""
    if episode.guid:
        return episode.guid
    try:
        spec = episode.path.relative_to(root).as_posix()
    except ValueError:  # a spec outside the project (--allow-outside-root): its absolute path
        spec = episode.path.as_posix()
    return str(uuid.uuid5(PODCAST_NAMESPACE, f"{feed.link or feed.title}#{spec}"))


def built_episode(episode: Episode, feed: Feed, root: Path) -> BuiltEpisode:
    """The built output of ``episode`` with its manifest's facts; ``NotBuiltError`` saying why when there is none."""
    output = episode.output.path
    shown = _shown(output, root)
    try:
        size = os.stat(output).st_size
    except OSError:
        raise NotBuiltError(f"{_shown(episode.path, root)}: not built ({shown} is missing); run podpipe build "
                       "first, or give --skip-unbuilt") from None
    try:
        manifest = read_manifest(output)
        recorded, duration = manifest["output"]["size"], float(manifest["duration"])
        sidecars = [output.parent / name for name in manifest.get("sidecars", [])]
    except (ManifestError, KeyError, TypeError, ValueError) as exc:
        raise NotBuiltError(f"{_shown(episode.path, root)}: {shown} has no usable manifest ({exc}); build it again "
                       "with podpipe build") from None
    if recorded != size:
        raise NotBuiltError(f"{_shown(episode.path, root)}: {shown} changed since it was built ({size} bytes, the "
                       f"manifest says {recorded}); build it again with podpipe build")
    found = {kind.name: p for p in sidecars if p.is_file() and (kind := sidecar_of(p)) is not None}
    return BuiltEpisode(episode, episode_guid(episode, feed, root), output, FORMATS[episode.output.format].mime,
                        size, duration, vtt=found.get("vtt"), srt=found.get("srt"), chapters=found.get("chapters"))


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
