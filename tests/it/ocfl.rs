//! `cairn ocfl export`: an archive with ingested, amended, revised and withdrawn items
//! written as an OCFL 1.1 storage root, then read by the peers: ocfl-py's validator
//! (`ocfl-validate.py`) and rocfl (`ls`, `log`, `cat`, `validate`). A rerun writes
//! nothing; an amend adds exactly one version; a run killed at each step is finished
//! by the next, byte for byte as a run never killed; damage is refused, not exported.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common;
use crate::life::{expect, init};

/// The peers, when installed.
pub(crate) fn ocfl_validate() -> Option<PathBuf> {
    which("ocfl-validate.py").or_else(|| which("ocfl-validate"))
}

fn rocfl() -> Option<PathBuf> {
    which("rocfl").or_else(|| {
        let home = std::env::var_os("HOME")?;
        let p = Path::new(&home).join(".cargo/bin/rocfl");
        p.is_file().then_some(p)
    })
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// An archive of four items: cairn-000001 ingested, amended, revised, amended (four
/// register entry versions, two content versions); cairn-000002 as ingested;
/// cairn-000003 withdrawn into quarantine; cairn-000004 withdrawn and purged.
pub(crate) fn make_archive(root: &Path) {
    init(root);
    let intake = root.join("intake");
    common::write_file(&intake, "a/sub/p1.txt", b"Sample: page one\n");
    common::write_file(&intake, "a/p2.txt", b"Sample: page two\n");
    common::write_file(&intake, "b.txt", b"Sample: a note\n");
    common::write_file(&intake, "c.txt", b"Sample: to withdraw\n");
    common::write_file(&intake, "d.txt", b"Sample: to purge\n");
    common::write_file(
        &intake,
        "metadata.csv",
        b"filename,dc.title,dc.date,dc.type,dc.language\n\
          a,Sample: register,1977,Text,en\n\
          b.txt,Sample: note,1979,Text,en\n\
          c.txt,Sample: withdrawn,1979,Text,en\n\
          d.txt,Sample: purged,1979,Text,en\n",
    );
    expect(root, ["ingest"], 0);
    let id1 = "cairn-000001";
    expect(
        root,
        [
            "amend",
            id1,
            "--set",
            "dc.title=Sample: corrected",
            "--reason",
            "typo",
        ],
        0,
    );
    let rev = root.join("rev");
    common::write_file(&rev, "sub/p1.txt", b"Sample: page one\n");
    common::write_file(&rev, "p3.txt", b"Sample: page three\n");
    let rev_s = rev.to_str().expect("utf-8 path");
    expect(
        root,
        ["revise", id1, "--from", rev_s, "--reason", "new scan"],
        0,
    );
    expect(
        root,
        [
            "amend",
            id1,
            "--set",
            "dc.title=Sample: final",
            "--reason",
            "again",
        ],
        0,
    );
    expect(
        root,
        ["withdraw", "cairn-000003", "--reason", "donor asked"],
        0,
    );
    expect(
        root,
        [
            "withdraw",
            "cairn-000004",
            "--reason",
            "court order",
            "--purge",
            "--yes",
        ],
        0,
    );
}

/// A fresh folder with the archive of [`make_archive`] in it, at `a/`.
fn archive(label: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = common::fresh_dir(label);
    let root = tmp.path().join("a");
    make_archive(&root);
    (tmp, root)
}

/// `cairn ocfl export DEST` with `extra` arguments and `env`.
fn export(root: &Path, dest: &Path, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = common::cairn();
    cmd.arg("ocfl")
        .arg("export")
        .arg(dest)
        .args(extra)
        .arg("--root")
        .arg(root);
    for (k, v) in env {
        cmd.env(k, v);
    }
    common::run(&mut cmd)
}

fn export_ok(root: &Path, dest: &Path, extra: &[&str]) -> Value {
    let mut args = extra.to_vec();
    args.push("--json");
    let out = export(root, dest, &args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

/// The object's inventory (the object root's).
fn inventory(dest: &Path, object: &Value) -> Value {
    let path = dest
        .join(object["path"].as_str().expect("path"))
        .join("inventory.json");
    serde_json::from_slice(&fs::read(&path).expect("inventory")).expect("inventory JSON")
}

fn object<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report:#}"))
}

/// The inventory of every object under the storage root `dest` (a folder holding an
/// object declaration), by the object's id.
fn inventories(dest: &Path) -> std::collections::BTreeMap<String, Value> {
    walkdir::WalkDir::new(dest)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_name() == "0=ocfl_object_1.1")
        .map(|e| {
            let path = e.path().with_file_name("inventory.json");
            let inv: Value =
                serde_json::from_slice(&fs::read(&path).expect("inventory")).expect("JSON");
            (inv["id"].as_str().expect("id").to_string(), inv)
        })
        .collect()
}

/// Every (version, logical path, sha512) of an inventory.
fn states(inv: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (v, block) in inv["versions"].as_object().expect("versions") {
        for (digest, paths) in block["state"].as_object().expect("state") {
            for p in paths.as_array().expect("paths") {
                out.push((
                    v.clone(),
                    p.as_str().expect("path").to_string(),
                    digest.clone(),
                ));
            }
        }
    }
    out
}

#[test]
fn the_export_maps_each_entry_version_to_an_ocfl_version() {
    let (tmp, root) = archive("ocfl-map");
    let dest = tmp.path().join("ocfl");
    let report = export_ok(&root, &dest, &[]);
    assert_eq!(report["layout"], "0003-hash-and-id-n-tuple-storage-layout");
    assert_eq!(report["created"], 3, "{report:#}");
    let purged = object(&report, "cairn-000004");
    assert_eq!(purged["status"], "skipped");
    assert!(purged.get("problem").is_none(), "{purged:#}");
    assert!(!dest.join(purged["path"].as_str().expect("path")).exists());
    let layout: Value =
        serde_json::from_slice(&fs::read(dest.join("ocfl_layout.json")).expect("layout"))
            .expect("json");
    assert_eq!(
        layout["extension"],
        "0003-hash-and-id-n-tuple-storage-layout"
    );
    assert!(dest
        .join("extensions/0003-hash-and-id-n-tuple-storage-layout/config.json")
        .is_file());
    assert_eq!(
        fs::read(dest.join("0=ocfl_1.1")).expect("declaration"),
        b"ocfl_1.1\n"
    );
    assert!(
        !dest.join("extensions/cairn-export").exists(),
        "staging left behind"
    );

    let inv = inventory(&dest, object(&report, "cairn-000001"));
    assert_eq!(inv["id"], "cairn-000001");
    assert_eq!(inv["head"], "v4");
    assert_eq!(inv["digestAlgorithm"], "sha512");
    let v2 = &inv["versions"]["v2"];
    assert_eq!(v2["user"]["name"], "test-archivist");
    assert!(
        v2["message"].as_str().expect("message").contains("typo"),
        "{v2:#}"
    );
    // Each version's register entry is manifests/history/ID/N.json (or ID.json), byte
    // for byte, and its payload is that entry's files with their sha512.
    let st = states(&inv);
    for n in 1..=4u32 {
        let v = format!("v{n}");
        let entry_path = if n == 4 {
            root.join("manifests/cairn-000001.json")
        } else {
            root.join(format!("manifests/history/cairn-000001/{n:06}.json"))
        };
        let entry_bytes = fs::read(&entry_path).expect("entry");
        let entry: Value = serde_json::from_slice(&entry_bytes).expect("entry JSON");
        let reg = st
            .iter()
            .find(|(ver, p, _)| *ver == v && p == "cairn/register-entry.json")
            .expect("register entry in state");
        assert_eq!(reg.2, common::sha512_hex(&entry_bytes), "{v}");
        let mut want: Vec<(String, String)> = entry["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().expect("path").to_string(),
                    f["digests"]["sha512"].as_str().expect("sha512").to_string(),
                )
            })
            .collect();
        want.sort();
        let mut have: Vec<(String, String)> = st
            .iter()
            .filter(|(ver, p, _)| *ver == v && p.starts_with("data/"))
            .map(|(_, p, d)| (p.clone(), d.clone()))
            .collect();
        have.sort();
        assert_eq!(have, want, "{v}");
    }
    // Content stored once: p1.txt is in every version, in v1's content only.
    let manifest = inv["manifest"].as_object().expect("manifest");
    let p1 = common::sha512_hex(b"Sample: page one\n");
    assert_eq!(
        manifest[&p1],
        serde_json::json!(["v1/content/data/sub/p1.txt"])
    );

    // The withdrawn item: its last version holds the tombstone and no content.
    let inv = inventory(&dest, object(&report, "cairn-000003"));
    assert_eq!(inv["head"], "v2");
    let last: Vec<String> = states(&inv)
        .into_iter()
        .filter(|(v, _, _)| v == "v2")
        .map(|(_, p, _)| p)
        .collect();
    assert!(
        last.contains(&"cairn/tombstone.json".to_string()),
        "{last:?}"
    );
    assert!(!last.iter().any(|p| p.starts_with("data/")), "{last:?}");
}

