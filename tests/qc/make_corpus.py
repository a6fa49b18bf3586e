#!/usr/bin/env python3
"""Makes the scan validation corpus in tests/qc/corpus/ (issue 31).

Valid files of every kind a scanner writes (TIFF, JPEG, JPEG 2000 JP2, PNG, PDF), made
with Pillow, tifffile, a small PNG writer of this script's own and qpdf, and damaged
files made from them by byte surgery (truncated, flipped bytes, broken IFD chains and
cross-reference tables, wrong box lengths, CRC errors...). Every file's name says what it
is. The agreement test (tests/it/qc_agreement.rs) runs `cairn qc` and the independent
validators (tests/qc/peers.py) on this folder.

    python3 tests/qc/make_corpus.py            # rewrites tests/qc/corpus/

Deterministic: the pixels come from fixed formulas and a seeded generator, no file
holds a timestamp (PDF dates are fixed, ICC dates zeroed, qpdf runs with --static-id
and --static-aes-iv), so a rerun with the same library versions writes the same
bytes. The output is committed; rerun only to change the corpus.

Needs: Pillow (with libtiff and OpenJPEG), tifffile, numpy, qpdf.
"""

import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import tifffile
from PIL import Image, ImageCms

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

# Fixed date for every PDF Pillow writes (its default is the time of the run).
PDF_DATE = time.struct_time((2026, 1, 1, 0, 0, 0, 3, 1, 0))


# ---------------------------------------------------------------- pixels


