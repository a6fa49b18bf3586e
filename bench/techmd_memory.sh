#!/usr/bin/env bash
# Peak memory of format identification and technical metadata on a 2 GiB TIFF
# (issue 18): the file is written sparse in a second (a baseline RGB TIFF header and
# IFD with one strip per row, 21,846 strips; the pixel data is a hole), then
# `cairn identify` runs on it under GNU time. Prints the peak RSS, the time, and what
# was read. Usage: bench/techmd_memory.sh [path/to/cairn] [DIR]
set -euo pipefail
CAIRN=${1:-target/release/cairn}
DIR=$(mktemp -d "${2:-${TMPDIR:-/tmp}}/cairn-techmd-mem-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
python3 - "$DIR/big.tif" <<'PY'
import struct, sys
w, h = 32768, 21846           # 3 bytes per pixel: 2,147,549,184 bytes of pixels
row = w * 3
strips = h
ifd = 8
entries = 11
ifd_len = 2 + 12 * entries + 4
offs_at = ifd + ifd_len
counts_at = offs_at + 4 * strips
res_at = counts_at + 4 * strips
bps_at = res_at + 16
data_at = (bps_at + 6 + 4095) // 4096 * 4096
with open(sys.argv[1], "wb") as f:
    f.write(b"II*\x00" + struct.pack("<I", ifd))
    e = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 3, bps_at), (259, 3, 1, 1), (262, 3, 1, 2),
         (273, 4, strips, offs_at), (277, 3, 1, 3), (278, 4, 1, 1), (279, 4, strips, counts_at),
         (282, 5, 1, res_at), (283, 5, 1, res_at + 8)]
    f.write(struct.pack("<H", len(e)))
    for tag, typ, n, v in e:
        f.write(struct.pack("<HHII", tag, typ, n, v) if typ != 3 or n > 2 else struct.pack("<HHIHH", tag, typ, n, v, 0))
    f.write(struct.pack("<I", 0))
    f.write(b"".join(struct.pack("<I", data_at + i * row) for i in range(strips)))
    f.write(struct.pack("<I", row) * strips)
    f.write(struct.pack("<IIII", 600, 1, 600, 1))
    f.write(struct.pack("<HHH", 8, 8, 8))
    f.truncate(data_at + strips * row)
PY
ls -ls "$DIR/big.tif"
/usr/bin/time -f "peak RSS %M KiB, %e s" "$CAIRN" identify "$DIR/big.tif"
