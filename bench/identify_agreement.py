#!/usr/bin/env python3
"""Format identification against siegfried on real files of this machine (issue 31).

Takes a sample of the regular files under system folders (documents, images, fonts,
libraries, configuration, Python's own test data; nothing the project wrote), runs
`cairn identify --json` on them and siegfried (`pip install pygfried`: siegfried as a
Python extension with its own PRONOM signature file) on each, and prints:

- agreement where both name a format, and where siegfried matched a byte or container
  signature (Cairn's PUID the same);
- false identifications by extension: Cairn names a format from the extension alone
  while siegfried says no signature matched (its UNKNOWN);
- files Cairn leaves unidentified that siegfried names, by siegfried's basis;
- the most frequent disagreements.

    python3 bench/identify_agreement.py --cairn target/release/cairn --files 5000

The sample is deterministic: every k-th file of the sorted walk, k chosen so that about
--files are taken. Unreadable files and files of 0 bytes are left out.
"""

import argparse
import collections
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOTS = ["/usr/share", "/usr/lib", "/etc", "/usr/include", "/usr/local/lib"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def walk(roots, skip):
    for root in roots:
        for dirpath, dirnames, names in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not os.path.join(dirpath, d).startswith(skip))
            for n in sorted(names):
                p = os.path.join(dirpath, n)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if os.path.islink(p) or not os.path.isfile(p) or st.st_size == 0:
                    continue
                if not os.access(p, os.R_OK):
                    continue
                yield p


def sample(roots, want, skip):
    every = list(walk(roots, skip))
    k = max(1, len(every) // want)
    return every[::k][:want], len(every)


def cairn_identify(cairn, paths):
    out = {}
    for i in range(0, len(paths), 400):
        chunk = paths[i : i + 400]
        p = subprocess.run([cairn, "identify", "--json", *chunk], capture_output=True)
        if p.returncode not in (0, 1):
            sys.exit(f"cairn identify failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
        report = json.loads(p.stdout)
        for f in report["files"]:
            out[f["path"]] = f
    return out


def siegfried_identify(paths):
    import pygfried

    out = {}
    details = ""
    for p in paths:
        try:
            r = pygfried.identify(p, detailed=True)
        except Exception as e:  # noqa: BLE001: a file siegfried cannot read is skipped
            log(f"siegfried: {p}: {e}")
            continue
        details = r["identifiers"][0]["details"]
        m = r["files"][0]["matches"][0]
        out[p] = m
    return out, details


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cairn", default=os.path.join(REPO, "target", "release", "cairn"))
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--roots", default=",".join(ROOTS))
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--show", type=int, default=15, help="disagreements listed")
    args = ap.parse_args()
    try:
        import pygfried  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "pygfried"], check=True)
    roots = [r for r in args.roots.split(",") if os.path.isdir(r)]
    paths, total = sample(roots, args.files, skip=os.path.realpath(REPO))
    log(f"{len(paths)} files sampled of {total} under {', '.join(roots)}")
    ours = cairn_identify(args.cairn, paths)
    theirs, sf_sig = siegfried_identify(paths)
    version = subprocess.run([args.cairn, "--version"], capture_output=True, text=True).stdout.strip()

    n = both = both_agree = sig = sig_agree = false_ext = cairn_only = sf_only = 0
    disagree = collections.Counter()
    false_ext_by = collections.Counter()
    sf_only_by = collections.Counter()
    for p in paths:
        if p not in ours or p not in theirs:
            continue
        n += 1
        mine = ours[p].get("puid") or "UNKNOWN"
        basis = ours[p].get("basis", "")
        sf = theirs[p]["id"]
        sf_basis = theirs[p]["basis"]
        if mine != "UNKNOWN" and sf != "UNKNOWN":
            both += 1
            both_agree += mine == sf
        if "byte match" in sf_basis or "container match" in sf_basis:
            sig += 1
            sig_agree += mine == sf
        if mine != "UNKNOWN" and sf == "UNKNOWN":
            cairn_only += 1
            if basis == "extension":
                false_ext += 1
                false_ext_by[(mine, os.path.splitext(p)[1])] += 1
        if mine == "UNKNOWN" and sf != "UNKNOWN":
            sf_only += 1
            sf_only_by[(sf, sf_basis.split(";")[0])] += 1
        if mine != sf:
            disagree[(mine, basis, sf, sf_basis.split(";")[0])] += 1

    pct = lambda a, b: 100.0 * a / b if b else 0.0  # noqa: E731
    print(f"cairn: {version}; siegfried (pygfried): {sf_sig}")
    print(f"files compared: {n}")
    print(f"both name a format: {both}, the same: {both_agree} ({pct(both_agree, both):.2f} %)")
    print(f"siegfried matched a signature: {sig}, cairn the same: {sig_agree} ({pct(sig_agree, sig):.2f} %)")
    print(f"cairn names, siegfried UNKNOWN: {cairn_only}; of them by extension alone: {false_ext} ({pct(false_ext, n):.2f} % of files)")
    print(f"siegfried names, cairn UNKNOWN: {sf_only}")
    print("most frequent disagreements (cairn puid, basis | siegfried puid, basis): files")
    for (m, b, s, sb), c in disagree.most_common(args.show):
        print(f"  {m} {b} | {s} {sb}: {c}")
    if false_ext_by:
        print("false identifications by extension (puid, extension): files")
        for (m, e), c in false_ext_by.most_common(args.show):
            print(f"  {m} {e}: {c}")
    if sf_only_by:
        print("named by siegfried only (puid, basis): files")
        for (s, b), c in sf_only_by.most_common(args.show):
            print(f"  {s} {b}: {c}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(
                {
                    "cairn": version,
                    "siegfried": sf_sig,
                    "files": n,
                    "both": both,
                    "both_agree": both_agree,
                    "signature": sig,
                    "signature_agree": sig_agree,
                    "false_extension": false_ext,
                    "cairn_only": cairn_only,
                    "siegfried_only": sf_only,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
