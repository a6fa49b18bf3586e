#!/usr/bin/env python3
"""Cairn against its peers, side by side, in one run (issue 6).

Generates two corpora outside the repository (LARGE: 4 files of 512 MiB; SMALL:
20,000 files of 8 KiB in 200 folders; --scale multiplies both), then for each row runs
the Cairn command and its peer alternately (A B A B ..., --pairs pairs, default 3) with
a warm page cache, and prints the median seconds of each, the ratio Cairn / peer and
Cairn's peak RSS (GNU time's maximum resident set size: heap, stacks and code, plus
the pages of a large file being hashed through a memory map, released every 16 MiB).

    python3 bench/speed.py                      # the full run, as in BENCHMARKS.md
    python3 bench/speed.py --scale 0.1 --pairs 3 --rows verify-large,verify-small
    python3 bench/speed.py --dir /dev/shm       # corpora and outputs on tmpfs

Every timed run writes to a fresh folder name, which is deleted (untimed) right after,
followed by `sync`: this machine's disk creates many small files slowly right after
many were deleted, and fresh names keep that from landing on one side only.

Peers: b3sum (installed with `cargo install b3sum` into a cache folder if it
is not on PATH), cp -r, and the Library of Congress bagit.py (pip, if missing).
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
MIB = 1 << 20

ROWS = [
    # key, what, peer name, target
    ("verify-large", "verify, blake3 only, LARGE", "b3sum over the payload", 1.10),
    ("verify-small", "verify, blake3 only, SMALL", "b3sum via xargs -P2", 1.00),
    ("copy-large", "bag a copy, blake3 only, LARGE", "cp -r", 1.20),
    ("copy-small", "bag a copy, blake3 only, SMALL", "cp -r", 1.30),
    ("copy-large-sync", "bag a copy, blake3 only, LARGE (context)", "cp -r then sync", None),
    ("copy-small-sync", "bag a copy, blake3 only, SMALL (context)", "cp -r then sync", None),
    ("inplace-large", "bag in place, defaults, LARGE", "bagit.py --processes 2", 0.50),
    ("inplace-small", "bag in place, defaults, SMALL", "bagit.py --processes 2", 0.15),
    ("validate-large", "validate, defaults, LARGE", "bagit.py --validate --processes 2", 0.50),
    ("validate-small", "validate, defaults, SMALL", "bagit.py --validate --processes 2", 0.15),
    ("fixity", "fixity of an archive, blake3", "b3sum over every payload file", 1.10),
    ("ingest", "ingest end to end", "cp -r then b3sum", None),
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def find_b3sum():
    exe = shutil.which("b3sum")
    if exe:
        return exe
    cache = os.path.join(os.path.expanduser("~"), ".cache", "cairn-bench")
    exe = os.path.join(cache, "bin", "b3sum")
    if not os.path.exists(exe):
        log("installing b3sum (cargo install b3sum) into " + cache)
        run(["cargo", "install", "--quiet", "b3sum", "--root", cache])
    return exe


def find_bagit():
    exe = shutil.which("bagit.py")
    if exe:
        return exe
    log("installing bagit-python (pip install bagit)")
    run([sys.executable, "-m", "pip", "install", "--quiet", "bagit"])
    exe = shutil.which("bagit.py")
    if not exe:
        sys.exit("bagit.py is not on PATH after pip install")
    return exe


def tool_version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def make_large(path, scale):
    os.makedirs(path)
    size = max(1, int(512 * scale)) * MIB
    for i in range(4):
        with open(os.path.join(path, f"scan-{i + 1:02d}.tif"), "wb") as f:
            left = size
            while left:
                n = min(left, 8 * MIB)
                f.write(os.urandom(n))
                left -= n


def make_small(path, scale):
    n = max(200, int(20000 * scale))
    folders = 200
    os.makedirs(path)
    for d in range(folders):
        os.makedirs(os.path.join(path, f"box-{d:03d}"))
    block = os.urandom(8192 * 64)
    for i in range(n):
        name = os.path.join(path, f"box-{i % folders:03d}", f"page-{i:06d}.txt")
        with open(name, "wb") as f:
            off = (i * 8192) % len(block)
            f.write(block[off:off + 8192])


def payload_files(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            out.append(os.path.join(dirpath, f))
    return out


def warm(paths):
    """Reads every file once so the page cache is warm."""
    for p in paths:
        for f in payload_files(p) if os.path.isdir(p) else [p]:
            with open(f, "rb") as fh:
                while fh.read(4 * MIB):
                    pass


class Timer:
    def __init__(self, work):
        self.work = work
        self.n = 0

    def timed(self, cmd, cwd=None, shell=False):
        """Runs cmd under GNU time; returns (seconds, peak RSS in KiB)."""
        self.n += 1
        tfile = os.path.join(self.work, f"time-{self.n}.txt")
        full = ["/usr/bin/time", "-f", "%M", "-o", tfile]
        full += ["sh", "-c", cmd] if shell else cmd
        subprocess.run(["sync"], check=True)
        t0 = time.perf_counter()
        p = subprocess.run(full, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"command failed ({p.returncode}): {cmd}\n{p.stderr.decode(errors='replace')}")
        with open(tfile) as f:
            kib = int(f.read().split()[-1])
        return dt, kib


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply both corpora (default 1)")
    ap.add_argument("--pairs", type=int, default=3, help="A/B pairs per row (default 3, at least 3 for BENCHMARKS.md)")
    ap.add_argument("--dir", default=None, help="where corpora and outputs go (default: a fresh folder in $TMPDIR); /dev/shm for tmpfs")
    ap.add_argument("--rows", default=",".join(r[0] for r in ROWS), help="comma-separated rows to run")
    ap.add_argument("--cairn", default=None, help="the cairn binary (default: cargo build --release)")
    ap.add_argument("--json-out", default=None, help="also write every sample as JSON here")
    args = ap.parse_args()

    if args.cairn:
        cairn = os.path.abspath(args.cairn)
    else:
        log("building cairn (cargo build --release)")
        run(["cargo", "build", "--release", "--quiet"], cwd=REPO)
        cairn = os.path.join(REPO, "target", "release", "cairn")
    b3sum = find_b3sum()
    bagit = find_bagit()
    wanted = set(args.rows.split(","))
    unknown = wanted - {r[0] for r in ROWS}
    if unknown:
        sys.exit(f"unknown rows: {', '.join(sorted(unknown))}")

    work = tempfile.mkdtemp(prefix="cairn-speed-", dir=args.dir)
    try:
        results = bench(args, cairn, b3sum, bagit, wanted, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(args, results, cairn, b3sum, bagit)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=1)


def bench(args, cairn, b3sum, bagit, wanted, work):
    timer = Timer(work)
    counter = [0]

    def fresh(name):
        counter[0] += 1
        return os.path.join(work, f"{name}-{counter[0]}")

    corpus = os.path.join(work, "corpus")
    large = os.path.join(corpus, "large")
    small = os.path.join(corpus, "small")
    log(f"generating corpora in {corpus} (scale {args.scale})")
    make_large(large, args.scale)
    make_small(small, args.scale)
    with open(os.path.join(corpus, "metadata.csv"), "w") as f:
        f.write("filename,dc.title,dc.date\n")
        f.write("large,Benchmark corpus: four large scans,1979\n")
        f.write("small,Benchmark corpus: many small pages,1979\n")
    subprocess.run(["sync"], check=True)

    corpora = {"large": large, "small": small}
    results = []

    def rm(path):
        shutil.rmtree(path, ignore_errors=True)

    def pairs(key, setup, cairn_cmd, peer_cmd, cleanup, warm_paths, shell_peer=False):
        """Alternates Cairn and peer runs; setup() gives fresh inputs per run."""
        rec = {"row": key, "cairn": [], "peer": [], "rss_kib": []}
        for i in range(args.pairs):
            for side in ("cairn", "peer"):
                ctx = setup(side)
                warm(warm_paths(ctx))
                if side == "cairn":
                    dt, kib = timer.timed(cairn_cmd(ctx))
                    rec["rss_kib"].append(kib)
                else:
                    dt, _ = timer.timed(peer_cmd(ctx), shell=shell_peer)
                rec[side].append(dt)
                cleanup(ctx)
                log(f"  {key} pair {i + 1} {side}: {dt:.3f} s")
        results.append(rec)

    # Bags made once, read by the verify and validate rows.
    blake3_bags, default_bags, bagit_bags = {}, {}, {}
    need_blake3 = wanted & {"verify-large", "verify-small"}
    need_defaults = wanted & {"validate-large", "validate-small"}
    for name, src in corpora.items():
        if any(k.endswith(name) for k in need_blake3):
            blake3_bags[name] = fresh(f"bag-b3-{name}")
            run([cairn, "bag", "create", "--algorithm", "blake3", "--output", blake3_bags[name], src],
                stdout=subprocess.DEVNULL)
        if any(k.endswith(name) for k in need_defaults):
            default_bags[name] = fresh(f"bag-default-{name}")
            run([cairn, "bag", "create", "--output", default_bags[name], src], stdout=subprocess.DEVNULL)
            bagit_bags[name] = fresh(f"bag-bagitpy-{name}")
            shutil.copytree(src, bagit_bags[name])
            run([bagit, "--processes", "2", bagit_bags[name]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    nothing = lambda ctx: None  # noqa: E731

    for name in ("large", "small"):
        key = f"verify-{name}"
        if key in wanted:
            bag = blake3_bags[name]
            data = os.path.join(bag, "data")
            if name == "large":
                peer = lambda ctx, data=data: [b3sum] + payload_files(data)  # noqa: E731
                shell = False
            else:
                peer = lambda ctx, data=data: (  # noqa: E731
                    f"cd '{data}' && find . -type f -print0 | xargs -0 -P2 -n 1000 '{b3sum}' >/dev/null")
                shell = True
            log(f"{key}: cairn bag validate (blake3-only bag) vs b3sum")
            pairs(key, nothing, lambda ctx, bag=bag: [cairn, "bag", "validate", bag], peer, nothing,
                  lambda ctx, bag=bag: [bag], shell_peer=shell)

    # The -sync rows are context for the others: Cairn's copy is durable (one syncfs
    # before the bag is published); cp -r leaves its bytes in the page cache.
    copy_peers = {
        "": ("cp -r", lambda src, dest: ["cp", "-r", src, dest], False),
        "-sync": ("cp -r then sync", lambda src, dest: f"cp -r '{src}' '{dest}' && sync", True),
    }
    for suffix, (label, peer_cmd, shell) in copy_peers.items():
        for name in ("large", "small"):
            key = f"copy-{name}{suffix}"
            if key in wanted:
                src = corpora[name]
                log(f"{key}: cairn bag create --output (blake3) vs {label}")
                pairs(key, lambda side, name=name: fresh(f"out-{name}"),
                      lambda dest, src=src: [cairn, "bag", "create", "--algorithm", "blake3", "--output", dest, src],
                      lambda dest, src=src, peer_cmd=peer_cmd: peer_cmd(src, dest),
                      rm, lambda ctx, src=src: [src], shell_peer=shell)

    for name in ("large", "small"):
        key = f"inplace-{name}"
        if key in wanted:
            src = corpora[name]

            def setup(side, src=src, name=name):
                dest = fresh(f"inplace-{name}")
                shutil.copytree(src, dest)
                subprocess.run(["sync"], check=True)
                return dest

            log(f"{key}: cairn bag create (in place, blake3+sha512) vs bagit.py --processes 2 (sha256+sha512)")
            pairs(key, setup, lambda d: [cairn, "bag", "create", d], lambda d: [bagit, "--processes", "2", d],
                  rm, lambda d: [d])

    for name in ("large", "small"):
        key = f"validate-{name}"
        if key in wanted:
            cbag, pbag = default_bags[name], bagit_bags[name]
            log(f"{key}: cairn bag validate (its default bag) vs bagit.py --validate --processes 2 (its default bag)")
            pairs(key, nothing, lambda ctx, b=cbag: [cairn, "bag", "validate", b],
                  lambda ctx, b=pbag: [bagit, "--validate", "--processes", "2", b], nothing,
                  lambda ctx, c=cbag, p=pbag: [c, p])

    if "fixity" in wanted or "ingest" in wanted:
        root = fresh("archive")
        run([cairn, "init", root], stdout=subprocess.DEVNULL)
        run([cairn, "ingest", "--root", root, "--intake", corpus], stdout=subprocess.DEVNULL)
        bags = os.path.join(root, "archive")

    if "fixity" in wanted:
        peer = (f"cd '{bags}' && find . -path '*/data/*' -type f -print0 "
                f"| xargs -0 -P2 -n 1000 '{b3sum}' >/dev/null")
        log("fixity: cairn fixity --all vs b3sum over every payload file (xargs -P2)")
        pairs("fixity", nothing, lambda ctx: [cairn, "fixity", "--all", "--root", root],
              lambda ctx: peer, nothing, lambda ctx: [bags], shell_peer=True)

    if "ingest" in wanted:
        def setup(side):
            if side == "cairn":
                r = fresh("ingest-archive")
                run([cairn, "init", r], stdout=subprocess.DEVNULL)
                return r
            return fresh("ingest-copy")

        def peer(dest):
            return (f"cp -r '{corpus}' '{dest}' && cd '{dest}' && find . -type f -print0 "
                    f"| xargs -0 -P2 -n 1000 '{b3sum}' >/dev/null")

        log("ingest: cairn ingest (copy, hash, fsync, read-back) vs cp -r then b3sum")
        pairs("ingest", setup, lambda r: [cairn, "ingest", "--root", r, "--intake", corpus], peer, rm,
              lambda ctx: [corpus], shell_peer=True)
    return results


def report(args, results, cairn, b3sum, bagit):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    scale = args.scale
    print(f"Date: {datetime.date.today().isoformat()}; CPU: {cpu}; cores: {os.cpu_count()}; "
          f"kernel: {platform.release()}")
    print(f"Scale {scale:g}: LARGE = 4 x {max(1, int(512 * scale))} MiB, "
          f"SMALL = {max(200, int(20000 * scale))} x 8 KiB in 200 folders; {args.pairs} A/B pairs per row; "
          f"outputs under {args.dir or tempfile.gettempdir()}")
    print(f"Peers: {tool_version([b3sum, '--version'])}; bagit.py {tool_version([bagit, '--version'])}; "
          f"{tool_version(['cp', '--version'])}")
    print()
    print("| what | Cairn (median s) | peer | peer (median s) | Cairn / peer | target | Cairn peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    rows = {r[0]: r for r in ROWS}
    for rec in results:
        key, what, peer, target = rows[rec["row"]]
        c, p = statistics.median(rec["cairn"]), statistics.median(rec["peer"])
        ratio = c / p if p > 0 else float("inf")
        verdict = "context" if target is None else (f"≤ {target:.2f} " + ("met" if ratio <= target else "**missed**"))
        rss = max(rec["rss_kib"]) / 1024
        print(f"| {what} | {c:.2f} | {peer} | {p:.2f} | {ratio:.2f} | {verdict} | {rss:.1f} MiB |")


if __name__ == "__main__":
    main()
