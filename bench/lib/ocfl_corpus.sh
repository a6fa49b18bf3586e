# Shared by bench/ocfl_export.sh, bench/ocfl_replica.sh and bench/ocfl_import.sh
# (sourced, not run): the binary to measure, a fresh work folder, GNU time's peak, and
# the corpus of small files they all ingest.
#
#   bench_setup NAME        sets $cairn (CAIRN_BIN, else a release build) and $work (a
#                           fresh folder under ${BENCH_DIR:-/tmp}, removed at exit)
#   peak COMMAND...         prints "seconds peak_kib" of COMMAND
#   small_corpus ITEMS FILES [LARGE_MIB]
#                           $work/arch: an archive holding ITEMS items of FILES files
#                           of 4 KiB (random hex), and with LARGE_MIB one more item of
#                           one file of that many MiB, ingested

bench_setup() {
  if [ -n "${CAIRN_BIN:-}" ]; then
    cairn=$CAIRN_BIN
  else
    cargo build --release --quiet
    cairn=${CARGO_TARGET_DIR:-$PWD/target}/release/cairn
  fi
  work=$(mktemp -d "${BENCH_DIR:-/tmp}/cairn-$1-XXXXXX")
  trap 'rm -rf "$work"' EXIT
}

peak() {
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >/dev/null 2>"$work/err.txt" || {
    cat "$work/err.txt" >&2; return 1; }
  cat "$work/time.txt"
}

small_corpus() {
  "$cairn" init "$work/arch" >/dev/null
  python3 - "$work/arch/intake" "$1" "$2" "${3:-0}" <<'PY'
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
if mib > 0:
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
}
