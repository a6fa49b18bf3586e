//! Scenarios: restore. Disaster recovery keeps the archive's proofs: the name its
//! checkpoints carry (fixed in cairn.toml, never taken from the folder), the hard links
//! between an item's versions, a `recovery` event after the restored log, and a
//! restore stopped at any step is resumed by the next run (issue 27).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common;
use crate::life::{all_checks_pass, bag_validates, bags, cairn_at, events, expect, make_archive};

/// The `archive.name` line of a cairn.toml, as written.
fn name_in_toml(root: &Path) -> Option<String> {
    let text = fs::read_to_string(root.join("cairn.toml")).expect("cairn.toml");
    let mut section = "";
    for line in text.lines() {
        let line = line.trim();
        if let Some(h) = line.strip_prefix('[') {
            section = h.trim_end_matches(']');
        } else if section == "archive" {
            if let Some(v) = line.strip_prefix("name = ") {
                return Some(v.trim_matches('"').to_string());
            }
        }
    }
    None
}

/// Blanks `archive.name` in cairn.toml: an archive made before `cairn init` fixed it.
fn unfix_name(root: &Path) {
    let path = root.join("cairn.toml");
    let text = fs::read_to_string(&path).expect("cairn.toml");
    let name = name_in_toml(root).expect("a name line");
    let text = text.replace(&format!("\nname = \"{name}\"\n"), "\nname = \"\"\n");
    fs::write(&path, text).expect("write cairn.toml");
    assert_eq!(name_in_toml(root).as_deref(), Some(""));
}

/// `cairn key generate --out KEY` in the archive at `root`, which must succeed.
fn keygen(root: &Path, key: &Path) -> crate::life::Out {
    let out = cairn_at(
        root,
        [
            "key".as_ref(),
            "generate".as_ref(),
            "--out".as_ref(),
            key.as_os_str(),
        ],
        &[],
    );
    assert_eq!(out.code, Some(0), "key generate\n{}", out.describe());
    out
}

/// The archive's source: three items, cairn-000001 revised (version 1 kept under
/// archive/.versions, its unchanged pages hard-linked), cairn-000003 withdrawn (its bag
/// in quarantine), a key, a checkpoint kept outside (returned: note, public key), and
/// replicas `nas` and `usb` holding it all.
struct Source {
    tmp: tempfile::TempDir,
    root: PathBuf,
    checkpoint: PathBuf,
    public_key: PathBuf,
    key: PathBuf,
}

impl Source {
    fn new(folder: &str) -> Source {
        let tmp = common::fresh_dir("bad-day-restore");
        let root = tmp.path().join(folder);
        make_archive(&root, 12);
        let new = tmp.path().join("revision");
        common::copy_tree(&root.join("archive/cairn-000001/data"), &new);
        fs::write(
            new.join("part-0/page-9999.txt"),
            "Sample: a forgotten page\n",
        )
        .expect("page");
        fs::write(
            new.join("part-1/page-0001.txt"),
            "Sample: page 1, transcription corrected\n",
        )
        .expect("page");
        let args = [
            "revise".as_ref(),
            "cairn-000001".as_ref(),
            "--from".as_ref(),
            new.as_os_str(),
            "--reason".as_ref(),
            "a forgotten page".as_ref(),
        ];
        let out = cairn_at(&root, args, &[]);
        assert_eq!(out.code, Some(0), "revise\n{}", out.describe());
        expect(
            &root,
            ["withdraw", "cairn-000003", "--reason", "donor withdrew it"],
            0,
        );
        let keys = tmp.path().join("keys");
        fs::create_dir(&keys).expect("keys");
        let key = keys.join("archive.key");
        keygen(&root, &key);
        let checkpoint = keys.join("checkpoint-before.txt");
        let out = cairn_at(
            &root,
            [
                "checkpoint".as_ref(),
                "--key".as_ref(),
                key.as_os_str(),
                "--out".as_ref(),
                checkpoint.as_os_str(),
            ],
            &[],
        );
        assert_eq!(out.code, Some(0), "checkpoint\n{}", out.describe());
        for name in ["nas", "usb"] {
            let dir = tmp.path().join(format!("replica-{name}"));
            fs::create_dir(&dir).expect("replica folder");
            let mut text = fs::read_to_string(root.join("cairn.toml")).expect("toml");
            text.push_str(&format!(
                "\n[[replica]]\nname = \"{name}\"\nurl = \"file://{}\"\n",
                dir.display()
            ));
            fs::write(root.join("cairn.toml"), text).expect("toml");
            expect(&root, ["replicate", "--init", name], 0);
        }
        expect(&root, ["replicate"], 0);
        Source {
            public_key: PathBuf::from(format!("{}.pub", key.display())),
            tmp,
            root,
            checkpoint,
            key,
        }
    }

