#!/usr/bin/env bash
# Peak memory of `cairn fixity` (and `cairn bag validate`) on a bag of many small files
# and on a bag of one large file. Corpora are made outside the repository, in a fresh
# folder under ${BENCH_DIR:-/tmp}, and removed at the end.
#
#   bench/fixity_memory.sh [SMALL_FILES] [LARGE_GIB]     (defaults: 100000 and 4)
#
# Peak RSS is read with GNU time (`/usr/bin/time -f %M`, in KiB). Cairn reads files with
# read(2) into reused buffers and maps nothing, so RSS is heap, stacks and code only.
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-100000}
large_gib=${2:-4}
cargo build --release --quiet
cairn=$PWD/target/release/cairn
work=$(mktemp -d "${BENCH_DIR:-/tmp}/cairn-mem-XXXXXX")
trap 'rm -rf "$work"' EXIT

peak() { # command... -> prints "seconds peak_kib"
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >/dev/null 2>"$work/err.txt" || {
    cat "$work/err.txt" >&2; return 1; }
  cat "$work/time.txt"
}

echo "== corpus: $small small files (1 KiB, 100 per folder) and one ${large_gib} GiB file"
"$cairn" init "$work/arch" >/dev/null
python3 - "$work/arch/intake" "$small" "$large_gib" <<'PY'
import os, sys
intake, n, gib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
small = os.path.join(intake, "many-small")
for i in range(n):
    d = os.path.join(small, f"d{i // 100:05d}")
    if i % 100 == 0:
        os.makedirs(d)
    with open(os.path.join(d, f"f{i:06d}.txt"), "wb") as f:
        f.write((f"synthetic page {i}\n" * 60)[:1024].encode())
big = os.path.join(intake, "one-large")
os.makedirs(big)
chunk = os.urandom(1 << 20)
with open(os.path.join(big, "scan.tif"), "wb") as f:
    for _ in range(gib * 1024):
        f.write(chunk)
with open(os.path.join(intake, "metadata.csv"), "w") as f:
    f.write("filename,dc.title\nmany-small,Sample: many small files\none-large,Sample: one large file\n")
PY
echo "ingest:                    $(peak "$cairn" ingest --root "$work/arch")  (seconds, peak KiB)"
echo "fixity, $small small files: $(peak "$cairn" fixity --root "$work/arch" --id cairn-000001)"
echo "fixity, one ${large_gib} GiB file:     $(peak "$cairn" fixity --root "$work/arch" --id cairn-000002)"
echo "validate (all manifests), $small small files: $(peak "$cairn" bag validate "$work/arch/archive/cairn-000001")"
echo "validate (all manifests), one ${large_gib} GiB file: $(peak "$cairn" bag validate "$work/arch/archive/cairn-000002")"
