#!/usr/bin/env bash
# Replication throughput and peak memory: `cairn replicate` to a folder replica against
# `cp -r` + `sync`, and to Garage on loopback (scripts/s3-test-server) against the AWS
# CLI (`aws s3 cp --recursive`; `pip install awscli`) and rclone (`rclone copy
# --checksum`; Debian's rclone), on the same corpus in the same run. Cairn does more
# than the peers: it hashes every byte on the way out, reads every object back and
# hashes it again, and makes every file durable before it records it; the ratios say
# what that costs.
#
#   bench/replicate.sh [LARGE_GIB] [SMALL_FILES] [SMALL_KIB]   (defaults: 2, 2000, 64)
#
# The corpus: one file of LARGE_GIB GiB (0: none) as one item, and SMALL_FILES files of
# SMALL_KIB KiB in items of 100 files each (a scanned book: an item of pages).
# BENCH_S3=0 skips the Garage half. CAIRN_BIN=path runs that binary instead of building one with `cargo build --release`
# (in ${CARGO_TARGET_DIR:-target}).
#
# Peak RSS from GNU time (`/usr/bin/time -f %M`, KiB). The corpus lives in a fresh
# folder under ${BENCH_DIR:-/tmp} and is removed at the end. Without Garage installed
# the S3 half is skipped with a notice, and so is a peer that is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
large_gib=${1:-2}
small=${2:-2000}
small_kib=${3:-64}
if [ -z "${CAIRN_BIN:-}" ]; then
  cargo build --release --quiet
fi
cairn=${CAIRN_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/cairn}
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
ratio() { python3 -c "print(f'{$1 / max($2, 0.001):.2f}')"; }

echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== corpus: one ${large_gib} GiB file and $small files of $small_kib KiB (items of 100)"
"$cairn" init "$work/arch" >/dev/null
python3 - "$work/arch/intake" "$small" "$large_gib" "$small_kib" <<'PY'
import os, sys
intake, n, gib, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = ["filename,dc.title"]
if gib > 0:
    big = os.path.join(intake, "one-large")
    os.makedirs(big)
    chunk = os.urandom(1 << 20)
    with open(os.path.join(big, "scan.tif"), "wb") as f:
        for i in range(gib * 1024):
            f.write(chunk[i % 7:] + chunk[:i % 7])
    rows.append("one-large,Bench: one large file")
for i in range(n):
    d = os.path.join(intake, f"book{i // 100:05d}")
    if i % 100 == 0:
        os.makedirs(d)
        rows.append(f"book{i // 100:05d},Bench: small files {i // 100}")
    with open(os.path.join(d, f"p{i:06d}.tif"), "wb") as f:
        f.write(os.urandom(kib * 1024))
with open(os.path.join(intake, "metadata.csv"), "w") as f:
    f.write("\n".join(rows) + "\n")
PY
"$cairn" ingest --root "$work/arch" >/dev/null
bytes=$(du -sb "$work/arch/archive" | cut -f1)
objects=$(find "$work/arch/archive" "$work/arch/manifests" -type f | wc -l)
echo "archive/: $bytes bytes; $objects files in archive/ and manifests/"
cat >> "$work/arch/cairn.toml" <<EOF

[[replica]]
name = "folder"
url = "file://$work/replica"
EOF
mkdir "$work/replica"
"$cairn" replicate --root "$work/arch" --init folder >/dev/null 2>&1
sync

echo "== folder replica (same disk)"
read -r c_s c_kib < <(peak "$cairn" replicate --root "$work/arch" --to folder)
sync
read -r p_s p_kib < <(peak sh -c "mkdir '$work/cp-copy' && cp -r '$work/arch/archive' '$work/arch/manifests' '$work/cp-copy/' && sync")
echo "cairn replicate:  ${c_s} s, $(rate "$bytes" "$c_s") MiB/s, peak ${c_kib} KiB"
echo "cp -r + sync:     ${p_s} s, $(rate "$bytes" "$p_s") MiB/s, peak ${p_kib} KiB"
echo "ratio cairn/cp time: $(ratio "$c_s" "$p_s")"
rm -rf "$work/cp-copy"

if [ "${BENCH_S3:-1}" = 0 ]; then
  echo "skipped: BENCH_S3=0: no S3 figures"
  exit 0
fi
if ! command -v garage >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/garage" ]; then
  echo "skipped: Garage is not installed (scripts/s3-test-server --install): no S3 figures"
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
"$cairn" replicate --root "$work/arch" --init garage >/dev/null 2>&1
read -r c_s c_kib < <(peak "$cairn" replicate --root "$work/arch" --to garage)
echo "cairn replicate:        ${c_s} s, $(rate "$bytes" "$c_s") MiB/s, peak ${c_kib} KiB"
best=""
if command -v aws >/dev/null 2>&1; then
  read -r a_s a_kib < <(peak env AWS_ACCESS_KEY_ID="${s[S3_ACCESS_KEY_ID]}" \
    AWS_SECRET_ACCESS_KEY="${s[S3_SECRET_ACCESS_KEY]}" AWS_DEFAULT_REGION="${s[S3_REGION]}" \
    aws --endpoint-url "${s[S3_ENDPOINT]}" s3 cp --recursive --only-show-errors \
    "$work/arch/archive" "s3://${s[S3_BUCKET]}/aws-cli")
  echo "aws s3 cp --recursive:  ${a_s} s, $(rate "$bytes" "$a_s") MiB/s, peak ${a_kib} KiB"
  echo "ratio cairn/aws time: $(ratio "$c_s" "$a_s")"
  best=$a_s
else
  echo "skipped: the AWS CLI is not installed (pip install awscli)"
fi
if command -v rclone >/dev/null 2>&1; then
  # An S3 remote from the environment alone (no configuration file).
  # (-u AWS_CA_BUNDLE: a custom CA bundle makes rclone refuse its own transport.)
  read -r r_s r_kib < <(peak env -u AWS_CA_BUNDLE RCLONE_CONFIG_GARAGE_TYPE=s3 RCLONE_CONFIG_GARAGE_PROVIDER=Other \
    RCLONE_CONFIG_GARAGE_ACCESS_KEY_ID="${s[S3_ACCESS_KEY_ID]}" \
    RCLONE_CONFIG_GARAGE_SECRET_ACCESS_KEY="${s[S3_SECRET_ACCESS_KEY]}" \
    RCLONE_CONFIG_GARAGE_REGION="${s[S3_REGION]}" RCLONE_CONFIG_GARAGE_ENDPOINT="${s[S3_ENDPOINT]}" \
    RCLONE_CONFIG_GARAGE_FORCE_PATH_STYLE=true \
    rclone copy --checksum --config /dev/null "$work/arch/archive" "garage:${s[S3_BUCKET]}/rclone")
  echo "rclone copy --checksum: ${r_s} s, $(rate "$bytes" "$r_s") MiB/s, peak ${r_kib} KiB"
  echo "ratio cairn/rclone time: $(ratio "$c_s" "$r_s")"
  if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $r_s < $best else 1)"; then best=$r_s; fi
else
  echo "skipped: rclone is not installed (apt-get install rclone)"
fi
if [ -n "$best" ]; then
  echo "ratio cairn/(faster peer) time: $(ratio "$c_s" "$best")"
fi
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg)"