    fn restore(&self, dest: &Path, env: &[(&str, &str)]) -> crate::life::Out {
        cairn_at(
            &self.root,
            [
                "restore".as_ref(),
                "--from".as_ref(),
                "nas".as_ref(),
                dest.as_os_str(),
            ],
            env,
        )
    }
}

/// The files under archive/ that share an inode, as groups of paths (relative to the
/// archive root), and the bytes stored once per inode.
fn links(root: &Path) -> (BTreeSet<Vec<PathBuf>>, u64) {
    let mut by_inode: BTreeMap<(u64, u64), Vec<PathBuf>> = BTreeMap::new();
    let mut stack = vec![root.join("archive")];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).expect("read folder") {
            let p = e.expect("entry").path();
            let m = fs::symlink_metadata(&p).expect("stat");
            if m.is_dir() {
                if !p.ends_with(".staging") {
                    stack.push(p);
                }
            } else if m.is_file() {
                let rel = p.strip_prefix(root).expect("inside").to_path_buf();
                by_inode.entry((m.dev(), m.ino())).or_default().push(rel);
            }
        }
    }
    let mut stored = 0;
    for paths in by_inode.values() {
        stored += fs::metadata(root.join(&paths[0])).expect("stat").len();
    }
    let groups = by_inode
        .into_values()
        .filter(|g| g.len() > 1)
        .map(|mut g| {
            g.sort();
            g
        })
        .collect();
    (groups, stored)
}

/// Every bag the archive keeps (current, kept versions, quarantined) validates.
fn every_bag_validates(root: &Path, context: &str) {
    let mut all = bags(root);
    for sub in [".versions/cairn-000001", ".quarantine"] {
        if let Ok(rd) = fs::read_dir(root.join("archive").join(sub)) {
            all.extend(rd.map(|e| e.expect("entry").path()));
        }
    }
    assert!(all.len() >= 4, "{context}: bags {all:?}");
    for bag in all {
        bag_validates(&bag, context);
    }
}

/// `audit --checkpoint CHECKPOINT --key PUBLIC` of the archive at `root` passes: its
/// log extends the checkpoint.
fn checkpoint_holds(root: &Path, checkpoint: &Path, public: &Path, context: &str) {
    let out = cairn_at(
        root,
        [
            "audit".as_ref(),
            "--checkpoint".as_ref(),
            checkpoint.as_os_str(),
            "--key".as_ref(),
            public.as_os_str(),
        ],
        &[],
    );
    assert_eq!(
        out.code,
        Some(0),
        "{context}: audit --checkpoint\n{}",
        out.describe()
    );
    assert!(
        out.stdout.contains("extends the checkpoint"),
        "{context}\n{}",
        out.describe()
    );
}

/// What a finished restore of `src` at `dest` must be: the replica's log with one
/// `recovery` event after it, the same name, the same hard links and disk use, every
/// check passing, and the checkpoint signed before the disaster still holding.
fn restored_like_the_source(src: &Source, dest: &Path, context: &str) {
    // The log as the replica holds it (replicate copies it last, before the events
    // of the next replica's copy).
    let before = fs::read(src.tmp.path().join("replica-nas/manifests/events.jsonl")).expect("log");
    let after = fs::read(dest.join("manifests/events.jsonl")).expect("restored log");
    assert!(
        after.starts_with(&before) && after.len() > before.len(),
        "{context}: the restored log must be the replica's, then the recovery: {} bytes, restored {}:\n{}",
        before.len(),
        after.len(),
        String::from_utf8_lossy(&after[before.len().min(after.len()).saturating_sub(600)..])
    );
    let all = events(dest, context);
    let n = before.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(
        all.len(),
        n + 1,
        "{context}: exactly one event after the restored log"
    );
    let last = &all[n];
    assert_eq!(last["type"], "recovery", "{context}: {last}");
    assert_eq!(last["outcome"], "success", "{context}: {last}");
    assert_eq!(last["data"]["replica"], "nas", "{context}: {last}");
    assert_eq!(last["data"]["head"]["seq"], n as u64, "{context}: {last}");
    assert_eq!(last["data"]["items"], 2, "{context}: {last}");
    assert_eq!(last["data"]["withdrawn"], 1, "{context}: {last}");
    assert!(
        last["data"]["linked"].as_u64().unwrap_or(0) >= 10,
        "{context}: {last}"
    );
    assert!(
        !dest.join(".cairn-restore.json").exists(),
        "{context}: the journal is left in the restored archive"
    );

    assert_eq!(
        name_in_toml(dest),
        name_in_toml(&src.root),
        "{context}: archive.name"
    );
    let (src_links, src_bytes) = links(&src.root);
    let (dest_links, dest_bytes) = links(dest);
    assert!(
        !src_links.is_empty(),
        "the source shares pages between versions"
    );
    assert_eq!(dest_links, src_links, "{context}: files sharing an inode");
    assert_eq!(dest_bytes, src_bytes, "{context}: bytes stored");

    every_bag_validates(dest, context);
    all_checks_pass(dest, context);
    checkpoint_holds(dest, &src.checkpoint, &src.public_key, context);
}