def pixels(w, h, channels, bits=8, seed=0):
    """A smooth pattern (gradients and rings, as a scanned page has tones) with a
    little seeded noise, as uint8 or uint16, shape (h, w) or (h, w, channels)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for c in range(channels):
        r = np.hypot(x - w * (0.3 + 0.2 * c), y - h * 0.5)
        v = 0.5 + 0.25 * np.sin(r / (6.0 + 3 * c)) + 0.25 * (x + y) / (w + h)
        planes.append(v)
    a = np.stack(planes, axis=-1)
    a += rng.normal(0.0, 0.02, a.shape)
    a = np.clip(a, 0.0, 1.0)
    top = (1 << bits) - 1
    a = np.round(a * top).astype(np.uint16 if bits == 16 else np.uint8)
    return a[:, :, 0] if channels == 1 else a


def img(w, h, mode, seed=0):
    if mode == "L":
        return Image.fromarray(pixels(w, h, 1, 8, seed))
    if mode == "RGB":
        return Image.fromarray(pixels(w, h, 3, 8, seed))
    if mode == "1":
        # Text-like bilevel page: dark bars on white.
        a = pixels(w, h, 1, 8, seed)
        return Image.fromarray(np.where(a > 140, 255, 0).astype(np.uint8)).convert("1")
    if mode == "I;16":
        return Image.fromarray(pixels(w, h, 1, 16, seed))
    if mode == "P":
        return img(w, h, "RGB", seed).quantize(colors=16, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    raise ValueError(mode)


def srgb_icc():
    """LittleCMS's sRGB profile with its creation date zeroed and its MD5 profile ID
    recomputed (ICC.1:2010 7.2.18), so that it is the same on every run."""
    p = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    p[24:36] = bytes(12)
    q = bytearray(p)
    q[44:48] = bytes(4)
    q[64:68] = bytes(4)
    q[84:100] = bytes(16)
    p[84:100] = hashlib.md5(bytes(q)).digest()
    return bytes(p)


# ---------------------------------------------------------------- writers


def path(name):
    return os.path.join(OUT, name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def read(name):
    with open(path(name), "rb") as f:
        return f.read()


def pil_save(name, image, **kw):
    buf = io.BytesIO()
    fmt = {"tif": "TIFF", "jpg": "JPEG", "jp2": "JPEG2000", "png": "PNG", "pdf": "PDF"}[name.rsplit(".", 1)[1]]
    if fmt == "PDF":
        kw.setdefault("creationDate", PDF_DATE)
        kw.setdefault("modDate", PDF_DATE)
        kw.setdefault("producer", "cairn tests/qc/make_corpus.py")
        kw.setdefault("title", name)
    if fmt == "JPEG2000":
        buf.name = name  # Pillow writes the JP2 wrapper for a .jp2 name
    image.save(buf, fmt, **kw)
    write(name, buf.getvalue())


def tiff_save(name, array, **kw):
    kw.setdefault("software", None)
    kw.setdefault("metadata", None)
    tifffile.imwrite(path(name), array, **kw)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_write(name, a, colour_type, interlace=False, extra=()):
    """A PNG from a numpy array (uint8 or uint16), filter 0 on every row, with Adam7
    interlacing if asked (Pillow writes no interlaced PNG)."""
    h, w = a.shape[:2]
    depth = 16 if a.dtype == np.uint16 else 8
    a = a.astype(">u2") if depth == 16 else a

    def rows(sub):
        return b"".join(b"\x00" + sub[i].tobytes() for i in range(sub.shape[0]))

    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = a[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += rows(sub)
    else:
        raw = rows(a)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 1 if interlace else 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    for kind, body in extra:
        data += png_chunk(kind, body)
    data += png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")
    write(name, data)


def qpdf(src, dst, *args):
    subprocess.run(
        ["qpdf", "--static-id", "--static-aes-iv", *args, "--", path(src), path(dst)],
        check=True,
    )


# ---------------------------------------------------------------- JP2 boxes


def boxes(data, start=0, end=None):
    """(offset, length, type, header length) of each box in data[start:end]."""
    end = len(data) if end is None else end
    out = []
    pos = start
    while pos + 8 <= end:
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        hdr = 8
        if length == 1:
            length = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            hdr = 16
        elif length == 0:
            length = end - pos
        out.append((pos, length, kind, hdr))
        pos += length
    return out


def find_box(data, kind, start=0, end=None):
    for b in boxes(data, start, end):
        if b[2] == kind:
            return b
    raise KeyError(kind)


def jp2_with_resolution(data, ppi):
    """Adds a resolution superbox (res  holding resc, capture resolution) at the end of
    the JP2 header box, in grid points per metre as the standard stores them."""
    ppm = round(ppi / 0.0254)
    # n / d * 10^e with n, d 16-bit: ppm = (ppm // 10) * 10^1 when it does not fit.
    e = 0
    n = ppm
    while n > 0xFFFF:
        n = round(n / 10)
        e += 1
    resc = struct.pack(">HHHHbb", n, 1, n, 1, e, e)
    res = png_like_box(b"res ", png_like_box(b"resc", resc))
    off, length, _, hdr = find_box(data, b"jp2h")
    body = data[off + hdr : off + length] + res
    return data[:off] + png_like_box(b"jp2h", body) + data[off + length :]


def png_like_box(kind, body):
    return struct.pack(">I", 8 + len(body)) + kind + body


def codestream(data):
    off, length, _, hdr = find_box(data, b"jp2c")
    return off + hdr, off + length


# ---------------------------------------------------------------- TIFF surgery


def tiff_ifds(data):
    """Offsets of the IFDs of a classic TIFF and of their next-IFD fields."""
    bo = "<" if data[:2] == b"II" else ">"
    first = struct.unpack(bo + "I", data[4:8])[0]
    out = []
    off = first
    seen = set()
    while off and off not in seen and off + 2 <= len(data):
        seen.add(off)
        n = struct.unpack(bo + "H", data[off : off + 2])[0]
        nxt_at = off + 2 + 12 * n
        out.append((off, nxt_at))
        off = struct.unpack(bo + "I", data[nxt_at : nxt_at + 4])[0]
    return bo, out


def tiff_entry(data, ifd, tag):
    """(offset of the entry, type, count, value-or-offset field offset)."""
    bo = "<" if data[:2] == b"II" else ">"
    n = struct.unpack(bo + "H", data[ifd : ifd + 2])[0]
    for i in range(n):
        e = ifd + 2 + 12 * i
        t, typ, count = struct.unpack(bo + "HHI", data[e : e + 8])
        if t == tag:
            return e, typ, count, e + 8
    raise KeyError(tag)


def put32(data, at, value, bo):
    return data[:at] + struct.pack(bo + "I", value) + data[at + 4 :]


def flip(data, at, mask=0xFF):
    return data[:at] + bytes([data[at] ^ mask]) + data[at + 1 :]


# ---------------------------------------------------------------- the corpus


def valid_tiff():
    pil_save("tiff-grey8-300ppi.tif", img(128, 96, "L", 1), dpi=(300, 300))
    pil_save("tiff-grey16-400ppi.tif", img(120, 90, "I;16", 2), dpi=(400, 400))
    pil_save("tiff-rgb8-300ppi.tif", img(128, 96, "RGB", 3), dpi=(300, 300))
    tiff_save(
        "tiff-rgb16-600ppi.tif",
        pixels(120, 90, 3, 16, 4),
        photometric="rgb",
        resolution=(600, 600),
        resolutionunit="INCH",
    )
    pil_save("tiff-bilevel-g4-600ppi.tif", img(400, 300, "1", 5), compression="group4", dpi=(600, 600))
    pil_save("tiff-rgb8-lzw-300ppi.tif", img(128, 96, "RGB", 6), compression="tiff_lzw", dpi=(300, 300))
    pil_save("tiff-rgb8-deflate-300ppi.tif", img(128, 96, "RGB", 7), compression="tiff_deflate", dpi=(300, 300))
    # libtiff writes Compression 8 (Adobe Deflate) for both of Pillow's names; 32946 (the
    # older Deflate code, the same data) set by hand.
    d = read("tiff-rgb8-deflate-300ppi.tif")
    e, typ, count, field = tiff_entry(d, tiff_ifds(d)[1][0][0], 259)
    assert struct.unpack("<H", d[field : field + 2])[0] == 8
    write("tiff-rgb8-deflate-300ppi.tif", d[:field] + struct.pack("<H", 32946) + d[field + 2 :])
    pil_save(
        "tiff-rgb8-adobe-deflate-300ppi.tif", img(128, 96, "RGB", 8), compression="tiff_adobe_deflate", dpi=(300, 300)
    )
    pil_save("tiff-grey8-packbits-300ppi.tif", img(128, 96, "L", 9), compression="packbits", dpi=(300, 300))
    pil_save("tiff-rgb8-jpeg-300ppi.tif", img(128, 96, "RGB", 10), compression="jpeg", quality=90, dpi=(300, 300))
    tiff_save(
        "tiff-rgb8-tiled-300ppi.tif",
        pixels(128, 96, 3, 8, 11),
        photometric="rgb",
        tile=(64, 64),
        resolution=(300, 300),
        resolutionunit="INCH",
    )
    pages = [img(96, 72, "RGB", 12 + i) for i in range(3)]
    pages[0].save(path("tiff-rgb8-multipage-3-300ppi.tif"), "TIFF", save_all=True, append_images=pages[1:], dpi=(300, 300))
    tiff_save(
        "tiff-rgb8-bigendian-300ppi.tif",
        pixels(120, 90, 3, 8, 15),
        photometric="rgb",
        byteorder=">",
        resolution=(300, 300),
        resolutionunit="INCH",
    )
    pil_save("tiff-rgb8-icc-srgb-400ppi.tif", img(120, 90, "RGB", 16), icc_profile=srgb_icc(), dpi=(400, 400))
    # 118.11 pixels per centimetre: 300 ppi.
    pil_save(
        "tiff-grey8-118ppcm.tif",
        img(120, 90, "L", 17),
        resolution_unit=3,
        x_resolution=118.11,
        y_resolution=118.11,
    )


def damaged_tiff():
    base = read("tiff-rgb8-300ppi.tif")  # Pillow's writer: IFD at offset 8, strips after
    write("tiff-truncated-in-header.tif", base[:6])
    bo, ifds = tiff_ifds(base)
    ifd0, next0 = ifds[0]
    write("tiff-truncated-in-ifd.tif", base[: ifd0 + 40])
    write("tiff-truncated-in-strips.tif", base[: len(base) // 2])
    write("tiff-truncated-last-bytes.tif", base[:-100])
    write("tiff-flipped-byte-order-mark.tif", flip(base, 0, 0x10))
    write("tiff-flipped-magic-42.tif", flip(base, 2 if bo == "<" else 3, 0x01))
    write("tiff-ifd-offset-past-end.tif", put32(base, 4, len(base) + 1000, bo))
    # Strip offsets: the first strip's offset past the end of the file.
    e, typ, count, field = tiff_entry(base, ifd0, 273)
    at = field if count == 1 else struct.unpack(bo + "I", base[field : field + 4])[0]
    write("tiff-strip-offset-past-end.tif", put32(base, at, len(base) + 4096, bo))
    # Strip byte counts larger than the file.
    e, typ, count, field = tiff_entry(base, ifd0, 279)
    at = field if count == 1 else struct.unpack(bo + "I", base[field : field + 4])[0]
    write("tiff-strip-bytecount-past-end.tif", put32(base, at, len(base) * 4, bo))

    multi = read("tiff-rgb8-multipage-3-300ppi.tif")
    bo, ifds = tiff_ifds(multi)
    # Page 1's next-IFD offset past the end of the file.
    write("tiff-next-ifd-past-end.tif", put32(multi, ifds[0][1], len(multi) + 64, bo))
    # A loop: page 3's next-IFD offset back to page 1.
    write("tiff-ifd-loop.tif", put32(multi, ifds[2][1], ifds[0][0], bo))
    # Page 2's IFD says it has 0xFFFF entries.
    write(
        "tiff-ifd-entry-count-huge.tif",
        multi[: ifds[1][0]] + struct.pack(bo + "H", 0xFFFF) + multi[ifds[1][0] + 2 :],
    )

    lzw = read("tiff-rgb8-lzw-300ppi.tif")
    write("tiff-lzw-truncated-half.tif", lzw[: len(lzw) // 2])


def valid_jpeg():
    pil_save("jpeg-baseline-jfif-300ppi.jpg", img(128, 96, "RGB", 20), quality=90, dpi=(300, 300))
    pil_save("jpeg-progressive-300ppi.jpg", img(128, 96, "RGB", 21), quality=90, progressive=True, dpi=(300, 300))
    pil_save("jpeg-grey-400ppi.jpg", img(128, 96, "L", 22), quality=90, dpi=(400, 400))
    pil_save("jpeg-restart-markers.jpg", img(128, 96, "RGB", 23), quality=90, restart_marker_rows=1, dpi=(300, 300))
    exif = Image.Exif()
    exif[0x011A] = 600.0  # XResolution
    exif[0x011B] = 600.0  # YResolution
    exif[0x0128] = 2  # ResolutionUnit: inch
    exif[0x010F] = "Cairn"  # Make
    exif[0x0110] = "make_corpus"  # Model
    pil_save("jpeg-exif-600ppi.jpg", img(128, 96, "RGB", 24), quality=90, exif=exif.tobytes(), dpi=(600, 600))
    pil_save("jpeg-icc-srgb.jpg", img(128, 96, "RGB", 25), quality=90, icc_profile=srgb_icc(), dpi=(300, 300))
    pil_save("jpeg-cm-118ppcm.jpg", img(120, 90, "RGB", 26), quality=85)
    # JFIF density in dots per cm (units 2): bytes 13 (units) and 14-17 (X, Y) of APP0.
    d = bytearray(read("jpeg-cm-118ppcm.jpg"))
    assert d[6:11] == b"JFIF\0"
    d[13] = 2
    d[14:18] = struct.pack(">HH", 118, 118)
    write("jpeg-cm-118ppcm.jpg", bytes(d))


def jpeg_marker(data, marker):
    pos = 2
    while pos + 4 <= len(data):
        assert data[pos] == 0xFF, pos
        m = data[pos + 1]
        if m == marker:
            return pos
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    raise KeyError(marker)


def damaged_jpeg():
    base = read("jpeg-baseline-jfif-300ppi.jpg")
    write("jpeg-truncated-in-header.jpg", base[:100])
    write("jpeg-truncated-half.jpg", base[: len(base) // 2])
    write("jpeg-missing-eoi.jpg", base[:-2])
    write("jpeg-flipped-soi.jpg", flip(base, 1, 0x08))
    sof = jpeg_marker(base, 0xC0)
    # SOF0 height 0 (a DNL marker would be needed, and there is none).
    write("jpeg-sof-height-zero.jpg", base[: sof + 5] + b"\x00\x00" + base[sof + 7 :])
    # SOF0 segment length too short for its components.
    write("jpeg-sof-length-short.jpg", base[: sof + 2] + b"\x00\x08" + base[sof + 4 :])
    sos = jpeg_marker(base, 0xDA)
    write("jpeg-no-sos.jpg", base[:sos] + b"\xff\xd9")
    rst = read("jpeg-restart-markers.jpg")
    write("jpeg-restart-truncated.jpg", rst[: len(rst) * 2 // 3])


def valid_jp2():
    pil_save("jp2-rgb8-lossless.jp2", img(128, 96, "RGB", 30))
    pil_save("jp2-rgb8-lossy.jp2", img(128, 96, "RGB", 31), irreversible=True, quality_mode="rates", quality_layers=[20])
    pil_save("jp2-rgb8-tiled.jp2", img(128, 96, "RGB", 32), tile_size=(64, 64))
    pil_save("jp2-grey8-lossless.jp2", img(128, 96, "L", 33))
    pil_save("jp2-grey16-lossless.jp2", img(120, 90, "I;16", 34))
    pil_save("jp2-rgb8-layers-progression.jp2", img(128, 96, "RGB", 35), quality_layers=[40, 10, 1], progression="RPCL", plt=True)
    write("jp2-rgb8-lossless-300ppi.jp2", jp2_with_resolution(read("jp2-rgb8-lossless.jp2"), 300))


def damaged_jp2():
    base = read("jp2-rgb8-lossless.jp2")
    write("jp2-truncated-in-header.jp2", base[:60])
    write("jp2-truncated-half.jp2", base[: len(base) // 2])
    write("jp2-missing-eoc.jp2", base[:-2])
    write("jp2-flipped-signature.jp2", flip(base, 9, 0x20))
    # jp2h box length 8 bytes longer than it is: its sub-boxes overrun the codestream.
    off, length, _, _ = find_box(base, b"jp2h")
    write("jp2-wrong-box-length-jp2h.jp2", base[:off] + struct.pack(">I", length + 8) + base[off + 4 :])
    # The codestream box's length shorter than its content.
    off, length, _, _ = find_box(base, b"jp2c")
    write("jp2-wrong-box-length-jp2c.jp2", base[:off] + struct.pack(">I", length - 100) + base[off + 4 :])
    cs, _ = codestream(base)
    assert base[cs : cs + 4] == b"\xff\x4f\xff\x51", "SOC then SIZ"
    # SIZ's Xsiz (image width) with a flipped high byte: disagrees with the ihdr box.
    write("jp2-flipped-siz-width.jp2", flip(base, cs + 8, 0x01))
    # SIZ's Csiz (component count) flipped.
    write("jp2-flipped-siz-components.jp2", flip(base, cs + 4 + 36 + 1, 0x04))
    # The ihdr box's width changed: disagrees with the codestream's SIZ.
    off, _, _, hdr = find_box(base, b"jp2h")
    ioff, _, _, ihdr = find_box(base, b"ihdr", off + hdr)
    write("jp2-ihdr-width-differs.jp2", flip(base, ioff + ihdr + 7, 0x02))
    tiled = read("jp2-rgb8-tiled.jp2")
    write("jp2-tiled-truncated-last-tile.jp2", tiled[:-300])


def valid_png():
    pil_save("png-grey8.png", img(128, 96, "L", 40))
    pil_save("png-rgb8.png", img(128, 96, "RGB", 41))
    pil_save("png-palette.png", img(128, 96, "P", 42))
    pil_save("png-grey16.png", img(120, 90, "I;16", 43))
    png_write("png-rgb16.png", pixels(120, 90, 3, 16, 44), 2)
    png_write("png-rgb8-interlaced.png", pixels(133, 97, 3, 8, 45), 2, interlace=True)
    pil_save("png-rgb8-iccp.png", img(120, 90, "RGB", 46), icc_profile=srgb_icc())
    pil_save("png-rgb8-phys-300ppi.png", img(120, 90, "RGB", 47), dpi=(300, 300))
    pil_save("png-bilevel.png", img(128, 96, "1", 48))


def png_chunks(data):
    out = []
    pos = 8
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos : pos + 8])
        out.append((pos, n, kind))
        pos += 12 + n
    return out


def damaged_png():
    base = read("png-rgb8.png")
    chunks = png_chunks(base)
    idat = [c for c in chunks if c[2] == b"IDAT"]
    write("png-truncated-in-header.png", base[:20])
    write("png-truncated-half.png", base[: len(base) // 2])
    write("png-missing-iend.png", base[:-12])
    write("png-flipped-signature.png", flip(base, 1, 0x01))
    # A flipped byte inside the first IDAT's data: its CRC no longer matches.
    pos, n, _ = idat[0]
    write("png-crc-error.png", flip(base, pos + 8 + n // 2, 0x01))
    # IHDR's CRC wrong.
    write("png-crc-error-ihdr.png", flip(base, 8 + 8 + 13, 0x01))
    # IHDR width with a flipped high byte, CRC recomputed: the data is too short for it.
    ihdr = bytearray(base[16:29])
    ihdr[0] ^= 0x01
    write("png-ihdr-width-flipped.png", base[:8] + png_chunk(b"IHDR", bytes(ihdr)) + base[33:])
    # IHDR bit depth 7 (not allowed), CRC recomputed.
    ihdr = bytearray(base[16:29])
    ihdr[8] = 7
    write("png-ihdr-depth-7.png", base[:8] + png_chunk(b"IHDR", bytes(ihdr)) + base[33:])
    # Short IDAT data: the zlib stream cut in half, the chunk's length and CRC correct.
    pos, n, _ = idat[0]
    body = base[pos + 8 : pos + 8 + n]
    short = png_chunk(b"IDAT", body[: n // 2])
    rest = b"".join(base[p : p + 12 + m] for p, m, k in chunks if k not in (b"IDAT",) and p > pos)
    write("png-short-idat.png", base[:pos] + short + rest)
    # No IDAT at all.
    write("png-no-idat.png", b"".join([base[:8]] + [base[p : p + 12 + m] for p, m, k in chunks if k != b"IDAT"]))


def valid_pdf():
    pil_save("pdf-pillow-1page-300ppi.pdf", img(128, 96, "RGB", 50), resolution=300.0)
    pages = [img(120, 90, "L", 51 + i) for i in range(3)]
    pil_save("pdf-pillow-3pages.pdf", pages[0], save_all=True, append_images=pages[1:], resolution=300.0)
    qpdf("pdf-pillow-3pages.pdf", "pdf-qpdf-object-streams.pdf", "--object-streams=generate")
    qpdf("pdf-pillow-3pages.pdf", "pdf-qpdf-linearized.pdf", "--linearize")
    qpdf("pdf-pillow-1page-300ppi.pdf", "pdf-qpdf-encrypted-aes256-empty-user.pdf", "--encrypt", "", "owner", "256")
    qpdf("pdf-pillow-1page-300ppi.pdf", "pdf-qpdf-encrypted-rc4-128-empty-user.pdf", "--allow-weak-crypto", "--encrypt", "", "owner", "128", "--use-aes=n")


def damaged_pdf():
    base = read("pdf-pillow-3pages.pdf")
    write("pdf-truncated-in-header.pdf", base[:5])
    write("pdf-truncated-half.pdf", base[: len(base) // 2])
    write("pdf-flipped-header.pdf", flip(base, 2, 0x01))
    # startxref gone: the keyword renamed.
    i = base.rindex(b"startxref")
    write("pdf-missing-startxref.pdf", base[:i] + b"startxrex" + base[i + 9 :])
    # startxref pointing into the middle of an object.
    j = base.index(b"\n", i + 10)
    off = int(base[i + 10 : j])
    write("pdf-startxref-wrong.pdf", base[: i + 10] + str(off - 7).encode() + base[j:])
    # One cross-reference entry's offset shifted by 3 bytes.
    x = base.index(b"xref", off)
    lines = base[x:].split(b"\n")
    # lines[0] "xref", lines[1] "0 N", lines[2] the free entry, lines[3] object 1
    at = x + sum(len(l) + 1 for l in lines[:3])
    entry = base[at : at + 10]
    shifted = b"%010d" % (int(entry) + 3)
    write("pdf-xref-offset-shifted.pdf", base[:at] + shifted + base[at + 10 :])
    write("pdf-missing-eof-marker.pdf", base[: base.rindex(b"%%EOF")])
    objs = read("pdf-qpdf-object-streams.pdf")
    write("pdf-object-streams-truncated.pdf", objs[: len(objs) * 3 // 4])


def main():
    if os.path.isdir(OUT):
        for n in os.listdir(OUT):
            if n != "README.md":
                os.remove(os.path.join(OUT, n))
    os.makedirs(OUT, exist_ok=True)
    for step in (valid_tiff, damaged_tiff, valid_jpeg, damaged_jpeg, valid_jp2, damaged_jp2, valid_png, damaged_png, valid_pdf, damaged_pdf):
        step()
    names = sorted(n for n in os.listdir(OUT) if n != "README.md")
    total = sum(os.path.getsize(path(n)) for n in names)
    print(f"{len(names)} files, {total} bytes in tests/qc/corpus/")
    if total > 3 * 1024 * 1024:
        sys.exit("the corpus is over 3 MiB")


if __name__ == "__main__":
    main()
