#!/usr/bin/env python3
"""How Cairn's archive-wide commands grow with the number of items.

For each size (default 1,000 and 10,000 items; add 100000 with --sizes), builds an
archive with the fixture generator (examples/gen_archive.rs: valid bags, register
entries and a chained event log of ten events an item, written by Cairn's own library
without fsync), then times each command and reads its peak RSS (GNU time):

  index rebuild     `cairn index rebuild`: the item index (manifests/.item-index) built
                    from every register entry and the whole log (skipped for a Cairn
                    without the command); the fixture is generated without an index, so
                    the first run of the first command below builds it otherwise
  ingest start-up   `cairn ingest` with an empty intake (lock, recovery, archive state)
  list              `cairn list --json`
  list, first line  `cairn list` (text): the time until its first line is read
  show ID           `cairn show --json ID` of the middle item
  fixity --due, 0 % `cairn fixity --due --dry-run` (nothing due)
  fixity --due, 1 % the same with fixity.interval_days = 50 (the oldest 1 % due, checked)
  audit             `cairn audit --json`
  events --id       `cairn events --json --id ID` of the middle item (through the event
                    index, which the first `show` built)
  serve start-up    `cairn serve` started: the time until it answers its first page
                    (GET /items/ID); peak RSS is the server's (VmHWM) after the pages below
  serve item page   GET /items/ID of the middle item (median of --requests requests)
  serve list page   GET /items?page=P, the middle page of the item list (50 a page)
  serve OAI record  GET /oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=... (the
                    middle item)
  serve overview    GET / (every item's fixity status counted, the chart)
  serve events page GET /events?type=fixity+check (every line's row filtered and
                    counted, the newest 100 read back from the log)
  serve refresh     `cairn fixity --id ID` of another item while serving, then the
                    time to the next GET /items/ID (the snapshot read on): median of 3

Each command runs --runs times (default 3) and the median is kept. Every fixture is made
in a fresh folder under --work and deleted at the end (unless --keep). Prints a table,
the growth ratio of each command from one size to the next (1.0 per 10x = linear), and
draws bench/scale.png (log-log, one line per command, a linear reference line); the
figures are also written as JSON (--out) so the chart can be redrawn with --plot-only.

  cargo build --release --bin cairn --example gen_archive
  python3 bench/scale.py --sizes 1000,10000,100000
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

COMMANDS = [
    ("index rebuild", lambda mid: ["index", "rebuild"], {}),
    ("ingest start-up", lambda mid: ["ingest", "--json"], {}),
    ("list", lambda mid: ["list", "--json"], {}),
    ("show ID", lambda mid: ["show", "--json", mid], {}),
    ("fixity --due, none due", lambda mid: ["fixity", "--due", "--dry-run", "--json"], {}),
    (
        "fixity --due, 1 % due",
        lambda mid: ["fixity", "--due", "--dry-run", "--json"],
        {"CAIRN_FIXITY_INTERVAL_DAYS": "50"},
    ),
    ("audit", lambda mid: ["audit", "--json"], {}),
    ("events --id", lambda mid: ["events", "--json", "--id", mid], {}),
]

# Measured against one running `cairn serve` per size (see serve_rows).
SERVE_ROWS = [
    "serve start-up",
    "serve item page",
    "serve list page",
    "serve OAI record",
    "serve overview",
    "serve events page",
    "serve refresh",
]


def http_get(url):
    with urllib.request.urlopen(url, timeout=600) as r:
        body = r.read()
        if r.status != 200:
            sys.exit(f"{url}: HTTP {r.status}")
        return body


def serve_rows(cairn, root, mid, n, requests):
    """Starts `cairn serve` on the archive, times its first answer and then each page
    `requests` times (median); peak RSS is the server's VmHWM at the end."""
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
        out = {"serve start-up": [time.perf_counter() - t0]}
        # The OAI identifiers' prefix (oai:REPOSITORY:), from the first listed one.
        listed = http_get(f"{base}/oai?verb=ListIdentifiers&metadataPrefix=oai_dc").decode()
        m = re.search(r"<identifier>(oai:[^<]*:)[^<:]*</identifier>", listed)
        if not m:
            sys.exit("ListIdentifiers listed no oai: identifier")
        oai_id = m.group(1) + mid
        pages = {
            "serve item page": f"/items/{mid}",
            "serve list page": f"/items?page={max(1, -(-n // 50) // 2)}",
            "serve OAI record": "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier="
            + urllib.parse.quote(oai_id, safe=""),
            "serve overview": "/",
            "serve events page": "/events?type=fixity+check",
        }
        if b"<GetRecord>" not in http_get(base + pages["serve OAI record"]):
            sys.exit(f"GetRecord of {oai_id} did not answer a record")
        for name, path in pages.items():
            runs = []
            for _ in range(requests):
                t = time.perf_counter()
                http_get(base + path)
                runs.append(time.perf_counter() - t)
            out[name] = runs
        # A fixity check of one item while serving, then the next page: the refresh.
        runs = []
        env = dict(os.environ, CAIRN_ROOT=root)
        for k in range(3):
            checked = f"cairn-{max(1, n // 4 + k):06d}"
            subprocess.run([cairn, "fixity", "--quiet", "--id", checked], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            t = time.perf_counter()
            http_get(f"{base}/items/{mid}")
            runs.append(time.perf_counter() - t)
        out["serve refresh"] = runs
        status = open(f"/proc/{p.pid}/status").read()
        hwm = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))
        return out, hwm
    finally:
        p.terminate()
        p.wait(timeout=30)