#[test]
fn restore_into_a_new_folder_keeps_the_name_the_links_and_the_proofs() {
    let src = Source::new("s21-archive");
    assert_eq!(name_in_toml(&src.root).as_deref(), Some("s21-archive"));
    let elsewhere = src.tmp.path().join("new-disk");
    fs::create_dir(&elsewhere).expect("mkdir");
    let dest = elsewhere.join("restored");
    let out = src.restore(&dest, &[]);
    assert_eq!(out.code, Some(0), "restore\n{}", out.describe());
    assert!(
        out.stdout.contains("hard links between versions"),
        "{}",
        out.describe()
    );
    restored_like_the_source(&src, &dest, "restore");

    // The old key signs the restored archive under its old name, and the checkpoint
    // made before still holds after it.
    let out = cairn_at(
        &dest,
        [
            "checkpoint".as_ref(),
            "--key".as_ref(),
            src.key.as_os_str(),
            "--json".as_ref(),
        ],
        &[],
    );
    assert_eq!(out.code, Some(0), "checkpoint\n{}", out.describe());
    let cp: Value = out.json();
    assert_eq!(cp["origin"], "s21-archive", "{cp}");
    assert!(
        cp["note"]
            .as_str()
            .unwrap_or("")
            .starts_with("s21-archive\n"),
        "{cp}"
    );
}

#[test]
fn restore_takes_the_name_from_root_when_the_replica_has_none() {
    // An archive made before `cairn init` fixed the name, replicated then: the
    // replica's cairn.toml has none. The name the archive at --root goes by is kept.
    let src = Source::new("s21-old");
    unfix_name(&src.root);
    expect(&src.root, ["replicate"], 0);
    let dest = src.tmp.path().join("restored");
    let out = src.restore(&dest, &[]);
    assert_eq!(out.code, Some(0), "restore\n{}", out.describe());
    assert_eq!(name_in_toml(&dest).as_deref(), Some("s21-old"));
    checkpoint_holds(
        &dest,
        &src.checkpoint,
        &src.public_key,
        "audit --checkpoint",
    );
}

#[test]
fn an_archive_made_before_the_name_was_fixed_gets_it_from_its_checkpoints() {
    let tmp = common::fresh_dir("bad-day-name");
    // `cairn init` fixes the folder's name.
    let root = tmp.path().join("s21-scans");
    make_archive(&root, 2);
    assert_eq!(name_in_toml(&root).as_deref(), Some("s21-scans"));

    // Without one, `key generate` writes the folder's name, once.
    unfix_name(&root);
    let key = tmp.path().join("a.key");
    let out = keygen(&root, &key);
    assert_eq!(name_in_toml(&root).as_deref(), Some("s21-scans"));
    assert!(
        out.stderr.contains("archive.name set to s21-scans"),
        "{}",
        out.describe()
    );
    let out = cairn_at(
        &root,
        ["checkpoint".as_ref(), "--key".as_ref(), key.as_os_str()],
        &[],
    );
    assert_eq!(out.code, Some(0), "checkpoint\n{}", out.describe());
    let before = tmp.path().join("before.txt");
    fs::write(&before, &out.stdout).expect("keep the checkpoint");

    // An older archive: no name, a kept checkpoint, then the folder moved. The next
    // checkpoint (with another key, named otherwise) keeps the checkpoints' name.
    unfix_name(&root);
    let moved = tmp.path().join("moved-archive");
    fs::rename(&root, &moved).expect("move the archive");
    let other = tmp.path().join("b.key");
    let out = cairn_at(
        &moved,
        [
            "key".as_ref(),
            "generate".as_ref(),
            "--name".as_ref(),
            "other-key".as_ref(),
            "--out".as_ref(),
            other.as_os_str(),
        ],
        &[],
    );
    assert_eq!(out.code, Some(0), "key generate --name\n{}", out.describe());
    assert_eq!(
        name_in_toml(&moved).as_deref(),
        Some(""),
        "--name leaves the archive alone"
    );
    let out = cairn_at(
        &moved,
        [
            "checkpoint".as_ref(),
            "--key".as_ref(),
            other.as_os_str(),
            "--json".as_ref(),
        ],
        &[],
    );
    assert_eq!(out.code, Some(0), "checkpoint\n{}", out.describe());
    assert_eq!(out.json()["origin"], "s21-scans", "{}", out.describe());
    assert_eq!(name_in_toml(&moved).as_deref(), Some("s21-scans"));
    let public = PathBuf::from(format!("{}.pub", key.display()));
    checkpoint_holds(&moved, &before, &public, "audit --checkpoint");
}

