#!/usr/bin/env python3
"""Format identification's cost and speed (issue 18), measured side by side:

1. Ingest of bench/speed.py's SMALL corpus (--scale multiplies its 20,000 files of
   8 KiB in 200 folders) with format identification and technical metadata on
   (the default) and off (CAIRN_FORMATS_IDENTIFY=off), alternating, --pairs pairs:
   median seconds of each and the ratio on / off (the target is at most 1.10).
2. Identification rate in files per second: `cairn identify` against siegfried
   (`pip install pygfried`, siegfried as a Python extension, one identify call per
   file: it takes no folders) on the same SMALL corpus, and on a scan corpus (tests/formats/
   make_corpus.py's files copied --copies times: TIFF, JPEG, JP2, PNG, PDF, ...).

    python3 bench/identify.py --scale 0.05 --pairs 3
    python3 bench/identify.py --cairn target/release/cairn --dir /dev/shm

Every timed ingest writes to a fresh archive, deleted (untimed) afterwards.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bench"))
from speed import make_small, warm  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def timed(cmd, env=None):
    subprocess.run(["sync"], check=True)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr.decode(errors='replace')}")
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--copies", type=int, default=40, help="copies of the scan corpus")
    ap.add_argument("--cairn", default=os.path.join(REPO, "target", "release", "cairn"))
    ap.add_argument("--dir", default=None, help="where to put corpora (default: a temp folder)")
    args = ap.parse_args()
    cairn = os.path.abspath(args.cairn)
    if not os.path.exists(cairn):
        sys.exit(f"no {cairn}: run `cargo build --release` first")
    try:
        import pygfried  # noqa: F401
    except ImportError:
        log("installing pygfried and pillow (pip install pygfried pillow)")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "pygfried", "pillow"], check=True)
    import pygfried

    work = tempfile.mkdtemp(prefix="cairn-identify-bench-", dir=args.dir)
    try:
        corpus = os.path.join(work, "corpus")
        small = os.path.join(corpus, "small")
        os.makedirs(corpus)
        make_small(small, args.scale)
        with open(os.path.join(corpus, "metadata.csv"), "w") as f:
            f.write("filename,dc.title,dc.date\nsmall,Benchmark corpus: many small pages,1979\n")
        nfiles = sum(len(fs) for _, _, fs in os.walk(small))
        log(f"SMALL: {nfiles} files of 8 KiB")

        # 1. Ingest, identification on and off.
        times = {"on": [], "off": []}
        n = 0
        for _ in range(args.pairs):
            for mode in ("on", "off"):
                n += 1
                root = os.path.join(work, f"archive-{n}")
                subprocess.run([cairn, "init", root], check=True, stdout=subprocess.DEVNULL)
                warm([small])
                env = dict(os.environ, CAIRN_FORMATS_IDENTIFY=mode)
                times[mode].append(timed([cairn, "ingest", "--root", root, "--intake", corpus], env))
                shutil.rmtree(root)
        on, off = statistics.median(times["on"]), statistics.median(times["off"])
        print(f"ingest SMALL ({nfiles} files): identification on {on:.2f} s, off {off:.2f} s, "
              f"ratio {on / off:.3f} (target <= 1.10); runs on {['%.2f' % t for t in times['on']]}, "
              f"off {['%.2f' % t for t in times['off']]}")

        # 2. Identification rate against siegfried.
        scans = os.path.join(work, "scans")
        gen = os.path.join(work, "gen")
        subprocess.run([sys.executable, os.path.join(REPO, "tests", "formats", "make_corpus.py"), gen],
                       check=True, stdout=subprocess.DEVNULL)
        os.makedirs(scans)
        for c in range(args.copies):
            d = os.path.join(scans, f"copy-{c:03d}")
            shutil.copytree(gen, d)
        nscans = sum(len(fs) for _, _, fs in os.walk(scans))
        for label, path, count in (("SMALL", small, nfiles), ("scan corpus", scans, nscans)):
            warm([path])
            ours = []
            theirs = []
            for _ in range(args.pairs):
                ours.append(timed([cairn, "identify", "--json", path]))
                t0 = time.perf_counter()
                for dirpath, dirnames, filenames in os.walk(path):
                    dirnames.sort()
                    for fn in sorted(filenames):
                        pygfried.identify(os.path.join(dirpath, fn))
                theirs.append(time.perf_counter() - t0)
            a, b = statistics.median(ours), statistics.median(theirs)
            print(f"identify {label} ({count} files): cairn {count / a:,.0f} files/s ({a:.2f} s, "
                  f"signature files compiled once per run included), siegfried (pygfried) "
                  f"{count / b:,.0f} files/s ({b:.2f} s); cairn / siegfried rate {b / a:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
