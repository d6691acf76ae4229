"""Draw cover.png, the Podpipe Weekly cover: a 1400×1400 RGB PNG (the smallest square Apple Podcasts takes).

Standard library only, so anyone can regenerate it byte for byte: `python episodes/assets/make_cover.py`.
A warm diagonal gradient with concentric rings, like sound spreading from a speaker in the lower left;
no text, so nothing depends on fonts.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

SIZE = 1400
CENTRE = (0.22 * SIZE, 0.78 * SIZE)
RING = 70  # pixels from one ring to the next


def pixel(x: int, y: int) -> tuple[int, int, int]:
    t = (x + (SIZE - y)) / (2 * SIZE)  # 0 in the lower left, 1 in the upper right
    r, g, b = 250 - 120 * t, 140 - 40 * t, 60 + 110 * t
    d = math.hypot(x - CENTRE[0], y - CENTRE[1])
    ring = 0.5 + 0.5 * math.cos(2 * math.pi * d / RING)
    glow = max(0.0, 1 - d / (1.2 * SIZE)) * ring ** 6 * 70
    return tuple(max(0, min(255, round(c + glow))) for c in (r, g, b))


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png() -> bytes:
    rows = bytearray()
    previous = bytes(3 * SIZE)
    for y in range(SIZE):
        row = bytes(c for x in range(SIZE) for c in pixel(x, y))
        rows.append(2)  # filter "up": a smooth picture differs little from the row above, and compresses well
        rows.extend((a - b) & 0xFF for a, b in zip(row, previous))
        previous = row
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
            + chunk(b"IEND", b""))


def write(path: Path) -> None:
    path.write_bytes(png())


if __name__ == "__main__":
    out = Path(__file__).with_name("cover.png")
    write(out)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
