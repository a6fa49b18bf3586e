//! Large payload files are hashed through a memory map (src/fs/mapped.rs). A file that
//! shrinks while it is mapped would raise SIGBUS on the next page read; the check must
//! report the file as changed, never crash. The shrink is made deterministic by the
//! `hash-mapped-truncate` failpoint, which truncates the file to half its length right
//! after it was mapped and before its pages are read.

use crate::common;

use common::*;
use std::fs;

const BIG: usize = 3 << 20;

fn big_bag(label: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = fresh_dir(label);
    let src = tmp.path().join("src");
    let bytes: Vec<u8> = (0..BIG).map(|i| (i * 7 % 253) as u8).collect();
    write_file(&src, "scan.tif", &bytes);
    write_file(&src, "note.txt", b"a small file, read, not mapped\n");
    let bag = tmp.path().join("bag");
    create(&src, &bag, &[]).assert_code(0);
    (tmp, bag)
}

fn validate_with_failpoint(bag: &std::path::Path, failpoint: &str) -> Run {
    let out = cairn_cmd()
        .env("CAIRN_FAILPOINT", failpoint)
        .args(["bag", "validate"])
        .arg(bag)
        .output()
        .expect("run cairn");
    Run {
        cmdline: format!("CAIRN_FAILPOINT={failpoint} cairn bag validate BAG"),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_mapped_file_verifies_with_every_algorithm() {
    let (_tmp, bag) = big_bag("mapped-ok");
    // Both default algorithms (BLAKE3 and SHA-512) from the one mapping.
    validate(&bag, &[]).assert_code(0).assert_no_problems();
    // A flipped byte past the first 256 KiB (in the mapped part) is found.
    let path = bag.join("data/scan.tif");
    let mut bytes = fs::read(&path).unwrap();
    bytes[BIG - 10] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let run = validate(&bag, &[]);
    run.assert_code(1);
    assert!(
        run.has_problem("data/scan.tif", "digest-mismatch"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_file_truncated_while_mapped_is_reported_not_a_crash() {
    let (_tmp, bag) = big_bag("mapped-truncate");
    let run = validate_with_failpoint(&bag, "hash-mapped-truncate");
    // Exit 1 (a problem in the data), not death by SIGBUS (no exit code).
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains("changed while it was being read"),
        "{}",
        run.describe()
    );
    assert!(
        run.has_problem_like("data/scan.tif", "unreadable"),
        "{}",
        run.describe()
    );
    // The file really is shorter now, and a check without the failpoint says so.
    assert_eq!(
        fs::metadata(bag.join("data/scan.tif")).unwrap().len() as usize,
        (BIG - 256 * 1024) / 2 + 256 * 1024
    );
    let again = validate(&bag, &[]);
    again.assert_code(1);
    assert!(
        again.has_problem("data/scan.tif", "digest-mismatch"),
        "{}",
        again.describe()
    );
}
