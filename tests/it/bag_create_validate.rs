//! End-to-end tests of `cairn bag create` and `cairn bag validate` on temporary folders:
//! round trips with awkward names, exact manifest encoding, metadata, and one mutation per
//! test on a fresh bag, each of which must be detected and named.

use crate::common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DEFAULT_ALGORITHMS: &[&str] = &["blake3", "sha512"];

/// (name relative to the payload root, contents). Names are raw bytes on purpose.
fn tricky_payload() -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        (b"with space.txt".to_vec(), b"spaces in the name\n".to_vec()),
        // é as a single code point (NFC).
        (
            "caf\u{e9}.txt".as_bytes().to_vec(),
            b"nfc e-acute\n".to_vec(),
        ),
        ("ទួលស្លែង.txt".as_bytes().to_vec(), "ខ្មែរ\n".as_bytes().to_vec()),
        (b"100%.txt".to_vec(), b"a literal percent sign\n".to_vec()),
        // A name that *looks* encoded: must be written as a%250Ab.txt.
        (b"a%0Ab.txt".to_vec(), b"looks encoded, is not\n".to_vec()),
        (b"new\nline.txt".to_vec(), b"LF in the name\n".to_vec()),
        (
            b"carriage\rreturn.txt".to_vec(),
            b"CR in the name\n".to_vec(),
        ),
        (b".hidden".to_vec(), b"leading dot\n".to_vec()),
        (
            b"nested/deeper/deep file.txt".to_vec(),
            b"two levels down\n".to_vec(),
        ),
        (b"nested/sibling.txt".to_vec(), vec![0u8, 1, 2, 255, 254]),
        (b"empty.txt".to_vec(), Vec::new()),
        // The manifest path is everything after the separator, trailing spaces included.
        (b"trailing space ".to_vec(), b"trailing space\n".to_vec()),
        (b"two  spaces.txt".to_vec(), b"double space\n".to_vec()),
        (
            b"back\\slash.txt".to_vec(),
            b"a backslash is an ordinary byte\n".to_vec(),
        ),
    ]
}

/// The small payload used by the mutation tests.
fn standard_payload() -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        (b"alpha.txt".to_vec(), b"alpha contents\n".to_vec()),
        (
            b"beta/gamma.txt".to_vec(),
            b"gamma in a sub folder\n".to_vec(),
        ),
        (b"delta.bin".to_vec(), (0u8..=255).collect()),
        (b"with space.txt".to_vec(), b"spaced\n".to_vec()),
    ]
}

const STANDARD_FILES: &[&str] = &[
    "data/alpha.txt",
    "data/beta/gamma.txt",
    "data/delta.bin",
    "data/with space.txt",
];

fn write_payload(root: &Path, payload: &[(Vec<u8>, Vec<u8>)]) {
    fs::create_dir_all(root).unwrap();
    for (name, contents) in payload {
        write_file(root, bpath(name), contents);
    }
}

/// Creates a fresh bag from `payload` at `<tmp>/bag` (source at `<tmp>/src`) and checks that
/// it validates before the test mutates it, so every mutation test starts from a known-good
/// bag.
fn make_bag(
    label: &str,
    payload: &[(Vec<u8>, Vec<u8>)],
    extra: &[&str],
) -> (tempfile::TempDir, PathBuf) {
    let tmp = fresh_dir(label);
    let src = tmp.path().join("src");
    let bag = tmp.path().join("bag");
    write_payload(&src, payload);
    create(&src, &bag, extra).assert_code(0);
    validate(&bag, &[]).assert_code(0).assert_no_problems();
    (tmp, bag)
}

fn standard_bag(label: &str) -> (tempfile::TempDir, PathBuf) {
    make_bag(label, &standard_payload(), &[])
}

fn remove_tag_manifests(bag: &Path) {
    for entry in fs::read_dir(bag).unwrap() {
        let entry = entry.unwrap();
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("tagmanifest-")
        {
            fs::remove_file(entry.path()).unwrap();
        }
    }
}

fn top_level_names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// No `problem:` line may name one of `innocent` (the payload files a test did not touch).
fn assert_innocent_not_named(run: &Run, innocent: &[&str]) {
    for d in run.problems() {
        assert!(
            !innocent.contains(&d.path.as_str()),
            "an untouched file was reported: {d:?}\n{}",
            run.describe()
        );
    }
}

fn parse_json(run: &Run) -> serde_json::Value {
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "--json stdout is not exactly one JSON object: {e}\n{}",
            run.describe()
        )
    })
}

// ---------------------------------------------------------------------------------------------
// create: round trip, encoding, metadata
// ---------------------------------------------------------------------------------------------

