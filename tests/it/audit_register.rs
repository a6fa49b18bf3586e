//! Edits to a register entry that touch only one algorithm are caught: audit compares
//! every recorded digest of every tag manifest, and the register against the digests
//! the ingestion events recorded; `fixity --algorithms all` compares every payload
//! digest.

use std::fs;
use std::path::Path;
use std::process::{Command as StdCommand, Output, Stdio};

use crate::common;

fn cairn(args: &[&str], root: &Path) -> Output {
    common::cairn()
        .args(args)
        .arg("--root")
        .arg(root)
        .env_remove("CAIRN_ROOT")
        .stdin(Stdio::null())
        .output()
        .expect("cairn runs")
}

fn archive(tmp: &Path) -> std::path::PathBuf {
    let root = tmp.join("arch");
    let out = common::cairn()
        .arg("init")
        .arg(&root)
        .output()
        .expect("init");
    assert_eq!(out.status.code(), Some(0));
    for i in 0..3 {
        let d = root.join(format!("intake/item-{i}"));
        fs::create_dir_all(&d).expect("mkdir");
        fs::write(d.join("page.txt"), format!("Sample: page {i}\n")).expect("write");
    }
    fs::write(
        root.join("intake/metadata.csv"),
        "filename,dc.title\nitem-0,Sample: a\nitem-1,Sample: b\nitem-2,Sample: c\n",
    )
    .expect("csv");
    assert_eq!(cairn(&["ingest"], &root).status.code(), Some(0));
    root
}

/// Replaces the first hex digit of the string at `pointer` in a register entry.
fn edit_register(root: &Path, id: &str, pointer: &str) {
    let path = root.join(format!("manifests/{id}.json"));
    let mut v: serde_json::Value =
        serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
    let slot = v
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} in {id}"));
    let old = slot.as_str().expect("hex").to_string();
    let first = if old.starts_with('0') { '1' } else { '0' };
    *slot = serde_json::Value::String(format!("{first}{}", &old[1..]));
    fs::write(&path, serde_json::to_vec_pretty(&v).expect("encode")).expect("write");
}

#[test]
fn a_sha512_only_edit_of_a_tag_manifest_digest_in_the_register_fails_the_audit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = archive(tmp.path());
    assert_eq!(cairn(&["audit"], &root).status.code(), Some(0));
    edit_register(
        &root,
        "cairn-000002",
        "/tag_files/tagmanifest-sha512.txt/sha512",
    );
    let out = cairn(&["audit", "--json"], &root);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let kinds: Vec<(&str, &str)> = v["discrepancies"]
        .as_array()
        .expect("list")
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or(""),
                d["id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("tag-manifest-differs-from-register", "cairn-000002")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("register-differs-from-log", "cairn-000002")),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().all(|(_, id)| *id == "cairn-000002"),
        "only that item: {kinds:?}"
    );
}

#[test]
fn a_sha512_only_edit_of_a_payload_digest_is_caught_by_fixity_with_all_algorithms() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = archive(tmp.path());
    edit_register(&root, "cairn-000003", "/files/0/digests/sha512");
    // The routine blake3 check does not read sha512 digests (documented)...
    assert_eq!(
        cairn(&["fixity", "--all", "--quiet"], &root).status.code(),
        Some(0)
    );
    // ...a check of every algorithm does, and blames the file.
    let out = cairn(&["fixity", "--all", "--algorithms", "all", "--json"], &root);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let failed: Vec<&serde_json::Value> = v["checked"]
        .as_array()
        .expect("checked")
        .iter()
        .filter(|b| b["outcome"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{v}");
    assert_eq!(failed[0]["id"], "cairn-000003");
    let f = &failed[0]["findings"][0];
    assert_eq!(f["kind"], "register-mismatch");
    assert_eq!(f["path"], "data/page.txt");
}

/// Appends a correctly chained event to the log, as a later `cairn delete` would.
fn append_event(root: &Path, event_type: &str, object: &str) {
    let path = root.join("manifests/events.jsonl");
    let log = fs::read(&path).expect("log");
    let last = log
        .split(|&b| b == b'\n')
        .rfind(|l| !l.is_empty())
        .expect("a line");
    let prev: serde_json::Value = serde_json::from_slice(last).expect("json");
    let line = serde_json::json!({
        "seq": prev["seq"].as_u64().expect("seq") + 1,
        "id": "00000000-0000-4000-8000-000000000000",
        "type": event_type,
        // Now: audit flags an event dated before the one it follows.
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "outcome": "success",
        "detail": "test",
        "object": object,
        "agent": "test",
        "prev": blake3::hash(last).to_hex().to_string(),
    });
    let mut out = log.clone();
    out.extend_from_slice(serde_json::to_string(&line).expect("encode").as_bytes());
    out.push(b'\n');
    fs::write(&path, out).expect("write");
}

#[test]
fn an_item_the_log_says_was_deleted_but_exists_fails_the_audit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = archive(tmp.path());
    append_event(&root, "deletion", "cairn-000001");
    let out = cairn(&["audit", "--json"], &root);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        v["log"]["broken"].is_null(),
        "the appended event chains correctly: {v}"
    );
    let d = &v["discrepancies"];
    // The event was appended outside Cairn: its Merkle tree never recorded it, which
    // audit names as well.
    assert_eq!(d.as_array().map(|a| a.len()), Some(2), "{v}");
    assert_eq!(d[0]["kind"], "log-differs-from-tree", "{v}");
    assert_eq!(d[1]["kind"], "deleted-but-present");
    assert_eq!(d[1]["id"], "cairn-000001");
}

#[test]
fn verify_checks_a_copy_outside_the_archive_against_its_register_entry() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = archive(tmp.path());
    let copy = tmp.path().join("auditors-copy");
    let out = StdCommand::new("cp")
        .arg("-a")
        .arg(root.join("archive/cairn-000002"))
        .arg(&copy)
        .output()
        .expect("cp");
    assert!(out.status.success());
    let entry = root.join("manifests/cairn-000002.json");
    let verify = |against: &Path| {
        common::cairn()
            .arg("verify")
            .arg(&copy)
            .arg("--against")
            .arg(against)
            .output()
            .expect("verify")
    };
    let out = verify(&entry);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The wrong item's entry: the payload differs from what that entry recorded.
    let out = verify(&root.join("manifests/cairn-000001.json"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("register-mismatch"));
    // A changed payload fails plain verification, without any register entry.
    fs::write(copy.join("data/page.txt"), "Sample: page 9\n").expect("write");
    let out = common::cairn()
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("verify");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a changed payload fails plain verification too"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("changed: data/page.txt"), "{stderr}");
}