#[test]
fn ocfl_py_finds_both_layouts_valid() {
    let Some(validator) = ocfl_validate() else {
        common::skip("ocfl-validate (PyPI ocfl-py) is not installed");
        return;
    };
    let (tmp, root) = archive("ocfl-py");
    // ocfl-py 2.1 knows layout 0003 (not 0004): the whole root is validated there.
    let dest3 = tmp.path().join("ocfl-0003");
    export_ok(&root, &dest3, &["--layout", "0003"]);
    assert!(dest3
        .join("396/2ec/88d/cairn-000001/inventory.json")
        .is_file());
    let out = common::run(Command::new(&validator).arg(&dest3));
    assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));
    // Warnings are printed per object by validating the objects one by one: only the
    // two Cairn cannot avoid without inventing data (docs/ocfl.md).
    let dest4 = tmp.path().join("ocfl-0004");
    let report = export_ok(&root, &dest4, &["--layout", "0004"]);
    for o in report["objects"].as_array().expect("objects") {
        if o["status"] == "skipped" {
            continue;
        }
        for dest in [&dest3, &dest4] {
            let dir = if *dest == dest3 {
                dest.join(format!(
                    "{}/{}",
                    &o["path"].as_str().expect("p")[..11],
                    o["id"].as_str().expect("id")
                ))
            } else {
                dest.join(o["path"].as_str().expect("path"))
            };
            let out = common::run(Command::new(&validator).arg(&dir));
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{text}");
            assert!(text.contains("is VALID"), "{text}");
            for line in text.lines().filter(|l| l.starts_with('[')) {
                assert!(
                    line.starts_with("[W005]") || line.starts_with("[W008]"),
                    "a warning Cairn could avoid: {line}"
                );
            }
        }
    }
}

