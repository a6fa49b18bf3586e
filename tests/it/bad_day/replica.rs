//! Scenarios: replicas and repair (issue 27: repair finds good bytes wherever they are,
//! a replica is a place you chose, stray objects; issue 28 items 1 and 5: an item whose
//! key was the replica's own, temporary names left by a killed write). Folder replicas
//! (`file://`); the same code serves S3 (tests/replica_s3.rs).

use std::fs;
use std::path::{Path, PathBuf};

use crate::common;
use crate::life::{all_checks_pass, cairn_at, events_of, expect, make_archive, Out};

/// An archive of three items (tests/it/life.rs) with a folder replica `nas`, marked with
/// `replicate --init` and filled by `replicate`.
struct Setup {
    tmp: tempfile::TempDir,
    root: PathBuf,
    nas: PathBuf,
}

impl Setup {
    fn new(label: &str, pages: usize) -> Setup {
        let tmp = common::fresh_dir(label);
        let root = tmp.path().join("archive-root");
        make_archive(&root, pages);
        let nas = tmp.path().join("nas");
        add_replica(&root, "nas", &nas);
        fs::create_dir(&nas).expect("mkdir nas");
        expect(&root, ["replicate", "--init", "nas"], 0);
        expect(&root, ["replicate"], 0);
        Setup { tmp, root, nas }
    }

    fn run(&self, args: &[&str]) -> Out {
        cairn_at(&self.root, args, &[])
    }

    /// `restore --from nas` into a new folder (exit 0); returns the folder.
    fn restore(&self, what: &str) -> PathBuf {
        let restored = self.tmp.path().join("restored");
        let dir = restored.to_str().expect("utf-8");
        assert_code(&self.run(&["restore", "--from", "nas", dir]), 0, what);
        restored
    }
}

fn add_replica(root: &Path, name: &str, folder: &Path) {
    let path = root.join("cairn.toml");
    let mut text = fs::read_to_string(&path).expect("cairn.toml");
    text.push_str(&format!(
        "\n[[replica]]\nname = \"{name}\"\nurl = \"file://{}\"\n",
        folder.display()
    ));
    fs::write(&path, text).expect("write cairn.toml");
}

/// `cairn bag validate BAG` passes.
fn validate_bag(bag: &Path, context: &str) {
    let run = common::validate(bag, &[]);
    assert_eq!(run.code, Some(0), "{context}\n{}", run.describe());
}

fn assert_code(out: &Out, code: i32, what: &str) {
    assert_eq!(out.code, Some(code), "{what}\n{}", out.describe());
}

/// Issue 27: the good bytes of a kept version's file exist only under the replica's
/// current key for the item (replicated before a `revise` moved them to
/// archive/.versions/); the archive's kept copy is then damaged. Repair finds them by
/// digest, and every check passes after.
#[test]
fn repair_finds_good_bytes_under_the_replicas_current_key() {
    let s = Setup::new("bad-day-repair-by-digest", 2);
    let id = "cairn-000002";
    let new = s.tmp.path().join("new-note");
    fs::create_dir(&new).expect("mkdir");
    fs::write(new.join("b-note.txt"), "Sample: the note, retyped\n").expect("write");
    expect(
        &s.root,
        [
            "revise",
            id,
            "--from",
            new.to_str().expect("utf-8"),
            "--reason",
            "retyped",
        ],
        0,
    );
    let versions = s.root.join(format!("archive/.versions/{id}"));
    let kept = fs::read_dir(&versions)
        .expect("kept versions")
        .map(|e| e.expect("entry").path())
        .next()
        .expect("version 1 is kept");
    let damaged = kept.join("data/b-note.txt");
    assert!(damaged.is_file(), "version 1 is kept at {}", kept.display());
    fs::write(&damaged, "Sample: synthetic note on Tuol SleNg\n").expect("damage");
    let out = s.run(&["fixity", "--id", id]);
    assert_code(&out, 1, "fixity finds the damaged kept version");

    let out = s.run(&["repair", id, "--json"]);
    assert_code(&out, 0, "repair from the replica's current key");
    let report = out.json();
    let fixed = report["repaired"]
        .as_array()
        .expect("repaired")
        .iter()
        .find(|a| a["target"] == "archive")
        .unwrap_or_else(|| panic!("no archive file repaired: {report}"));
    assert_eq!(fixed["source"], "nas");
    assert_eq!(fixed["source_key"], format!("archive/{id}/data/b-note.txt"));
    assert_eq!(
        fs::read_to_string(&damaged).expect("read"),
        "Sample: synthetic note on Tuol Sleng\n"
    );
    assert_code(
        &s.run(&["fixity", "--id", id]),
        0,
        "fixity --id after repair",
    );
    validate_bag(&kept, "the kept version after repair");
    all_checks_pass(&s.root, "after repair");
    // The replica is then brought up to date; it is not sent back to repair.
    assert_code(&s.run(&["replicate"]), 0, "replicate after repair");
    assert_code(
        &s.run(&["fixity", "--replica", "nas", "--all"]),
        0,
        "fixity --replica after replicate",
    );
}

