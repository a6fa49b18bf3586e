#!/usr/bin/env bash
# Peak memory of validating a zipped bag with one multi-GiB entry, in place (streamed,
# never extracted), both stored and deflated. Corpora are made outside the repository,
# under ${BENCH_DIR:-/tmp}, and removed at the end.
#
#   bench/zip_memory.sh [GIB]      (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
gib=${1:-3}
cargo build --release --quiet
cairn=$PWD/target/release/cairn
work=$(mktemp -d "${BENCH_DIR:-/tmp}/cairn-zipmem-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
# Compressible but not trivially so: random 1 MiB blocks, each repeated 4 times.
python3 - "$work/src/scan.tif" "$gib" <<'PY'
import os, sys
path, gib = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    for _ in range(gib * 256):
        block = os.urandom(1 << 20)
        for _ in range(4):
            f.write(block)
PY
"$cairn" bag create "$work/src" --output "$work/bag" >/dev/null
(cd "$work" && zip -q -0 -r stored.zip bag && zip -q -6 -r deflated.zip bag)
ls -l "$work"/*.zip | awk '{print "  " $9 ": " $5 " bytes"}'
for z in stored deflated; do
  /usr/bin/time -f "validate $z.zip (${gib} GiB entry): %e s, peak %M KiB" \
    "$cairn" bag validate "$work/$z.zip" >/dev/null
done
