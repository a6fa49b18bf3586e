//! Issue 12, blind spots: losses and tampering that the checks must see, driving the
//! real binary on fresh archives of the sample collection.

use crate::common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/s21");

/// An archive holding the six sample items (cairn-000001 … cairn-000006).
fn sample_archive(label: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = fresh_dir(label);
    let root = tmp.path().join("arch");
    run_cairn(["init".as_ref(), root.as_os_str()]).assert_code(0);
    let intake = tmp.path().join("incoming");
    copy_tree(Path::new(SAMPLES), &intake);
    run_cairn([
        "ingest".as_ref(),
        "--root".as_ref(),
        root.as_os_str(),
        "--intake".as_ref(),
        intake.as_os_str(),
    ])
    .assert_code(0);
    (tmp, root)
}

fn at(root: &Path, args: &[&str]) -> Run {
    let mut all: Vec<std::ffi::OsString> = Vec::new();
    let mut it = args.iter();
    if let Some(cmd) = it.next() {
        all.push(cmd.into());
    }
    all.push("--root".into());
    all.push(root.into());
    all.extend(it.map(|a| a.into()));
    run_cairn(all)
}

fn log_of(root: &Path) -> Vec<u8> {
    fs::read(root.join("manifests/events.jsonl")).unwrap()
}

fn last_event(root: &Path) -> serde_json::Value {
    let log = log_of(root);
    let last = log.split(|&b| b == b'\n').rfind(|l| !l.is_empty()).unwrap();
    serde_json::from_slice(last).unwrap()
}