/// rocfl (`ls`, `validate`, `log`, `cat`) reads the OCFL storage root `dest`: it lists
/// exactly the objects `ids`, finds none invalid (nor a warning Cairn could avoid), logs
/// one entry per version of each, and `cat` returns every file of every version with
/// the sha512 its inventory gives. Returns the runner (`rocfl -r DEST ARGS`, its stdout)
/// for further reads; None when rocfl is not installed (the test is skipped).
pub(crate) fn rocfl_reads_every_version(
    dest: &Path,
    ids: &[&str],
) -> Option<impl Fn(&[&str]) -> Vec<u8>> {
    let Some(rocfl) = rocfl() else {
        common::skip("rocfl (cargo install rocfl) is not installed");
        return None;
    };
    let inventories = inventories(dest);
    let dest = dest.to_path_buf();
    let run = move |args: &[&str]| {
        let out = common::run(Command::new(&rocfl).arg("-r").arg(&dest).args(args));
        assert_eq!(
            out.status.code(),
            Some(0),
            "rocfl {args:?}: {}",
            common::describe(&out)
        );
        out.stdout
    };
    let listed = String::from_utf8(run(&["ls"])).expect("utf-8");
    let mut listed: Vec<&str> = listed.lines().map(str::trim).collect();
    listed.sort();
    let mut want = ids.to_vec();
    want.sort();
    assert_eq!(listed, want);
    let validated = String::from_utf8(run(&["validate"])).expect("utf-8");
    assert!(validated.contains("Invalid objects: 0"), "{validated}");
    for line in validated.lines().filter(|l| l.contains("] (")) {
        // W016: an extension rocfl does not know, the replica's marker only.
        assert!(
            line.contains("[W005]")
                || line.contains("[W008]")
                || (line.contains("[W016]") && line.contains("cairn-replica")),
            "a finding Cairn could avoid: {line}"
        );
    }
    for id in ids {
        let inv = inventories
            .get(*id)
            .unwrap_or_else(|| panic!("no object root holds {id}"));
        let head: u32 = inv["head"].as_str().expect("head")[1..].parse().expect("n");
        let log = String::from_utf8(run(&["log", id])).expect("utf-8");
        assert_eq!(log.matches("Version ").count() as u32, head, "{log}");
        let all = states(inv);
        assert!(!all.is_empty(), "{id} has no file in any version");
        for (v, logical, digest) in all {
            let bytes = run(&["cat", "-v", &v, id, &logical]);
            assert_eq!(common::sha512_hex(&bytes), digest, "{id} {v} {logical}");
        }
    }
    Some(run)
}

