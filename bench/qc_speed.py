#!/usr/bin/env python3
"""Scan validation speed: `cairn qc` against jpylyzer, qpdf and Pillow, in one run (issue 31).

Makes 1,000 scans in a fresh temporary folder (--files; a quarter per kind):

- tiff-grey: TIFF, A4 at 300 ppi, 2480 x 3508, 8-bit greyscale, uncompressed (8.7 MB);
- tiff-rgb: the same in 24-bit colour (26 MB);
- jp2: JPEG 2000 JP2 of the colour page, lossy (9-7 wavelet, rate 10), 1024 x 1024
  tiles, as OpenJPEG writes it through Pillow;
- pdf: a one-page PDF of the colour page (Pillow: the page as a JPEG, DCTDecode).

Only --distinct files per kind (default 4) are encoded; the others are hard links to
them (the disk and the JPEG 2000 encoder would otherwise take minutes), which the
output says. Then, with the page cache warm, per kind and alternately (Cairn, peer,
Cairn, peer... --pairs pairs), it times

- `cairn qc --json FOLDER` (one process for the folder), against
- jpylyzer (`jpylyzer FILE...`, one process) on the JP2s, `qpdf --check FILE` (one
  process per file: qpdf takes one file) on the PDFs, and Pillow (one Python process:
  open and load() every file: it has no validator, decoding is how it checks) on the
  TIFFs,

and prints files/s and the ratio (peer's time / Cairn's: how many times faster Cairn
is), the verdicts of both (the same findings: every file valid), and Cairn's peak RSS
(GNU time's maximum resident set size) on one small file of tests/qc/corpus/ and on
one large file of each kind, and on a 600 ppi A4 colour TIFF (104 MB), to show that
memory does not grow with the size of the file. The temporary folder is deleted at the
end.

    cargo build --release
    python3 bench/qc_speed.py --cairn target/release/cairn
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = ["tiff-grey", "tiff-rgb", "jp2", "pdf"]
EXT = {"tiff-grey": "tif", "tiff-rgb": "tif", "jp2": "jp2", "pdf": "pdf"}
A4 = (2480, 3508)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def page(w, h, channels, seed):
    """A scanned page: paper tone, text-like bars, a photo-like gradient, noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    a = np.full((h, w), 235.0)
    bars = ((y // 40) % 2 == 0) & ((x // 7) % 5 != 0) & (y > 300) & (y < h - 600)
    a[bars] = 40.0
    photo = (y > h - 550) & (y < h - 50) & (x > 200) & (x < w - 200)
    a[photo] = 60 + 120 * (x[photo] / w) + 40 * (y[photo] / h)
    a += rng.normal(0, 4, a.shape)
    a = np.clip(a, 0, 255).astype(np.uint8)
    if channels == 1:
        return a
    return np.stack([a, np.roll(a, 3, axis=1), np.roll(a, 5, axis=0)], axis=-1)


def make(folder, per_kind, distinct):
    from PIL import Image

    made = {}
    for kind in KINDS:
        d = os.path.join(folder, kind)
        os.makedirs(d)
        originals = []
        for i in range(distinct):
            t = time.time()
            p = os.path.join(d, f"{kind}-{i:04d}.{EXT[kind]}")
            if kind == "tiff-grey":
                Image.fromarray(page(*A4, 1, i)).save(p, "TIFF", dpi=(300, 300))
            else:
                im = Image.fromarray(page(*A4, 3, i))
                if kind == "tiff-rgb":
                    im.save(p, "TIFF", dpi=(300, 300))
                elif kind == "jp2":
                    im.save(p, "JPEG2000", irreversible=True, quality_mode="rates",
                            quality_layers=[10], tile_size=(1024, 1024))
                else:
                    im.save(p, "PDF", resolution=300.0, quality=85)
            originals.append(p)
            log(f"  made {os.path.basename(p)} ({os.path.getsize(p):,} bytes, {time.time() - t:.1f} s)")
        for i in range(distinct, per_kind):
            os.link(originals[i % distinct], os.path.join(d, f"{kind}-{i:04d}.{EXT[kind]}"))
        made[kind] = sorted(os.path.join(d, n) for n in os.listdir(d))
    return made


def warm(paths):
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass


def timed(cmd, **kw):
    t = time.perf_counter()
    r = subprocess.run(cmd, **kw)
    return time.perf_counter() - t, r


def run_cairn(cairn, folder):
    secs, r = timed([cairn, "qc", "--json", folder], capture_output=True)
    if r.returncode not in (0, 1):
        sys.exit(f"cairn qc failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    report = json.loads(r.stdout)
    statuses = {}
    for f in report["files"]:
        statuses[f["status"]] = statuses.get(f["status"], 0) + 1
    return secs, statuses


PILLOW = """
import sys
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
bad = 0
for p in sys.argv[1:]:
    try:
        with Image.open(p) as im:
            im.load()
    except Exception:
        bad += 1
print(len(sys.argv) - 1 - bad, bad)
"""


def run_peer(kind, paths):
    if kind == "jp2":
        t = time.perf_counter()
        r = subprocess.run(["jpylyzer", *paths], capture_output=True, text=True)
        secs = time.perf_counter() - t
        ok = r.stdout.count("<isValid format=\"jp2\">True</isValid>")
        return secs, {"valid": ok, "not valid": len(paths) - ok}
    if kind == "pdf":
        t = time.perf_counter()
        ok = 0
        for p in paths:
            r = subprocess.run(["qpdf", "--check", p], capture_output=True)
            ok += r.returncode == 0
        secs = time.perf_counter() - t
        return secs, {"exit 0": ok, "exit 2 or 3": len(paths) - ok}
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", PILLOW, *paths], capture_output=True, text=True, check=True)
    secs = time.perf_counter() - t
    good, bad = (int(x) for x in r.stdout.split())
    return secs, {"loads": good, "fails": bad}


PEER = {"tiff-grey": "Pillow open + load()", "tiff-rgb": "Pillow open + load()",
        "jp2": "jpylyzer FILE...", "pdf": "qpdf --check, per file"}


def peak_rss(cairn, path):
    r = subprocess.run(["/usr/bin/time", "-f", "%M", cairn, "qc", "--json", path],
                       capture_output=True, text=True)
    return int(r.stderr.strip().splitlines()[-1])


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cairn", default=os.path.join(REPO, "target", "release", "cairn"))
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--distinct", type=int, default=4, help="distinct files per kind; the rest are hard links")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where to make the temporary folder")
    args = ap.parse_args()
    cairn = os.path.abspath(args.cairn)
    per_kind = args.files // len(KINDS)
    top = tempfile.mkdtemp(prefix="cairn-qc-speed-", dir=args.dir)
    try:
        log(f"making {per_kind * len(KINDS)} scans in {top}")
        made = make(top, per_kind, min(args.distinct, per_kind))
        results = []
        for kind in KINDS:
            folder = os.path.join(top, kind)
            paths = made[kind]
            warm(paths)
            c, p = [], []
            for i in range(args.pairs):
                secs, cs = run_cairn(cairn, folder)
                c.append(secs)
                secs, ps = run_peer(kind, paths)
                p.append(secs)
                log(f"  {kind} pair {i + 1}: Cairn {c[-1]:.2f} s, peer {p[-1]:.2f} s")
            results.append((kind, len(paths), c, p, cs, ps, os.path.getsize(paths[0])))
        rss = []
        small = os.path.join(REPO, "tests", "qc", "corpus")
        for name in ["tiff-rgb8-300ppi.tif", "jp2-rgb8-lossless.jp2", "pdf-pillow-1page-300ppi.pdf"]:
            p = os.path.join(small, name)
            rss.append((f"tests/qc/corpus/{name}", os.path.getsize(p), peak_rss(cairn, p)))
        for kind in KINDS:
            p = made[kind][0]
            rss.append((f"{kind}, A4 300 ppi", os.path.getsize(p), peak_rss(cairn, p)))
        from PIL import Image
        import numpy as np

        big = os.path.join(top, "a4-600ppi-rgb.tif")
        Image.fromarray(np.zeros((7016, 4960, 3), np.uint8) + 200).save(big, "TIFF", dpi=(600, 600))
        rss.append(("TIFF, A4 600 ppi colour", os.path.getsize(big), peak_rss(cairn, big)))
        rss.append((f"all {per_kind * len(KINDS)} scans, one run", sum(os.path.getsize(x) for k in KINDS for x in made[k]), peak_rss(cairn, top)))
    finally:
        shutil.rmtree(top, ignore_errors=True)

    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import PIL

    print(f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; CPU: {cpu}; "
          f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}; kernel: {platform.release()}")
    print(f"Cairn: {version([cairn, '--version'])}; peers: jpylyzer {version(['jpylyzer', '--version'])}, "
          f"{version(['qpdf', '--version'])}, Pillow {PIL.__version__}")
    print(f"{per_kind * len(KINDS)} scans, {per_kind} per kind, {args.distinct} distinct files per kind "
          f"and the rest hard links to them; page cache warm; {args.pairs} Cairn/peer pairs, medians")
    print()
    print("| kind | files | bytes per file | Cairn s | Cairn files/s | peer | peer s | peer files/s | peer / Cairn | Cairn's verdicts | peer's verdicts |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind, n, c, p, cs, ps, size in results:
        cm, pm = statistics.median(c), statistics.median(p)
        print(f"| {kind} | {n} | {size:,} | {cm:.2f} | {n / cm:,.0f} | {PEER[kind]} | {pm:.2f} | "
              f"{n / pm:,.0f} | {pm / cm:.1f} | {cs} | {ps} |")
    print()
    print("| Cairn's peak RSS on | bytes | peak RSS |")
    print("| --- | --- | --- |")
    for what, size, kib in rss:
        print(f"| {what} | {size:,} | {kib / 1024:.1f} MiB |")


if __name__ == "__main__":
    main()
