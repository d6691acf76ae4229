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

from podpipe.errors import UsageError

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


def finish(target: Path, fmt: str, *, artwork: Path | None, description: str | None, marks: Sequence) -> None:
    """Edit the ``fmt`` file at ``target`` in place; ``marks`` are ``chapters.Chapter``s."""
    art = _read_art(artwork) if artwork is not None else None
    if fmt == "mp3":
        from mutagen.id3 import APIC, COMM, ID3

        tags = ID3(target)
        tags.delall("TXXX:comment")
        if description:
            tags.setall("COMM", [COMM(encoding=1, lang="eng", desc="", text=[description])])
        if art:
            tags.delall("APIC")
            tags.add(APIC(encoding=1, mime=art[1], type=COVER_FRONT, desc="Cover", data=art[0]))
        tags.save(target, v2_version=3)
    elif fmt == "m4a":
        if art:
            from mutagen.mp4 import MP4, MP4Cover

            audio = MP4(target)
            kind = MP4Cover.FORMAT_PNG if art[1] == "image/png" else MP4Cover.FORMAT_JPEG
            audio["covr"] = [MP4Cover(art[0], imageformat=kind)]
            audio.save()
    elif fmt in ("flac", "ogg"):
        from mutagen.flac import FLAC, Picture
        from mutagen.oggopus import OggOpus

        audio = FLAC(target) if fmt == "flac" else OggOpus(target)
        for key in [k for k in audio.keys() if k.lower().startswith("chapter")]:
            del audio[key]
        for i, mark in enumerate(marks):
            audio[f"CHAPTER{i:03d}"] = _clock(mark.start)
            audio[f"CHAPTER{i:03d}NAME"] = mark.title
        if art:
            picture = Picture()
            picture.type, picture.mime, picture.desc, picture.data = COVER_FRONT, art[1], "Cover", art[0]
            if fmt == "flac":
                audio.clear_pictures()
                audio.add_picture(picture)
            else:
                audio["METADATA_BLOCK_PICTURE"] = [base64.b64encode(picture.write()).decode("ascii")]
        audio.save()
