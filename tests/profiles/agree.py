#!/usr/bin/env python3
"""Agreement corpus: Cairn against the reference BagIt Profiles validator.

Usage: agree.py CAIRN_BINARY REPOSITORY_ROOT WORKDIR

For every shipped profile (and tests/profiles/cairn-test-1.4.json) this builds a bag
that meets it, then one bag for each way of failing it, in WORKDIR; asks both
`cairn bag validate --json --profile FILE BAG` and bagit-profile (PyPI
`bagit-profile`, its Profile class, as its command line uses it) for a verdict, in
two parts as the validator gives them: serialization, and the rest. Prints one line
per case and a summary; exits 0 when every case agrees or disagrees exactly as
EXPECTED_DISAGREEMENTS says (docs/profiles.md explains each), else 1.

The validator cannot read APTrust's DART-format profile; `published_form` below
rewrites it in the published format for the validator (independently of Cairn's
own reading of it). Tags outside bag-info.txt cannot be said in that format.
"""

import copy
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile

import bagit
import bagit_profile

logging.disable(logging.CRITICAL)

# Case id -> why Cairn and the validator differ (docs/profiles.md, "Disagreements").
# Every case that breaks a rule on aptrust-info.txt's tags is one too (see
# `expected`): the published format cannot say them, so the validator never checks them.
EXPECTED_DISAGREEMENTS = {
    "cairn-test/no-payload:data/objects/": "Payload-Files-Required (1.4.0)",
    "cairn-test/extra-payload": "Payload-Files-Allowed (1.4.0)",
}
for _name in ("aptrust", "btr", "bagit-profiles-foo", "bagit-profiles-bar", "cairn-test"):
    EXPECTED_DISAGREEMENTS[_name + "/two-identifiers"] = "a repeated BagIt-Profile-Identifier"

PROFILES = {
    "aptrust": "profiles/aptrust-v2.3.json",
    "btr": "profiles/btr-bagit-profile-1.0.json",
    "bagit-profiles-foo": "profiles/bagProfileFoo.json",
    "bagit-profiles-bar": "profiles/bagProfileBar.json",
    "cairn-test": "tests/profiles/cairn-test-1.4.json",
}

# What a bag meeting each profile holds, beyond what every bag has.
BASES = {
    "aptrust": dict(version="1.0", algs=["md5", "sha256"], tag_algs=["md5"],
                    info=[("Source-Organization", "Example University")],
                    tags={"aptrust-info.txt": "Title: Letters\nAccess: Institution\n"
                                              "Storage-Option: Standard\n"}),
    "btr": dict(version="1.0", algs=["sha512"], tag_algs=["sha512"],
                info=[("Source-Organization", "Example University"),
                      ("Bagging-Date", "2026-12-07")]),
    "bagit-profiles-foo": dict(version="0.97", algs=["md5"], tag_algs=["md5"],
                               info=[("Bagging-Date", "2026-12-07"),
                                     ("Source-Organization", "York University"),
                                     ("Contact-Phone", "+1 416 555 0100")]),
    "bagit-profiles-bar": dict(
        version="0.96", algs=["md5"], tag_algs=["md5"],
        info=[("Source-Organization", "York University"),
              ("Organization-Address", "4700 Keele Street Toronto, Ontario M3J 1P3 Canada"),
              ("Contact-Name", "Nick Ruest"), ("Contact-Email", "archives@example.org"),
              ("External-Description", "Letters"), ("Bag-Size", "1 KB"),
              ("Bag-Count", "1 of 1"), ("Bagging-Date", "2026-12-07")],
        tags={"DPN/dpnFirstNode.txt": "first\n", "DPN/dpnRegistry": "registry\n"}),
    "cairn-test": dict(version="1.0", algs=["sha256"], tag_algs=["sha256"],
                       info=[("Source-Organization", "Example University"),
                             ("Access", "Open")],
                       tags={"meta/rights.txt": "CC0\n"},
                       payload={"data/objects/letter.txt": b"Dear Sir,\n",
                                "data/README.txt": b"read me\n"}),
}


def expected_disagreement(case_id):
    if case_id.startswith("aptrust/") and ":aptrust-info.txt:" in case_id:
        return "tags outside bag-info.txt"
    return EXPECTED_DISAGREEMENTS.get(case_id)


def digest(alg, data):
    return hashlib.new(alg, data).hexdigest()


