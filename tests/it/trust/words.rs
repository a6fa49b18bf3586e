//! Issue 12, words and exit codes: one rule for a name that does not exist (exit 2,
//! README "Exit codes"), plurals, the summary naming the archive, and a manual page for
//! every command with the version. Drives the real binary.

use crate::common;

use common::*;
use std::path::Path;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/s21");

#[test]
fn a_name_that_does_not_exist_is_exit_2_for_every_command() {
    let tmp = fresh_dir("words-names");
    let root = tmp.path().join("s21-archive");
    run_cairn(["init".as_ref(), root.as_os_str()]).assert_code(0);
    let r = root.to_str().unwrap();
    let nosuch = tmp.path().join("nosuch");
    let n = nosuch.to_str().unwrap();
    let entry = tmp.path().join("nosuch.json");
    let cases: Vec<Vec<&str>> = vec![
        vec!["show", "--root", r, "nope"],
        vec!["fixity", "--root", r, "--id", "nope"],
        vec!["export", "--root", r, "nope", "--zip", "x.zip"],
        vec!["bag", "validate", n],
        vec!["bag", "create", n, "--output", "out"],
        vec!["verify", n],
        vec!["verify", SAMPLES, "--against", entry.to_str().unwrap()],
        vec!["import", "--root", r, n],
        vec!["ingest", "--root", r, "--intake", n],
    ];
    for args in cases {
        let run = run_cairn_in(Some(tmp.path()), &args);
        assert_eq!(run.code, Some(2), "{}", run.describe());
        assert!(
            run.stderr.starts_with(&format!("cairn: {}", args[0])) && run.stderr.contains("no "),
            "{}",
            run.describe()
        );
    }
}

#[test]
fn plurals_and_the_archive_named_in_the_summary() {
    let tmp = fresh_dir("words-plurals");
    let root = tmp.path().join("s21-archive");
    run_cairn(["init".as_ref(), root.as_os_str()]).assert_code(0);
    copy_tree(Path::new(SAMPLES), &tmp.path().join("incoming"));
    // Run inside the archive: the summary names it, never ".".
    let run = run_cairn_in(Some(&root), ["ingest", "--intake", "../incoming"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("ingested choeung-ek as cairn-000001: 1 file, 603 bytes"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout
            .contains("s21-archive: ingested 6, already archived 0, refused 0"),
        "{}",
        run.describe()
    );
    assert!(!run.stdout.contains("1 files"), "{}", run.describe());
    let run = run_cairn_in(Some(&root), ["fixity", "--all"]);
    run.assert_code(0);
    assert!(run
        .stdout
        .contains("ok      cairn-000001  1 file, 603 bytes"));
    assert!(!run.stdout.contains("1 files"), "{}", run.describe());
    let run = run_cairn_in(
        Some(&root),
        [
            "verify",
            "archive/cairn-000001",
            "--against",
            "manifests/cairn-000001.json",
        ],
    );
    run.assert_code(0);
    assert!(
        run.stdout.contains("verified: 1 file, 603 bytes"),
        "{}",
        run.describe()
    );
}

#[test]
fn the_manual_has_a_page_for_every_nested_command_with_the_version() {
    let run = run_cairn(["man"]);
    run.assert_code(0);
    let version = env!("CARGO_PKG_VERSION");
    let headers: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with(".TH "))
        .collect();
    for page in [
        "cairn",
        "cairn-bag",
        "cairn-bag-create",
        "cairn-bag-validate",
        "cairn-fixity",
    ] {
        let th = headers
            .iter()
            .find(|h| h.starts_with(&format!(".TH {page} ")))
            .unwrap_or_else(|| panic!("no page {page}: {headers:?}"));
        assert!(th.contains(version), "{th}");
    }
}

#[test]
fn help_lists_own_options_first_an_example_and_the_exit_codes_that_apply() {
    for cmd in [
        &["init"][..],
        &["ingest"],
        &["show"],
        &["list"],
        &["fixity"],
        &["audit"],
        &["verify"],
        &["export"],
        &["import"],
        &["config"],
        &["bag", "create"],
        &["bag", "validate"],
    ] {
        let mut args: Vec<&str> = cmd.to_vec();
        args.push("--help");
        let run = run_cairn(&args);
        run.assert_code(0);
        let h = &run.stdout;
        let own = h
            .find("\nOptions:")
            .unwrap_or_else(|| panic!("{cmd:?}\n{h}"));
        let global = h
            .find("\nGlobal options:")
            .unwrap_or_else(|| panic!("{cmd:?}\n{h}"));
        assert!(own < global, "{cmd:?}: own options first\n{h}");
        assert!(
            h[own..global].contains("-h, --help") && !h[own..global].contains("--quiet"),
            "{cmd:?}\n{h}"
        );
        assert!(h.contains("\nExample"), "{cmd:?}: an example\n{h}");
        // The exit codes of this command, not bag validation's words everywhere.
        assert!(h.contains("\nExit codes:"), "{cmd:?}\n{h}");
        if cmd[0] != "bag" || cmd.get(1) != Some(&"validate") {
            assert!(!h.contains("the bag is valid (warnings"), "{cmd:?}\n{h}");
        }
    }
}
