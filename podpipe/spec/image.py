"""What an image file is, read from its header: format, size and colour mode of a PNG or a JPEG.

Podcast directories reject cover art that is not a square RGB JPEG or PNG of 1400-3000 px, and they say so
days after the feed went out; ``validate`` reads the few header bytes that tell, with the standard library
only (it must stay fast), instead of decoding the picture.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MODES = {0: "grayscale", 2: "RGB", 3: "indexed colour", 4: "grayscale with alpha", 6: "RGBA"}
_JPEG_MODES = {1: "grayscale", 3: "RGB", 4: "CMYK"}
# Start-of-frame markers (baseline, progressive, lossless...); C4, C8 and CC share the range but are not frames
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "png" or "jpeg"
    width: int
    height: int
    mode: str  # "RGB", "RGBA", "grayscale", "CMYK", ...

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self.format]


def read_image_info(path: Path) -> ImageInfo | None:
    """The header facts of the PNG or JPEG at ``path``; None when it is neither (or is cut short)."""
    with open(path, "rb") as f:
        head = f.read(32)
        if head.startswith(_PNG_SIGNATURE):
            return _png(head)
        if head.startswith(b"\xff\xd8"):
            f.seek(2)
            return _jpeg(f)
    return None


def _png(head: bytes) -> ImageInfo | None:
    if len(head) < 26 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return ImageInfo("png", width, height, _PNG_MODES.get(head[25], f"colour type {head[25]}"))


def _jpeg(f) -> ImageInfo | None:
    while True:
        byte = f.read(1)
        if byte != b"\xff":
            return None
        marker = f.read(1)
        while marker == b"\xff":  # fill bytes
            marker = f.read(1)
        if not marker:
            return None
        code = marker[0]
        if code == 0x01 or 0xD0 <= code <= 0xD9:  # markers without a length
            if code == 0xD9:
                return None
            continue
        raw = f.read(2)
        if len(raw) < 2:
            return None
        length = struct.unpack(">H", raw)[0]
        if code in _SOF:
            body = f.read(6)
            if len(body) < 6:
                return None
            height, width, components = struct.unpack(">HHB", body[1:6])
            return ImageInfo("jpeg", width, height, _JPEG_MODES.get(components, f"{components} components"))
        f.seek(length - 2, 1)
