#!/usr/bin/env bash
# A replica of kind "ocfl" against its peer, a replica of kind "files" (the mirror), on
# the same archive in the same run: `replicate`, `fixity --replica NAME --all` and
# `restore --from NAME` to each; seconds and peak RSS (GNU time, KiB) of each, and the
# ratio ocfl / files. Corpus: ITEMS items of FILES small files (4 KiB) each, ingested.
# Lives in a fresh folder under ${BENCH_DIR:-/tmp}, removed at the end.
#
#   bench/ocfl_replica.sh [ITEMS] [FILES]        (defaults: 100 100)
#
# CAIRN_BIN=path runs that binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
items=${1:-100}
files=${2:-100}
. bench/lib/ocfl_corpus.sh
bench_setup ocflrep

echo "== corpus: $items items of $files files (4 KiB)"
small_corpus "$items" "$files"
mkdir "$work/files" "$work/ocfl"
cat >> "$work/arch/cairn.toml" <<TOML

[[replica]]
name = "files"
url = "file://$work/files"

[[replica]]
name = "ocfl"
kind = "ocfl"
url = "file://$work/ocfl"
TOML
"$cairn" replicate --init files --root "$work/arch" >/dev/null 2>&1
"$cairn" replicate --init ocfl --root "$work/arch" >/dev/null 2>&1
cp "$work/arch/cairn.toml" "$work/kit.toml"
sync
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A t
for kind in files ocfl; do
  t[$kind-replicate]=$(peak "$cairn" replicate --to "$kind" --root "$work/arch")
  t[$kind-fixity]=$(peak "$cairn" fixity --replica "$kind" --all --root "$work/arch")
  t[$kind-restore]=$(peak "$cairn" restore --from "$kind" "$work/restored-$kind" --root "$work/arch")
done
for step in replicate fixity restore; do
  f=${t[files-$step]}; o=${t[ocfl-$step]}
  python3 - "$step" "$f" "$o" <<'PY'
import sys
step, f, o = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
print(f"{step:10} files {float(f[0]):7.2f} s {int(f[1])/1024:6.1f} MiB | ocfl {float(o[0]):7.2f} s {int(o[1])/1024:6.1f} MiB | ratio {float(o[0])/max(float(f[0]),0.01):.2f}")
PY
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
