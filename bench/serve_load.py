#!/usr/bin/env python3
"""Load benchmark of `cairn serve` (issue 16): requests per second and latency
percentiles for OAI-PMH GetRecord, ListRecords pages (followed by resumption token) and
the item page, on a generated archive of 10,000 items, over loopback.

    python3 bench/serve_load.py                       # 10,000 items, as in BENCHMARKS.md
    python3 bench/serve_load.py --items 1000 --duration 5
    python3 bench/serve_load.py --archive /tmp/arch   # reuse an archive made earlier

The archive is made outside the repository: the first --ingest items (500) by `cairn
ingest` (each item a folder of two small text files described in metadata.csv, titles in
English, French and Khmer), the rest as copies of those (bag, register entry, ingest
events chained on in the log; see replicate()), so every file is as Cairn writes it. The client is wrk (Debian's `wrk`),
driven by a Lua script that picks a random identifier (or resumption token) per request;
`--latency` gives the percentiles. The server and wrk share this machine's cores.

Peer, run in the same script with the same wrk settings: Python's threading static file
server (`python3 -m http.server`) serving the very same response bytes, saved to files
beforehand, so the ratio is Cairn's dynamic answer against a plain static one. Also
printed: the server's resident memory (VmRSS, and the peak VmHWM) after the runs.
"""

import argparse
import csv
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cairn_bin():
    path = os.path.join(ROOT, "target", "release", "cairn")
    if not os.path.exists(path):
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    return path


def make_archive(cairn, where, n, batch=500):
    """Ingests n generated items in batches of `batch` (one metadata.csv per batch:
    ingest matches every intake item against every sheet row, so one sheet of 10,000
    rows costs 10,000 x 10,000 comparisons; see BENCHMARKS.md)."""
    subprocess.run([cairn, "init", where], check=True, stdout=subprocess.DEVNULL)
    intake = os.path.join(where, "intake")
    t0 = time.time()
    for first in range(0, n, batch):
        with open(os.path.join(intake, "metadata.csv"), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["filename", "dc.title", "dc.creator", "dc.date", "dc.language", "dcterms.isPartOf", "dc.rights"])
            for i in range(first, min(n, first + batch)):
                folder = f"item-{i:05d}"
                os.makedirs(os.path.join(intake, folder))
                title, lang = [
                    (f"Sample {i}: placeholder for an S-21 intake record (synthetic)", "en"),
                    (f"Échantillon {i} : note de test (synthétique)", "fr"),
                    (f"គំរូ {i}: ឯកសារសាកល្បង", "km"),
                ][i % 3]
                with open(os.path.join(intake, folder, "note.txt"), "w", encoding="utf-8") as t:
                    t.write(title + "\nSynthetic test data; contains no real record.\n")
                with open(os.path.join(intake, folder, "page.txt"), "wb") as t:
                    t.write(b"x" * (2000 + i % 1000))
                w.writerow([folder, title, "Cairn project (synthetic test data)", "1977", lang,
                            ["S-21 records (synthetic)", "DC-Cam notes"][i % 2], "CC0 1.0"])
        subprocess.run([cairn, "ingest", "--quiet", "--remove-source", "--root", where], check=True)
        os.remove(os.path.join(intake, "metadata.csv"))
        print(f"  {min(n, first + batch)} items ingested ({time.time() - t0:.0f} s)", flush=True)
    print(f"ingested {n} items in {time.time() - t0:.0f} s", flush=True)


def replicate(where, ingested, n):
    """Grows an archive of `ingested` items (made by `cairn ingest`) to n by copying:
    item k becomes cairn-{k+1:06} as a copy of the bag, the register entry and the three
    ingest events of item k % ingested, with the event log's chain continued (BLAKE3,
    `pip install blake3`). Ingesting 10,000 items one batch after another takes over an
    hour here (each batch slower than the last: BENCHMARKS.md), so the bench writes the
    rest of the archive the way ingest would have."""
    import json
    import uuid
    from blake3 import blake3
    manifests = os.path.join(where, "manifests")
    log_path = os.path.join(manifests, "events.jsonl")
    with open(log_path, "rb") as f:
        lines = f.read().splitlines()
    by_object = {}
    for line in lines:
        e = json.loads(line)
        by_object.setdefault(e["object"], []).append(e)
    seq = len(lines)
    prev = blake3(lines[-1]).hexdigest()
    t0 = time.time()
    with open(log_path, "ab") as log:
        for k in range(ingested, n):
            src = f"cairn-{k % ingested + 1:06d}"
            dst = f"cairn-{k + 1:06d}"
            shutil.copytree(os.path.join(where, "archive", src), os.path.join(where, "archive", dst))
            with open(os.path.join(manifests, src + ".json"), encoding="utf-8") as f:
                entry = json.load(f)
            entry["id"] = dst
            entry["bag"] = f"archive/{dst}"
            entry["intake_name"] = f"item-{k:05d}"
            with open(os.path.join(manifests, dst + ".json"), "w", encoding="utf-8") as f:
                json.dump(entry, f, ensure_ascii=False, indent=2)
                f.write("\n")
            for e in by_object.get(src, []):
                seq += 1
                e = dict(e, seq=seq, id=str(uuid.uuid4()), object=dst, prev=prev)
                e["detail"] = e["detail"].replace(src, dst)
                if "data" in e and "bag" in e["data"]:
                    e["data"] = dict(e["data"], bag=f"archive/{dst}")
                line = json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode()
                prev = blake3(line).hexdigest()
                log.write(line + b"\n")
    print(f"replicated to {n} items in {time.time() - t0:.0f} s", flush=True)


