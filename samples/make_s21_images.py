#!/usr/bin/env python3
"""Regenerate the placeholder PNG images of the synthetic S-21 sample collection.

SYNTHETIC TEST DATA. The images written here are abstract 64x64 greyscale
patterns (gradients, grids, ruled "page" lines, an empty-frame cross). They
depict no one and reproduce no real photograph or document; they only stand in
for the kinds of files an archive of Security Prison 21 (Tuol Sleng) holds, so
that Cairn's ingest and fixity code has small, valid images to work on.

Only the Python standard library is used (zlib + struct). Output is
deterministic: pixel data is a pure function of the pattern parameters, there
is no timestamp (tIME) chunk, and zlib runs at a fixed level. (Byte-identical
output across Python builds also assumes the same zlib implementation.)

Usage:
    python3 samples/make_s21_images.py            # writes into samples/s21/
    python3 samples/make_s21_images.py OUT_DIR    # writes into OUT_DIR/
"""

import hashlib
import struct
import sys
import zlib
from pathlib import Path

SIZE = 64  # width and height in pixels
COMMENT = (
    "Synthetic placeholder image for software testing (Cairn sample "
    "collection). Not a real photograph or document; depicts no one."
)


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 over type + data."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_grey8(rows, title: str) -> bytes:
    """Encode rows (lists of 0..255 ints, all SIZE long) as an 8-bit greyscale PNG."""
    height = len(rows)
    width = len(rows[0])
    # IHDR: width, height, bit depth 8, colour type 0 (greyscale),
    # compression 0, filter method 0, interlace 0 (none).
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    # Each scanline is prefixed with filter type 0 (None).
    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    idat = zlib.compress(raw, 9)
    text = b"".join(
        _chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1"))
        for key, value in (("Title", title), ("Comment", COMMENT))
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + text
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


# --- patterns: each returns SIZE rows of SIZE grey values -------------------


def vertical_gradient(top: int, bottom: int):
    span = SIZE - 1
    return [[top + (bottom - top) * y // span] * SIZE for y in range(SIZE)]


def placeholder_frame(background: int, line: int):
    """Empty frame with a diagonal cross: the usual 'no image here' mark."""
    rows = []
    for y in range(SIZE):
        row = []
        for x in range(SIZE):
            border = x < 2 or y < 2 or x >= SIZE - 2 or y >= SIZE - 2
            cross = abs(x - y) <= 1 or abs(x + y - (SIZE - 1)) <= 1
            row.append(line if (border or cross) else background)
        rows.append(row)
    return rows


def ruled_page(paper: int, ink: int, first_line: int, line_count: int):
    """Light page with grey bars standing in for lines of (illegible) text."""
    rows = []
    for y in range(SIZE):
        row = []
        for x in range(SIZE):
            k = (y - first_line) // 5
            on_line = (
                y >= first_line
                and (y - first_line) % 5 < 2
                and k < line_count
                and 6 <= x < SIZE - 6 - (k * 7) % 17
            )
            row.append(ink if on_line else paper)
        rows.append(row)
    return rows


def grid(background: int, line: int, step: int):
    return [
        [line if (x % step == 0 or y % step == 0) else background for x in range(SIZE)]
        for y in range(SIZE)
    ]


def checker(light: int, dark: int, cell: int):
    return [
        [light if ((x // cell) + (y // cell)) % 2 == 0 else dark for x in range(SIZE)]
        for y in range(SIZE)
    ]


# --- the collection's images -------------------------------------------------

IMAGES = [
    (
        "intake portraits/portrait-placeholder-001.png",
        "Sample: placeholder for a prisoner intake portrait, 1977",
        lambda: vertical_gradient(40, 200),
    ),
    (
        "intake portraits/portrait-placeholder-002.png",
        "Sample: placeholder for a prisoner intake portrait, 1977",
        lambda: placeholder_frame(190, 70),
    ),
    (
        "confession-record-transcription/pages/page-001.png",
        "Sample: placeholder page image 1 of a confession record",
        lambda: ruled_page(235, 120, 8, 10),
    ),
    (
        "confession-record-transcription/pages/page-002.png",
        "Sample: placeholder page image 2 of a confession record",
        lambda: ruled_page(235, 120, 8, 6),
    ),
    (
        "\u1791\u17bd\u179b\u179f\u17d2\u179b\u17c2\u1784/site-plan-placeholder.png",  # ទួលស្លែង
        "Sample: placeholder for a site plan of Tuol Sleng",
        lambda: grid(220, 90, 8),
    ),
    (
        "dc-cam-documentation/map-placeholder.png",
        "Sample: placeholder for a mass-grave mapping sheet",
        lambda: checker(210, 150, 8),
    ),
]


def main(argv) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "s21"
    for rel, title, pattern in IMAGES:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = png_grey8(pattern(), title)
        path.write_bytes(data)
        print(f"{hashlib.sha256(data).hexdigest()}  {len(data):5d}  {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