#[test]
fn audit_reports_an_item_whose_bag_and_register_entry_were_deleted_by_hand() {
    let (_tmp, root) = sample_archive("vanished");
    at(&root, &["audit"]).assert_code(0);
    fs::remove_dir_all(root.join("archive/cairn-000002")).unwrap();
    fs::remove_file(root.join("manifests/cairn-000002.json")).unwrap();
    let r = at(&root, &["audit"]);
    r.assert_code(1);
    let text = format!("{}{}", r.stdout, r.stderr);
    assert!(
        text.lines()
            .any(|l| l.contains("vanished") && l.contains("cairn-000002")),
        "audit must name cairn-000002 as vanished\n{}",
        r.describe()
    );
    let r = at(&root, &["audit", "--json"]);
    r.assert_code(1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let kinds: Vec<(&str, &str)> = v["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["kind"].as_str().unwrap(), d["id"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, vec![("vanished", "cairn-000002")], "{}", r.stdout);
}

#[test]
fn fixity_checks_and_reports_but_appends_nothing_to_a_broken_chain() {
    let (_tmp, root) = sample_archive("broken-chain");
    // Edit line 2 (an event about cairn-000001): line 3's link no longer holds.
    let log = log_of(&root);
    let mut lines: Vec<String> = String::from_utf8(log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(lines[1].contains("cairn-000001"), "{}", lines[1]);
    let object: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
    let object = object["object"].as_str().unwrap().to_string();
    lines[1] = lines[1].replacen("success", "succes5", 1);
    let edited = lines.join("\n") + "\n";
    fs::write(root.join("manifests/events.jsonl"), &edited).unwrap();

    let r = at(&root, &["fixity", "--all"]);
    r.assert_code(1);
    assert!(
        r.stderr.contains("broken at line 3") && r.stderr.contains(&format!("object {object}")),
        "fixity must report the break with its line and object\n{}",
        r.describe()
    );
    for i in 1..=6 {
        assert!(
            r.stdout.contains(&format!("ok      cairn-00000{i}")),
            "the bags are still checked and reported\n{}",
            r.describe()
        );
    }
    assert_eq!(
        log_of(&root),
        edited.as_bytes(),
        "nothing may be appended to a broken chain"
    );
    // Export appends too: it refuses as well.
    let zip = root.parent().unwrap().join("out.zip");
    let r = run_cairn([
        "export".as_ref(),
        "--root".as_ref(),
        root.as_os_str(),
        "cairn-000001".as_ref(),
        "--zip".as_ref(),
        zip.as_os_str(),
    ]);
    r.assert_code(1);
    assert!(
        r.stderr.contains("chain is broken at line 3"),
        "{}",
        r.describe()
    );
    assert!(!zip.exists());
    assert_eq!(log_of(&root), edited.as_bytes());
}

#[test]
fn a_pretend_clock_never_reaches_the_log_and_audit_flags_times_out_of_order() {
    let (_tmp, root) = sample_archive("pretend-clock");
    let before = log_of(&root);
    // --now without --dry-run is refused before anything runs.
    let r = at(&root, &["fixity", "--all", "--now", "2031-01-01T00:00:00Z"]);
    r.assert_code(2);
    assert!(r.stderr.contains("--dry-run"), "{}", r.describe());
    assert_eq!(log_of(&root), before);
    // With --dry-run: checked and reported, nothing logged.
    let r = at(
        &root,
        &[
            "fixity",
            "--due",
            "--dry-run",
            "--now",
            "2031-01-01T00:00:00Z",
        ],
    );
    r.assert_code(0);
    assert!(
        r.stdout.contains("ok      cairn-000001"),
        "{}",
        r.describe()
    );
    assert_eq!(log_of(&root), before);
    at(&root, &["audit"]).assert_code(0);

    // A log with events from the future (written by the test build's clock, which a
    // release build does not have), then one from now: both are flagged.
    let mut cmd = cairn_cmd();
    cmd.args(["fixity", "--all", "--root"])
        .arg(&root)
        .env("CAIRN_TEST_NOW", "2031-01-01T00:00:00Z");
    assert!(cmd.output().unwrap().status.success());
    at(&root, &["fixity", "--all"]).assert_code(0);
    let r = at(&root, &["audit", "--json"]);
    r.assert_code(1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let kinds: Vec<&str> = v["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["event-time-in-future", "event-time-backwards"],
        "{}",
        r.stdout
    );
    let r = at(&root, &["audit"]);
    r.assert_code(1);
    assert!(
        r.stderr.contains("2031-01-01") && r.stderr.contains("and 5 more events after it"),
        "{}",
        r.describe()
    );
}

#[test]
fn export_refuses_a_damaged_bag_and_force_records_the_failure() {
    let (tmp, root) = sample_archive("export-damaged");
    let zip = tmp.path().join("ok.zip");
    let export = |id: &str, zip: &Path, force: bool| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "export".into(),
            "--root".into(),
            root.clone().into(),
            id.into(),
            "--zip".into(),
            zip.into(),
        ];
        if force {
            args.push("--force".into());
        }
        run_cairn(args)
    };
    export("cairn-000002", &zip, false).assert_code(0);
    assert_eq!(last_event(&root)["outcome"], "success");

    // Same size, other bytes: only a full digest check sees it.
    let note = root.join("archive/cairn-000001/data/note.txt");
    let mut bytes = fs::read(&note).unwrap();
    bytes[10] ^= 0x20;
    fs::write(&note, &bytes).unwrap();
    let before = log_of(&root);
    let bad = tmp.path().join("bad.zip");
    let r = export("cairn-000001", &bad, false);
    r.assert_code(1);
    assert!(
        r.stderr.contains("changed: data/note.txt") && r.stderr.contains("--force"),
        "export must name what is wrong\n{}",
        r.describe()
    );
    assert!(!bad.exists(), "no zip of a damaged bag");
    assert_eq!(log_of(&root), before, "a refused export logs nothing");

    let r = export("cairn-000001", &bad, true);
    r.assert_code(0);
    assert!(bad.exists());
    assert!(r.stderr.contains("--force"), "{}", r.describe());
    let e = last_event(&root);
    assert_eq!(e["type"], "export", "{e}");
    assert_eq!(e["outcome"], "failure", "{e}");
    assert_eq!(e["data"]["forced"], true, "{e}");
    assert_eq!(e["data"]["failures"][0]["path"], "data/note.txt", "{e}");
}

#[test]
fn verify_against_another_items_entry_says_so_first() {
    let (_tmp, root) = sample_archive("verify-other");
    let bag = root.join("archive/cairn-000001");
    let entry = root.join("manifests/cairn-000002.json");
    let r = run_cairn([
        "verify".as_ref(),
        bag.as_os_str(),
        "--against".as_ref(),
        entry.as_os_str(),
    ]);
    r.assert_code(1);
    let first = r.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("different item")
            && first.contains("cairn-000002")
            && first.contains("cairn-000001")
            && first.contains("Payload-Oxum"),
        "the first line must say the entry describes a different item\n{}",
        r.describe()
    );
    // The right entry: no such line, and a pass.
    let own = root.join("manifests/cairn-000001.json");
    let r = run_cairn([
        "verify".as_ref(),
        bag.as_os_str(),
        "--against".as_ref(),
        own.as_os_str(),
    ]);
    r.assert_code(0);
    assert!(!r.stderr.contains("different item"));
}

#[test]
fn importing_the_same_bag_twice_is_already_archived_and_writes_nothing() {
    let (tmp, root) = sample_archive("import-twice");
    // A zip of an archived bag, as export writes it, under another name: a copy coming
    // back. Its External-Identifier is cairn-000003, already taken by that very item.
    let zip = tmp.path().join("copy.zip");
    run_cairn([
        "export".as_ref(),
        "--root".as_ref(),
        root.as_os_str(),
        "cairn-000003".as_ref(),
        "--zip".as_ref(),
        zip.as_os_str(),
    ])
    .assert_code(0);
    // The lock files say who held them last; everything else must stay as it was.
    let state = |root: &Path| {
        let mut m = snapshot(&root.join("manifests"));
        m.retain(|p, _| !p.to_string_lossy().ends_with("lock"));
        (snapshot(&root.join("archive")), m)
    };
    let before = state(&root);
    for _ in 0..2 {
        let r = run_cairn([
            "import".as_ref(),
            "--root".as_ref(),
            root.as_os_str(),
            zip.as_os_str(),
        ]);
        r.assert_code(0);
        assert!(
            r.stdout.contains("already archived as cairn-000003"),
            "{}",
            r.describe()
        );
        let after = state(&root);
        assert!(
            before == after,
            "nothing may be written\n{}{}",
            snapshot_diff(&before.0, &after.0),
            snapshot_diff(&before.1, &after.1)
        );
    }

    // Another payload under a taken External-Identifier: imported under a generated
    // identifier, and the report says why.
    let src = tmp.path().join("other-bag");
    write_file(&src, "x.txt", b"another payload\n");
    let bag = tmp.path().join("other");
    run_cairn([
        "bag".as_ref(),
        "create".as_ref(),
        src.as_os_str(),
        "--output".as_ref(),
        bag.as_os_str(),
        "--info".as_ref(),
        "External-Identifier: cairn-000003".as_ref(),
    ])
    .assert_code(0);
    let r = run_cairn([
        "import".as_ref(),
        "--root".as_ref(),
        root.as_os_str(),
        bag.as_os_str(),
    ]);
    r.assert_code(0);
    assert!(
        r.stdout.contains("as cairn-000007")
            && r.stderr
                .contains("External-Identifier \"cairn-000003\" is taken"),
        "{}",
        r.describe()
    );
}
