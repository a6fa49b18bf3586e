//! Edits to a register entry that touch only one algorithm are caught: audit compares
//! every recorded digest of every tag manifest, and the register against the digests
//! the ingestion events recorded; `fixity --algorithms all` compares every payload
//! digest.

use std::fs;
use std::path::Path;
use std::process::{Command as StdCommand, Output, Stdio};

use assert_cmd::cargo::CommandCargoExt;

fn cairn(args: &[&str], root: &Path) -> Output {
    StdCommand::cargo_bin("cairn")
        .expect("cairn binary")
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
    let out = StdCommand::cargo_bin("cairn")
        .expect("bin")
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