def start_server(cairn, archive):
    p = subprocess.Popen([cairn, "serve", "--root", archive, "--bind", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    m = re.match(r"listening on http://([\d.]+:\d+)/", line)
    if not m:
        p.kill()
        sys.exit(f"unexpected first line from cairn serve: {line!r}")
    return p, m.group(1)


def get(url):
    with urllib.request.urlopen(url, timeout=120) as r:
        return r.read()


def lua_paths(paths):
    quoted = ",\n".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in paths)
    return (
        "local paths = {\n" + quoted + "\n}\n"
        "math.randomseed(os.time())\n"
        "request = function()\n"
        "  return wrk.format('GET', paths[math.random(#paths)])\n"
        "end\n"
    )


def wrk(addr, paths, args, tmp):
    script = os.path.join(tmp, "paths.lua")
    with open(script, "w", encoding="utf-8") as f:
        f.write(lua_paths(paths))
    out = subprocess.run(
        ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
         "-s", script, f"http://{addr}"],
        check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        lat[pct] = v
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"wrk saw error responses:\n{out}")
    return rps, lat


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        s = f.read()
    kib = lambda k: int(re.search(rf"{k}:\s+(\d+) kB", s).group(1))
    return kib("VmRSS"), kib("VmHWM")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--ingest", type=int, default=500,
                    help="items made by cairn ingest; the rest are copies of them (default 500)")
    ap.add_argument("--archive", help="use (or make, if missing) the archive here")
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the generated archive")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    cairn = cairn_bin()
    tmp = tempfile.mkdtemp(prefix="cairn-serve-bench-")
    archive = args.archive or os.path.join(tmp, "archive")
    if not os.path.exists(os.path.join(archive, "cairn.toml")):
        make_archive(cairn, archive, min(args.ingest, args.items))
        if args.items > args.ingest:
            replicate(archive, args.ingest, args.items)
    t0 = time.time()
    server, addr = start_server(cairn, archive)
    peer = None
    try:
        get(f"http://{addr}/oai?verb=Identify")
        ids = sorted(n[:-5] for n in os.listdir(os.path.join(archive, "manifests"))
                     if n.endswith(".json") and not n.startswith("."))
        print(f"{len(ids)} items; first response {time.time() - t0:.2f} s after starting cairn serve "
              "(it reads the register, every dc.xml and the log before it listens)", flush=True)
        repo = "cairn.invalid"
        getrecord = [f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:{repo}:{i}" for i in ids]
        pages = ["/oai?verb=ListRecords&metadataPrefix=oai_dc"]
        while True:
            body = get(f"http://{addr}{pages[-1]}").decode()
            m = re.search(r"<resumptionToken[^>]*>([^<]+)</resumptionToken>", body)
            if not m:
                break
            pages.append(f"/oai?verb=ListRecords&resumptionToken={m.group(1)}")
        item_pages = [f"/items/{i}" for i in ids]
        # The peer: the same bytes as static files.
        static = os.path.join(tmp, "static")
        os.makedirs(static)
        sample = random.Random(1).sample(range(len(ids)), min(500, len(ids)))
        peer_paths = {"GetRecord": [], "ListRecords page": [], "item page": []}
        for n in sample:
            for kind, url in (("GetRecord", getrecord[n]), ("item page", item_pages[n])):
                name = f"{kind.replace(' ', '-')}-{n}.xml"
                with open(os.path.join(static, name), "wb") as f:
                    f.write(get(f"http://{addr}{url}"))
                peer_paths[kind].append("/" + name)
        for k, url in enumerate(pages):
            name = f"page-{k}.xml"
            with open(os.path.join(static, name), "wb") as f:
                f.write(get(f"http://{addr}{url}"))
            peer_paths["ListRecords page"].append("/" + name)
        peer = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1",
                                 "--directory", static], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        m = re.search(r"port (\d+)", peer.stdout.readline())
        peer_addr = f"127.0.0.1:{m.group(1)}"
        rows = []
        for kind, paths in (("GetRecord", getrecord), ("ListRecords page", pages), ("item page", item_pages)):
            c_rps, c_lat = wrk(addr, paths, args, tmp)
            p_rps, p_lat = wrk(peer_addr, peer_paths[kind], args, tmp)
            rows.append((kind, c_rps, c_lat, p_rps, p_lat))
        now, peak = rss(server.pid)
        print()
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
        print(f"load average (1 min) at the end: {load} on {os.cpu_count()} CPUs")
        print(f"cairn serve, {len(ids)} items, wrk -t{args.threads} -c{args.connections} -d{args.duration}s, loopback")
        print(f"{'request':18} {'cairn req/s':>12} {'p50 ms':>8} {'p99 ms':>8} | {'peer req/s':>11} {'p99 ms':>8} | {'req/s ratio':>11}")
        for kind, c_rps, c_lat, p_rps, p_lat in rows:
            print(f"{kind:18} {c_rps:12.0f} {c_lat['50']:8.2f} {c_lat['99']:8.2f} | {p_rps:11.0f} {p_lat['99']:8.2f} | {c_rps / p_rps:11.2f}")
        print(f"ListRecords: {len(pages)} pages of up to 100 records")
        print(f"server memory after the runs: RSS {now / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB")
    finally:
        server.terminate()
        server.wait()
        if peer:
            peer.terminate()
            peer.wait()
        if args.keep or args.archive:
            print(f"kept {archive}")
            shutil.rmtree(os.path.join(tmp, "static"), ignore_errors=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
