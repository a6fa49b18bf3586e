//! Crash safety of `cairn bag create`: the process is aborted (no cleanup, as a kill or
//! power cut would stop it) at each step through `CAIRN_FAILPOINT`, and then:
//! - copy mode: the destination does not exist and the source is untouched;
//! - in place: running the same command again restores every name and byte and makes
//!   a valid bag.
//!
//! See docs/crash-safety.md and docs/in-place-bagging.md.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

use crate::common;
use common::snapshot;

fn cairn(args: &[&OsStr], failpoint: Option<&str>) -> Output {
    let mut cmd = Command::from_std(common::cairn());
    cmd.args(args);
    if let Some(fp) = failpoint {
        cmd.env("CAIRN_FAILPOINT", fp);
    }
    cmd.timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("cairn runs")
}

/// A source tree with the names that make bagging hard: a newline, `%`, Khmer, an NFD
/// accent, a top-level folder called `data`, nesting, an empty file, an empty folder.
fn make_source(root: &Path) {
    let files: &[(&[u8], &[u8])] = &[
        (
            b"portrait 001.txt",
            b"Sample: placeholder portrait caption, S-21, 1977\n",
        ),
        (b"100%.txt", b"percent\n"),
        (b"line\nbreak.txt", b"newline in the name\n"),
        ("ទួលស្លែង.txt".as_bytes(), "ទួលស្លែង — Tuol Sleng\n".as_bytes()),
        (b"e\xcc\x81cole.txt", b"NFD e + combining acute\n"),
        (b"data/inner.txt", b"a user folder named data\n"),
        (b"pages/page-001.txt", b"page one\n"),
        (b"pages/deeper/page-002.txt", b"page two\n"),
        (b"empty", b""),
    ];
    for (name, content) in files {
        let p = root.join(OsStr::from_bytes(name));
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, content).expect("write");
    }
    // Enough files that the moving phase has several steps.
    for i in 0..40 {
        fs::write(root.join(format!("scan-{i:03}.txt")), format!("scan {i}\n")).expect("write");
    }
    fs::create_dir_all(root.join("empty-folder")).expect("mkdir");
}

fn was_killed(out: &Output) -> bool {
    // abort() ends the process by a signal: no exit code.
    out.status.code().is_none()
}

#[test]
fn in_place_recovers_from_a_crash_at_every_step() {
    let failpoints = [
        "in-place-before-journal",
        "in-place-journal-written",
        "in-place-moved-one",
        "in-place-data-published",
        "create-tag-file",
        "in-place-before-journal-removed",
    ];
    for fp in failpoints {
        let tmp = common::fresh_dir("inplace");
        let src = tmp.path().join("item");
        fs::create_dir(&src).expect("mkdir");
        make_source(&src);
        let before = snapshot(&src);

        let crashed = cairn(
            &[OsStr::new("bag"), OsStr::new("create"), src.as_os_str()],
            Some(fp),
        );
        assert!(
            was_killed(&crashed),
            "{fp}: the failpoint did not fire: {crashed:?}"
        );
        if fp != "in-place-before-journal-removed" {
            assert!(
                !src.join("bagit.txt").exists(),
                "{fp}: an interrupted bagging must not leave a bagit.txt claiming a bag"
            );
        }

        let rerun = cairn(
            &[OsStr::new("bag"), OsStr::new("create"), src.as_os_str()],
            None,
        );
        assert_eq!(
            rerun.status.code(),
            Some(0),
            "{fp}: rerun failed: {rerun:?}"
        );

        let valid = cairn(
            &[OsStr::new("bag"), OsStr::new("validate"), src.as_os_str()],
            None,
        );
        assert_eq!(
            valid.status.code(),
            Some(0),
            "{fp}: bag invalid after recovery: {valid:?}"
        );
        let after = snapshot(&src.join("data"));
        assert_eq!(after, before, "{fp}: names or bytes differ after recovery");
        let leftovers: Vec<PathBuf> = fs::read_dir(&src)
            .expect("read_dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.as_bytes().starts_with(b".cairn"))
            })
            .collect();
        assert!(
            leftovers.is_empty(),
            "{fp}: journal or moving folder left behind: {leftovers:?}"
        );
    }
}

#[test]
fn copy_mode_leaves_no_bag_and_an_untouched_source_when_killed() {
    for fp in [
        "create-copy-file",
        "create-tag-file",
        "create-before-publish",
    ] {
        let tmp = common::fresh_dir("copy");
        let src = tmp.path().join("item");
        fs::create_dir(&src).expect("mkdir");
        make_source(&src);
        let before = snapshot(&src);
        let dest = tmp.path().join("bag");

        let crashed = cairn(
            &[
                OsStr::new("bag"),
                OsStr::new("create"),
                src.as_os_str(),
                OsStr::new("--output"),
                dest.as_os_str(),
            ],
            Some(fp),
        );
        assert!(
            was_killed(&crashed),
            "{fp}: the failpoint did not fire: {crashed:?}"
        );
        assert!(
            !dest.exists(),
            "{fp}: a bag appeared at the destination after a crash"
        );
        assert_eq!(snapshot(&src), before, "{fp}: the source changed");

        let rerun = cairn(
            &[
                OsStr::new("bag"),
                OsStr::new("create"),
                src.as_os_str(),
                OsStr::new("--output"),
                dest.as_os_str(),
            ],
            None,
        );
        assert_eq!(
            rerun.status.code(),
            Some(0),
            "{fp}: rerun failed: {rerun:?}"
        );
        let valid = cairn(
            &[OsStr::new("bag"), OsStr::new("validate"), dest.as_os_str()],
            None,
        );
        assert_eq!(valid.status.code(), Some(0), "{fp}: {valid:?}");
        assert_eq!(
            snapshot(&dest.join("data")),
            before,
            "{fp}: payload differs from source"
        );
    }
}

#[test]
fn in_place_refuses_a_folder_that_is_already_a_bag() {
    let tmp = common::fresh_dir("twice");
    let src = tmp.path().join("item");
    fs::create_dir(&src).expect("mkdir");
    make_source(&src);
    let first = cairn(
        &[OsStr::new("bag"), OsStr::new("create"), src.as_os_str()],
        None,
    );
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let before = snapshot(&src);
    let second = cairn(
        &[OsStr::new("bag"), OsStr::new("create"), src.as_os_str()],
        None,
    );
    assert_eq!(second.status.code(), Some(2), "{second:?}");
    assert!(String::from_utf8_lossy(&second.stderr).contains("already has a bagit.txt"));
    assert_eq!(snapshot(&src), before, "a refused run changed the bag");
}