/// Every failpoint of restore (docs/crash-safety.md), in the order they are reached.
const FAILPOINTS: &[&str] = &[
    "restore-started",
    "restore-config-written",
    "restore-entry-written",
    "restore-file-fetched",
    "restore-version-linked",
    "restore-item-done",
    "restore-tombstone-written",
    "restore-log-fetched",
    "restore-event-appended",
    "restore-before-publish",
    "restore-after-publish",
];

#[test]
fn a_restore_killed_at_each_step_is_resumed_by_the_next_run() {
    let src = Source::new("s21-archive");
    for (i, fp) in FAILPOINTS.iter().enumerate() {
        let dest = src.tmp.path().join(format!("restored-{i}"));
        let out = src.restore(&dest, &[("CAIRN_FAILPOINT", fp)]);
        assert_eq!(
            out.code,
            None,
            "{fp}: the failpoint did not fire\n{}",
            out.describe()
        );
        if *fp != "restore-after-publish" {
            assert!(!dest.exists(), "{fp}: a half restore must not be at DIR");
        }
        if i == 3 {
            // Another replica cannot take over a half restore.
            let out = cairn_at(
                &src.root,
                [
                    "restore".as_ref(),
                    "--from".as_ref(),
                    "usb".as_ref(),
                    dest.as_os_str(),
                ],
                &[],
            );
            assert_eq!(out.code, Some(2), "{fp}: --from usb\n{}", out.describe());
            assert!(
                out.stderr.contains("--from nas"),
                "{fp}\n{}",
                out.describe()
            );
        }
        let hidden = src.tmp.path().join(format!(".restored-{i}.restore"));
        if *fp == "restore-tombstone-written" {
            // A file that is wrong (a power cut in the middle of its write), and is
            // hard-linked into the kept version: fetched again, linked again.
            let page = hidden.join("archive/cairn-000001/data/part-0/page-0000.txt");
            let kept =
                hidden.join("archive/.versions/cairn-000001/000001/data/part-0/page-0000.txt");
            assert_eq!(
                fs::metadata(&kept).expect("kept page").ino(),
                fs::metadata(&page).expect("page").ino()
            );
            fs::write(&page, "not what the register records\n").expect("damage");
        }
        let out = cairn_at(
            &src.root,
            [
                "restore".as_ref(),
                "--from".as_ref(),
                "nas".as_ref(),
                dest.as_os_str(),
                "--json".as_ref(),
            ],
            &[],
        );
        assert_eq!(out.code, Some(0), "{fp}: the rerun\n{}", out.describe());
        let report = out.json();
        let notes = report["notes"].to_string();
        // Stopped before its first file, nothing to keep; stopped after the rename,
        // nothing to do but remove the journal.
        let (said, resumed) = match *fp {
            "restore-started" | "restore-config-written" | "restore-entry-written" => {
                ("resumed the interrupted restore", false)
            }
            "restore-after-publish" => ("finished", false),
            _ => ("resumed the interrupted restore", true),
        };
        assert!(
            notes.contains(said),
            "{fp}: the rerun says {said:?}\n{}",
            out.describe()
        );
        assert_eq!(
            report["resumed"].as_u64().unwrap_or(0) > 0,
            resumed,
            "{fp}: files kept from the stopped run\n{}",
            out.describe()
        );
        restored_like_the_source(&src, &dest, fp);
        assert!(!hidden.exists(), "{fp}: {} left behind", hidden.display());
        let hidden: Vec<String> = fs::read_dir(src.tmp.path())
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".restore"))
            .collect();
        assert!(hidden.is_empty(), "{fp}: left behind: {hidden:?}");
        // And again: DIR is there, complete: refused, nothing changed.
        let out = src.restore(&dest, &[]);
        assert_eq!(out.code, Some(2), "{fp}: a third run\n{}", out.describe());
    }
}
