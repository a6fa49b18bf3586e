#!/usr/bin/env python3
"""The independent validators' verdicts on the scan validation corpus (issue 31).

    python3 tests/qc/peers.py tests/qc/corpus

Prints one JSON document, {"peers": {...versions...}, "files": [...]}, one entry per
file (sorted by name) with:

- "file": the file's name; "kind": tiff, jpeg, jp2, png or pdf (by extension: the
  corpus names every file by what it is);
- "peer": who judged it, "ok": the verdict (true = the peer accepts the file), and
  "messages": what the peer said:
  - .jp2: jpylyzer (its Python API, the same code as the `jpylyzer FILE` command) —
    "ok" is its isValid;
  - .pdf: `qpdf --check` — "ok" is exit status 0; "qpdf_exit" holds the status (0 no
    errors, 2 errors, 3 warnings: qpdf repaired the file to read it);
  - .tif: Pillow opens the file and load()s every page, and tifffile reads every page
    (tifffile's own warnings about the structure count as failures; a compression
    tifffile cannot decode without the imagecodecs package is left to Pillow);
  - .png and .jpg: Pillow's verify() (for PNG: every chunk's CRC) and then load() of a
    fresh open; "ok" when both pass;
- "tags": what exiftool (`exiftool -j -n -G1`, one call for every file) reads, in
  Cairn's vocabulary (techmd's field names, units and compression names), so the test
  compares field by field: width, height, bits_per_sample (a list), x_resolution,
  y_resolution, resolution_unit (inch, centimetre, metre, none), icc_profile (true when
  exiftool finds an ICC profile), compression, pages (PDF).

One Python process and one exiftool process for the whole corpus. Exit status 0 when
every peer ran (the verdicts are data), 3 when one is missing.
"""

import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import warnings

KINDS = {".tif": "tiff", ".tiff": "tiff", ".jpg": "jpeg", ".jpeg": "jpeg", ".jp2": "jp2", ".png": "png", ".pdf": "pdf"}

# TIFF Compression codes as Cairn names them (src/techmd/tiff.rs).
TIFF_COMPRESSION = {
    1: "none",
    2: "CCITT modified Huffman RLE",
    3: "CCITT Group 3",
    4: "CCITT Group 4",
    5: "LZW",
    6: "JPEG (old-style)",
    7: "JPEG",
    8: "Deflate",
    32946: "Deflate",
    32773: "PackBits",
    34712: "JPEG 2000",
}
JPEG_PROCESS = {0: "baseline DCT", 1: "extended sequential DCT", 2: "progressive DCT", 3: "lossless"}


class Hang(Exception):
    pass


def alarm(_signum, _frame):
    raise Hang(f"no answer in {TIMEOUT} s (the reader loops)")


# A reader that takes longer than this on a file of the corpus (a few KB) loops.
TIMEOUT = 5


