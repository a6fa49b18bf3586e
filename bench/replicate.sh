#!/usr/bin/env bash
# Replication throughput and peak memory: `cairn replicate` to a folder replica against
# `cp -r` + `sync`, and to Garage on loopback (scripts/s3-test-server) against the AWS
# CLI (`aws s3 cp --recursive`; `pip install awscli`), on the same corpus in the same
# run. Cairn does more than the peers: it hashes every byte on the way out, reads every
# object back and hashes it again, and fsyncs each file; the ratios say what that costs.
#
#   bench/replicate.sh [LARGE_GIB] [SMALL_FILES]     (defaults: 2 and 2000 of 64 KiB)
#
# CAIRN_BIN=path runs that binary instead of building target/release/cairn.
#
# Peak RSS from GNU time (`/usr/bin/time -f %M`, KiB). The corpus lives in a fresh
# folder under ${BENCH_DIR:-/tmp} and is removed at the end. Without Garage installed
# the S3 half is skipped with a notice.
set -euo pipefail
cd "$(dirname "$0")/.."
large_gib=${1:-2}
small=${2:-2000}
if [ -z "${CAIRN_BIN:-}" ]; then
  cargo build --release --quiet
fi
cairn=${CAIRN_BIN:-$PWD/target/release/cairn}
work=$(mktemp -d "${BENCH_DIR:-/tmp}/cairn-repl-bench-XXXXXX")
server=""
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

peak() { # command... -> "seconds peak_kib"
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >/dev/null 2>"$work/err.txt" || {
    cat "$work/err.txt" >&2; return 1; }
  cat "$work/time.txt"
}
rate() { python3 -c "import sys; print(f'{$1 / 1048576 / max($2, 0.001):.0f}')"; }

echo "== corpus: one ${large_gib} GiB file and $small files of 64 KiB"
"$cairn" init "$work/arch" >/dev/null
python3 - "$work/arch/intake" "$small" "$large_gib" <<'PY'
import os, sys
intake, n, gib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
big = os.path.join(intake, "one-large")
os.makedirs(big)
chunk = os.urandom(1 << 20)
with open(os.path.join(big, "scan.tif"), "wb") as f:
    for i in range(gib * 1024):
        f.write(chunk[i % 7:] + chunk[:i % 7])
small = os.path.join(intake, "many-small")
for i in range(n):
    d = os.path.join(small, f"d{i // 100:04d}")
    if i % 100 == 0:
        os.makedirs(d)
    with open(os.path.join(d, f"p{i:05d}.tif"), "wb") as f:
        f.write(os.urandom(65536))
with open(os.path.join(intake, "metadata.csv"), "w") as f:
    f.write("filename,dc.title\none-large,Bench: one large file\nmany-small,Bench: many small files\n")
PY
"$cairn" ingest --root "$work/arch" >/dev/null
bytes=$(du -sb "$work/arch/archive" | cut -f1)
echo "archive/: $bytes bytes"
cat >> "$work/arch/cairn.toml" <<EOF

[[replica]]
name = "folder"
url = "file://$work/replica"
EOF
sync

echo "== folder replica (same disk)"
read -r c_s c_kib < <(peak "$cairn" replicate --root "$work/arch" --to folder)
sync
read -r p_s p_kib < <(peak sh -c "cp -r '$work/arch/archive' '$work/cp-copy' && sync")
echo "cairn replicate:  ${c_s} s, $(rate "$bytes" "$c_s") MiB/s, peak ${c_kib} KiB"
echo "cp -r + sync:     ${p_s} s, $(rate "$bytes" "$p_s") MiB/s, peak ${p_kib} KiB"
python3 -c "print(f'ratio cairn/cp time: {$c_s / max($p_s, 0.001):.2f}')"
rm -rf "$work/cp-copy"

if ! command -v garage >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/garage" ]; then
  echo "skipped: Garage is not installed (scripts/s3-test-server --install): no S3 figures"
  exit 0
fi
if ! command -v aws >/dev/null 2>&1; then
  echo "skipped: the AWS CLI is not installed (pip install awscli): no S3 peer figures"
  exit 0
fi
echo "== Garage on loopback (scripts/s3-test-server)"
mkfifo "$work/settings"
scripts/s3-test-server > "$work/settings" &
server=$!
declare -A s
while IFS='=' read -r k v; do
  [ "$k" = READY ] && break
  s[$k]=$v
done < "$work/settings"
cat >> "$work/arch/cairn.toml" <<EOF

[[replica]]
name = "garage"
url = "s3://${s[S3_BUCKET]}/cairn"
endpoint = "${s[S3_ENDPOINT]}"
region = "${s[S3_REGION]}"
EOF
export CAIRN_REPLICA_GARAGE_ACCESS_KEY_ID="${s[S3_ACCESS_KEY_ID]}"
export CAIRN_REPLICA_GARAGE_SECRET_ACCESS_KEY="${s[S3_SECRET_ACCESS_KEY]}"
read -r c_s c_kib < <(peak "$cairn" replicate --root "$work/arch" --to garage)
read -r a_s a_kib < <(peak env AWS_ACCESS_KEY_ID="${s[S3_ACCESS_KEY_ID]}" \
  AWS_SECRET_ACCESS_KEY="${s[S3_SECRET_ACCESS_KEY]}" AWS_DEFAULT_REGION="${s[S3_REGION]}" \
  aws --endpoint-url "${s[S3_ENDPOINT]}" s3 cp --recursive --only-show-errors \
  "$work/arch/archive" "s3://${s[S3_BUCKET]}/aws-cli")
echo "cairn replicate:        ${c_s} s, $(rate "$bytes" "$c_s") MiB/s, peak ${c_kib} KiB"
echo "aws s3 cp --recursive:  ${a_s} s, $(rate "$bytes" "$a_s") MiB/s, peak ${a_kib} KiB"
python3 -c "print(f'ratio cairn/aws time: {$c_s / max($a_s, 0.001):.2f}')"