#[test]
fn rocfl_lists_every_object_and_version_and_cats_each_file() {
    let (tmp, root) = archive("ocfl-rocfl");
    let dest = tmp.path().join("ocfl");
    export_ok(&root, &dest, &[]);
    let ids = ["cairn-000001", "cairn-000002", "cairn-000003"];
    let Some(run) = rocfl_reads_every_version(&dest, &ids) else {
        return;
    };
    // The payload as cat returns it is the archive's, byte for byte.
    let bytes = run(&["cat", "-v", "v1", "cairn-000001", "data/p2.txt"]);
    assert_eq!(bytes, b"Sample: page two\n");
    let bytes = run(&["cat", "-v", "v1", "cairn-000003", "data/c.txt"]);
    assert_eq!(
        bytes,
        fs::read(root.join("archive/.quarantine/cairn-000003/data/c.txt")).expect("z")
    );
    let entry = run(&[
        "cat",
        "-v",
        "v2",
        "cairn-000001",
        "cairn/register-entry.json",
    ]);
    assert_eq!(
        entry,
        fs::read(root.join("manifests/history/cairn-000001/000002.json")).expect("entry")
    );
}

#[test]
fn a_rerun_writes_nothing_and_an_amend_adds_one_version() {
    let (tmp, root) = archive("ocfl-rerun");
    let dest = tmp.path().join("ocfl");
    export_ok(&root, &dest, &[]);
    let before = common::snapshot(&dest);
    let again = export_ok(&root, &dest, &[]);
    assert_eq!(again["unchanged"], 3, "{again:#}");
    assert_eq!(again["files_written"], 0);
    let after = common::snapshot(&dest);
    assert!(
        before == after,
        "{}",
        common::snapshot_diff(&before, &after)
    );

    expect(
        &root,
        [
            "amend",
            "cairn-000002",
            "--set",
            "dc.title=Sample: a note, corrected",
            "--reason",
            "typo",
        ],
        0,
    );
    let third = export_ok(&root, &dest, &[]);
    assert_eq!(third["versions_added"], 1, "{third:#}");
    let o = object(&third, "cairn-000002");
    assert_eq!(
        (o["status"].as_str(), o["versions"].as_u64()),
        (Some("updated"), Some(2))
    );
    // The payload is not stored again: only the new metadata and records are.
    assert_eq!(o["files_deduplicated"], 1, "{o:#}");
    let inv = inventory(&dest, o);
    assert_eq!(inv["head"], "v2");
    let after = common::snapshot(&dest);
    let changed: Vec<String> = after
        .keys()
        .chain(before.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| k.to_string_lossy().into_owned())
        .collect();
    let prefix = o["path"].as_str().expect("path");
    assert!(
        changed.iter().all(|p| p.starts_with(prefix)),
        "outside {prefix}: {changed:?}"
    );
    // The object's v1 folder is as it was.
    assert!(
        changed
            .iter()
            .all(|p| !p.starts_with(&format!("{prefix}/v1"))),
        "{changed:?}"
    );
}

