#!/usr/bin/env python3
"""Writes a corpus of hostile zipped bags for tests/it/zip/hostile.rs.

Usage: make_hostile_zips.py OUT_DIR [--only NAME]...
       make_hostile_zips.py --list        (the case names, one a line)

Every zip is built around an otherwise valid small BagIt 1.0 bag (bagit.txt, bag-info.txt
with Payload-Oxum, manifest-sha512.txt, tagmanifest-sha512.txt, data/...) inside one
top-level folder `bag/`, with one hostile twist. Python's standard library only: zipfile
forges most of them, and the rest are patched byte by byte (names, flags, sizes).

Prints one JSON document on stdout:

    {"cases": [{"name", "file", "what", "expect": [...], "config": {...}}]}

`expect` lists the problems `cairn bag validate FILE` must report (every one of them):
`{"kinds": [...], "entries": [...], "match": "exact" | "contains" | "any"}` means a
`problem:` line whose kind is one of `kinds` and whose path is one of `entries` (exact),
contains one of them (contains), is one of them or has one of them in its detail
(mentions: for findings about the zip's whole layout), or anything (any). `config` holds cairn.toml settings
the case needs (`{"zip": {"max_entries": 20}}`).
"""

import hashlib
import io
import json
import os
import struct
import sys
import unicodedata
import zipfile

TOP = "bag"
DATE = (2024, 5, 17, 12, 0, 0)

LOCAL_SIG = b"PK\x03\x04"
CENTRAL_SIG = b"PK\x01\x02"
EOCD_SIG = b"PK\x05\x06"


# ---------------------------------------------------------------------------------------
# A valid bag, as (name, bytes) pairs.


def sha512(data):
    return hashlib.sha512(data).hexdigest()


def bag_files(payload, digests=None, oxum=None, ext_id="hostile"):
    """The tag files of a valid BagIt 1.0 bag holding `payload` (bag-relative name under
    data/ -> bytes). `digests` overrides the sha512 of some payload files (a payload
    file may be too big to hold: its digest and size are given instead, see
    `big_payload`). Returns [(bag-relative name, bytes)], tag files first."""
    digests = dict(digests or {})
    octets = 0
    lines = []
    for name in sorted(set(payload) | set(digests)):
        if name in digests:
            digest, size = digests[name]
        else:
            digest, size = sha512(payload[name]), len(payload[name])
        octets += size
        lines.append(f"{digest}  {name}\n")
    count = len(lines)
    if oxum is None:
        oxum = f"{octets}.{count}"
    bagit = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    info = (
        f"Payload-Oxum: {oxum}\n"
        f"External-Identifier: {ext_id}\n"
        "External-Description: hostile zip test bag (synthetic)\n"
        "Bagging-Date: 2024-05-17\n"
    ).encode()
    manifest = "".join(lines).encode()
    tags = [
        ("bagit.txt", bagit),
        ("bag-info.txt", info),
        ("manifest-sha512.txt", manifest),
    ]
    tagmanifest = "".join(f"{sha512(b)}  {n}\n" for n, b in tags).encode()
    tags.append(("tagmanifest-sha512.txt", tagmanifest))
    return tags + [(n, payload[n]) for n in sorted(payload)]


BASE_PAYLOAD = {
    "data/hello.txt": b"hello from a hostile zip\n",
    "data/sub/note.txt": b"a second payload file\n",
}


def info_for(name, compress=zipfile.ZIP_DEFLATED):
    zi = zipfile.ZipInfo(name, date_time=DATE)
    zi.compress_type = compress
    zi.create_system = 3  # Unix
    zi.external_attr = (0o100644 << 16)
    return zi


def write_bag(zf, files, top=TOP, compress=zipfile.ZIP_DEFLATED, skip=()):
    """Writes the bag's files under `top/`; returns the entry names written."""
    names = []
    for rel, data in files:
        if rel in skip:
            continue
        name = f"{top}/{rel}"
        zf.writestr(info_for(name, compress), data)
        names.append(name)
    return names