/// Issue 27: a replica root that is missing (a share that failed to mount) is never
/// created; one without this archive's marker, or with another archive's, is refused
/// by every command that uses it, exit 3, saying what to check.
#[test]
fn a_replica_root_must_exist_and_hold_this_archives_marker() {
    let tmp = common::fresh_dir("bad-day-replica-root");
    let root = tmp.path().join("archive-root");
    make_archive(&root, 2);
    let nas = tmp.path().join("mnt/nas");
    add_replica(&root, "nas", &nas);
    let restored = tmp.path().join("restored");
    let every = |what: &str, needle: &str| {
        for args in [
            vec!["replicate"],
            vec!["repair", "cairn-000002"],
            vec!["fixity", "--replica", "nas", "--all"],
            vec!["audit", "--replicas"],
            vec![
                "restore",
                "--from",
                "nas",
                restored.to_str().expect("utf-8"),
            ],
        ] {
            if args[0] == "restore" && what == "a foreign marker" {
                // Restore has only the configuration and this archive's records: with
                // no record of the replica and no archive.name set, it can only check
                // that a marker is there (docs/replicas.md).
                continue;
            }
            let out = cairn_at(&root, &args, &[]);
            assert_eq!(out.code, Some(3), "{what}: {args:?}\n{}", out.describe());
            assert!(
                out.stderr.contains(needle),
                "{what}: {args:?} does not say {needle:?}\n{}",
                out.describe()
            );
        }
        assert!(!restored.exists(), "{what}: restore left {restored:?}");
    };
    every("a missing root", "mounted");
    assert!(!nas.exists(), "the missing root was created");
    let out = cairn_at(&root, ["replicate", "--init", "nas"], &[]);
    assert_eq!(
        out.code,
        Some(3),
        "--init of a missing root\n{}",
        out.describe()
    );
    assert!(!nas.exists(), "--init created the missing root");

    fs::create_dir_all(&nas).expect("mkdir");
    every("a root without a marker", "cairn replicate --init nas");
    assert_eq!(
        fs::read_dir(&nas).expect("read").count(),
        0,
        "something was written to an unmarked root"
    );

    // Another archive marks the folder as its own: this one must not use it.
    let other = tmp.path().join("other-archive");
    make_archive(&other, 1);
    add_replica(&other, "nas", &nas);
    expect(&other, ["replicate", "--init", "nas"], 0);
    every("a foreign marker", "marker");
    let out = cairn_at(&root, ["replicate", "--init", "nas"], &[]);
    assert_eq!(
        out.code,
        Some(3),
        "--init over a foreign marker\n{}",
        out.describe()
    );
    assert!(out.stderr.contains("other-archive"), "{}", out.describe());
    assert!(
        !nas.join("archive").exists(),
        "the foreign replica was written to"
    );

    // A folder of its own, marked: everything works.
    let mine = tmp.path().join("mine");
    fs::create_dir(&mine).expect("mkdir");
    let env = [(
        "CAIRN_REPLICA_NAS_URL",
        format!("file://{}", mine.display()),
    )];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = cairn_at(&root, ["replicate", "--init", "nas"], &env);
    assert_eq!(out.code, Some(0), "--init\n{}", out.describe());
    for args in [
        vec!["replicate"],
        vec!["fixity", "--replica", "nas", "--all"],
        vec!["audit", "--replicas"],
    ] {
        let out = cairn_at(&root, &args, &env);
        assert_eq!(out.code, Some(0), "{args:?}\n{}", out.describe());
    }
    // The other archive's replica now names another UUID than this archive recorded.
    every(
        "the other archive's root, once this one has a record",
        "marker",
    );
}