class Failures(logging.Handler):
    """Collects tifffile's log warnings (it logs, rather than raises, on a bad IFD chain)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def pillow_tiff(p):
    from PIL import Image

    with Image.open(p) as im:
        n = getattr(im, "n_frames", 1)
        for i in range(n):
            im.seek(i)
            im.load()
    return n


def tifffile_tiff(p, log):
    import tifffile

    msgs = []
    with tifffile.TiffFile(p) as tf:
        for page in tf.pages:
            try:
                page.asarray()
            except (ValueError, NotImplementedError) as e:
                if "imagecodecs" in str(e) or "not supported" in str(e).lower():
                    msgs.append(f"tifffile cannot decode: {e} (left to Pillow)")
                    continue
                raise
    return msgs


def check_tiff(p):
    log = Failures()
    lg = logging.getLogger("tifffile")
    lg.addHandler(log)
    lg.propagate = False
    msgs, ok = [], True
    try:
        n = pillow_tiff(p)
        msgs.append(f"Pillow: {n} page(s) loaded")
    except Exception as e:  # the verdict is the exception, whatever its type
        ok = False
        msgs.append(f"Pillow: {type(e).__name__}: {e}")
    signal.alarm(TIMEOUT)
    try:
        msgs += tifffile_tiff(p, log)
    except Exception as e:
        ok = False
        msgs.append(f"tifffile: {type(e).__name__}: {e}")
    finally:
        lg.removeHandler(log)
    for m in log.messages:
        ok = False
        msgs.append(f"tifffile warning: {m}")
    return {"peer": "Pillow+tifffile", "ok": ok, "messages": msgs}


def check_pillow(p):
    from PIL import Image

    msgs, ok = [], True
    try:
        with Image.open(p) as im:
            im.verify()
        with Image.open(p) as im:
            im.load()
        msgs.append("Pillow: verify() and load() passed")
    except Exception as e:
        ok = False
        msgs.append(f"Pillow: {type(e).__name__}: {e}")
    return {"peer": "Pillow", "ok": ok, "messages": msgs}


def check_jp2(p):
    from jpylyzer import jpylyzer

    try:
        root = jpylyzer.checkOneFile(p)
    except Hang as e:
        return {"peer": "jpylyzer", "ok": False, "messages": [str(e)]}
    valid = root.findtext("isValid") == "True"
    tests = root.find("tests")
    failed = []

    def walk(el, trail):
        for child in el:
            if len(child):
                walk(child, trail + [child.tag])
            elif child.text == "False":
                failed.append("/".join(trail + [child.tag]))

    if tests is not None:
        walk(tests, [])
    return {"peer": "jpylyzer", "ok": valid, "messages": failed}


def check_pdf(p):
    try:
        r = subprocess.run(["qpdf", "--check", p], capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"peer": "qpdf --check", "ok": False, "qpdf_exit": None, "messages": [f"no answer in {TIMEOUT} s"]}
    lines = [l for l in (r.stderr + r.stdout).splitlines() if l.strip()]
    # Keep what qpdf found, not its routine lines.
    notes = [l for l in lines if "WARNING" in l or "error" in l.lower() or "damaged" in l]
    return {"peer": "qpdf --check", "ok": r.returncode == 0, "qpdf_exit": r.returncode, "messages": notes[:10]}


def num(v):
    if isinstance(v, (int, float)):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def depths(v):
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return [int(v)]
    return [int(x) for x in str(v).split()]


def first(d, *names):
    for n in names:
        if n in d:
            return d[n]
    return None


def tags(kind, d):
    """exiftool's -G1 -n output for one file, in Cairn's vocabulary."""
    t = {}
    if kind == "pdf":
        t["pages"] = first(d, "PDF:PageCount")
        return {k: v for k, v in t.items() if v is not None}
    if kind == "tiff":
        t["width"] = first(d, "IFD0:ImageWidth")
        t["height"] = first(d, "IFD0:ImageHeight")
        t["bits_per_sample"] = depths(first(d, "IFD0:BitsPerSample"))
        t["x_resolution"] = num(first(d, "IFD0:XResolution"))
        t["y_resolution"] = num(first(d, "IFD0:YResolution"))
        unit = first(d, "IFD0:ResolutionUnit")
        t["resolution_unit"] = {1: "none", 2: "inch", 3: "centimetre"}.get(unit) if unit is not None else None
        c = first(d, "IFD0:Compression")
        t["compression"] = TIFF_COMPRESSION.get(c, str(c)) if c is not None else None
    elif kind == "jpeg":
        t["width"] = first(d, "File:ImageWidth")
        t["height"] = first(d, "File:ImageHeight")
        t["bits_per_sample"] = depths(first(d, "File:BitsPerSample"))
        if "IFD0:XResolution" in d:
            t["x_resolution"] = num(d["IFD0:XResolution"])
            t["y_resolution"] = num(first(d, "IFD0:YResolution"))
            t["resolution_unit"] = {1: "none", 2: "inch", 3: "centimetre"}.get(first(d, "IFD0:ResolutionUnit"))
        elif "JFIF:XResolution" in d:
            t["x_resolution"] = num(d["JFIF:XResolution"])
            t["y_resolution"] = num(first(d, "JFIF:YResolution"))
            t["resolution_unit"] = {0: "none", 1: "inch", 2: "centimetre"}.get(first(d, "JFIF:ResolutionUnit"))
        # exiftool's EncodingProcess: 0 baseline, 1 extended, 2 progressive, 3 lossless.
        p = first(d, "File:EncodingProcess")
        t["compression"] = JPEG_PROCESS.get(p, "other JPEG process") if p is not None else None
    elif kind == "png":
        t["width"] = first(d, "PNG:ImageWidth")
        t["height"] = first(d, "PNG:ImageHeight")
        depth = first(d, "PNG:BitDepth")
        colour = first(d, "PNG:ColorType")
        channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
        t["bits_per_sample"] = [depth] * channels if depth is not None and channels else None
        if "PNG-pHYs:PixelsPerUnitX" in d:
            t["x_resolution"] = num(d["PNG-pHYs:PixelsPerUnitX"])
            t["y_resolution"] = num(first(d, "PNG-pHYs:PixelsPerUnitY"))
            t["resolution_unit"] = "metre" if first(d, "PNG-pHYs:PixelUnits") == 1 else "none"
        t["compression"] = "deflate" if first(d, "PNG:Compression") == 0 else None
    elif kind == "jp2":
        t["width"] = first(d, "Jpeg2000:ImageWidth")
        t["height"] = first(d, "Jpeg2000:ImageHeight")
        bpc = first(d, "Jpeg2000:BitsPerComponent")
        n = first(d, "Jpeg2000:NumberOfComponents")
        # -n gives the raw ihdr byte: depth - 1, high bit for signed samples.
        t["bits_per_sample"] = [(int(bpc) & 0x7F) + 1] * int(n) if bpc is not None and n and int(bpc) != 255 else None
        if "Jpeg2000:CaptureXResolution" in d:
            # exiftool -n: grid points per metre, as the resc box stores them.
            t["x_resolution"] = num(d["Jpeg2000:CaptureXResolution"])
            t["y_resolution"] = num(first(d, "Jpeg2000:CaptureYResolution"))
            t["resolution_unit"] = "metre"
        t["compression"] = "JPEG 2000" if first(d, "Jpeg2000:Compression") == 7 else None
    t["icc_profile"] = any(k.startswith("ICC") and k.endswith(":ProfileDescription") or k.endswith(":ICC_Profile") for k in d) or None
    if kind == "jp2" and first(d, "Jpeg2000:ColorSpecMethod") in (2, 3):
        t["icc_profile"] = True
    return {k: v for k, v in t.items() if v is not None}


def exiftool(paths):
    r = subprocess.run(
        ["exiftool", "-j", "-n", "-G1", "-q", "-q", "-m", *paths],
        capture_output=True,
        text=True,
    )
    out = {}
    for d in json.loads(r.stdout or "[]"):
        out[os.path.basename(d["SourceFile"])] = d
    return out


def versions():
    import PIL
    import tifffile
    from jpylyzer import jpylyzer

    q = subprocess.run(["qpdf", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    e = subprocess.run(["exiftool", "-ver"], capture_output=True, text=True).stdout.strip()
    return {
        "jpylyzer": getattr(jpylyzer, "__version__", None) or jpylyzer.config.VERSION if hasattr(jpylyzer, "config") else "?",
        "qpdf": q,
        "Pillow": PIL.__version__,
        "tifffile": tifffile.__version__,
        "exiftool": e,
    }


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: peers.py CORPUS_FOLDER")
    folder = sys.argv[1]
    missing = [t for t in ("qpdf", "exiftool") if shutil.which(t) is None]
    for mod in ("PIL", "tifffile", "numpy", "jpylyzer"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        print("missing peers: " + ", ".join(missing), file=sys.stderr)
        sys.exit(3)
    warnings.simplefilter("ignore")
    signal.signal(signal.SIGALRM, alarm)
    names = sorted(n for n in os.listdir(folder) if os.path.splitext(n)[1].lower() in KINDS)
    paths = [os.path.join(folder, n) for n in names]
    exif = exiftool(paths)
    files = []
    for n, p in zip(names, paths):
        kind = KINDS[os.path.splitext(n)[1].lower()]
        signal.alarm(TIMEOUT)
        if kind == "jp2":
            v = check_jp2(p)
        elif kind == "pdf":
            v = check_pdf(p)
        elif kind == "tiff":
            v = check_tiff(p)
        else:
            v = check_pillow(p)
        signal.alarm(0)
        # The file's name, not its path on this machine, in what the peers said.
        v["messages"] = [m.replace(p, n).replace(folder + os.sep, "") for m in v["messages"]]
        files.append({"file": n, "kind": kind, **v, "tags": tags(kind, exif.get(n, {}))})
    json.dump({"peers": versions(), "files": files}, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
