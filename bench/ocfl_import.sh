#!/usr/bin/env bash
# `cairn import` of OCFL objects against its peer, `cairn import` of the same items as
# bag folders, in the same run: ITEMS items of FILES small files (4 KiB) each are
# ingested, exported with `cairn ocfl export`, and each object imported into a fresh
# archive; then each bag (archive/ID of the first archive) into another. Each side's
# total time and largest peak RSS (GNU time, KiB), and the ratio OCFL / bag. The corpus
# lives in a fresh folder under ${BENCH_DIR:-/tmp}, removed at the end.
#
#   bench/ocfl_import.sh [ITEMS] [FILES]       (defaults: 20 100)
#
# CAIRN_BIN=path runs that binary instead of building the release one.
# The OCFL import does more than the bag import: it checks the inventory and its
# sidecar, hashes every content file against the inventory before writing anything,
# and lays the version out as a bag (docs/ocfl.md, "Import"); the bag import then
# validates, extracts and reads back as for any bag.
set -euo pipefail
cd "$(dirname "$0")/.."
items=${1:-20}
files=${2:-100}
. bench/lib/ocfl_corpus.sh
bench_setup ocfl-import

echo "== corpus: $items items of $files files (4 KiB)"
small_corpus "$items" "$files"
"$cairn" ocfl export --root "$work/arch" "$work/ocfl" >/dev/null
"$cairn" init "$work/from-ocfl" >/dev/null
"$cairn" init "$work/from-bags" >/dev/null
sync
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

run_all() { # label root sources... -> prints "seconds peak_kib"
  local root=$1; shift
  local total=0 peak=0
  for src in "$@"; do
    /usr/bin/time -f '%e %M' -o "$work/time.txt" "$cairn" import --quiet --root "$root" "$src" \
      >/dev/null 2>"$work/err.txt" || { cat "$work/err.txt" >&2; return 1; }
    read -r s k < "$work/time.txt"
    total=$(python3 -c "print($total + $s)")
    [ "$k" -gt "$peak" ] && peak=$k
  done
  echo "$total $peak"
}

mapfile -t objects < <(find "$work/ocfl" -name '0=ocfl_object_1.1' -printf '%h\n' | sort)
mapfile -t bags < <(find "$work/arch/archive" -mindepth 1 -maxdepth 1 -name 'cairn-*' | sort)
ocfl_line=$(run_all "$work/from-ocfl" "${objects[@]}")
echo "cairn import (OCFL objects): $ocfl_line  (seconds, peak KiB; ${#objects[@]} objects)"
bag_line=$(run_all "$work/from-bags" "${bags[@]}")
echo "cairn import (bag folders):  $bag_line  (${#bags[@]} bags)"
python3 - "$ocfl_line" "$bag_line" <<'PY'
import sys
o, b = (float(a.split()[0]) for a in sys.argv[1:3])
print(f"ratio OCFL import / bag import: {o / max(b, 0.01):.2f}")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