#[test]
fn create_round_trip_with_tricky_names() {
    let tmp = fresh_dir("roundtrip");
    let src = tmp.path().join("src");
    let bag = tmp.path().join("bag");
    let payload = tricky_payload();
    write_payload(&src, &payload);
    let src_before = snapshot(&src);

    create(
        &src,
        &bag,
        &[
            "--info",
            "Source-Organization: Cairn Test Lab",
            "--info",
            "External-Description: round trip with odd names",
        ],
    )
    .assert_code(0);

    // SRC untouched (names, contents, nothing added or removed).
    let diff = snapshot_diff(&src_before, &snapshot(&src));
    assert!(diff.is_empty(), "bag create --output modified SRC:\n{diff}");

    // The payload is a byte-exact copy of SRC.
    let diff = snapshot_diff(&src_before, &snapshot(&bag.join("data")));
    assert!(diff.is_empty(), "DEST/data differs from SRC:\n{diff}");

    // Exactly the expected tag files.
    assert_eq!(
        top_level_names(&bag),
        set(&[
            "bagit.txt",
            "bag-info.txt",
            "data",
            "manifest-blake3.txt",
            "manifest-sha512.txt",
            "tagmanifest-blake3.txt",
            "tagmanifest-sha512.txt",
        ]),
        "unexpected top-level files in the new bag"
    );
    assert_eq!(
        fs::read(bag.join("bagit.txt")).unwrap(),
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bagit.txt is not byte-exact"
    );

    // Payload manifests: every file once, encoded per RFC 8493 §2.1.3, right digests, sorted.
    let expected_paths: BTreeMap<Vec<u8>, &Vec<u8>> = payload
        .iter()
        .map(|(name, contents)| {
            let mut p = b"data/".to_vec();
            p.extend(encode_manifest_path(name));
            (p, contents)
        })
        .collect();
    for alg in DEFAULT_ALGORITHMS {
        let file = format!("manifest-{alg}.txt");
        let bytes = fs::read(bag.join(&file)).unwrap();
        let entries = parse_manifest(&bytes, &file);
        let paths: Vec<&Vec<u8>> = entries.iter().map(|(_, p)| p).collect();
        assert!(
            paths.windows(2).all(|w| w[0] < w[1]),
            "{file}: lines are not sorted by path (or a path repeats)"
        );
        let got: BTreeSet<Vec<u8>> = entries.iter().map(|(_, p)| p.clone()).collect();
        let want: BTreeSet<Vec<u8>> = expected_paths.keys().cloned().collect();
        assert_eq!(
            got.iter().map(|p| bstr(p)).collect::<Vec<_>>(),
            want.iter().map(|p| bstr(p)).collect::<Vec<_>>(),
            "{file}: wrong set of (encoded) paths"
        );
        for (checksum, path) in &entries {
            let contents = expected_paths[path];
            assert_eq!(
                checksum.to_ascii_lowercase(),
                digest_hex(alg, contents),
                "{file}: wrong {alg} digest for {}",
                bstr(path)
            );
        }

        // The encodings, spelled out literally.
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let has_line_ending_with = |suffix: &[u8]| {
            lines
                .iter()
                .any(|l| l.ends_with(suffix) && l[..l.len() - suffix.len()].ends_with(b"  "))
        };
        for literal in [
            &b"data/100%25.txt"[..],
            b"data/a%250Ab.txt",
            b"data/new%0Aline.txt",
            b"data/carriage%0Dreturn.txt",
            b"data/with space.txt",
            b"data/.hidden",
            b"data/nested/deeper/deep file.txt",
            b"data/empty.txt",
            b"data/trailing space ",
            b"data/two  spaces.txt",
            b"data/back\\slash.txt",
            // NFC é and Khmer pass through as the same UTF-8 bytes.
            b"data/caf\xc3\xa9.txt",
            "data/ទួលស្លែង.txt".as_bytes(),
        ] {
            assert!(
                has_line_ending_with(literal),
                "{file}: no line `HEX  {}`:\n{}",
                bstr(literal),
                String::from_utf8_lossy(&bytes)
            );
        }
        assert!(
            !bytes.contains(&b'\r'),
            "{file}: contains a raw CR (the CR in a name must be written %0D)"
        );
        assert_eq!(
            bytes.iter().filter(|&&b| b == b'\n').count(),
            payload.len(),
            "{file}: one line per payload file expected (a raw LF in a name would add one)"
        );
    }

    // Tag manifests: list the other tag files (never tag manifests, never payload).
    for alg in DEFAULT_ALGORITHMS {
        let file = format!("tagmanifest-{alg}.txt");
        let bytes = fs::read(bag.join(&file)).unwrap();
        let entries = parse_manifest(&bytes, &file);
        let got: BTreeSet<String> = entries
            .iter()
            .map(|(_, p)| String::from_utf8(p.clone()).unwrap())
            .collect();
        assert_eq!(
            got,
            set(&[
                "bagit.txt",
                "bag-info.txt",
                "manifest-blake3.txt",
                "manifest-sha512.txt"
            ]),
            "{file}: wrong set of tag files"
        );
        for (checksum, path) in &entries {
            let contents = fs::read(bag.join(bpath(path))).unwrap();
            assert_eq!(
                checksum.to_ascii_lowercase(),
                digest_hex(alg, &contents),
                "{file}: wrong digest for {}",
                bstr(path)
            );
        }
    }

    // bag-info.txt: generated fields first, then --info fields in the order given.
    let info = fs::read_to_string(bag.join("bag-info.txt")).expect("bag-info.txt is UTF-8");
    let fields: Vec<(&str, &str)> = info
        .lines()
        .map(|l| {
            l.split_once(": ")
                .unwrap_or_else(|| panic!("bag-info.txt line without `: `: {l:?}"))
        })
        .collect();
    let labels: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        labels,
        [
            "Bagging-Date",
            "Payload-Oxum",
            "Bag-Software-Agent",
            "Source-Organization",
            "External-Description"
        ],
        "bag-info.txt labels or their order:\n{info}"
    );
    let date = fields[0].1;
    assert!(
        date.len() == 10
            && date.char_indices().all(|(i, c)| if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }),
        "Bagging-Date is not YYYY-MM-DD: {date:?}"
    );
    let total: usize = payload.iter().map(|(_, c)| c.len()).sum();
    assert_eq!(
        fields[1].1,
        format!("{total}.{}", payload.len()),
        "Payload-Oxum must be octets.streams"
    );
    assert!(
        fields[2].1.to_ascii_lowercase().contains("cairn"),
        "Bag-Software-Agent should name cairn: {:?}",
        fields[2].1
    );
    assert_eq!(fields[3].1, "Cairn Test Lab");
    assert_eq!(fields[4].1, "round trip with odd names");

    // And the bag validates cleanly.
    validate(&bag, &[]).assert_code(0).assert_no_problems();
}

