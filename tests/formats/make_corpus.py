#!/usr/bin/env python3
"""Writes the format-identification test corpus into DIR and prints, as JSON on stdout,
what was written into each file (the values technical metadata must read back).

Usage: make_corpus.py DIR

Needs Pillow (with OpenJPEG for JPEG 2000). Everything else is written by hand here:
PDFs (1.4, 1.7, a PDF/A-1b claim in XMP), text, XML, HTML, ZIP, WAV, files that match
nothing, and damaged scans (a truncated TIFF, a JPEG without its end marker, a PDF
without its trailer).
"""
import io
import json
import os
import struct
import sys
import wave
import zipfile

from PIL import Image, TiffImagePlugin

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
meta = {}


def img(w, h, mode="RGB", seed=0):
    im = Image.new(mode, (w, h))
    px = im.load()
    for y in range(h):
        for x in range(w):
            v = (x * 7 + y * 13 + seed) % 256
            if mode == "RGB":
                px[x, y] = (v, (v * 3) % 256, (v * 5) % 256)
            elif mode == "L":
                px[x, y] = v
            else:
                px[x, y] = v % 2
    return im


def save(name, **m):
    meta[name] = m


# TIFF: baseline (uncompressed, little-endian), LZW, multi-page, big-endian, bilevel G4.
img(64, 48).save(os.path.join(out, "baseline.tif"), dpi=(300, 300))
save("baseline.tif", width=64, height=48, samples_per_pixel=3, bits_per_sample=[8, 8, 8],
     compression="none", photometric="RGB", x_resolution=300.0, resolution_unit="inch", pages=1)
img(80, 40, "L").save(os.path.join(out, "lzw.tif"), compression="tiff_lzw", dpi=(400, 400))
save("lzw.tif", width=80, height=40, samples_per_pixel=1, bits_per_sample=[8],
     compression="LZW", photometric="BlackIsZero", x_resolution=400.0, resolution_unit="inch", pages=1)
