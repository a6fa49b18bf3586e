#!/usr/bin/env bash
# Disk use of `cairn revise` (issue 14): an item of 1,000 pages revised with one new
# page. Unchanged files are hard-linked between versions, so the archive should grow by
# about one page and the new version's tag files, not by a second copy of the item.
# Prints the archive's disk use (du, which counts a hard-linked file once) before and
# after, beside what a full second copy would have added.
#
#   bench/revise_disk.sh [PAGES] [PAGE_BYTES]     (defaults: 1000 pages of 20,000 bytes)
set -euo pipefail
pages=${1:-1000}
size=${2:-20000}
# The cairn to run (build it first; disk use does not depend on the build profile).
cairn=${CAIRN:-target/debug/cairn}
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-revise-disk-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$cairn" init "$work/a" >/dev/null
mkdir -p "$work/a/intake/register"
for i in $(seq -w 1 "$pages"); do
  head -c "$size" /dev/urandom > "$work/a/intake/register/page-$i.bin"
done
printf 'filename,dc.title,dc.date\nregister,Sample: synthetic register of %s pages,1977\n' "$pages" \
  > "$work/a/intake/metadata.csv"
"$cairn" ingest --root "$work/a" --quiet --remove-source
kib() { du -sk "$1" | cut -f1; }
before=$(kib "$work/a/archive")
item=$(kib "$work/a/archive/cairn-000001")
mkdir "$work/new"
cp -a "$work/a/archive/cairn-000001/data/." "$work/new/"
head -c "$size" /dev/urandom > "$work/new/page-new.bin"
"$cairn" revise --root "$work/a" cairn-000001 --from "$work/new" --reason 'a forgotten page' --quiet
after=$(kib "$work/a/archive")
echo "item: $pages pages of $size bytes; its bag: $item KiB"
echo "archive/ before revise: $before KiB; after: $after KiB; grew by $((after - before)) KiB"
echo "a full second copy would have added about $item KiB: the revision used $(awk -v a=$((after - before)) -v b="$item" 'BEGIN { printf "%.2f%%", 100 * a / b }') of that"
