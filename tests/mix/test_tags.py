"""Tags, cover art and chapters in every format, read back with mutagen and with ffmpeg, and the
Podcasting 2.0 chapters file beside the output."""

from __future__ import annotations

import base64
import dataclasses
import json
import struct
import subprocess
import zlib
from pathlib import Path

import mutagen
import pytest
from mutagen.flac import Picture
from mutagen.id3 import ID3, CTOCFlags

from podpipe.audio import ffmpeg_exe
from podpipe.compile import CompiledEpisode, SilencePiece
from podpipe.errors import UsageError
from podpipe.mix import inputs_digest, is_up_to_date, mix_episode
from tests.mix.helpers import compiled_episode
from tests.support.audio import speech, voice


def png(width: int = 4, height: int = 4) -> bytes:
    raw = b"".join(b"\x00" + b"\xc0\x30\x10" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def renders():
    return {"a" * 64: voice(1, 2.0, 0.3), "b" * 64: voice(2, 1.5, 0.3), "c" * 64: voice(3, 1.0, 0.3)}


@pytest.fixture
def cover(tmp_path) -> Path:
    path = tmp_path / "assets" / "cover.png"
    path.parent.mkdir()
    path.write_bytes(png())
    return path


TITLES = ["Intro", "Main; part = 1 #2", "Ünïcode outro"]


def episode(tmp_path: Path, fmt: str, artwork: Path | None = None, chapters=TITLES) -> CompiledEpisode:
    a = dataclasses.replace(speech("a" * 64, 0, "Alex"), chapter=chapters[0])
    b = dataclasses.replace(speech("b" * 64, 1, "Sam"), chapter=chapters[1])
    c = dataclasses.replace(speech("c" * 64, 2, "Alex"), chapter=chapters[2])
    pieces = [SilencePiece(0.5, "pause"), a, SilencePiece(0.25, "gap"), b, SilencePiece(0.25, "gap"), c]
    return compiled_episode(tmp_path, pieces, fmt, title="Episode 3: Tags", author="The Team", show="The Show",
                            episode=3, description="All about tags.", date="2026-11-23", artwork=artwork)


def expected_starts() -> list[float]:
    return [0.5, 0.5 + 2.0 + 0.25, 0.5 + 2.0 + 0.25 + 1.5 + 0.25]


def ffmetadata(path: Path) -> str:
    return subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(path), "-f", "ffmetadata",
                           "pipe:1"], capture_output=True, text=True, check=True).stdout


def ffmpeg_chapters(path: Path) -> list[tuple[float, str]]:
    out, current = [], {}
    for line in ffmetadata(path).splitlines():
        if line == "[CHAPTER]":
            current = {}
            out.append(current)
        elif out and "=" in line:
            key, _, value = line.partition("=")
            current[key] = value.replace("\\", "")
    result = []
    for ch in out:
        num, den = map(int, ch["TIMEBASE"].split("/"))
        result.append((int(ch["START"]) * num / den, ch.get("title", "")))
    return result


def test_mp3_id3v23_tags_art_and_chapters(tmp_path, renders, cover):
    result = mix_episode(episode(tmp_path, "mp3", cover), renders.__getitem__)
    data = result.output.read_bytes()
    assert data[:4] == b"ID3\x03"
    tags = ID3(result.output)
    assert tags.version[:2] == (2, 3)
    assert str(tags["TIT2"]) == "Episode 3: Tags" and str(tags["TPE1"]) == "The Team"
    assert str(tags["TALB"]) == "The Show" and str(tags["TRCK"]) == "3"
    assert str(tags["TDRC"]).startswith("2026")
    assert tags.getall("COMM")[0].text == ["All about tags."] and not tags.getall("TXXX")
    apic = tags.getall("APIC")[0]
    assert apic.data == cover.read_bytes() and apic.mime == "image/png" and apic.type == 3
    chaps = sorted(tags.getall("CHAP"), key=lambda c: c.start_time)
    assert [c.sub_frames["TIT2"].text[0] for c in chaps] == TITLES
    assert [c.start_time for c in chaps] == [round(s * 1000) for s in expected_starts()]
    assert all(a.end_time == b.start_time for a, b in zip(chaps, chaps[1:]))
    toc = tags.getall("CTOC")[0]
    assert toc.flags & CTOCFlags.TOP_LEVEL and toc.flags & CTOCFlags.ORDERED
    assert list(toc.child_element_ids) == [c.element_id for c in chaps]
    # ffmpeg reads them too (its mp3 demuxer shifts them by the encoder delay, < 30 ms)
    read = ffmpeg_chapters(result.output)
    assert [t for _, t in read] == TITLES
    assert all(abs(s - e) < 0.03 for (s, _), e in zip(read, expected_starts()))


