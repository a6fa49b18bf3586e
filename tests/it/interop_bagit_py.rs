//! Interoperability with the Library of Congress `bagit` Python package (bagit-python,
//! `pip install bagit`; developed against 1.9.0): bags made by cairn must pass
//! `bagit.py --validate`, and bags made by bagit.py must pass `cairn bag validate`.
//!
//! Facts about bagit.py these tests rely on (read in site-packages/bagit.py, version 1.9.0):
//! * `Bag.manifest_files()` / `tagmanifest_files()` only look for `manifest-<alg>.txt` with
//!   `alg` in `hashlib.algorithms_guaranteed`, which has no blake3: cairn's blake3 manifests
//!   are silently ignored, and only the sha256/sha512 ones are checked.
//! * `_encode_filename()` replaces only `\r` → `%0D` and `\n` → `%0A`, and
//!   `_decode_filename()` only reverses those two (it also passes `re.IGNORECASE` as the
//!   `count` argument of `re.sub`, so it is case-sensitive and stops after two replacements).
//!   Neither knows `%25`, contrary to RFC 8493 §2.1.3 — see `percent_in_name_*` below.
//! * `make_bag()` writes `BagIt-Version: 0.97` yet encodes CR/LF in paths.

use crate::common;

use common::*;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to run bagit.py: the `bagit.py` script on PATH, else `python3 -m bagit`.
fn bagit_py_command() -> Vec<OsString> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("bagit.py");
            if candidate.is_file() {
                return vec![candidate.into_os_string()];
            }
        }
    }
    let importable = std::process::Command::new("python3")
        .args(["-c", "import bagit"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if importable {
        return vec!["python3".into(), "-m".into(), "bagit".into()];
    }
    panic!(
        "bagit.py (Library of Congress bagit-python) not found on PATH and `python3 -c 'import \
         bagit'` fails: run `pip install bagit`"
    );
}

struct PyRun {
    cmdline: String,
    code: Option<i32>,
    /// stdout and stderr together (bagit.py logs to stderr).
    output: String,
}

impl PyRun {
    fn describe(&self) -> String {
        format!(
            "command: {}\nexit: {:?}\n--- output ---\n{}",
            self.cmdline, self.code, self.output
        )
    }
}

fn bagit_py(args: &[OsString]) -> PyRun {
    let mut argv = bagit_py_command();
    argv.extend(args.iter().cloned());
    let cmdline = argv
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(" ");
    let output = assert_cmd::Command::new(&argv[0])
        .args(&argv[1..])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmdline}: {e}"));
    PyRun {
        cmdline,
        code: output.status.code(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn bagit_py_validate(bag: &Path) -> PyRun {
    bagit_py(&["--validate".into(), bag.as_os_str().to_os_string()])
}

/// Turns `dir` into a bag in place with bagit.py, with the given extra flags.
fn bagit_py_make(dir: &Path, flags: &[&str]) {
    let mut args: Vec<OsString> = flags.iter().map(OsString::from).collect();
    args.push(dir.as_os_str().to_os_string());
    let run = bagit_py(&args);
    assert_eq!(
        run.code,
        Some(0),
        "bagit.py could not make a bag\n{}",
        run.describe()
    );
}

fn write_payload(root: &Path, payload: &[(&[u8], &[u8])]) {
    fs::create_dir_all(root).unwrap();
    for (name, contents) in payload {
        write_file(root, bpath(name), contents);
    }
}

/// Names with spaces, non-ASCII letters (NFC é, Khmer, ñ) and a newline.
fn interop_payload() -> Vec<(&'static [u8], &'static [u8])> {
    vec![
        (b"with space.txt", b"spaces\n"),
        ("caf\u{e9}.txt".as_bytes(), b"nfc e-acute\n"),
        ("ទួលស្លែង.txt".as_bytes(), "ខ្មែរ\n".as_bytes()),
        (
            "sub dir/\u{f1}and\u{fa}.txt".as_bytes(),
            b"nested, non-ASCII\n",
        ),
        (b"new\nline.txt", b"LF in the name\n"),
        (b"plain.txt", b"plain\n"),
    ]
}

/// Makes a cairn bag of `payload` at `<tmp>/bag`.
fn cairn_bag(
    label: &str,
    payload: &[(&[u8], &[u8])],
    extra: &[&str],
) -> (tempfile::TempDir, PathBuf) {
    let tmp = fresh_dir(label);
    let src = tmp.path().join("src");
    let bag = tmp.path().join("bag");
    write_payload(&src, payload);
    create(&src, &bag, extra).assert_code(0);
    (tmp, bag)
}

fn flip_first_byte(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    bytes[0] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

// ---------------------------------------------------------------------------------------------
// (a) cairn → bagit.py
// ---------------------------------------------------------------------------------------------

#[test]
fn cairn_default_bag_passes_bagit_py() {
    let (_tmp, bag) = cairn_bag("py-default", &interop_payload(), &[]);
    assert!(bag.join("manifest-blake3.txt").is_file());
    assert!(bag.join("manifest-sha512.txt").is_file());

    let run = bagit_py_validate(&bag);
    assert_eq!(
        run.code,
        Some(0),
        "bagit.py rejects a default (blake3 + sha512) cairn bag\n{}",
        run.describe()
    );
    assert!(run.output.contains("is valid"), "{}", run.describe());

    // Control: bagit.py really checks this bag (through manifest-sha512.txt), so the pass
    // above is not vacuous.
    flip_first_byte(&bag.join("data/plain.txt"));
    let run = bagit_py_validate(&bag);
    assert_eq!(
        run.code,
        Some(1),
        "bagit.py missed a corruption\n{}",
        run.describe()
    );
    assert!(
        run.output
            .contains("data/plain.txt sha512 validation failed"),
        "{}",
        run.describe()
    );
}

#[test]
fn cairn_sha256_sha512_bag_passes_bagit_py() {
    let (_tmp, bag) = cairn_bag(
        "py-sha2",
        &interop_payload(),
        &["--algorithm", "sha256", "--algorithm", "sha512"],
    );
    let run = bagit_py_validate(&bag);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(run.output.contains("is valid"), "{}", run.describe());
}

#[test]
fn cairn_blake3_only_bag_cannot_be_checked_by_bagit_py() {
    // Documents RFC 8493 §2.4's caveat: a bag whose only manifests are blake3 is opaque to
    // bagit.py ("No manifest files found"). Cairn's default therefore also writes sha512.
    let (_tmp, bag) = cairn_bag(
        "py-blake3",
        &[(b"a.txt", b"a\n")],
        &["--algorithm", "blake3"],
    );
    validate(&bag, &[]).assert_code(0).assert_no_problems();
    let run = bagit_py_validate(&bag);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.output.contains("No manifest files found"),
        "bagit.py's handling of blake3-only bags changed\n{}",
        run.describe()
    );
}

#[test]
fn percent_in_name_cairn_encodes_but_bagit_py_does_not_decode() {
    // RFC 8493 §2.1.3: `%` in a path MUST be written `%25`. Cairn writes data/100%25.txt;
    // bagit.py's _decode_filename() knows only %0D/%0A, so it looks for a file literally
    // named "100%25.txt", and also finds "100%.txt" unlisted. This is bagit.py's bug, not
    // cairn's. If this test starts failing because bagit.py accepts the bag, bagit.py has
    // been fixed: update the test (and the interop notes).
    let (_tmp, bag) = cairn_bag(
        "py-percent",
        &[(b"100%.txt", b"percent\n"), (b"plain.txt", b"plain\n")],
        &[],
    );
    let manifest = fs::read(bag.join("manifest-sha512.txt")).unwrap();
    assert!(
        manifest.windows(17).any(|w| w == b"  data/100%25.txt"),
        "cairn did not encode % as %25:\n{}",
        String::from_utf8_lossy(&manifest)
    );
    validate(&bag, &[]).assert_code(0).assert_no_problems();

    let run = bagit_py_validate(&bag);
    assert_eq!(
        run.code,
        Some(1),
        "bagit.py now accepts %25 — fixed?\n{}",
        run.describe()
    );
    assert!(
        run.output
            .contains("data/100%25.txt exists in manifest but was not found on filesystem"),
        "bagit.py failed for another reason than the %25 decoding bug\n{}",
        run.describe()
    );
    assert!(
        run.output
            .contains("data/100%.txt exists on filesystem but is not in the manifest"),
        "bagit.py failed for another reason than the %25 decoding bug\n{}",
        run.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// (b) bagit.py → cairn
// ---------------------------------------------------------------------------------------------

/// Payload without `%` (bagit.py cannot round-trip it) but with spaces and non-ASCII.
fn py_payload() -> Vec<(&'static [u8], &'static [u8])> {
    vec![
        (b"with space.txt", b"spaces\n"),
        ("caf\u{e9}.txt".as_bytes(), b"nfc e-acute\n"),
        ("ទួលស្លែង.txt".as_bytes(), "ខ្មែរ\n".as_bytes()),
        (
            "sub dir/\u{f1}and\u{fa}.txt".as_bytes(),
            b"nested, non-ASCII\n",
        ),
        (b"empty.txt", b""),
    ]
}

fn py_bag(label: &str, payload: &[(&[u8], &[u8])], flags: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let tmp = fresh_dir(label);
    let dir = tmp.path().join("pybag");
    write_payload(&dir, payload);
    bagit_py_make(&dir, flags);
    (tmp, dir)
}

#[test]
fn bagit_py_sha256_sha512_bag_passes_cairn() {
    let (_tmp, bag) = py_bag("cairn-sha2", &py_payload(), &["--sha256", "--sha512"]);
    assert!(bag.join("manifest-sha256.txt").is_file());
    assert!(bag.join("manifest-sha512.txt").is_file());
    let run = validate(&bag, &["--json"]);
    run.assert_code(0).assert_no_problems();
    let json: serde_json::Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("bad --json output: {e}\n{}", run.describe()));
    assert_eq!(json["valid"], serde_json::json!(true), "{}", run.describe());
    assert_eq!(json["files"], serde_json::json!(5), "{}", run.describe());

    // Control: cairn checks these foreign manifests.
    flip_first_byte(&bag.join("data/with space.txt"));
    validate(&bag, &[])
        .assert_code(1)
        .assert_problem("data/with space.txt", "digest-mismatch");
}

#[test]
fn bagit_py_default_bag_passes_cairn() {
    let (_tmp, bag) = py_bag("cairn-pydefault", &py_payload(), &[]);
    validate(&bag, &[]).assert_code(0).assert_no_problems();
}

#[test]
fn bagit_py_bag_with_newline_in_name_passes_cairn() {
    // bagit.py labels its bags 0.97 but writes data/new%0Aline.txt (BAGIT-NOTES §2.1.3:
    // "reading literally first and decoded second" accepts both old and new tools).
    let (_tmp, bag) = py_bag(
        "cairn-pynewline",
        &[(b"new\nline.txt", b"LF\n"), (b"plain.txt", b"plain\n")],
        &[],
    );
    let manifest = fs::read(bag.join("manifest-sha512.txt")).unwrap();
    assert!(
        manifest.windows(19).any(|w| w == b"data/new%0Aline.txt"),
        "bagit.py no longer encodes LF as %0A:\n{}",
        String::from_utf8_lossy(&manifest)
    );
    validate(&bag, &[]).assert_code(0).assert_no_problems();
}

#[test]
fn bagit_py_bag_with_percent_in_name_passes_cairn() {
    // A 0.97 bag from bagit.py lists `data/a%25b.txt` for a file literally named a%25b.txt.
    // Paths in pre-1.0 bags are never %25-encoded, so cairn must not decode it to a%b.txt.
    let (_tmp, bag) = py_bag(
        "cairn-pypercent",
        &[(b"a%25b.txt", b"literal\n"), (b"100%.txt", b"pct\n")],
        &[],
    );
    let bagit_txt = fs::read_to_string(bag.join("bagit.txt")).unwrap();
    assert!(bagit_txt.contains("BagIt-Version: 0.97"), "{bagit_txt}");
    validate(&bag, &[]).assert_code(0).assert_no_problems();
}
