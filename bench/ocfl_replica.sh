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
if [ -n "${CAIRN_BIN:-}" ]; then
  cairn=$CAIRN_BIN
else
  cargo build --release --quiet
  cairn=${CARGO_TARGET_DIR:-$PWD/target}/release/cairn
fi
work=$(mktemp -d "${BENCH_DIR:-/tmp}/cairn-ocflrep-XXXXXX")
trap 'rm -rf "$work"' EXIT

peak() { # command... -> prints "seconds peak_kib"
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >/dev/null 2>"$work/err.txt" || {
    cat "$work/err.txt" >&2; return 1; }
  cat "$work/time.txt"
}

echo "== corpus: $items items of $files files (4 KiB)"
"$cairn" init "$work/arch" >/dev/null
python3 - "$work/arch/intake" "$items" "$files" <<'PY'
import os, sys
intake, items, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = ["filename,dc.title"]
for i in range(items):
    d = os.path.join(intake, f"item-{i:05d}")
    os.makedirs(d)
    for j in range(files):
        with open(os.path.join(d, f"page-{j:04d}.txt"), "wb") as f:
            f.write(os.urandom(2048).hex().encode())
    rows.append(f"item-{i:05d},Sample: item {i}")
with open(os.path.join(intake, "metadata.csv"), "w") as f:
    f.write("\n".join(rows) + "\n")
PY
"$cairn" ingest --quiet --root "$work/arch" >/dev/null
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