pages = [img(32, 32, seed=i) for i in range(3)]
pages[0].save(os.path.join(out, "multipage.tif"), save_all=True, append_images=pages[1:], dpi=(200, 200))
save("multipage.tif", width=32, height=32, samples_per_pixel=3, pages=3, compression="none")
TiffImagePlugin.WRITE_LIBTIFF = False
with open(os.path.join(out, "bigendian.tif"), "wb") as f:
    im = img(40, 30, "L")
    # Pillow writes little-endian; a big-endian baseline file is written by hand.
    w, h = im.size
    data = im.tobytes()
    entries = [
        (256, 3, 1, w), (257, 3, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
        (273, 4, 1, 0), (277, 3, 1, 1), (278, 3, 1, h), (279, 4, 1, len(data)),
        (282, 5, 1, 0), (283, 5, 1, 0), (296, 3, 1, 3),
    ]
    ifd_off = 8
    ifd_len = 2 + 12 * len(entries) + 4
    res_off = ifd_off + ifd_len
    strip_off = res_off + 16
    b = bytearray(b"MM\x00\x2a" + struct.pack(">I", ifd_off))
    b += struct.pack(">H", len(entries))
    for tag, typ, count, val in entries:
        if tag == 273:
            val = strip_off
        if tag == 282:
            val = res_off
        if tag == 283:
            val = res_off + 8
        if typ == 3:
            b += struct.pack(">HHIHH", tag, typ, count, val, 0)
        else:
            b += struct.pack(">HHII", tag, typ, count, val)
    b += struct.pack(">I", 0)
    b += struct.pack(">IIII", 118, 1, 118, 1)
    b += data
    f.write(b)
save("bigendian.tif", width=40, height=30, samples_per_pixel=1, bits_per_sample=[8],
     compression="none", photometric="BlackIsZero", x_resolution=118.0, resolution_unit="centimetre", pages=1)
img(64, 64, "1").save(os.path.join(out, "bilevel_g4.tif"), compression="group4", dpi=(600, 600))
save("bilevel_g4.tif", width=64, height=64, samples_per_pixel=1, compression="CCITT Group 4",
     photometric="BlackIsZero", x_resolution=600.0, pages=1)  # Pillow writes 1-bit images BlackIsZero

# JPEG: JFIF, and EXIF with a capture date and device.
img(50, 40).save(os.path.join(out, "jfif.jpg"), quality=90, dpi=(300, 300))
save("jfif.jpg", width=50, height=40, components=3, x_resolution=300.0, resolution_unit="inch")
exif = Image.Exif()
exif[0x010F] = "Cairn Test Scanner Co"
exif[0x0110] = "CTS-1000"
exif[0x0132] = "2026:01:15 10:30:00"
exif_ifd = {0x9003: "2026:01:15 10:30:00"}
exif[0x8769] = exif_ifd
img(60, 30).save(os.path.join(out, "exif.jpg"), quality=85, exif=exif)
save("exif.jpg", width=60, height=30, components=3, capture_date="2026:01:15 10:30:00",
     make="Cairn Test Scanner Co", model="CTS-1000")

# JPEG 2000 (jp2): lossless (reversible 5/3) and lossy (irreversible 9/7).
img(48, 36).save(os.path.join(out, "lossless.jp2"), irreversible=False)
save("lossless.jp2", width=48, height=36, components=3, reversible=True)
img(48, 36).save(os.path.join(out, "lossy.jp2"), irreversible=True, quality_mode="rates", quality_layers=[20])
save("lossy.jp2", width=48, height=36, components=3, reversible=False)

# PNG, GIF.
img(33, 22).save(os.path.join(out, "image.png"), dpi=(300, 300))
save("image.png", width=33, height=22, bit_depth=8, colour_type=2)
img(20, 10).convert("P").save(os.path.join(out, "image.gif"))
save("image.gif", width=20, height=10)


def pdf(version, pages, xmp=None, trailer=True, encrypt=False):
    objs = []
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    cat = "<< /Type /Catalog /Pages 2 0 R"
    if xmp is not None:
        cat += f" /Metadata {3 + pages} 0 R"
    objs.append(cat + " >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>")
    for _ in range(pages):
        objs.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>")
    if xmp is not None:
        objs.append(f"<< /Type /Metadata /Subtype /XML /Length {len(xmp)} >>\nstream\n{xmp}\nendstream")
    b = bytearray(f"%PDF-{version}\n%\xe2\xe3\xcf\xd3\n".encode("latin-1"))
    offs = []
    for i, o in enumerate(objs):
        offs.append(len(b))
        b += f"{i + 1} 0 obj\n{o}\nendobj\n".encode()
    xref = len(b)
    b += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for o in offs:
        b += f"{o:010d} 00000 n \n".encode()
    if trailer:
        enc = " /Encrypt 99 0 R" if encrypt else ""
        b += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R{enc} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(b)


XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
<pdfaid:part>1</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""
open(os.path.join(out, "v14.pdf"), "wb").write(pdf("1.4", 2))
save("v14.pdf", pdf_version="1.4", pages=2, encrypted=False, pdfa=None)
open(os.path.join(out, "v17.pdf"), "wb").write(pdf("1.7", 5))
save("v17.pdf", pdf_version="1.7", pages=5, encrypted=False, pdfa=None)
open(os.path.join(out, "pdfa1b.pdf"), "wb").write(pdf("1.4", 1, XMP))
save("pdfa1b.pdf", pdf_version="1.4", pages=1, encrypted=False, pdfa="1B")

open(os.path.join(out, "encrypted.pdf"), "wb").write(pdf("1.7", 1, encrypt=True))
save("encrypted.pdf", pdf_version="1.7", pages=1, encrypted=True, pdfa=None)

# Text, XML, HTML.
open(os.path.join(out, "notes.txt"), "w", encoding="utf-8").write(
    "Transcription notes\nPrisoner file S21-0001, page 1 of 2.\n")
open(os.path.join(out, "record.xml"), "w", encoding="utf-8").write(
    '<?xml version="1.0" encoding="UTF-8"?>\n<record><title>Index card</title></record>\n')
open(os.path.join(out, "page.html"), "w", encoding="utf-8").write(
    "<!DOCTYPE html>\n<html><head><title>Finding aid</title></head><body><p>Box 1</p></body></html>\n")

# ZIP, and an EPUB-like and ODF-like container.
with zipfile.ZipFile(os.path.join(out, "bundle.zip"), "w") as z:
    z.writestr("a.txt", "alpha\n")
    z.writestr("b.txt", "beta\n")
with zipfile.ZipFile(os.path.join(out, "book.epub"), "w") as z:
    z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
    z.writestr("META-INF/container.xml",
               '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
               '<rootfiles><rootfile full-path="content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>')
    z.writestr("content.opf", '<?xml version="1.0"?><package version="3.0"/>')
with zipfile.ZipFile(os.path.join(out, "text.odt"), "w") as z:
    z.writestr("mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED)
    z.writestr("META-INF/manifest.xml",
               '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
               '<manifest:file-entry manifest:full-path="/" manifest:version="1.2" manifest:media-type="application/vnd.oasis.opendocument.text"/></manifest:manifest>')
    z.writestr("content.xml", '<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.2"/>')

with zipfile.ZipFile(os.path.join(out, "letter.docx"), "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("[Content_Types].xml",
               '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
               '<Default Extension="xml" ContentType="application/xml"/>'
               '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>')
    z.writestr("word/document.xml", '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body/></w:document>')

# WAV.
with wave.open(os.path.join(out, "sound.wav"), "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(8000)
    w.writeframes(b"\x00\x00" * 800)

# Signatures whose anchored start is in the first 64 KiB and whose rest lies further
# in: followed to the end of the file, as siegfried follows them. A QuickTime movie
# with its moov box after 200 KiB of media data (as cameras write them), and an ASCII
# STL whose first facet comes after a long header comment.
mdat = struct.pack(">I", 8 + 200 * 1024) + b"mdat" + bytes(200 * 1024)
moov = struct.pack(">I", 8 + 108) + b"moov" + struct.pack(">I", 108) + b"mvhd" + bytes(100)
open(os.path.join(out, "late_moov.mov"), "wb").write(mdat + moov)
facet = b"facet normal 0 0 1\n outer loop\n  vertex 0 0 0\n  vertex 1 0 0\n  vertex 0 1 0\n endloop\nendfacet\n"
open(os.path.join(out, "late_facet.stl"), "wb").write(b"solid s21\n" + b" " * (100 * 1024) + facet + b"endsolid\n")

# Files that match nothing.
open(os.path.join(out, "noise.dat"), "wb").write(bytes((i * 97 + 13) % 251 for i in range(4096)))
open(os.path.join(out, "unknown"), "wb").write(b"\x00\x01\x02\x03CAIRN-UNKNOWN\xff\xfe" * 10)

# Damaged scans.
good = open(os.path.join(out, "baseline.tif"), "rb").read()
open(os.path.join(out, "damaged_truncated.tif"), "wb").write(good[: len(good) // 2])
save("damaged_truncated.tif", damaged=True)
jpg = open(os.path.join(out, "jfif.jpg"), "rb").read()
assert jpg.endswith(b"\xff\xd9")
open(os.path.join(out, "damaged_noeoi.jpg"), "wb").write(jpg[:-2])
save("damaged_noeoi.jpg", damaged=True)
open(os.path.join(out, "damaged_notrailer.pdf"), "wb").write(pdf("1.4", 1, trailer=False))
save("damaged_notrailer.pdf", damaged=True)

json.dump(meta, sys.stdout, indent=1, sort_keys=True)