def timed(argv, env):
    """Runs argv under GNU time; returns (seconds, peak RSS in KiB, exit code)."""
    fmt = "%e %M"
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        p = subprocess.run(
            ["/usr/bin/time", "-o", tf.name, "-f", fmt] + argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        wall = time.perf_counter() - t0
        last = tf.read().strip().splitlines()[-1].split()
        return wall, int(last[1]), p.returncode, p.stderr.decode(errors="replace")[-500:]


def first_line(cairn, root):
    """Seconds from starting `cairn list` to reading its first line (the rest is read
    and thrown away)."""
    t0 = time.perf_counter()
    p = subprocess.Popen([cairn, "list", "--quiet", "--root", root], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    p.stdout.readline()
    took = time.perf_counter() - t0
    p.stdout.read()
    p.wait()
    return took


def load():
    return open("/proc/loadavg").read().split()[0]


def measure(args):
    results = {"machine": "2 vCPU AMD EPYC, 24 GiB, ext4 on virtio", "sizes": {}}
    work = tempfile.mkdtemp(prefix="cairn-scale-", dir=args.work)
    try:
        for n in args.sizes:
            root = os.path.join(work, f"archive-{n}")
            t0 = time.perf_counter()
            if n in args.fixture:
                # An archive the generator made earlier (`gen_archive ROOT N`), used in
                # place and kept (the commands here add no events to it).
                root = args.fixture[n]
            else:
                subprocess.run([args.gen, root, str(n)], check=True)
            gen_s = time.perf_counter() - t0
            mid = f"cairn-{(n + 1) // 2:06d}"
            row = {"generate_s": round(gen_s, 2), "load_before": load(), "commands": {}}
            has_index = subprocess.run([args.cairn, "index", "--help"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL).returncode == 0
            for name, argv, extra in COMMANDS:
                if name == "index rebuild" and not has_index:
                    continue
                if args.only and name not in args.only:
                    continue
                env = dict(os.environ, CAIRN_ROOT=root, **extra)
                runs = []
                for _ in range(args.runs):
                    wall, rss, rc, err = timed([args.cairn] + argv(mid), env)
                    if rc not in (0, 1):
                        sys.exit(f"{name} at {n} items failed (exit {rc}): {err}")
                    runs.append((wall, rss))
                med = statistics.median(r[0] for r in runs)
                rss = max(r[1] for r in runs)
                row["commands"][name] = {
                    "seconds": round(med, 4),
                    "runs": [round(r[0], 4) for r in runs],
                    "peak_rss_kib": rss,
                }
                print(f"{n:>8} {name:<24} {med:9.3f} s  {rss / 1024:8.1f} MiB", flush=True)
            if not args.only or "list, first line" in args.only:
                firsts = [first_line(args.cairn, root) for _ in range(args.runs)]
                row["commands"]["list, first line"] = {
                    "seconds": round(statistics.median(firsts), 4),
                    "runs": [round(r, 4) for r in firsts],
                    "peak_rss_kib": row["commands"].get("list", {}).get("peak_rss_kib", 0),
                }
                print(f"{n:>8} {'list, first line':<24} {statistics.median(firsts):9.3f} s", flush=True)
            if args.only and not any(name in args.only for name in SERVE_ROWS):
                row["load_after"] = load()
                results["sizes"][str(n)] = row
                continue
            runs, hwm = serve_rows(args.cairn, root, mid, n, args.requests)
            for name in SERVE_ROWS:
                med = statistics.median(runs[name])
                row["commands"][name] = {
                    "seconds": round(med, 5),
                    "runs": [round(r, 5) for r in runs[name]],
                    "peak_rss_kib": hwm,
                }
                print(f"{n:>8} {name:<24} {med:9.4f} s  {hwm / 1024:8.1f} MiB (server)", flush=True)
            row["load_after"] = load()
            results["sizes"][str(n)] = row
            if not args.keep and n not in args.fixture:
                shutil.rmtree(root)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"fixtures kept in {work}")
    return results


def report(results):
    sizes = sorted(results["sizes"], key=int)
    names = [c[0] for c in COMMANDS] + ["list, first line"] + SERVE_ROWS
    print()
    print("| command | " + " | ".join(f"{int(n):,} items: s / MiB" for n in sizes) + " | growth per 10x |")
    print("| --- | " + " | ".join("---" for _ in sizes) + " | --- |")
    for name in names:
        cells, secs = [], []
        for n in sizes:
            c = results["sizes"][n]["commands"].get(name)
            if c is None:
                cells.append("")
                continue
            secs.append(c["seconds"])
            cells.append(f"{c['seconds']:.3f} / {c['peak_rss_kib'] / 1024:.1f}")
        growth = ", ".join(
            f"{b / a:.1f}" if a > 0 else "-" for a, b in zip(secs, secs[1:])
        )
        print(f"| {name} | " + " | ".join(cells) + f" | {growth} |")
    for n in sizes:
        r = results["sizes"][n]
        print(f"{int(n):,} items: generated in {r['generate_s']} s; load {r['load_before']} -> {r['load_after']}")


def plot(results, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("skipped the chart: matplotlib is missing (python3 -m pip install matplotlib)")
        return
    sizes = sorted(results["sizes"], key=int)
    xs = [int(n) for n in sizes]
    fig, ax = plt.subplots(figsize=(9.5, 5.5))
    ax.set_prop_cycle(color=[plt.get_cmap("tab20")(i) for i in range(0, 20, 2)] + ["#555555", "#bb8800"])
    firsts = []
    for name in [c[0] for c in COMMANDS] + SERVE_ROWS:
        if any(name not in results["sizes"][n]["commands"] for n in sizes):
            continue
        ys = [results["sizes"][n]["commands"][name]["seconds"] for n in sizes]
        style = ":" if name.startswith("serve") and name != "serve start-up" else "-"
        ax.plot(xs, ys, marker="o", linestyle=style, label=name)
        firsts.append(ys[0])
    top = max(firsts)
    ax.plot(xs, [top * x / xs[0] for x in xs], "k--", linewidth=1, label="linear growth (reference)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("items in the archive (10 events each)")
    ax.set_ylabel("wall time, s (median; serve pages: per request)")
    ax.set_title("Cairn: commands and pages against archive size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"chart: {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cairn", default=os.path.join(REPO, "target/release/cairn"))
    ap.add_argument("--gen", default=os.path.join(REPO, "target/release/examples/gen_archive"))
    ap.add_argument("--work", default=None, help="folder for the fixtures (a fresh one is made inside)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--requests", type=int, default=20, help="requests per serve page")
    ap.add_argument(
        "--fixture",
        action="append",
        default=[],
        metavar="N=DIR",
        help="use an archive made earlier by gen_archive for size N (in place) instead of generating one",
    )
    ap.add_argument(
        "--only",
        default="",
        metavar="NAME,...",
        help="time only these rows, names as printed, separated by ';' (e.g. 'ingest start-up;list;"
        "list, first line'); the serve rows run only if one of them is named",
    )
    ap.add_argument("--out", default=os.path.join(HERE, "scale.json"))
    ap.add_argument("--chart", default=os.path.join(REPO, "scale.png"))
    ap.add_argument("--plot-only", action="store_true", help="redraw from --out")
    args = ap.parse_args()
    if args.plot_only:
        results = json.load(open(args.out))
    else:
        args.sizes = [int(s) for s in args.sizes.split(",")]
        args.fixture = {int(k): v for k, v in (f.split("=", 1) for f in args.fixture)}
        names = [c[0] for c in COMMANDS] + ["list, first line"] + SERVE_ROWS
        args.only = [n for n in names if args.only and n in [o.strip() for o in re.split(r";", args.only)]]
        results = measure(args)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    report(results)
    plot(results, args.chart)


if __name__ == "__main__":
    main()
