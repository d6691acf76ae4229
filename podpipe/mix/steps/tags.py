"""Finishing the tags of an exported file with mutagen (imported only here, only when a mix runs).

ffmpeg writes the text tags (and MP3/m4a chapters) while encoding; mutagen then adds what ffmpeg does not
write, or writes wrongly: cover art in each container's own way, the description as an ID3 COMM frame
(ffmpeg makes it a TXXX that podcast apps ignore), and Vorbis CHAPTERxxx comments for ogg and flac. MP3
stays ID3v2.3, the version podcast apps read best.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from podpipe.compile import CompiledEpisode
from podpipe.errors import UsageError
from podpipe.formats import FORMATS
from podpipe.mix.context import MixContext, MixStep, chapters
from podpipe.mix.manifest import relative, sound_sha256

COVER_FRONT = 3  # the APIC / FLAC picture type for the front cover


def image_mime(data: bytes, path: Path) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    raise UsageError(f"{path}: artwork is not a PNG or JPEG image")


def _read_art(artwork: Path) -> tuple[bytes, str]:
    try:
        data = artwork.read_bytes()
    except OSError as exc:
        raise UsageError(f"{artwork}: cannot read artwork: {exc.strerror}") from None
    return data, image_mime(data, artwork)


def _clock(seconds: float) -> str:
    """HH:MM:SS.mmm as the Vorbis chapter extension writes times."""
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def finish(target: Path, kind: str, *, artwork: Path | None, description: str | None, marks: Sequence) -> None:
    """Edit the file at ``target``, whose tags are of ``kind`` (``formats.Format.tags``), in place; ``marks``
    are ``context.Chapter``s, written as Vorbis comments where the container holds them."""
    art = _read_art(artwork) if artwork is not None else None
    if kind == "id3":
        from mutagen.id3 import APIC, COMM, ID3

        tags = ID3(target)
        tags.delall("TXXX:comment")
        if description:
            tags.setall("COMM", [COMM(encoding=1, lang="eng", desc="", text=[description])])
        if art:
            tags.delall("APIC")
            tags.add(APIC(encoding=1, mime=art[1], type=COVER_FRONT, desc="Cover", data=art[0]))
        tags.save(target, v2_version=3)
    elif kind == "mp4":
        if art:
            from mutagen.mp4 import MP4, MP4Cover

            audio = MP4(target)
            kind = MP4Cover.FORMAT_PNG if art[1] == "image/png" else MP4Cover.FORMAT_JPEG
            audio["covr"] = [MP4Cover(art[0], imageformat=kind)]
            audio.save()
    elif kind in ("flac", "opus"):
        from mutagen.flac import FLAC, Picture
        from mutagen.oggopus import OggOpus

        audio = FLAC(target) if kind == "flac" else OggOpus(target)
        for key in [k for k in audio.keys() if k.lower().startswith("chapter")]:
            del audio[key]
        for i, mark in enumerate(marks):
            audio[f"CHAPTER{i:03d}"] = _clock(mark.start)
            audio[f"CHAPTER{i:03d}NAME"] = mark.title
        if art:
            picture = Picture()
            picture.type, picture.mime, picture.desc, picture.data = COVER_FRONT, art[1], "Cover", art[0]
            if kind == "flac":
                audio.clear_pictures()
                audio.add_picture(picture)
            else:
                audio["METADATA_BLOCK_PICTURE"] = [base64.b64encode(picture.write()).decode("ascii")]
        audio.save()


class TagsStep(MixStep):
    """Finishes the tags ffmpeg wrote (``finish``): cover art from ``artwork:`` (ID3 APIC, MP4 ``covr``, FLAC
    picture, Opus METADATA_BLOCK_PICTURE), the description as an ID3 COMM frame, and CHAPTERxxx comments in
    ogg and flac. Formats without tags (WAV) carry none of these."""

    name = "tags"
    VERSION = 1

    def settings(self, compiled: CompiledEpisode) -> Any:
        fmt = FORMATS.get(compiled.rundown.format)
        if fmt is not None and fmt.tags is None:
            return None
        art = compiled.episode.artwork
        return {"version": self.VERSION, "artwork": None if art is None else {
            "path": relative(art, compiled.episode.path.parent), "sha256": sound_sha256(art)}}

    def edit_output(self, ctx: MixContext, path: Path) -> None:
        fmt = FORMATS[ctx.compiled.rundown.format]
        if fmt.tags is None:
            return
        art = ctx.compiled.episode.artwork
        marks = chapters(ctx.pieces, ctx.seconds) if fmt.chapters == "vorbis" else []
        finish(path, fmt.tags, artwork=None if art is None else Path(art),
               description=ctx.compiled.episode.description, marks=marks)