def valid_bag_zip(path, payload=None, compress=zipfile.ZIP_DEFLATED, ext_id="hostile"):
    files = bag_files(payload or BASE_PAYLOAD, ext_id=ext_id)
    with zipfile.ZipFile(path, "w") as zf:
        return write_bag(zf, files, compress=compress)


# ---------------------------------------------------------------------------------------
# Byte patching.


def entries_offsets(blob):
    """(local header offset, central header offset, name bytes) of every entry, read from
    the central directory (the file must still be well formed)."""
    eocd = blob.rindex(EOCD_SIG)
    count, _cd_size, cd_offset = struct.unpack_from("<HII", blob, eocd + 10)
    out = []
    pos = cd_offset
    if cd_offset == 0xFFFFFFFF:
        raise ValueError("zip64 central directory: not patched here")
    for _ in range(count):
        assert blob[pos : pos + 4] == CENTRAL_SIG, "central directory header expected"
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", blob, pos + 28)
        local = struct.unpack_from("<I", blob, pos + 42)[0]
        name = blob[pos + 46 : pos + 46 + name_len]
        out.append((local, pos, name))
        pos += 46 + name_len + extra_len + comment_len
    return out


def find_entry(blob, name):
    hits = [e for e in entries_offsets(blob) if e[2] == name]
    assert len(hits) == 1, f"{name!r}: {len(hits)} entries"
    return hits[0]


def data_offset(blob, local):
    assert blob[local : local + 4] == LOCAL_SIG
    name_len, extra_len = struct.unpack_from("<HH", blob, local + 26)
    return local + 30 + name_len + extra_len


def patch_name(blob, old, new):
    """Renames an entry in its local header and central directory (same length)."""
    assert len(old) == len(new)
    local, central, _ = find_entry(blob, old)
    blob = bytearray(blob)
    assert blob[local + 30 : local + 30 + len(old)] == old
    blob[local + 30 : local + 30 + len(old)] = new
    assert blob[central + 46 : central + 46 + len(old)] == old
    blob[central + 46 : central + 46 + len(old)] = new
    return bytes(blob)


def patch_flags(blob, name, set_bits=0, clear_bits=0):
    local, central, _ = find_entry(blob, name)
    blob = bytearray(blob)
    for off in (local + 6, central + 8):
        (flags,) = struct.unpack_from("<H", blob, off)
        struct.pack_into("<H", blob, off, (flags | set_bits) & ~clear_bits)
    return bytes(blob)


def patch_uncompressed_size(blob, name, size):
    local, central, _ = find_entry(blob, name)
    blob = bytearray(blob)
    struct.pack_into("<I", blob, local + 22, size)
    struct.pack_into("<I", blob, central + 24, size)
    return bytes(blob)


def write(path, blob):
    with open(path, "wb") as f:
        f.write(blob)


def zip_bytes(build):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        build(zf)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------
# The cases. Each function writes its zip at `path` and returns its expectations.


def exact(kinds, *entries):
    return {"kinds": list(kinds), "entries": list(entries), "match": "exact"}


def contains(kinds, *fragments):
    return {"kinds": list(kinds), "entries": list(fragments), "match": "contains"}


def mentions(kinds, *entries):
    return {"kinds": list(kinds), "entries": list(entries), "match": "mentions"}


def anywhere(kinds):
    return {"kinds": list(kinds), "entries": [], "match": "any"}


ESCAPES = ["zip-path-escapes"]


def slip_case(evil):
    def build(path):
        with zipfile.ZipFile(path, "w") as zf:
            write_bag(zf, bag_files(BASE_PAYLOAD))
            zf.writestr(info_for(evil), b"escaped\n")
        return {"what": f"zip slip: an entry named {evil!r}", "expect": [exact(ESCAPES, evil)]}

    return build


def case_symlink(path):
    link = f"{TOP}/data/passwd-link"
    target = b"/etc/passwd"
    # Listed in the manifest with the digest of the link's text, so only the link is wrong.
    payload = dict(BASE_PAYLOAD)
    payload["data/passwd-link"] = target
    with zipfile.ZipFile(path, "w") as zf:
        write_bag(zf, bag_files(payload), skip={"data/passwd-link"})
        zi = info_for(link, zipfile.ZIP_STORED)
        zi.external_attr = (0o120777 << 16)
        zf.writestr(zi, target)
    return {
        "what": "a symbolic link entry (mode 0o120777) pointing to /etc/passwd",
        "expect": [exact(["zip-symlink"], link)],
    }