#[test]
fn create_with_sha256_and_sha512_only() {
    let (_tmp, bag) = make_bag(
        "sha2",
        &standard_payload(),
        &["--algorithm", "sha256", "--algorithm", "sha512"],
    );
    assert_eq!(
        top_level_names(&bag),
        set(&[
            "bagit.txt",
            "bag-info.txt",
            "data",
            "manifest-sha256.txt",
            "manifest-sha512.txt",
            "tagmanifest-sha256.txt",
            "tagmanifest-sha512.txt",
        ]),
    );
    let bytes = fs::read(bag.join("manifest-sha256.txt")).unwrap();
    let entries = parse_manifest(&bytes, "manifest-sha256.txt");
    assert_eq!(entries.len(), 4);
    for (checksum, path) in entries {
        let contents = fs::read(bag.join(bpath(&path))).unwrap();
        assert_eq!(checksum.to_ascii_lowercase(), sha256_hex(&contents));
    }
    let run = validate(&bag, &["--json"]);
    run.assert_code(0);
    let json = parse_json(&run);
    let mut algs: Vec<String> = json["algorithms"]
        .as_array()
        .unwrap_or_else(|| panic!("no algorithms array\n{}", run.describe()))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    algs.sort();
    assert_eq!(algs, ["sha256", "sha512"], "{}", run.describe());
}

#[test]
fn create_in_place_moves_contents_under_data() {
    let tmp = fresh_dir("inplace");
    let src = tmp.path().join("src");
    write_payload(&src, &standard_payload());
    let before = snapshot(&src);

    run_cairn([
        std::ffi::OsStr::new("bag"),
        std::ffi::OsStr::new("create"),
        src.as_os_str(),
    ])
    .assert_code(0);

    assert_eq!(
        top_level_names(&src),
        set(&[
            "bagit.txt",
            "bag-info.txt",
            "data",
            "manifest-blake3.txt",
            "manifest-sha512.txt",
            "tagmanifest-blake3.txt",
            "tagmanifest-sha512.txt",
        ]),
        "after in-place create, SRC should hold only the bag"
    );
    let diff = snapshot_diff(&before, &snapshot(&src.join("data")));
    assert!(
        diff.is_empty(),
        "SRC/data does not hold the original files:\n{diff}"
    );
    validate(&src, &[]).assert_code(0).assert_no_problems();
}

#[test]
fn create_refuses_existing_destination() {
    let tmp = fresh_dir("exists");
    let src = tmp.path().join("src");
    let dest = tmp.path().join("dest");
    write_payload(&src, &standard_payload());
    write_file(&dest, "keep.txt", b"precious\n");
    let before = snapshot(&dest);

    let run = create(&src, &dest, &[]);
    assert!(
        matches!(run.code, Some(c) if c != 0),
        "create into an existing DEST must fail\n{}",
        run.describe()
    );
    assert!(
        !run.stderr.trim().is_empty(),
        "no error message\n{}",
        run.describe()
    );
    let diff = snapshot_diff(&before, &snapshot(&dest));
    assert!(diff.is_empty(), "the existing DEST was modified:\n{diff}");
}

// ---------------------------------------------------------------------------------------------
// validate: one mutation per fresh bag
// ---------------------------------------------------------------------------------------------

fn flip_first_byte(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    bytes[0] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

#[test]
fn corrupted_payload_byte_is_digest_mismatch() {
    let (_tmp, bag) = standard_bag("corrupt");
    flip_first_byte(&bag.join("data/alpha.txt"));
    let run = validate(&bag, &[]);
    run.assert_code(1)
        .assert_problem("data/alpha.txt", "digest-mismatch");
    for d in run.problems() {
        assert_eq!(
            d.path,
            "data/alpha.txt",
            "only the corrupted file may be named\n{}",
            run.describe()
        );
    }
}

#[test]
fn deleted_payload_file_is_payload_missing() {
    let (_tmp, bag) = standard_bag("deleted");
    fs::remove_file(bag.join("data/beta/gamma.txt")).unwrap();
    let run = validate(&bag, &[]);
    run.assert_code(1)
        .assert_problem("data/beta/gamma.txt", "payload-missing");
    assert_innocent_not_named(
        &run,
        &["data/alpha.txt", "data/delta.bin", "data/with space.txt"],
    );
}

#[test]
fn stray_payload_file_is_payload_unlisted() {
    let (_tmp, bag) = standard_bag("stray");
    write_file(&bag, "data/beta/stray.txt", b"nobody listed me\n");
    let run = validate(&bag, &[]);
    run.assert_code(1)
        .assert_problem("data/beta/stray.txt", "payload-unlisted");
    assert_innocent_not_named(&run, STANDARD_FILES);
}

#[test]
fn edited_bag_info_is_tag_digest_mismatch() {
    let (_tmp, bag) = standard_bag("baginfo");
    let path = bag.join("bag-info.txt");
    let mut info = fs::read(&path).unwrap();
    info.extend_from_slice(b"Contact-Name: Mallory\n");
    fs::write(&path, info).unwrap();
    let run = validate(&bag, &[]);
    run.assert_code(1)
        .assert_problem("bag-info.txt", "digest-mismatch");
    assert_innocent_not_named(&run, STANDARD_FILES);
}

#[test]
fn several_problems_are_all_reported() {
    let (_tmp, bag) = standard_bag("several");
    flip_first_byte(&bag.join("data/alpha.txt"));
    fs::remove_file(bag.join("data/beta/gamma.txt")).unwrap();
    write_file(&bag, "data/stray.txt", b"unlisted\n");
    let mut info = fs::read(bag.join("bag-info.txt")).unwrap();
    info.extend_from_slice(b"Contact-Name: Mallory\n");
    fs::write(bag.join("bag-info.txt"), info).unwrap();

    let run = validate(&bag, &[]);
    run.assert_code(1)
        .assert_problem("data/alpha.txt", "digest-mismatch")
        .assert_problem("data/beta/gamma.txt", "payload-missing")
        .assert_problem("data/stray.txt", "payload-unlisted")
        .assert_problem("bag-info.txt", "digest-mismatch");
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("problem: "))
        .collect();
    assert!(
        lines.len() >= 4,
        "four independent problems need at least four `problem:` lines\n{}",
        run.describe()
    );
    let unique: BTreeSet<&&str> = lines.iter().collect();
    assert_eq!(
        unique.len(),
        lines.len(),
        "a problem line is repeated\n{}",
        run.describe()
    );
    assert_innocent_not_named(&run, &["data/delta.bin", "data/with space.txt"]);
}