def test_m4a_atoms_art_and_chapters(tmp_path, renders, cover):
    result = mix_episode(episode(tmp_path, "m4a", cover), renders.__getitem__)
    audio = mutagen.File(result.output)
    assert type(audio).__name__ == "MP4"
    assert audio["©nam"] == ["Episode 3: Tags"] and audio["©ART"] == ["The Team"]
    assert audio["©alb"] == ["The Show"] and audio["trkn"][0][0] == 3 and audio["©day"] == ["2026-11-23"]
    assert audio["©cmt"] == ["All about tags."]
    assert bytes(audio["covr"][0]) == cover.read_bytes()
    assert [(round(c.start, 2), c.title) for c in audio.chapters] == [
        (round(s, 2), t) for s, t in zip(expected_starts(), TITLES)]
    read = ffmpeg_chapters(result.output)
    # ffmpeg reads the QuickTime chapter track, whose first sample always starts at 0
    assert [t for _, t in read] == TITLES and read[0][0] == 0
    assert all(abs(s - e) < 0.03 for (s, _), e in zip(read[1:], expected_starts()[1:]))


@pytest.mark.parametrize("fmt", ["ogg", "flac"])
def test_vorbis_comments_art_and_chapters(tmp_path, renders, cover, fmt):
    result = mix_episode(episode(tmp_path, fmt, cover), renders.__getitem__)
    audio = mutagen.File(result.output)
    assert audio["title"] == ["Episode 3: Tags"] and audio["artist"] == ["The Team"]
    assert audio["album"] == ["The Show"] and audio["tracknumber"] == ["3"] and audio["date"] == ["2026-11-23"]
    if fmt == "flac":
        picture = audio.pictures[0]
    else:
        picture = Picture(base64.b64decode(audio["metadata_block_picture"][0]))
    assert picture.data == cover.read_bytes() and picture.type == 3 and picture.mime == "image/png"
    starts = [audio[f"chapter{i:03d}"][0] for i in range(3)]
    names = [audio[f"chapter{i:03d}name"][0] for i in range(3)]
    assert names == TITLES
    assert starts == ["00:00:00.500", "00:00:02.750", "00:00:04.500"]


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg"])
def test_podcasting20_chapters_file(tmp_path, renders, fmt):
    result = mix_episode(episode(tmp_path, fmt), renders.__getitem__)
    path = result.output.with_name("ep.chapters.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["version"] == "1.2.0"
    assert [c["title"] for c in doc["chapters"]] == TITLES
    assert [c["startTime"] for c in doc["chapters"]] == expected_starts()
    manifest = json.loads(result.manifest.read_text())
    chapter_pieces = [p["start"] for p in manifest["pieces"] if p["chapter"]]
    assert [c["startTime"] for c in doc["chapters"]] == [round(s, 3) for s in chapter_pieces]
    assert "ep.chapters.json" in manifest["sidecars"]
    compiled = episode(tmp_path, fmt)
    assert is_up_to_date(compiled)
    path.unlink()
    assert not is_up_to_date(compiled)  # a lost sidecar means a re-mix


def test_no_chapters_no_chapters_file(tmp_path, renders):
    compiled = episode(tmp_path, "mp3", chapters=[None, None, None])
    result = mix_episode(compiled, renders.__getitem__)
    assert not result.output.with_name("ep.chapters.json").exists()
    assert not ID3(result.output).getall("CHAP")


def test_artwork_changes_re_mix_never_render(tmp_path, renders, cover):
    compiled = episode(tmp_path, "mp3", cover)
    mix_episode(compiled, renders.__getitem__)
    assert is_up_to_date(compiled)
    before = inputs_digest(compiled)
    cover.write_bytes(png(8, 8))
    assert inputs_digest(compiled) != before and not is_up_to_date(compiled)
    assert episode(tmp_path, "mp3", cover).rundown.keys == compiled.rundown.keys


def test_artwork_that_is_no_image_is_a_clear_error(tmp_path, renders):
    fake = tmp_path / "cover.png"
    fake.write_bytes(b"not an image at all")
    compiled = episode(tmp_path, "m4a", fake)
    with pytest.raises(UsageError, match="not a PNG or JPEG"):
        mix_episode(compiled, renders.__getitem__)
    assert not compiled.rundown.output.exists()  # nothing half-written
