#!/usr/bin/env python3
"""Cairn's tree walk against jwalk's and ignore's parallel walkers (issue 17).

Each walker lists every regular file below a folder with its size, links not followed,
on two threads, into one list sorted by path (examples/walk_compare.rs; `check` first
verifies that the three lists are equal). Two trees:

- SMALL: bench/speed.py's corpus (20,000 files of 8 KiB in 200 folders at --scale 1);
- MANY: --files empty files (default 1,000,000) in folders of 1,000.

The walkers run in rotation, --runs times each, page cache warm (one untimed run of
each first). Printed: the median seconds of the walk itself (measured inside the
process), the peak RSS of the process, and Cairn's time over each peer's.

    python3 bench/walk.py
    python3 bench/walk.py --files 100000 --runs 3

The trees are written to fresh folders under --dir (default: a temp folder) and
deleted at the end.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bench"))
from speed import make_small  # noqa: E402

WALKERS = ("cairn", "jwalk", "ignore")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def make_many(path, files, per_folder=1000):
    os.makedirs(path)
    made = 0
    d = 0
    while made < files:
        folder = os.path.join(path, f"box-{d:05d}")
        os.mkdir(folder)
        for i in range(min(per_folder, files - made)):
            fd = os.open(os.path.join(folder, f"page-{i:04d}.txt"), os.O_CREAT | os.O_WRONLY, 0o644)
            os.close(fd)
        made += min(per_folder, files - made)
        d += 1


def run(binary, which, tree):
    """(seconds of the walk, peak RSS in KiB, files listed)."""
    p = subprocess.run(["/usr/bin/time", "-f", "%M", binary, which, tree],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"walk_compare {which} failed ({p.returncode}): {p.stderr}")
    files, _bytes, secs = p.stdout.split()
    rss = int(p.stderr.strip().splitlines()[-1])
    return float(secs), rss, int(files)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0, help="SMALL's scale, as bench/speed.py's")
    ap.add_argument("--files", type=int, default=1_000_000, help="files in the MANY tree")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--binary", default=None, help="walk_compare (default: cargo build --release --example walk_compare)")
    args = ap.parse_args()
    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--locked", "--example", "walk_compare"],
                       cwd=REPO, check=True)
        binary = os.path.join(REPO, "target", "release", "examples", "walk_compare")
    work = tempfile.mkdtemp(prefix="cairn-walk-bench-", dir=args.dir)
    try:
        trees = []
        small = os.path.join(work, "small")
        make_small(small, args.scale)
        trees.append(("SMALL", small))
        many = os.path.join(work, "many")
        log(f"writing {args.files:,} empty files")
        make_many(many, args.files)
        trees.append(("MANY", many))
        print(f"machine: {os.cpu_count()} CPUs; load at start {os.getloadavg()[0]:.2f}")
        print("| tree | files | Cairn s (RSS) | jwalk s (RSS) | ignore s (RSS) | Cairn / jwalk | Cairn / ignore |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for label, tree in trees:
            check = subprocess.run([binary, "check", tree], capture_output=True, text=True)
            if check.returncode != 0:
                sys.exit(f"the walkers disagree on {label}: {check.stdout}{check.stderr}")
            for w in WALKERS:
                run(binary, w, tree)
            secs = {w: [] for w in WALKERS}
            rss = {w: [] for w in WALKERS}
            files = 0
            for _ in range(args.runs):
                for w in WALKERS:
                    s, r, files = run(binary, w, tree)
                    secs[w].append(s)
                    rss[w].append(r)
            med = {w: statistics.median(secs[w]) for w in WALKERS}
            cell = {w: f"{med[w]:.3f} ({max(rss[w]) / 1024:.0f} MiB)" for w in WALKERS}
            print(f"| {label} | {files:,} | {cell['cairn']} | {cell['jwalk']} | {cell['ignore']} | "
                  f"{med['cairn'] / med['jwalk']:.2f} | {med['cairn'] / med['ignore']:.2f} |", flush=True)
        print(f"load at end {os.getloadavg()[0]:.2f}; medians of {args.runs} runs each, page cache warm")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