/// Issue 27: a stray object on a replica is listed by repair, removed with
/// `--remove-unexpected`; a purge leaves no empty folder on the replica.
#[test]
fn stray_objects_are_listed_then_removed_and_purges_leave_no_folders() {
    let s = Setup::new("bad-day-replica-stray", 2);
    let in_item = s.nas.join("archive/cairn-000002/data/extra.txt");
    let no_item = s.nas.join("archive/cairn-000099/data/lost.txt");
    for p in [&in_item, &no_item] {
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, "not the archive's\n").expect("write");
    }
    assert_code(
        &s.run(&["fixity", "--replica", "nas", "--all"]),
        1,
        "fixity --replica reports the strays",
    );
    let out = s.run(&["repair", "cairn-000002"]);
    assert_code(&out, 1, "repair lists the item's stray");
    assert!(
        out.stderr.contains("archive/cairn-000002/data/extra.txt")
            && out.stderr.contains("--remove-unexpected"),
        "{}",
        out.describe()
    );
    assert!(in_item.is_file(), "removed without the flag");
    let out = s.run(&["repair", "cairn-000002", "--remove-unexpected"]);
    assert_code(&out, 0, "repair --remove-unexpected");
    assert!(!in_item.exists(), "the item's stray is still there");

    let out = s.run(&["repair"]);
    assert_code(&out, 1, "repair with no ID lists the replica's strays");
    assert!(
        out.stderr.contains("archive/cairn-000099/data/lost.txt"),
        "{}",
        out.describe()
    );
    assert!(no_item.is_file(), "removed without the flag");
    assert_code(&s.run(&["repair", "--remove-unexpected"]), 0, "remove");
    assert!(
        !s.nas.join("archive/cairn-000099").exists(),
        "the stray's folders are left"
    );
    assert_code(
        &s.run(&["fixity", "--replica", "nas", "--all"]),
        0,
        "fixity --replica after the removal",
    );

    expect(
        &s.root,
        [
            "withdraw",
            "cairn-000003",
            "--purge",
            "--yes",
            "--reason",
            "donor asked for destruction",
        ],
        0,
    );
    assert_code(&s.run(&["replicate"]), 0, "replicate after the purge");
    assert!(
        !s.nas.join("archive/cairn-000003").exists(),
        "the purged item's folders are left on the replica"
    );
    assert_code(&s.run(&["audit", "--replicas"]), 0, "audit --replicas");
}

/// Issue 28, item 1: an item whose identifier was `events.head` had its register entry
/// at manifests/events.head.json, where the replica kept its log's head, and one
/// overwrote the other. Two defences, each tested: ingest refuses identifiers that are
/// layout names (tests/it/bad_day/past.rs), and the replica keeps its own keys under
/// `.cairn/`, which no item's key can reach (identifiers never start with a dot).
#[test]
fn a_replicas_own_keys_are_out_of_every_items_reach() {
    let s = Setup::new("bad-day-events-head", 1);
    let intake = s.root.join("intake/head-item");
    fs::create_dir_all(&intake).expect("mkdir");
    fs::write(
        intake.join("f.txt"),
        "Sample: an item named like a log head\n",
    )
    .expect("write");
    fs::write(
        intake.join("cairn.dc.json"),
        r#"{"dc.title": "Sample: head", "dc.identifier": "events.head"}"#,
    )
    .expect("write");
    let refused = cairn_at(&s.root, ["ingest"], &[]);
    assert_eq!(refused.code, Some(1), "{}", refused.describe());
    assert!(!s.root.join("manifests/events.head.json").exists());
    fs::remove_dir_all(&intake).expect("rm");
    assert_code(&s.run(&["replicate"]), 0, "replicate");
    assert!(s.nas.join(".cairn/events.head.json").is_file());
    assert!(!s.nas.join("manifests/events.head.json").exists());
    // Every key an item has on the replica is under archive/ or manifests/.
    for entry in walk(&s.nas) {
        let rel = entry.strip_prefix(&s.nas).expect("under the root");
        let first = rel.components().next().map(|c| c.as_os_str().to_owned());
        assert!(
            matches!(
                first.as_deref().and_then(|f| f.to_str()),
                Some("archive" | "manifests" | ".cairn" | "cairn.toml")
            ),
            "an object outside the layout: {}",
            rel.display()
        );
    }
    let restored = s.restore("restore");
    assert_code(
        &cairn_at(&restored, ["audit"], &[]),
        0,
        "audit of the restored archive",
    );
}

/// Every file below `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Issue 28, item 1: a replica written before the head moved keeps it at
/// manifests/events.head.json; it still restores, and the next replicate moves it.
#[test]
fn a_replica_with_the_head_at_its_old_key_is_read_and_moved() {
    let s = Setup::new("bad-day-legacy-head", 1);
    let new = s.nas.join(".cairn/events.head.json");
    let old = s.nas.join("manifests/events.head.json");
    fs::rename(&new, &old).expect("move the head back");
    let restored = s.restore("restore from an old replica");
    assert!(!restored.join("manifests/events.head.json").exists());
    assert_code(
        &s.run(&["audit", "--replicas"]),
        0,
        "audit --replicas of an old replica",
    );
    assert_code(&s.run(&["replicate"]), 0, "replicate");
    assert!(new.is_file() && !old.exists(), "the head was not moved");
}

