//! Register entries (manifests/ID.json, their kept versions and tombstones) are the
//! truth, so Cairn's typed reading of them must write back exactly the bytes it read,
//! and an entry written by a newer Cairn (members this one does not know) must lose
//! nothing when this one rewrites it.
//!
//! The entries are real: the sample collection ingested by the binary, one item
//! amended, one withdrawn; each file is parsed with the library's types and
//! re-encoded the way Cairn writes it.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use cairn::fs::lifecycle::Tombstone;
use cairn::fs::register::RegisterEntry;
use serde_json::{json, Value};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/s21");

fn run(root: &Path, args: &[&str]) -> std::process::Output {
    let out = common::cairn()
        .args(args)
        .arg("--root")
        .arg(root)
        .env("CAIRN_OPERATOR", "test-archivist")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("cairn runs");
    assert!(
        out.status.success(),
        "cairn {args:?}: {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The sample collection ingested into a fresh archive.
fn sample_archive(tmp: &Path) -> PathBuf {
    let root = tmp.join("archive-root");
    let out = common::cairn()
        .arg("init")
        .arg(&root)
        .output()
        .expect("init");
    assert!(out.status.success(), "{out:?}");
    for e in fs::read_dir(SAMPLES).expect("samples") {
        let e = e.expect("sample");
        common::copy_tree(&e.path(), &root.join("intake").join(e.file_name()));
    }
    run(&root, &["ingest"]);
    root
}

/// Every `.json` file directly in `dir`.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .expect("folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn every_register_entry_and_tombstone_is_written_back_byte_for_byte() {
    let tmp = common::fresh_dir("register-round-trip");
    let root = sample_archive(tmp.path());
    run(
        &root,
        &[
            "amend",
            "cairn-000001",
            "--set",
            "dc.subject=Prisoners",
            "--set",
            "dcterms.spatial=ភ្នំពេញ",
            "--reason",
            "subject and place added",
        ],
    );
    run(
        &root,
        &["withdraw", "cairn-000002", "--reason", "a round-trip test"],
    );

    let manifests = root.join("manifests");
    let mut entries = json_files(&manifests);
    let history = manifests.join("history");
    for d in fs::read_dir(&history).expect("history") {
        entries.extend(json_files(&d.expect("kept").path()));
    }
    // Five live entries (one amended), the amended item's version 1, the withdrawn
    // item's last entry.
    assert_eq!(entries.len(), 7, "{entries:?}");
    for path in &entries {
        let bytes = fs::read(path).expect("entry");
        let entry = RegisterEntry::read(path).expect("a register entry");
        assert!(!entry.dublin_core.record().is_empty(), "{}", path.display());
        assert!(entry.extra.is_empty(), "{}", path.display());
        assert!(entry.files.iter().all(|f| f.extra.is_empty()));
        let again = entry.encode(path).expect("encodes");
        assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(&bytes),
            "{} is not written back as it was",
            path.display()
        );
    }
    let amended = RegisterEntry::read(&manifests.join("cairn-000001.json")).expect("entry");
    assert_eq!(amended.entry_version, 2);

    let tombstones = json_files(&manifests.join("withdrawn"));
    assert_eq!(tombstones.len(), 1, "{tombstones:?}");
    for path in &tombstones {
        let bytes = fs::read(path).expect("tombstone");
        let t = Tombstone::read(path).expect("a tombstone");
        assert!(!t.dublin_core.record().is_empty());
        assert_eq!(
            t.encode(path).expect("encodes"),
            bytes,
            "{}",
            path.display()
        );
    }
}

#[test]
fn members_a_newer_cairn_wrote_survive_an_amend() {
    let tmp = common::fresh_dir("register-unknown");
    let root = sample_archive(tmp.path());
    let path = root.join("manifests/cairn-000003.json");
    let mut value: Value = serde_json::from_slice(&fs::read(&path).expect("entry")).expect("JSON");
    let obj = value.as_object_mut().expect("an object");
    obj.insert(
        "provenance_note".into(),
        json!({"by": "a newer Cairn", "n": [1, 2]}),
    );
    let file = obj["files"][0].as_object_mut().expect("a file");
    file.insert(
        "preservation_level".into(),
        json!({"level": "bit", "since": 2031}),
    );
    let dc = obj["dublin_core"].as_object_mut().expect("a record");
    dc.insert("cairn.access".into(), json!("restricted"));
    dc.insert("dcterms.newTerm".into(), json!(["kept"]));
    let mut bytes = serde_json::to_vec_pretty(&value).expect("JSON");
    bytes.push(b'\n');
    fs::write(&path, &bytes).expect("write the entry");

    // The library reads it, and writes the same members back.
    let entry = RegisterEntry::read(&path).expect("still a register entry");
    assert_eq!(entry.extra.len(), 1, "{:?}", entry.extra);
    assert!(entry.extra.get("provenance_note").is_some());
    assert_eq!(entry.files[0].extra.len(), 1, "{:?}", entry.files[0].extra);
    let again: Value =
        serde_json::from_slice(&entry.encode(&path).expect("encodes")).expect("JSON");
    assert_eq!(again, value);

    // An amend rewrites the entry: the unknown members stay, the record changes.
    run(
        &root,
        &[
            "amend",
            "cairn-000003",
            "--set",
            "dc.subject=Prisoners",
            "--reason",
            "subject added",
        ],
    );
    let after: Value = serde_json::from_slice(&fs::read(&path).expect("entry")).expect("JSON");
    assert_eq!(after["entry_version"], 2);
    assert_eq!(after["provenance_note"], value["provenance_note"]);
    assert_eq!(
        after["files"][0]["preservation_level"],
        value["files"][0]["preservation_level"]
    );
    assert_eq!(after["dublin_core"]["cairn.access"], "restricted");
    assert_eq!(after["dublin_core"]["dcterms.newTerm"], json!(["kept"]));
    assert_eq!(after["dublin_core"]["dc.subject"], json!(["Prisoners"]));
    // The superseded version is kept as it was on disk.
    let kept = fs::read(root.join("manifests/history/cairn-000003/000001.json")).expect("kept");
    assert_eq!(kept, bytes);
}
