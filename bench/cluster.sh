#!/usr/bin/env bash
# A replica on a 3-node Garage cluster (scripts/s3-test-server --nodes 3, replication
# factor 3, Cairn on node 1) with one node lost: `cairn replicate` and `cairn fixity
# --replica --all --dry-run` of the same corpus, each to a fresh prefix of the bucket,
# (1) with every node up (the peer run), (2) with node 3 killed (SIGKILL: its
# connections refused at once), (3) with node 3 hung (SIGSTOP: connections open, no
# answer, as behind a network partition). Prints seconds and the ratio to run (1).
#
#   bench/cluster.sh [FILES] [LARGE_MIB]     (defaults: 300 files of 16 KiB, one of 64 MiB)
#
# CAIRN_BIN=path runs that binary instead of building target/release/cairn.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-300}
large_mib=${2:-64}
if [ -z "${CAIRN_BIN:-}" ]; then
  cargo build --release --quiet
fi
cairn=${CAIRN_BIN:-$PWD/target/release/cairn}
work=$(mktemp -d "${BENCH_DIR:-/tmp}/cairn-cluster-bench-XXXXXX")
server=""
hung=""
cleanup() {
  if [ -n "$hung" ]; then kill -CONT "$hung" 2>/dev/null || true; fi
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

scripts/s3-test-server --nodes 3 > "$work/settings" &
server=$!
for _ in $(seq 1 600); do
  grep -q '^READY$' "$work/settings" 2>/dev/null && break
  sleep 0.1
done
grep -q '^READY$' "$work/settings" || { echo "the cluster did not start" >&2; exit 3; }
set_of() { sed -n "s/^$1=//p" "$work/settings"; }
script_pid=$(set_of S3_SERVER_PID)
node3=$(dirname "$(set_of S3_STOP_NODE_DATA_DIR)")
# Waits for a line the script prints after a signal (STOPPED, RESTARTED).
await() {
  for _ in $(seq 1 600); do
    [ "$(grep -c "^$1$" "$work/settings")" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "no $1 from scripts/s3-test-server" >&2
  exit 3
}

echo "== corpus: $files files of 16 KiB and one of $large_mib MiB"
"$cairn" init "$work/arch" >/dev/null
python3 - "$work/arch/intake" "$files" "$large_mib" <<'PY'
import os, sys
intake, n, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(os.path.join(intake, "large"))
with open(os.path.join(intake, "large", "reel.bin"), "wb") as f:
    f.write(os.urandom(mib << 20))
for i in range(n):
    d = os.path.join(intake, f"small-{i // 100:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"p{i:05d}.tif"), "wb") as f:
        f.write(os.urandom(16384))
with open(os.path.join(intake, "metadata.csv"), "w") as f:
    f.write("filename,dc.title\nlarge,Bench: one large file\n")
    for k in range((n + 99) // 100):
        f.write(f"small-{k:03d},Bench: small files {k}\n")
PY
"$cairn" ingest --root "$work/arch" >/dev/null
printf '\n[[replica]]\nname = "offsite"\nurl = "s3://%s/up"\nendpoint = "%s"\nregion = "%s"\n' \
  "$(set_of S3_BUCKET)" "$(set_of S3_ENDPOINT)" "$(set_of S3_REGION)" >> "$work/arch/cairn.toml"
export CAIRN_REPLICA_OFFSITE_ACCESS_KEY_ID="$(set_of S3_ACCESS_KEY_ID)"
export CAIRN_REPLICA_OFFSITE_SECRET_ACCESS_KEY="$(set_of S3_SECRET_ACCESS_KEY)"

secs() { # command... -> seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > /dev/null 2> "$work/err.txt" || { cat "$work/err.txt" >&2; return 1; }
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}
run() { # label prefix
  export CAIRN_REPLICA_OFFSITE_URL="s3://$(set_of S3_BUCKET)/$2"
  "$cairn" replicate --init offsite --root "$work/arch" > /dev/null 2>&1
  local r f
  r=$(secs "$cairn" replicate --root "$work/arch")
  f=$(secs "$cairn" fixity --replica offsite --all --dry-run --root "$work/arch")
  echo "$1 $r $f"
}

echo "== three runs: all nodes up, node 3 killed, node 3 hung (a few minutes)"
base=$(run "all three nodes up" up)
kill -USR1 "$script_pid"; await STOPPED 1
killed=$(run "node 3 killed" killed)
kill -USR2 "$script_pid"; await RESTARTED 1
hung=$(pgrep -f "$node3/garage.toml server")
kill -STOP "$hung"
stopped=$(run "node 3 hung" hung)
kill -CONT "$hung"; hung=""
python3 - "$base" "$killed" "$stopped" <<'PY'
import sys
rows = [a.rsplit(" ", 2) for a in sys.argv[1:]]
b = rows[0]
print(f"{'':22} {'replicate':>12} {'fixity --replica':>18}")
for label, r, f in rows:
    print(f"{label:22} {float(r):7.2f} s {float(r) / float(b[1]):4.1f}x {float(f):9.2f} s {float(f) / float(b[2]):4.1f}x")
PY
