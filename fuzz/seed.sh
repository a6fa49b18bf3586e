#!/usr/bin/env bash
# Builds the seed corpora in fuzz/corpus/<target>/ from the conformance suite and the
# samples. Idempotent; seeds are named seed-*, so they are told apart from what the
# fuzzer adds (which is gitignored). Committed seeds are this script's output.
#   fuzz/seed.sh [--force]    (--force rebuilds even when the seeds exist)
set -euo pipefail
cd "$(dirname "$0")"
CONF=../../shared/conformance/bagit
# (the clone sits beside ../shared, so from fuzz/ the suite is ../../shared)
[ -d "$CONF" ] || { echo "seed.sh: no conformance suite at ../shared/conformance/bagit" >&2; exit 1; }
CONF=$(cd "$CONF" && pwd)

if [ "${1:-}" != --force ] && [ -e corpus/zip/seed-basicBag.zip ]; then
  exit 0
fi

python3 - "$CONF" <<'PY'
import hashlib, io, os, sys, zipfile

conf = sys.argv[1]
algs = ["blake3", "sha256", "sha512", "sha384", "sha224", "sha1", "md5"]  # Algorithm::ALL
out = "corpus"
seen = set()

def put(target, name, data, cap=8192):
    data = data[:cap]
    key = (target, hashlib.sha1(data).hexdigest())
    if key in seen:
        return
    seen.add(key)
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    safe = name.replace("/", "_").replace(" ", "_")
    with open(os.path.join(d, "seed-" + safe), "wb") as f:
        f.write(data)

counts = {}
for root, dirs, files in sorted(os.walk(conf)):
    dirs.sort()
    rel = os.path.relpath(root, conf)
    for fn in sorted(files):
        path = os.path.join(root, fn)
        with open(path, "rb") as f:
            data = f.read(8192)
        tag = rel.replace(os.sep, "_") + "_" + fn
        if fn.startswith(("manifest-", "tagmanifest-")) and fn.endswith(".txt"):
            alg = fn.split("-", 1)[1][:-4]
            sel = algs.index(alg) + 1 if alg in algs else 0
            put("manifest", tag, bytes([sel]) + data)
        elif fn == "bagit.txt":
            put("bagit_txt", tag, data)
        elif fn in ("bag-info.txt", "package-info.txt"):
            put("bag_info", tag, data)
        elif fn == "fetch.txt":
            put("fetch", tag, data)

# Hand-written extras: encodings and percent-encoding cases the suite lacks.
put("manifest", "hand-v1-encoded", b"\x00" + b"ab  data/a%0Ab%25c\ncd *data/x\r\nef\t./data/y\n")
put("bag_info", "hand-latin1", b"Source-Organization: Caf\xe9\nPayload-Oxum: 12.3\n  continued\n")
put("bag_info", "hand-utf16", "Bagging-Date: 2024-01-01\nContact-Name: ទួលស្លែង\n".encode("utf-16"))
put("fetch", "hand-v1", b"https://example.org/a 12 data/a%0Ab\nhttp://x - data/b c\n")

samples = os.path.join("..", "samples", "s21", "metadata.csv")
if os.path.exists(samples):
    put("metadata_csv", "s21-metadata.csv", open(samples, "rb").read(), cap=16384)
put("metadata_csv", "hand-bom-crlf", b'\xef\xbb\xbffilename,dc.title,dcterms.created\r\nobjects/a/,"T, with comma",2024\r\nb,"multi\nline",\r\n')

put("sidecar", "hand-basic.json", b'{"dc.title": "Misnamed files", "dc.creator": ["A", "B"], "dcterms.created": "2024-01-02"}')
put("sidecar", "hand-bom.json", b'\xef\xbb\xbf{"title": "  x  ", "dc.subject": []}')
put("sidecar", "hand-oai_dc.xml", b'<?xml version="1.0" encoding="UTF-8"?>\n<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" xmlns:dc="http://purl.org/dc/elements/1.1/">\n  <dc:title>Tuol Sleng</dc:title>\n  <dc:date>1979</dc:date>\n</oai_dc:dc>\n')

# Small zips of conformance bags, with the bag in one top-level folder.
def zip_bag(bag_dir, name, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for root, dirs, files in sorted(os.walk(bag_dir)):
            dirs.sort()
            for fn in sorted(files):
                p = os.path.join(root, fn)
                arc = os.path.join(name, os.path.relpath(p, bag_dir))
                z.write(p, arc)
    return buf.getvalue()

for rel, name, method in [
    ("v1.0/valid/basicBag", "basicBag", zipfile.ZIP_DEFLATED),
    ("v1.0/valid/basicBag", "basicBag-stored", zipfile.ZIP_STORED),
    ("v0.97/valid/holey-bag", "holey-bag", zipfile.ZIP_DEFLATED),
]:
    bag = os.path.join(conf, rel)
    if os.path.isdir(bag):
        put("zip", name + ".zip", zip_bag(bag, name, method), cap=1 << 16)

for t in sorted(os.listdir(out)):
    n = len([f for f in os.listdir(os.path.join(out, t)) if f.startswith("seed-")])
    print(f"seeds: {t}: {n}")
PY