#[test]
fn a_killed_export_is_finished_by_the_next_run() {
    let (tmp, root) = archive("ocfl-crash");
    // The reference: the same root made in runs never killed.
    let clean = tmp.path().join("clean");
    export_ok(&root, &clean, &[]);
    let crashed = tmp.path().join("crashed");
    for fp in ["ocfl-file-copied", "ocfl-object-before-publish"] {
        let out = export(&root, &crashed, &[], &[("CAIRN_FAILPOINT", fp)]);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{fp}: {}",
            common::describe(&out)
        );
    }
    export_ok(&root, &crashed, &[]);
    let (a, b) = (common::snapshot(&clean), common::snapshot(&crashed));
    assert!(a == b, "{}", common::snapshot_diff(&a, &b));

    // A new version killed before and after it moved in.
    expect(
        &root,
        [
            "amend",
            "cairn-000002",
            "--set",
            "dc.title=Sample: amended",
            "--reason",
            "typo",
        ],
        0,
    );
    export_ok(&root, &clean, &[]);
    for fp in ["ocfl-version-before-publish", "ocfl-version-after-move"] {
        let out = export(&root, &crashed, &[], &[("CAIRN_FAILPOINT", fp)]);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{fp}: {}",
            common::describe(&out)
        );
    }
    let report = export_ok(&root, &crashed, &[]);
    let (a, b) = (common::snapshot(&clean), common::snapshot(&crashed));
    assert!(a == b, "{report:#}\n{}", common::snapshot_diff(&a, &b));
}

#[test]
fn damage_in_the_archive_is_refused_not_exported() {
    let (tmp, root) = archive("ocfl-damage");
    fs::write(
        root.join("archive/cairn-000002/data/b.txt"),
        b"Sample: a nOte\n",
    )
    .expect("damage");
    let dest = tmp.path().join("ocfl");
    let out = export(&root, &dest, &["--json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cairn-000002 skipped"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let o = object(&report, "cairn-000002");
    assert_eq!(o["status"], "skipped");
    assert!(!dest.join(o["path"].as_str().expect("path")).exists());
    assert_eq!(object(&report, "cairn-000001")["status"], "created");
    assert!(!dest.join("extensions/cairn-export").exists());
}

#[test]
fn a_folder_that_is_not_an_ocfl_root_is_refused() {
    let (tmp, root) = archive("ocfl-refuse");
    let dest = tmp.path().join("photos");
    common::write_file(&dest, "holiday.jpg", b"not OCFL");
    let before = common::snapshot(&dest);
    let out = export(&root, &dest, &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", common::describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OCFL"));
    assert!(before == common::snapshot(&dest));
    // An OCFL root keeps its layout.
    let ocfl = tmp.path().join("ocfl");
    export_ok(&root, &ocfl, &["--layout", "0003"]);
    let out = export(&root, &ocfl, &["--layout", "0004"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", common::describe(&out));
}
