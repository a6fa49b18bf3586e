#!/usr/bin/env python3
"""Fixity of many small bags against b3sum over the same files (issue 17's target:
Cairn <= 1.5x b3sum).

Builds an archive of --items items (default 2,000) of 3 files of 4 KiB each with the
fixture generator (examples/gen_archive.rs), then alternates, --pairs times:

  cairn fixity --all             every bag in full against its manifests and register
                                 entry, a "fixity check" event appended for each
  b3sum FILE...                  BLAKE3 of the same payload files, listed for it in
                                 advance (paths relative to the archive), in as few
                                 processes as the argument limit allows (one for the
                                 payload files)
  b3sum EVERY-FILE...            a second peer: BLAKE3 of every file a full check
                                 reads (each bag's payload and tag files, and its
                                 register entry), the same way
  xargs -P2 b3sum EVERY-FILE...  the same on both cores: two b3sum processes at a
                                 time over batches of the list (the floor for reading
                                 those files on this machine, as b3sum reads them)

with the page cache warm (every file read once first). Prints each run, the medians,
the ratio, and Cairn's peak RSS; with --strace, the system calls of one Cairn run
(fsync, futex, sched_yield, openat) as `strace -f -c` counts them.

  cargo build --release --bin cairn --example gen_archive; cargo install b3sum
  python3 bench/fixity_small.py
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def run(argv, env=None):
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    t = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{argv[0]} failed ({p.returncode}): {p.stderr.decode(errors='replace')[-400:]}")
    return t


def run_batched(prog, files, cwd):
    """Runs `prog FILE...` over `files` (relative to cwd) in as few processes as the
    argument limit allows, one after another; returns the total time."""
    batches, batch, size = [], [], 0
    for f in files:
        if batch and size + len(f) + 1 > 512 * 1024:
            batches.append(batch)
            batch, size = [], 0
        batch.append(f)
        size += len(f) + 1
    batches.append(batch)
    t0 = time.perf_counter()
    for b in batches:
        p = subprocess.run([prog] + b, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
        if p.returncode != 0:
            sys.exit(f"{prog} failed ({p.returncode}): {p.stderr.decode(errors='replace')[-400:]}")
    return time.perf_counter() - t0


def run_parallel(prog, files, cwd, jobs=2):
    """`xargs -P jobs prog` over `files` (relative to cwd), batches of 1,000; returns
    the time."""
    t0 = time.perf_counter()
    p = subprocess.run(["xargs", "-0", "-P", str(jobs), "-n", "1000", prog],
                       input=b"\0".join(f.encode() for f in files),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    t = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"xargs {prog} failed ({p.returncode}): {p.stderr.decode(errors='replace')[-400:]}")
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--cairn", default=os.path.join(REPO, "target/release/cairn"))
    ap.add_argument("--gen", default=os.path.join(REPO, "target/release/examples/gen_archive"))
    ap.add_argument("--b3sum", default=shutil.which("b3sum") or os.path.expanduser("~/.cargo/bin/b3sum"))
    ap.add_argument("--work", default=None)
    ap.add_argument("--strace", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="cairn-fixity-small-", dir=args.work)
    try:
        root = os.path.join(work, "archive")
        subprocess.run([args.gen, root, str(args.items), "--files", "3", "--size", "4096", "--rounds", "0"], check=True)
        files, every = [], []
        for item in sorted(os.listdir(os.path.join(root, "archive"))):
            bag = os.path.join(root, "archive", item)
            if item.startswith(".") or not os.path.isdir(bag):
                continue
            data = os.path.join(bag, "data")
            files += [os.path.relpath(os.path.join(data, f), root) for f in sorted(os.listdir(data))]
            for d, _, names in os.walk(bag):
                every += [os.path.relpath(os.path.join(d, f), root) for f in sorted(names)]
            every.append(os.path.join("manifests", item + ".json"))
        for f in every:
            with open(os.path.join(root, f), "rb") as fh:
                fh.read()
        env = dict(os.environ, CAIRN_ROOT=root)
        print(f"{len(files)} files in {args.items} bags; load {open('/proc/loadavg').read().split()[0]}")
        print(f"every file a full check reads: {len(every)}")
        cairn_t, peer_t, every_t, par_t = [], [], [], []
        for i in range(args.pairs):
            cairn_t.append(run([args.cairn, "fixity", "--all", "--quiet"], env))
            peer_t.append(run_batched(args.b3sum, files, root))
            every_t.append(run_batched(args.b3sum, every, root))
            par_t.append(run_parallel(args.b3sum, every, root))
            print(f"run {i + 1}: cairn {cairn_t[-1]:.3f} s, b3sum {peer_t[-1]:.3f} s, "
                  f"b3sum of every file {every_t[-1]:.3f} s, on both cores {par_t[-1]:.3f} s",
                  flush=True)
        with tempfile.NamedTemporaryFile("r") as tf:
            subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%M", args.cairn, "fixity", "--all", "--quiet"],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            rss = int(tf.read().split()[-1])
        c, p = statistics.median(cairn_t), statistics.median(peer_t)
        e, q = statistics.median(every_t), statistics.median(par_t)
        print(f"median: cairn {c:.3f} s, b3sum {p:.3f} s, ratio {c / p:.2f} (target <= 1.5, "
              f"that is <= {1.5 * p:.3f} s); b3sum of every file {e:.3f} s, ratio {c / e:.2f}; "
              f"on both cores {q:.3f} s, ratio {c / q:.2f}; "
              f"cairn peak RSS {rss / 1024:.1f} MiB; load {open('/proc/loadavg').read().split()[0]}")
        if args.strace and shutil.which("strace"):
            out = subprocess.run(["strace", "-f", "-c", "-o", "/dev/stderr", args.cairn, "fixity", "--all", "--quiet"],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).stderr.decode()
            for line in out.splitlines():
                if any(k in line for k in ("fsync", "fdatasync", "futex", "sched_yield", "openat", "total", "calls")):
                    print("  " + line)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
