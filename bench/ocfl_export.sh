#!/usr/bin/env bash
# `cairn ocfl export` against its peer, `cp -r` of the archive's bags followed by `sync`,
# on the same corpus in the same run: ITEMS items of FILES small files (4 KiB) each, and
# one item of one LARGE_MIB MiB file. Each side's time and peak RSS (GNU time, KiB); the
# ratio export / (cp -r + sync), whose target is <= 1.3; then the rerun (nothing to
# write). The corpus lives in a fresh folder under ${BENCH_DIR:-/tmp}, removed at the end.
#
#   bench/ocfl_export.sh [ITEMS] [FILES] [LARGE_MIB]       (defaults: 100 100 1024)
#
# CAIRN_BIN=path runs that binary instead of building the release one.
# The export does more than the copy: it hashes every file with SHA-512 and BLAKE3 as it
# reads it, reads each copy back, and writes the metadata, register entry, PREMIS and
# inventories of every version (docs/ocfl.md); both end with their data on disk (syncfs
# per object for the export, one sync for the copy).
set -euo pipefail
cd "$(dirname "$0")/.."
items=${1:-100}
files=${2:-100}
large_mib=${3:-1024}
if [ -n "${CAIRN_BIN:-}" ]; then
  cairn=$CAIRN_BIN
else
  cargo build --release --quiet
  cairn=${CARGO_TARGET_DIR:-$PWD/target}/release/cairn
fi
work=$(mktemp -d "${BENCH_DIR:-/tmp}/cairn-ocfl-XXXXXX")
trap 'rm -rf "$work"' EXIT

peak() { # command... -> prints "seconds peak_kib"
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >/dev/null 2>"$work/err.txt" || {
    cat "$work/err.txt" >&2; return 1; }
  cat "$work/time.txt"
}

echo "== corpus: $items items of $files files (4 KiB) and one item of one $large_mib MiB file"
"$cairn" init "$work/arch" >/dev/null
python3 - "$work/arch/intake" "$items" "$files" "$large_mib" <<'PY'
import os, sys
intake, items, files, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = ["filename,dc.title"]
for i in range(items):
    d = os.path.join(intake, f"item-{i:05d}")
    os.makedirs(d)
    for j in range(files):
        with open(os.path.join(d, f"page-{j:04d}.txt"), "wb") as f:
            f.write(os.urandom(2048).hex().encode())
    rows.append(f"item-{i:05d},Sample: item {i}")
big = os.path.join(intake, "zz-large")
os.makedirs(big)
chunk = os.urandom(1 << 20)
with open(os.path.join(big, "scan.tif"), "wb") as f:
    for _ in range(mib):
        f.write(chunk)
rows.append("zz-large,Sample: one large file")
with open(os.path.join(intake, "metadata.csv"), "w") as f:
    f.write("\n".join(rows) + "\n")
PY
"$cairn" ingest --quiet --root "$work/arch" >/dev/null
sync
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cp_line=$(peak sh -c "cp -r '$work/arch/archive' '$work/copy' && sync")
echo "cp -r + sync:           $cp_line  (seconds, peak KiB)"
ex_line=$(peak "$cairn" ocfl export --root "$work/arch" "$work/ocfl")
echo "cairn ocfl export:      $ex_line"
re_line=$(peak "$cairn" ocfl export --root "$work/arch" "$work/ocfl")
echo "rerun (nothing to do):  $re_line"
python3 - "$cp_line" "$ex_line" <<'PY'
import sys
cp, ex = (float(a.split()[0]) for a in sys.argv[1:3])
print(f"ratio export / (cp -r + sync): {ex / max(cp, 0.01):.2f}  (target <= 1.3)")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