/// Issue 28, item 5: a replicate killed between writing `NAME#1` and renaming it leaves
/// the temporary file in a replica bag; `fixity --replica` runs the BagIt validator on
/// the replica's bags and says so; the next replicate removes it.
#[test]
fn temporary_names_are_found_and_cleaned_by_the_next_run() {
    let s = Setup::new("bad-day-replica-temp", 1);
    let bag = s.nas.join("archive/cairn-000002");
    let temp = bag.join("data/b-note.txt#1");
    fs::write(&temp, "Sample: half a n").expect("write");
    let out = s.run(&["fixity", "--replica", "nas", "--all"]);
    assert_code(&out, 1, "fixity --replica sees the invalid replica bag");
    assert!(out.stderr.contains("invalid-bag"), "{}", out.describe());
    let out = s.run(&["audit", "--replicas"]);
    assert_code(&out, 1, "audit --replicas sees the temporary file");
    assert!(out.stderr.contains("b-note.txt#1"), "{}", out.describe());
    assert_code(&s.run(&["replicate"]), 0, "replicate");
    assert!(!temp.exists(), "the temporary file is still there");
    validate_bag(&bag, "the replica's bag");
    assert_code(
        &s.run(&["fixity", "--replica", "nas", "--all"]),
        0,
        "fixity --replica after the cleanup",
    );
}

/// SIGKILL (an abort at a failpoint) at each step of repair: the rerun completes, and
/// the archive and the replica pass every check.
#[test]
fn repair_killed_at_each_step_is_completed_by_the_next_run() {
    const POINTS: [&str; 11] = [
        "repair-after-plan",
        "repair-after-stage",
        "repair-after-fetch",
        "repair-before-publish",
        "repair-mid-publish",
        "repair-after-publish",
        "repair-after-archive-event",
        "repair-after-replica-write",
        "repair-before-replica-event",
        "repair-after-replica-event",
        "repair-after-remove-unexpected",
    ];
    for point in POINTS {
        let s = Setup::new("bad-day-repair-kill", 4);
        let id = "cairn-000001";
        let page = |root: &Path, n: usize| {
            root.join(format!("archive/{id}/data/part-{}/page-{n:04}.txt", n % 2))
        };
        fs::write(page(&s.root, 0), "damaged in the archive\n").expect("damage");
        fs::remove_file(page(&s.root, 2)).expect("lose");
        fs::write(page(&s.nas, 1), "damaged on the replica\n").expect("damage");
        fs::remove_file(page(&s.nas, 3)).expect("lose");
        let stray = s.nas.join(format!("archive/{id}/data/stray.txt"));
        fs::write(&stray, "not the archive's\n").expect("stray");

        let args = ["repair", id, "--remove-unexpected"];
        let out = cairn_at(&s.root, args, &[("CAIRN_FAILPOINT", point)]);
        assert_eq!(
            out.code,
            None,
            "{point}: repair was not killed\n{}",
            out.describe()
        );
        let out = cairn_at(&s.root, args, &[]);
        assert_eq!(out.code, Some(0), "{point}: the rerun\n{}", out.describe());
        assert!(!stray.exists(), "{point}: the stray object is left");
        // Every file repaired in the archive is named by a recovery event, however the
        // first run was cut short.
        let logged: String = events_of(&s.root, id, "recovery")
            .iter()
            .filter(|e| e["data"]["target"] == "archive")
            .map(|e| e["detail"].as_str().unwrap_or_default().to_string())
            .collect();
        for n in [0, 2] {
            let key = format!("archive/{id}/data/part-0/page-{n:04}.txt");
            assert!(
                logged.contains(&key),
                "{point}: no recovery event names {key}: {logged}"
            );
        }
        all_checks_pass(&s.root, point);
        let out = cairn_at(&s.root, ["fixity", "--replica", "nas", "--all"], &[]);
        assert_eq!(
            out.code,
            Some(0),
            "{point}: fixity --replica\n{}",
            out.describe()
        );
        let out = cairn_at(&s.root, ["audit", "--replicas"], &[]);
        assert_eq!(
            out.code,
            Some(0),
            "{point}: audit --replicas\n{}",
            out.describe()
        );
        validate_bag(&s.nas.join(format!("archive/{id}")), point);
    }
}