def case_duplicate(path):
    dup = f"{TOP}/data/hello.txt"
    with zipfile.ZipFile(path, "w") as zf:
        write_bag(zf, bag_files(BASE_PAYLOAD))
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zf.writestr(info_for(dup), b"the second hello.txt, different\n")
    return {
        "what": "the same entry name twice, with different contents",
        "expect": [exact(["zip-duplicate-entry"], dup)],
    }


def case_case_collision(path):
    payload = dict(BASE_PAYLOAD)
    payload["data/A.txt"] = b"upper\n"
    payload["data/a.txt"] = b"lower\n"
    with zipfile.ZipFile(path, "w") as zf:
        write_bag(zf, bag_files(payload))
    return {
        "what": "bag/data/A.txt and bag/data/a.txt: the same name after case folding",
        "expect": [exact(["zip-name-collision"], f"{TOP}/data/A.txt", f"{TOP}/data/a.txt")],
    }


def case_nfc_nfd_collision(path):
    nfc = unicodedata.normalize("NFC", "data/café.txt")
    nfd = unicodedata.normalize("NFD", "data/café.txt")
    assert nfc != nfd
    payload = dict(BASE_PAYLOAD)
    payload[nfc] = b"composed\n"
    payload[nfd] = b"decomposed\n"
    with zipfile.ZipFile(path, "w") as zf:
        write_bag(zf, bag_files(payload))
    return {
        "what": "bag/data/café.txt in NFC and in NFD: the same name after normalisation",
        "expect": [exact(["zip-name-collision"], f"{TOP}/{nfc}", f"{TOP}/{nfd}")],
    }


def case_name_not_utf8(path):
    placeholder = f"{TOP}/data/XX.txt".encode("ascii")
    raw = f"{TOP}/data/".encode("ascii") + b"\xff\xfe.txt"
    payload = dict(BASE_PAYLOAD)
    payload["data/XX.txt"] = b"a file whose name is not UTF-8\n"
    with zipfile.ZipFile(path, "w") as zf:
        # Listed under its placeholder name: the name is what is wrong, nothing else.
        write_bag(zf, bag_files(payload))
    blob = open(path, "rb").read()
    blob = patch_name(blob, placeholder, raw)
    # The ASCII placeholder did not set the UTF-8 flag (bit 11); make sure.
    blob = patch_flags(blob, raw, clear_bits=0x800)
    write(path, blob)
    return {
        "what": "an entry named b'bag/data/\\xff\\xfe.txt' without the UTF-8 flag",
        # The raw bytes cannot be printed as they are: the line must still locate the entry.
        "expect": [contains(["zip-name-not-utf8"], f"{TOP}/data/")],
    }


TWO_GIB = 2 << 30


