#!/usr/bin/env python3
"""`cairn serve` start-up and peak memory on an existing archive (issue 33).

    python3 bench/serve_startup.py --archive DIR --cairn BIN [--peer-cairn BIN] [--runs 3]

Start-up is the time from starting `cairn serve` to its answer to GET /items/ID of the
middle item; memory is the server's VmHWM after that page, a GetRecord and a
ListRecords page. Each run is printed, then the median. The peer (printed as a ratio)
is `--peer-cairn` (another build, e.g. main's) when given, and always the physical
floor of what serve still reads at start-up: `cat` of every register entry
(manifests/*.json) to /dev/null, run first (so both find the files in the page cache).
Build the archive with `cargo run --release --example gen_archive -- DIR N` in a fresh
folder, and delete it afterwards.
"""

import argparse
import glob
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request


def http_get(url):
    with urllib.request.urlopen(url, timeout=600) as r:
        return r.read()


def serve_once(cairn, root, mid):
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [cairn, "serve", "--root", root, "--bind", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = p.stdout.readline().strip()
        m = re.match(r"listening on http://([\d.]+:\d+)/", line)
        if not m:
            sys.exit(f"unexpected first line from cairn serve: {line!r}")
        base = f"http://{m.group(1)}"
        http_get(f"{base}/items/{mid}")
        took = time.perf_counter() - t0
        listed = http_get(f"{base}/oai?verb=ListRecords&metadataPrefix=oai_dc").decode()
        if "<ListRecords>" not in listed:
            sys.exit("ListRecords answered no records")
        status = open(f"/proc/{p.pid}/status").read()
        hwm = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))
        return took, hwm / 1024
    finally:
        p.terminate()
        p.wait(timeout=30)


def floor(root):
    """Seconds to read every register entry once (cat, 1,000 files a process)."""
    files = sorted(glob.glob(os.path.join(root, "manifests", "*.json")))
    t0 = time.perf_counter()
    for i in range(0, len(files), 1000):
        subprocess.run(["cat"] + files[i : i + 1000], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0, len(files)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--archive", required=True)
    ap.add_argument("--cairn", required=True)
    ap.add_argument("--peer-cairn")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    floor(a.archive)  # warm the page cache
    cat, n = floor(a.archive)
    mid = f"cairn-{max(1, n // 2):06d}"
    print(f"{n} register entries; load {os.getloadavg()[0]:.2f}")
    print(f"peer: cat of every register entry {cat:.3f} s")
    builds = [("cairn", a.cairn)] + ([("peer cairn", a.peer_cairn)] if a.peer_cairn else [])
    medians = {}
    for name, binary in builds:
        runs = [serve_once(binary, a.archive, mid) for _ in range(a.runs)]
        for t, m in runs:
            print(f"{name}: start-up {t:.3f} s, peak RSS {m:.1f} MiB")
        t = statistics.median(r[0] for r in runs)
        m = statistics.median(r[1] for r in runs)
        medians[name] = (t, m)
        print(f"{name}: median start-up {t:.3f} s ({t / cat:.1f}x cat), "
              f"peak RSS {m:.1f} MiB ({m * 1024 / n:.2f} KiB an item)")
    if a.peer_cairn:
        (t, m), (pt, pm) = medians["cairn"], medians["peer cairn"]
        print(f"cairn / peer cairn: start-up {t / pt:.2f}x, peak RSS {m / pm:.2f}x")
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