def write(root, rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def build(root, identifier, spec):
    """Writes a complete bag from spec: payload, manifests, tag files, tag manifests."""
    payload = spec.get("payload", {"data/letter.txt": b"Dear Sir,\n"})
    for rel, data in payload.items():
        write(root, rel, data)
    for alg in spec["algs"]:
        lines = "".join("%s  %s\n" % (digest(alg, d), r) for r, d in sorted(payload.items()))
        write(root, "manifest-%s.txt" % alg, lines)
    write(root, "bagit.txt", "BagIt-Version: %s\nTag-File-Character-Encoding: UTF-8\n"
          % spec["version"])
    octets = sum(len(d) for d in payload.values())
    info = list(spec["info"])
    if identifier is not None:
        info.append(("BagIt-Profile-Identifier", identifier))
    info += spec.get("extra_info", [])
    info.append(("Payload-Oxum", "%d.%d" % (octets, len(payload))))
    write(root, "bag-info.txt", "".join("%s: %s\n" % kv for kv in info))
    for rel, text in spec.get("tags", {}).items():
        write(root, rel, text)
    for rel in spec.get("drop", []):
        os.remove(os.path.join(root, rel))
    retag(root, spec["tag_algs"])


def retag(root, algs):
    tag_files = []
    for dirpath, _, names in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == "data" or rel_dir.startswith("data" + os.sep):
            continue
        for n in names:
            rel = os.path.normpath(os.path.join(rel_dir, n)).replace(os.sep, "/")
            if not rel.startswith("tagmanifest-"):
                tag_files.append(rel)
    for alg in algs:
        lines = ""
        for rel in sorted(tag_files):
            with open(os.path.join(root, rel), "rb") as f:
                lines += "%s  %s\n" % (digest(alg, f.read()), rel)
        write(root, "tagmanifest-%s.txt" % alg, lines)


def zip_bag(folder):
    """The bag as a zip holding one top folder named as the zip, as `cairn export` writes."""
    name = os.path.basename(folder)
    out = folder + ".zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for dirpath, _, names in os.walk(folder):
            for n in sorted(names):
                full = os.path.join(dirpath, n)
                z.write(full, os.path.join(name, os.path.relpath(full, folder)))
    return out


def published_form(profile):
    """A DART profile (APTrust's) in the published format, for the validator."""
    if "BagIt-Profile-Info" in profile:
        return profile
    info = profile["bagItProfileInfo"]
    bag_info, tag_files = {}, []
    for t in profile.get("tags", []):
        if t["tagFile"] == "bag-info.txt":
            bag_info[t["tagName"]] = {"required": t.get("required", False)}
            if t.get("values"):
                bag_info[t["tagName"]]["values"] = t["values"]
        elif t["tagFile"] != "bagit.txt" and t.get("required") and t["tagFile"] not in tag_files:
            tag_files.append(t["tagFile"])
    return {
        "BagIt-Profile-Info": {
            "BagIt-Profile-Identifier": info["bagItProfileIdentifier"],
            "BagIt-Profile-Version": "1.3.0",
            "Source-Organization": info["sourceOrganization"],
            "External-Description": info.get("externalDescription", ""),
            "Version": info.get("version", ""),
        },
        "Bag-Info": bag_info,
        "Manifests-Required": profile.get("manifestsRequired", []),
        "Manifests-Allowed": profile.get("manifestsAllowed", []),
        "Tag-Manifests-Required": profile.get("tagManifestsRequired", []),
        "Tag-Manifests-Allowed": profile.get("tagManifestsAllowed", []),
        "Tag-Files-Required": tag_files,
        "Tag-Files-Allowed": profile.get("tagFilesAllowed", ["*"]),
        "Allow-Fetch.txt": profile.get("allowFetchTxt", True),
        "Serialization": profile.get("serialization", "optional"),
        "Accept-Serialization": profile.get("acceptSerialization", []),
        "Accept-BagIt-Version": profile.get("acceptBagItVersion", []),
    }


def variant(base, **changes):
    spec = copy.deepcopy(base)
    for key, value in changes.items():
        spec[key] = value
    return spec


def edit_info(spec, fn):
    return variant(spec, info=fn(list(spec["info"])))


def edit_tag_line(text, tag, new_line):
    out = [line for line in text.splitlines() if not line.startswith(tag + ":")]
    if new_line is not None:
        out.append(new_line)
    return "".join(line + "\n" for line in out)


def tag_cases(base, profile):
    """The ways to fail the profile's tag rules (bag-info.txt, and DART's other files)."""
    rules = [("bag-info.txt", t, r) for t, r in profile.get("Bag-Info", {}).items()]
    rules += [(t["tagFile"], t["tagName"], {"required": t.get("required"),
                                           "values": t.get("values")})
              for t in profile.get("tags", []) if t["tagFile"] not in ("bagit.txt", "bag-info.txt")]
    for file, tag, rule in rules:
        where = "" if file == "bag-info.txt" else file + ":"
        if file == "bag-info.txt":
            drop = lambda info, tag=tag: [kv for kv in info if kv[0] != tag]
            if rule.get("required") and tag != "Payload-Oxum":
                yield "missing:" + tag, edit_info(base, drop)
                yield "empty:" + tag, edit_info(base, lambda i, d=drop, t=tag: d(i) + [(t, "")])
                yield "lowercase:" + tag, edit_info(
                    base, lambda i, d=drop, t=tag: d(i) + [(t.lower(), "x")])
            if rule.get("values"):
                yield "bad-value:" + tag, edit_info(
                    base, lambda i, d=drop, t=tag: d(i) + [(t, "Nowhere In Particular")])
            if rule.get("repeatable") is False:
                yield "repeated:" + tag, edit_info(
                    base, lambda i, t=tag: i + [(t, dict(i).get(t, "x"))])
            continue
        tags = dict(base.get("tags", {}))
        text = tags.get(file, "")
        if rule.get("required"):
            yield "missing:%s%s" % (where, tag), variant(
                base, tags=dict(tags, **{file: edit_tag_line(text, tag, None)}))
            yield "empty:%s%s" % (where, tag), variant(
                base, tags=dict(tags, **{file: edit_tag_line(text, tag, tag + ": ")}))
        if rule.get("values"):
            yield "bad-value:%s%s" % (where, tag), variant(
                base, tags=dict(tags, **{file: edit_tag_line(text, tag, tag + ": Nowhere")}))


def cases(name, profile):
    """(case id, bag spec, identifier, serialize?) for every way through the profile."""
    base = BASES[name]
    pub = published_form(profile)
    ident = pub["BagIt-Profile-Info"]["BagIt-Profile-Identifier"]
    other = "https://example.org/profiles/other.json"
    yield "valid", base, ident, False
    yield "valid-zip", base, ident, True
    yield "no-identifier", base, None, False
    yield "wrong-identifier", base, other, False
    yield "two-identifiers", variant(
        base, extra_info=[("BagIt-Profile-Identifier", other)]), ident, False
    for case, spec in tag_cases(base, profile):
        yield case, spec, ident, False
    for alg in pub.get("Manifests-Required", []):
        rest = [a for a in base["algs"] if a != alg] or ["sha1"]
        yield "no-manifest:" + alg, variant(base, algs=rest), ident, False
    yield "extra-manifest", variant(base, algs=base["algs"] + ["sha224"]), ident, False
    for alg in pub.get("Tag-Manifests-Required", []):
        rest = [a for a in base["tag_algs"] if a != alg]
        yield "no-tagmanifest:" + alg, variant(base, tag_algs=rest), ident, False
    yield "extra-tagmanifest", variant(
        base, tag_algs=base["tag_algs"] + ["sha224"]), ident, False
    for rel in pub.get("Tag-Files-Required", []):
        yield "no-tagfile:" + rel, variant(base, drop=[rel]), ident, False
    tags = dict(base.get("tags", {}))
    yield "extra-tagfile", variant(
        base, tags=dict(tags, **{"extra/notes.txt": "notes\n"})), ident, False
    yield "fetch", variant(base, tags=dict(tags, **{"fetch.txt": ""})), ident, False
    yield "bagit-version", variant(base, version="0.93"), ident, False
    if name == "cairn-test":
        payload = dict(base["payload"])
        yield "no-payload:data/objects/", variant(
            base, payload={"data/README.txt": payload["data/README.txt"]}), ident, False
        yield "extra-payload", variant(
            base, payload=dict(payload, **{"data/other.bin": b"\0"})), ident, False


def cairn_verdict(cairn, profile_path, bag):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    run = subprocess.run([cairn, "bag", "validate", "--json", "--profile", profile_path, bag],
                         capture_output=True, env=env, check=False)
    if run.returncode not in (0, 1):
        raise SystemExit("cairn failed on %s (exit %d): %s"
                         % (bag, run.returncode, run.stderr.decode(errors="replace")))
    kinds = [p["kind"] for p in json.loads(run.stdout)["profile"]["problems"]]
    ser = not any(k.startswith("serialization") for k in kinds)
    rest = not any(not k.startswith("serialization") for k in kinds)
    return ser, rest, kinds


def peer_verdict(profile, ident, path, folder):
    p = bagit_profile.Profile(ident, profile=copy.deepcopy(profile))
    try:
        ser = bool(p.validate_serialization(path))
    except bagit_profile.ProfileValidationError:
        ser = False
    rest = bool(p.validate(bagit.Bag(folder)))
    return ser, rest


def main():
    cairn, repo, work = sys.argv[1:4]
    unexpected, rows = 0, 0
    for name, file in PROFILES.items():
        profile_path = os.path.join(repo, file)
        with open(profile_path, encoding="utf-8") as f:
            profile = json.load(f)
        pub = published_form(profile)
        for case, spec, ident, serialize in cases(name, profile):
            case_id = "%s/%s" % (name, case)
            folder = os.path.join(work, name, case.replace(":", "_").replace("/", "_"))
            shutil.rmtree(folder, ignore_errors=True)
            build(folder, ident, spec)
            path = zip_bag(folder) if serialize else folder
            mine = cairn_verdict(cairn, profile_path, path)
            theirs = peer_verdict(pub, pub["BagIt-Profile-Info"]["BagIt-Profile-Identifier"],
                                  path, folder)
            agree = mine[:2] == theirs
            expected = expected_disagreement(case_id)
            if agree and expected is None:
                status = "agree"
            elif not agree and expected is not None:
                status = "expected disagreement: " + expected
            elif agree:
                status = "STALE: listed as a disagreement but both agree"
                unexpected += 1
            else:
                status = "UNEXPECTED DISAGREEMENT"
                unexpected += 1
            rows += 1
            print("%-52s cairn ser=%d rest=%d  peer ser=%d rest=%d  %s  %s" % (
                case_id, mine[0], mine[1], theirs[0], theirs[1], status, ",".join(mine[2])))
    print("%d cases, %d unexplained" % (rows, unexpected))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