#[test]
fn json_output_for_valid_bag() {
    let (_tmp, bag) = standard_bag("json-ok");
    let run = validate(&bag, &["--json"]);
    run.assert_code(0);
    let json = parse_json(&run);
    assert_eq!(json["valid"], serde_json::json!(true), "{}", run.describe());
    assert_eq!(
        json["version"],
        serde_json::json!("1.0"),
        "{}",
        run.describe()
    );
    let mut algs: Vec<&str> = json["algorithms"]
        .as_array()
        .unwrap_or_else(|| panic!("no algorithms array\n{}", run.describe()))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    algs.sort();
    assert_eq!(algs, DEFAULT_ALGORITHMS, "{}", run.describe());
    assert_eq!(
        json["problems"],
        serde_json::json!([]),
        "{}",
        run.describe()
    );
    assert!(json["warnings"].is_array(), "{}", run.describe());
    let total: usize = standard_payload().iter().map(|(_, c)| c.len()).sum();
    assert_eq!(json["files"], serde_json::json!(4), "{}", run.describe());
    assert_eq!(
        json["bytes"],
        serde_json::json!(total),
        "{}",
        run.describe()
    );
}

#[test]
fn json_output_for_invalid_bag() {
    let (_tmp, bag) = standard_bag("json-bad");
    flip_first_byte(&bag.join("data/alpha.txt"));
    let run = validate(&bag, &["--json"]);
    run.assert_code(1);
    let json = parse_json(&run);
    assert_eq!(
        json["valid"],
        serde_json::json!(false),
        "{}",
        run.describe()
    );
    let problems = json["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("no problems array\n{}", run.describe()));
    assert!(
        problems.iter().any(|p| p["path"] == "data/alpha.txt"
            && p["kind"] == "digest-mismatch"
            && p["detail"].is_string()),
        "problems must contain {{path: data/alpha.txt, kind: digest-mismatch, detail}}\n{}",
        run.describe()
    );
    for p in problems {
        assert_eq!(p["path"], "data/alpha.txt", "{}", run.describe());
    }
}

#[test]
fn fast_detects_deleted_file_by_oxum() {
    let (_tmp, bag) = standard_bag("fast-deleted");
    fs::remove_file(bag.join("data/delta.bin")).unwrap();
    let run = validate(&bag, &["--fast"]);
    run.assert_code(1);
    assert!(
        run.kinds().iter().any(|k| k == "oxum-mismatch"),
        "--fast must report oxum-mismatch\n{}",
        run.describe()
    );
}

#[test]
fn fast_does_not_read_digests() {
    // --fast checks only Payload-Oxum (file count and byte count); a same-size corruption
    // is, by design, invisible to it.
    let (_tmp, bag) = standard_bag("fast-corrupt");
    flip_first_byte(&bag.join("data/alpha.txt"));
    validate(&bag, &["--fast"])
        .assert_code(0)
        .assert_no_problems();
}

#[test]
fn completeness_only_ignores_corruption() {
    let (_tmp, bag) = standard_bag("complete-corrupt");
    flip_first_byte(&bag.join("data/alpha.txt"));
    validate(&bag, &["--completeness-only"])
        .assert_code(0)
        .assert_no_problems();
}

#[test]
fn completeness_only_detects_missing_file() {
    let (_tmp, bag) = standard_bag("complete-missing");
    fs::remove_file(bag.join("data/alpha.txt")).unwrap();
    validate(&bag, &["--completeness-only"])
        .assert_code(1)
        .assert_problem("data/alpha.txt", "payload-missing");
}

#[test]
fn nfd_renamed_payload_still_validates() {
    // Bag made with NFC names, then the files are renamed to NFD on disk, as a copy through
    // macOS would do. The manifest still says NFC; RFC 8493 §6.1.1 / BAGIT-NOTES: compare
    // after normalising both sides, open by the on-disk spelling.
    let payload = vec![
        ("caf\u{e9}.txt".as_bytes().to_vec(), b"cafe\n".to_vec()),
        (
            "N\u{fa}\u{f1}ez/r\u{e9}sum\u{e9}.txt".as_bytes().to_vec(),
            b"cv\n".to_vec(),
        ),
    ];
    let (_tmp, bag) = make_bag("nfd", &payload, &[]);
    let data = bag.join("data");
    fs::rename(data.join("caf\u{e9}.txt"), data.join("cafe\u{301}.txt")).unwrap();
    fs::rename(
        data.join("N\u{fa}\u{f1}ez"),
        data.join("Nu\u{301}n\u{303}ez"),
    )
    .unwrap();
    fs::rename(
        data.join("Nu\u{301}n\u{303}ez/r\u{e9}sum\u{e9}.txt"),
        data.join("Nu\u{301}n\u{303}ez/re\u{301}sume\u{301}.txt"),
    )
    .unwrap();
    let before = snapshot(&bag);
    validate(&bag, &[]).assert_code(0).assert_no_problems();
    assert!(
        snapshot_diff(&before, &snapshot(&bag)).is_empty(),
        "validation renamed or changed files"
    );
}

#[test]
fn symlink_in_payload_is_rejected() {
    let (_tmp, bag) = standard_bag("symlink");
    std::os::unix::fs::symlink("alpha.txt", bag.join("data/link.txt")).unwrap();
    let run = validate(&bag, &[]);
    run.assert_code(1)
        .assert_problem("data/link.txt", "symlink");
}

#[test]
fn symlink_replacing_listed_file_is_rejected_even_if_digest_matches() {
    // data/alpha.txt becomes a link to a file OUTSIDE the bag with identical contents: a
    // validator that follows links would find the right digest and accept it.
    let (tmp, bag) = standard_bag("symlink-listed");
    let outside = tmp.path().join("outside-alpha.txt");
    fs::write(&outside, b"alpha contents\n").unwrap();
    fs::remove_file(bag.join("data/alpha.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, bag.join("data/alpha.txt")).unwrap();
    let run = validate(&bag, &[]);
    run.assert_code(1)
        .assert_problem("data/alpha.txt", "symlink");
}

/// Adds `HEX  data/../../etc/passwd` to both payload manifests (with the bait's correct
/// digests, so that only the path check can catch it) and removes the tag manifests so the
/// edit itself is not a problem.
fn add_escaping_line(bag: &Path, bait_contents: &[u8]) {
    add_manifest_line(bag, b"data/../../etc/passwd", bait_contents);
}

/// Appends `DIGEST  <manifest_path>` to both payload manifests (the path written as given)
/// and removes the tag manifests, so the edit itself is not reported.
fn add_manifest_line(bag: &Path, manifest_path: &[u8], contents: &[u8]) {
    remove_tag_manifests(bag);
    for alg in DEFAULT_ALGORITHMS {
        let path = bag.join(format!("manifest-{alg}.txt"));
        let mut m = fs::read(&path).unwrap();
        m.extend_from_slice(digest_hex(alg, contents).as_bytes());
        m.extend_from_slice(b"  ");
        m.extend_from_slice(manifest_path);
        m.push(b'\n');
        fs::write(&path, m).unwrap();
    }
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo not available");
    assert!(status.success(), "mkfifo {} failed", path.display());
}

/// Validates with a short timeout; a hang means cairn opened a FIFO planted outside the bag.
fn validate_expecting_no_hang(bag: &Path, what: &str) -> Run {
    let args: Vec<std::ffi::OsString> =
        vec!["bag".into(), "validate".into(), bag.as_os_str().into()];
    let run = run_cairn_full(None, Duration::from_secs(10), args);
    assert!(
        run.code.is_some(),
        "validate hung: it most likely opened {what}, outside the bag\n{}",
        run.describe()
    );
    run
}

#[test]
fn manifest_path_escaping_the_bag_is_rejected() {
    // The bag is <tmp>/bag, so data/../../etc/passwd resolves to <tmp>/etc/passwd: a bait
    // file we control, whose digests are correct.
    let (tmp, bag) = standard_bag("escape");
    let bait = tmp.path().join("etc/passwd");
    let bait_contents = b"root:x:0:0:bait:/root:/bin/sh\n";
    write_file(tmp.path(), "etc/passwd", bait_contents);
    add_escaping_line(&bag, bait_contents);

    let run = validate(&bag, &[]);
    run.assert_code(1);
    assert!(
        run.has_problem_mentioning("data/../../etc/passwd", "path-escapes-bag"),
        "expected a path-escapes-bag problem naming data/../../etc/passwd\n{}",
        run.describe()
    );
    assert_innocent_not_named(&run, STANDARD_FILES);
    assert_eq!(
        fs::read(&bait).unwrap(),
        bait_contents,
        "the bait was modified"
    );
}

#[test]
fn manifest_path_escaping_the_bag_is_never_opened() {
    // Same, but the bait is a FIFO: opening it for reading blocks forever, so a validator
    // that reads outside the bag hangs and is killed by the timeout.
    let (tmp, bag) = standard_bag("escape-fifo");
    fs::create_dir(tmp.path().join("etc")).unwrap();
    mkfifo(&tmp.path().join("etc/passwd"));
    add_escaping_line(&bag, b"");
    let run = validate_expecting_no_hang(&bag, "<tmp>/etc/passwd");
    run.assert_code(1);
    assert!(
        run.has_problem_mentioning("data/../../etc/passwd", "path-escapes-bag"),
        "expected a path-escapes-bag problem naming data/../../etc/passwd\n{}",
        run.describe()
    );
}

#[test]
fn absolute_manifest_path_is_rejected_and_never_opened() {
    let (tmp, bag) = standard_bag("escape-abs");
    let fifo = tmp.path().join("abs-fifo");
    mkfifo(&fifo);
    add_manifest_line(&bag, &path_bytes(&fifo), b"");
    let run = validate_expecting_no_hang(&bag, &fifo.display().to_string());
    run.assert_code(1);
    assert!(
        run.has_problem_mentioning("abs-fifo", "path-escapes-bag"),
        "expected a path-escapes-bag problem naming the absolute path\n{}",
        run.describe()
    );
    assert_innocent_not_named(&run, STANDARD_FILES);
}

#[test]
fn symlinked_directory_is_not_followed_out_of_the_bag() {
    // data/linkdir -> <tmp>/outside/, which holds a FIFO `x`; the manifest lists
    // data/linkdir/x. Following the directory link would open the FIFO and hang.
    let (tmp, bag) = standard_bag("symlink-dir");
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    mkfifo(&outside.join("x"));
    std::os::unix::fs::symlink(&outside, bag.join("data/linkdir")).unwrap();
    add_manifest_line(&bag, b"data/linkdir/x", b"");
    let run = validate_expecting_no_hang(&bag, "<tmp>/outside/x through data/linkdir");
    run.assert_code(1);
    assert!(
        run.has_problem_mentioning("data/linkdir", "symlink"),
        "expected a symlink problem naming data/linkdir\n{}",
        run.describe()
    );
}

#[test]
fn problem_lines_stay_one_per_line_for_cr_lf_names() {
    let payload = vec![
        (b"new\nline.txt".to_vec(), b"LF\n".to_vec()),
        (b"carriage\rreturn.txt".to_vec(), b"CR\n".to_vec()),
        (b"plain.txt".to_vec(), b"plain\n".to_vec()),
    ];
    let (_tmp, bag) = make_bag("crlf-report", &payload, &[]);
    flip_first_byte(&bag.join(bpath(b"data/new\nline.txt")));
    flip_first_byte(&bag.join(bpath(b"data/carriage\rreturn.txt")));
    let run = validate(&bag, &[]);
    run.assert_code(1);
    assert!(
        !run.stderr.contains('\r'),
        "a raw CR from a file name reached stderr\n{}",
        run.describe()
    );
    for line in run.stderr.lines() {
        assert!(
            !line.starts_with("line.txt") && !line.starts_with("return.txt"),
            "a file name's LF split a problem line in two\n{}",
            run.describe()
        );
    }
    let problems = run.problems();
    assert!(
        problems
            .iter()
            .any(|d| d.kind == "digest-mismatch" && d.path.starts_with("data/new")),
        "{}",
        run.describe()
    );
    assert!(
        problems
            .iter()
            .any(|d| d.kind == "digest-mismatch" && d.path.starts_with("data/carriage")),
        "{}",
        run.describe()
    );
    assert!(
        problems.iter().all(|d| !d.path.contains("plain")),
        "{}",
        run.describe()
    );

    // --json carries the real names (JSON escapes them itself).
    let run = validate(&bag, &["--json"]);
    run.assert_code(1);
    let json = parse_json(&run);
    let paths: Vec<&str> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"data/new\nline.txt") && paths.contains(&"data/carriage\rreturn.txt"),
        "--json problem paths should be the real bag-relative names: {paths:?}"
    );
}

#[test]
fn duplicate_manifest_entry_is_invalid() {
    let (_tmp, bag) = standard_bag("duplicate");
    remove_tag_manifests(&bag);
    let path = bag.join("manifest-sha512.txt");
    let mut m = fs::read(&path).unwrap();
    let line = m
        .split(|&b| b == b'\n')
        .find(|l| l.ends_with(b"  data/alpha.txt"))
        .expect("alpha line")
        .to_vec();
    m.extend_from_slice(&line);
    m.push(b'\n');
    fs::write(&path, m).unwrap();
    let run = validate(&bag, &[]);
    run.assert_code(1);
    assert!(
        run.has_problem_mentioning("data/alpha.txt", "duplicate-entry"),
        "expected a duplicate-entry problem naming data/alpha.txt\n{}",
        run.describe()
    );
}

/// The validator reads a manifest a line at a time and, for a name seen before, reads
/// the earlier line again at its offset: with CR LF endings, for a file that is there
/// and for one that is not, the message must still name both lines and tell the
/// checksums apart.
#[test]
fn duplicates_name_both_lines_with_crlf_endings() {
    let (_tmp, bag) = standard_bag("duplicate-crlf");
    remove_tag_manifests(&bag);
    let path = bag.join("manifest-sha512.txt");
    let text = String::from_utf8(fs::read(&path).unwrap()).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let alpha = lines
        .iter()
        .find(|l| l.ends_with("  data/alpha.txt"))
        .expect("alpha line")
        .clone();
    let other_digest = format!("{}  data/alpha.txt", "0".repeat(128));
    let gone = format!("{}  data/gone.txt", "1".repeat(128));
    let n = lines.len();
    lines.extend([gone.clone(), other_digest, gone]);
    fs::write(&path, format!("{}\r\n", lines.join("\r\n"))).unwrap();
    let alpha_line = lines.iter().position(|l| *l == alpha).unwrap() + 1;
    let run = validate(&bag, &[]);
    run.assert_code(1);
    let want_alpha = format!(
        "data/alpha.txt is listed twice (lines {alpha_line} and {}) with different checksums",
        n + 2
    );
    let want_gone = format!(
        "data/gone.txt is listed twice (lines {} and {}) with the same checksum",
        n + 1,
        n + 3
    );
    for want in [want_alpha, want_gone] {
        assert!(
            run.has_problem_mentioning(&want, "duplicate-entry"),
            "expected a duplicate-entry problem saying {want:?}\n{}",
            run.describe()
        );
    }
}

#[test]
fn bom_in_bagit_txt_is_invalid() {
    let (_tmp, bag) = standard_bag("bom");
    remove_tag_manifests(&bag);
    let mut b = b"\xEF\xBB\xBF".to_vec();
    b.extend(fs::read(bag.join("bagit.txt")).unwrap());
    fs::write(bag.join("bagit.txt"), b).unwrap();
    validate(&bag, &[])
        .assert_code(1)
        .assert_problem("bagit.txt", "bagit-txt-invalid");
}

#[test]
fn missing_data_dir_is_invalid() {
    let (_tmp, bag) = standard_bag("nodata");
    fs::rename(bag.join("data"), bag.join("payload")).unwrap();
    let run = validate(&bag, &[]);
    run.assert_code(1);
    assert!(
        run.kinds().iter().any(|k| k == "data-dir-missing"),
        "expected data-dir-missing\n{}",
        run.describe()
    );
}

#[test]
fn missing_payload_manifests_is_invalid() {
    let (_tmp, bag) = standard_bag("nomanifest");
    remove_tag_manifests(&bag);
    for alg in DEFAULT_ALGORITHMS {
        fs::remove_file(bag.join(format!("manifest-{alg}.txt"))).unwrap();
    }
    let run = validate(&bag, &[]);
    run.assert_code(1);
    assert!(
        run.kinds().iter().any(|k| k == "manifest-missing"),
        "expected manifest-missing\n{}",
        run.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// exit statuses for errors that are not about the bag's contents
// ---------------------------------------------------------------------------------------------

/// One rule for a name that does not exist (issue 12, README "Exit codes"): exit 2,
/// as for `show` of an unknown item.
#[test]
fn nonexistent_bag_is_a_usage_error() {
    let tmp = fresh_dir("nonexistent");
    let run = validate(&tmp.path().join("no-such-bag"), &[]);
    run.assert_code(2);
    assert!(
        !run.stderr.trim().is_empty(),
        "no error message\n{}",
        run.describe()
    );
}

#[test]
fn bad_usage_exits_2() {
    let tmp = fresh_dir("usage");
    let src = tmp.path().join("src");
    write_payload(&src, &standard_payload());
    let dest = tmp.path().join("dest");
    let cases: Vec<Vec<std::ffi::OsString>> = vec![
        vec!["bag".into(), "validate".into()],
        vec![
            "bag".into(),
            "validate".into(),
            src.clone().into(),
            "--no-such-flag".into(),
        ],
        vec!["bag".into(), "frobnicate".into()],
        vec!["no-such-command".into()],
        vec![
            "bag".into(),
            "create".into(),
            src.clone().into(),
            "--output".into(),
            dest.clone().into(),
            "--algorithm".into(),
            "md4".into(),
        ],
    ];
    for args in cases {
        let run = run_cairn(&args);
        run.assert_code(2);
    }
    assert!(
        !dest.exists(),
        "a rejected create must not leave DEST behind"
    );
}

#[test]
fn create_empty_payload() {
    let (_tmp, bag) = make_bag("empty", &[], &[]);
    assert!(
        bag.join("data").is_dir(),
        "data/ must exist even when empty"
    );
    let info = fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    assert!(
        info.lines().any(|l| l == "Payload-Oxum: 0.0"),
        "empty payload must give Payload-Oxum 0.0:\n{info}"
    );
    for alg in DEFAULT_ALGORITHMS {
        assert_eq!(
            fs::read(bag.join(format!("manifest-{alg}.txt"))).unwrap(),
            b"",
            "manifest-{alg}.txt of an empty payload must be empty"
        );
    }
}

#[test]
fn uppercase_hex_and_crlf_manifests_are_accepted() {
    // RFC 8493 §2.1.3: hex in either case; §2.3: tag files may end lines with CR LF.
    let (_tmp, bag) = standard_bag("hexcase");
    remove_tag_manifests(&bag);
    let path = bag.join("manifest-sha512.txt");
    let text = fs::read_to_string(&path).unwrap();
    let mut rewritten = String::new();
    for line in text.lines() {
        let (hex, rest) = line.split_once("  ").unwrap();
        rewritten.push_str(&format!("{}  {}\r\n", hex.to_ascii_uppercase(), rest));
    }
    fs::write(&path, rewritten).unwrap();
    validate(&bag, &[]).assert_code(0).assert_no_problems();
}

/// Adds a payload file to an existing bag by hand: writes it, appends its (correct) lines
/// to every default payload manifest, fixes Payload-Oxum and drops the tag manifests. This
/// builds valid bags that `bag create` would not (or could not) make.
fn add_payload_by_hand(bag: &Path, rel_under_data: &[u8], contents: &[u8]) {
    remove_tag_manifests(bag);
    write_file(&bag.join("data"), bpath(rel_under_data), contents);
    for alg in DEFAULT_ALGORITHMS {
        let path = bag.join(format!("manifest-{alg}.txt"));
        let mut m = fs::read(&path).unwrap();
        m.extend_from_slice(digest_hex(alg, contents).as_bytes());
        m.extend_from_slice(b"  data/");
        m.extend(encode_manifest_path(rel_under_data));
        m.push(b'\n');
        fs::write(&path, m).unwrap();
    }
    let info_path = bag.join("bag-info.txt");
    let info = fs::read_to_string(&info_path).unwrap();
    let mut out = String::new();
    for line in info.lines() {
        if let Some(oxum) = line.strip_prefix("Payload-Oxum: ") {
            let (bytes, count) = oxum.split_once('.').unwrap();
            let bytes: usize = bytes.parse().unwrap();
            let count: usize = count.parse().unwrap();
            out.push_str(&format!(
                "Payload-Oxum: {}.{}\n",
                bytes + contents.len(),
                count + 1
            ));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    fs::write(&info_path, out).unwrap();
}

#[test]
fn normalization_collision_in_hand_made_bag_is_a_warning() {
    // The validator alone: both files exist and both are listed, each under its own
    // spelling. Nothing is missing or unlisted; the names are merely unportable.
    let (_tmp, bag) = make_bag(
        "normcollide-hand",
        &[("caf\u{e9}.txt".as_bytes().to_vec(), b"nfc\n".to_vec())],
        &[],
    );
    add_payload_by_hand(&bag, "cafe\u{301}.txt".as_bytes(), b"nfd\n");
    let run = validate(&bag, &[]);
    run.assert_code(0).assert_no_problems();
    assert!(
        run.warnings()
            .iter()
            .any(|w| w.kind == "normalization-collision"),
        "expected a `warning: ...: normalization-collision: ...` line\n{}",
        run.describe()
    );
}

#[test]
fn name_collisions_on_disk_are_warnings() {
    // Two payload files whose names differ only by Unicode normalisation (NFC vs NFD é)
    // or only by case: legal on Linux, unportable; RFC 8493 §6.1.1 asks for a warning.
    // (folder, expected warning kind, the two files)
    type Case<'a> = (&'a str, &'a str, [(&'a [u8], &'a [u8]); 2]);
    let cases: [Case; 2] = [
        (
            "normcollide",
            "normalization-collision",
            [
                ("caf\u{e9}.txt".as_bytes(), b"nfc\n"),
                ("cafe\u{301}.txt".as_bytes(), b"nfd\n"),
            ],
        ),
        (
            "casecollide",
            "case-collision",
            [(b"README.txt", b"upper\n"), (b"readme.txt", b"lower\n")],
        ),
    ];
    for (folder, kind, files) in cases {
        let payload: Vec<(Vec<u8>, Vec<u8>)> = files
            .iter()
            .map(|(name, body)| (name.to_vec(), body.to_vec()))
            .collect();
        let (_tmp, bag) = make_bag(folder, &payload, &[]);
        let run = validate(&bag, &[]);
        run.assert_code(0).assert_no_problems();
        assert!(
            run.warnings().iter().any(|w| w.kind == kind),
            "{folder}: expected a `warning: ...: {kind}: ...` line\n{}",
            run.describe()
        );
    }
}

#[test]
fn holey_bag_warns_not_fetched() {
    // RFC 8493 §2.2.3: a payload file may be absent if fetch.txt says where to get it. That
    // is reported as `not-fetched` (the bag is holey), not as a missing payload file.
    let (_tmp, bag) = standard_bag("holey");
    remove_tag_manifests(&bag);
    fs::remove_file(bag.join("data/beta/gamma.txt")).unwrap();
    fs::write(
        bag.join("fetch.txt"),
        "https://example.org/gamma.txt 22 data/beta/gamma.txt\n",
    )
    .unwrap();
    let run = validate(&bag, &[]);
    run.assert_code(0).assert_no_problems();
    assert!(
        run.warnings()
            .iter()
            .any(|w| w.kind == "not-fetched" && w.path == "data/beta/gamma.txt"),
        "expected `warning: data/beta/gamma.txt: not-fetched: ...`\n{}",
        run.describe()
    );
}

#[test]
fn create_in_place_when_source_has_data_and_tag_file_names() {
    // The source already holds a `data` folder and files named like tag files; in place,
    // all of them must end up under the new data/ (data/data/..., data/bag-info.txt, ...).
    let tmp = fresh_dir("inplace-names");
    let src = tmp.path().join("src");
    let payload = vec![
        (b"data/inner.txt".to_vec(), b"inner\n".to_vec()),
        (
            b"manifest-sha512.txt".to_vec(),
            b"not a manifest\n".to_vec(),
        ),
        (b"bag-info.txt".to_vec(), b"Not: metadata\n".to_vec()),
    ];
    write_payload(&src, &payload);
    let before = snapshot(&src);

    run_cairn([
        std::ffi::OsStr::new("bag"),
        std::ffi::OsStr::new("create"),
        src.as_os_str(),
    ])
    .assert_code(0);

    let diff = snapshot_diff(&before, &snapshot(&src.join("data")));
    assert!(
        diff.is_empty(),
        "SRC/data does not hold the original files:\n{diff}"
    );
    assert_eq!(
        fs::read(src.join("bagit.txt")).unwrap(),
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    );
    validate(&src, &[]).assert_code(0).assert_no_problems();
}

#[test]
fn create_in_place_refuses_an_existing_bag() {
    // Bagging a bag again in place would nest it (data/data/...); cairn refuses and leaves
    // the bag as it was.
    let tmp = fresh_dir("inplace-twice");
    let src = tmp.path().join("src");
    write_payload(&src, &standard_payload());
    let args = [
        std::ffi::OsStr::new("bag"),
        std::ffi::OsStr::new("create"),
        src.as_os_str(),
    ];
    run_cairn(args).assert_code(0);
    let before = snapshot(&src);
    let run = run_cairn(args);
    assert!(
        matches!(run.code, Some(c) if c != 0),
        "a second in-place create must be refused\n{}",
        run.describe()
    );
    let diff = snapshot_diff(&before, &snapshot(&src));
    assert!(
        diff.is_empty(),
        "the refused create changed the bag:\n{diff}"
    );
    validate(&src, &[]).assert_code(0).assert_no_problems();
}