def case_bomb_2gib(path):
    """2 GiB of zeros, deflated at the best ratio (about 1030:1): about 2 MB on disk."""
    name = f"{TOP}/data/zeros.bin"
    chunk = bytes(1 << 20)
    h = hashlib.sha512()
    with zipfile.ZipFile(path, "w") as zf:
        # The manifest, written first, needs the digest: hash the zeros beforehand, so
        # that the bag is valid apart from the bomb.
        for _ in range(TWO_GIB // len(chunk)):
            h.update(chunk)
        files = bag_files(BASE_PAYLOAD, digests={"data/zeros.bin": (h.hexdigest(), TWO_GIB)})
        write_bag(zf, files)
        zi = info_for(name)
        with zf.open(zi, "w", force_zip64=True) as out:
            for _ in range(TWO_GIB // len(chunk)):
                out.write(chunk)
    size = os.path.getsize(path)
    assert size < 4 << 20, f"the 2 GiB bomb takes {size} bytes on disk"
    return {
        "what": "2 GiB of zeros deflated into about 2 MB (compression ratio over 1000)",
        "expect": [exact(["zip-bomb"], name)],
    }


def case_bomb_liar(path):
    """An entry that declares 100 bytes and inflates to 4 MiB."""
    name = f"{TOP}/data/liar.bin"
    actual = b"".join(b"line %07d of a lying entry\n" % i for i in range(160_000))
    assert len(actual) > 4_000_000
    payload = dict(BASE_PAYLOAD)
    payload["data/liar.bin"] = actual
    with zipfile.ZipFile(path, "w") as zf:
        write_bag(zf, bag_files(payload))
    blob = patch_uncompressed_size(open(path, "rb").read(), name.encode(), 100)
    write(path, blob)
    return {
        "what": "an entry whose headers declare 100 bytes but that inflates to 4.5 MB",
        "expect": [exact(["zip-bomb"], name)],
    }


MANY = 50


def case_bomb_many_entries(path):
    payload = dict(BASE_PAYLOAD)
    for i in range(MANY):
        payload[f"data/many/file-{i:03d}.txt"] = b"entry %d\n" % i
    with zipfile.ZipFile(path, "w") as zf:
        names = write_bag(zf, bag_files(payload))
    return {
        "what": f"{len(names)} entries in an archive configured for at most 20",
        "config": {"zip": {"max_entries": 20}},
        # The limit is about the whole zip; any entry (or the zip itself) may carry it.
        "expect": [anywhere(["zip-bomb"])],
    }


def case_encrypted(path):
    name = f"{TOP}/data/secret.txt"
    payload = dict(BASE_PAYLOAD)
    payload["data/secret.txt"] = b"not really encrypted, only flagged\n"
    with zipfile.ZipFile(path, "w") as zf:
        write_bag(zf, bag_files(payload), compress=zipfile.ZIP_STORED)
    write(path, patch_flags(open(path, "rb").read(), name.encode(), set_bits=0x1))
    return {
        "what": "an entry flagged encrypted (general purpose bit 0)",
        "expect": [exact(["zip-encrypted"], name)],
    }


def case_truncated(path):
    payload = dict(BASE_PAYLOAD)
    payload["data/filler.txt"] = b"".join(b"filler line %05d\n" % i for i in range(2000))
    with zipfile.ZipFile(path, "w") as zf:
        write_bag(zf, bag_files(payload))
    blob = open(path, "rb").read()
    write(path, blob[: len(blob) // 2])
    return {
        "what": "a valid zipped bag cut in half (no central directory)",
        "expect": [anywhere(["zip-corrupt"])],
    }


def case_corrupt_central_directory(path):
    with zipfile.ZipFile(path, "w") as zf:
        write_bag(zf, bag_files(BASE_PAYLOAD))
    blob = bytearray(open(path, "rb").read())
    entries = entries_offsets(bytes(blob))
    # Garble the central directory headers after the first: signatures and name lengths.
    for _local, central, _name in entries[1:]:
        blob[central : central + 4] = b"XXXX"
        struct.pack_into("<H", blob, central + 28, 0xFFFF)
    write(path, bytes(blob))
    return {
        "what": "a zip whose central directory headers are garbled (bad signatures, name lengths)",
        "expect": [anywhere(["zip-corrupt"])],
    }


def case_bad_crc(path):
    name = f"{TOP}/data/hello.txt"
    with zipfile.ZipFile(path, "w") as zf:
        write_bag(zf, bag_files(BASE_PAYLOAD), compress=zipfile.ZIP_STORED)
    blob = bytearray(open(path, "rb").read())
    local, _central, _ = find_entry(bytes(blob), name.encode())
    start = data_offset(bytes(blob), local)
    blob[start + 3] ^= 0x20  # 'l' -> 'L': same size, header CRC kept
    write(path, bytes(blob))
    return {
        "what": "a stored entry with one byte changed and its header CRC kept",
        "expect": [exact(["zip-crc-mismatch"], name)],
    }


def case_invalid_bag(path):
    files = bag_files(BASE_PAYLOAD)
    # Rewrite one payload digest in the manifest, and the tag manifest to match it, so the
    # only problem is the payload digest.
    tags = dict(files[:3])
    wrong = sha512(b"something else\n")
    tags["manifest-sha512.txt"] = tags["manifest-sha512.txt"].replace(
        sha512(BASE_PAYLOAD["data/hello.txt"]).encode(), wrong.encode()
    )
    tagmanifest = "".join(f"{sha512(b)}  {n}\n" for n, b in tags.items()).encode()
    files = list(tags.items()) + [("tagmanifest-sha512.txt", tagmanifest)] + files[4:]
    with zipfile.ZipFile(path, "w") as zf:
        write_bag(zf, files)
    return {
        "what": "a well-formed zip whose bag is invalid: data/hello.txt's sha512 is wrong",
        "expect": [contains(["digest-mismatch"], "data/hello.txt")],
    }


def case_two_top_folders(path):
    stray = "other/readme.txt"
    with zipfile.ZipFile(path, "w") as zf:
        write_bag(zf, bag_files(BASE_PAYLOAD))
        zf.writestr(info_for(stray), b"a second top-level folder\n")
    return {
        "what": "a valid bag under bag/ and a second top-level folder other/",
        "expect": [mentions(["zip-layout"], "other/readme.txt", "other/", '"other"')],
    }


def case_file_at_root(path):
    stray = "README.txt"
    with zipfile.ZipFile(path, "w") as zf:
        write_bag(zf, bag_files(BASE_PAYLOAD))
        zf.writestr(info_for(stray), b"a file beside the bag folder\n")
    return {
        "what": "a valid bag under bag/ and a file at the zip's root",
        "expect": [mentions(["zip-layout"], stray)],
    }


def case_bag_at_root(path):
    files = bag_files(BASE_PAYLOAD)
    with zipfile.ZipFile(path, "w") as zf:
        for rel, data in files:
            zf.writestr(info_for(rel), data)
    return {
        "what": "a bag's files at the zip's root, no top-level folder",
        "expect": [mentions(["zip-layout"], "bagit.txt", "bag-info.txt", "data/hello.txt",
                            "manifest-sha512.txt", "tagmanifest-sha512.txt")],
    }


CASES = [
    ("slip-dotdot", slip_case(f"{TOP}/../../evil.txt")),
    ("slip-absolute", slip_case("/abs/evil")),
    ("slip-drive-letter", slip_case("C:\\evil")),
    ("slip-backslash", slip_case(f"{TOP}\\..\\..\\evil")),
    ("slip-data-dotdot", slip_case(f"{TOP}/data/../../../evil")),
    ("symlink", case_symlink),
    ("duplicate-entry", case_duplicate),
    ("case-collision", case_case_collision),
    ("nfc-nfd-collision", case_nfc_nfd_collision),
    ("name-not-utf8", case_name_not_utf8),
    ("bomb-2gib-zeros", case_bomb_2gib),
    ("bomb-size-liar", case_bomb_liar),
    ("bomb-many-entries", case_bomb_many_entries),
    ("encrypted", case_encrypted),
    ("truncated", case_truncated),
    ("corrupt-central-directory", case_corrupt_central_directory),
    ("bad-crc", case_bad_crc),
    ("invalid-bag", case_invalid_bag),
    ("two-top-folders", case_two_top_folders),
    ("file-at-root", case_file_at_root),
    ("bag-at-root", case_bag_at_root),
]


def main(argv):
    args = list(argv[1:])
    if args == ["--list"]:
        for name, _ in CASES:
            print(name)
        return 0
    only = []
    while "--only" in args:
        i = args.index("--only")
        only.append(args[i + 1])
        del args[i : i + 2]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    out_dir = args[0]
    os.makedirs(out_dir, exist_ok=True)
    known = {name for name, _ in CASES}
    unknown = [n for n in only if n not in known]
    if unknown:
        sys.stderr.write(f"unknown case(s): {', '.join(unknown)}\n")
        return 2
    cases = []
    for name, build in CASES:
        if only and name not in only:
            continue
        path = os.path.join(out_dir, f"{name}.zip")
        if os.path.exists(path):
            os.remove(path)
        meta = build(path)
        meta.setdefault("config", {})
        cases.append({"name": name, "file": path, **meta})
    json.dump({"cases": cases}, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
