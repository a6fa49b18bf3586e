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
. bench/lib/ocfl_corpus.sh
bench_setup ocfl

echo "== corpus: $items items of $files files (4 KiB) and one item of one $large_mib MiB file"
small_corpus "$items" "$files" "$large_mib"
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
