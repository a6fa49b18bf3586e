//! `[[replica]] kind = "ocfl"`: an archive with ingested, amended, revised and withdrawn
//! items replicated to an OCFL storage root (validated by ocfl-py), then a content file
//! damaged and another deleted there: `fixity --replica` names item, version and logical
//! path, `repair` rewrites them from the archive's bytes of the same sha512, and the
//! next check is clean.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common;
use crate::life::expect;
use crate::ocfl::{make_archive, ocfl_validate, rocfl_reads_every_version};

/// The archive of `ocfl::make_archive` at `a/`, with an OCFL replica `vault` at
/// `vault/` (the folder made and marked).
fn archive_with_ocfl_replica(label: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = common::fresh_dir(label);
    let root = tmp.path().join("a");
    make_archive(&root);
    let vault = tmp.path().join("vault");
    fs::create_dir(&vault).expect("replica folder");
    let toml = root.join("cairn.toml");
    let mut text = fs::read_to_string(&toml).expect("cairn.toml");
    text.push_str(&format!(
        "\n[[replica]]\nname = \"vault\"\nkind = \"ocfl\"\nurl = \"file://{}\"\n",
        vault.display()
    ));
    fs::write(&toml, text).expect("cairn.toml");
    expect(&root, ["replicate", "--init", "vault"], 0);
    (tmp, root, vault)
}

/// The object root of `id` (layout 0003: `sha256` tuples, then the identifier).
fn object_root(vault: &Path, id: &str) -> PathBuf {
    let digest = common::sha256_hex(id.as_bytes());
    vault
        .join(&digest[0..3])
        .join(&digest[3..6])
        .join(&digest[6..9])
        .join(id)
}

fn inventory(object: &Path) -> Value {
    serde_json::from_slice(&fs::read(object.join("inventory.json")).expect("inventory"))
        .expect("inventory JSON")
}

/// The content path the manifest gives for the file whose content path ends `tail`.
fn content_path(inv: &Value, tail: &str) -> String {
    inv["manifest"]
        .as_object()
        .expect("manifest")
        .values()
        .flat_map(|v| v.as_array().expect("paths").iter())
        .map(|p| p.as_str().expect("path").to_string())
        .find(|p| p.ends_with(tail))
        .unwrap_or_else(|| panic!("no content path ending {tail} in {inv:#}"))
}

fn validate_root(vault: &Path) {
    let Some(validator) = ocfl_validate() else {
        common::skip("ocfl-validate (PyPI ocfl-py) is not installed");
        return;
    };
    let out = common::run(Command::new(&validator).arg(vault));
    assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));
}

/// rocfl lists every object of the replica (the archive's own too) and every version,
/// `cat` returns each file of each version with its inventory's sha512, and each
/// current payload file and register entry as the archive holds it, byte for byte.
fn rocfl_reads_the_replica(root: &Path, vault: &Path) {
    let ids = [
        "cairn-000001",
        "cairn-000002",
        "cairn-000003",
        "urn:cairn:archive",
    ];
    let Some(rocfl) = rocfl_reads_every_version(vault, &ids) else {
        return;
    };
    let mut read = 0;
    for id in ["cairn-000001", "cairn-000002"] {
        let bag = root.join("archive").join(id);
        for e in walkdir::WalkDir::new(bag.join("data")) {
            let e = e.expect("walk");
            if !e.file_type().is_file() {
                continue;
            }
            let logical = e.path().strip_prefix(&bag).expect("in the bag");
            let logical = logical.to_str().expect("utf-8");
            let want = fs::read(e.path()).expect("payload");
            assert_eq!(rocfl(&["cat", id, logical]), want, "{id} {logical}");
            read += 1;
        }
        let entry = format!("manifests/{id}.json");
        let want = fs::read(root.join(&entry)).expect("entry");
        assert_eq!(
            rocfl(&["cat", "urn:cairn:archive", &entry]),
            want,
            "{entry}"
        );
    }
    assert!(read >= 3, "{read} payload files");
}

/// `fixity --replica vault --id ID --json`, which must find something (exit 1).
fn check_one(root: &Path, id: &str) -> Value {
    expect(
        root,
        ["fixity", "--replica", "vault", "--id", id, "--json"],
        1,
    )
    .json()
}

fn findings(report: &Value) -> Vec<Value> {
    report["checked"]
        .as_array()
        .expect("checked")
        .iter()
        .flat_map(|c| c["findings"].as_array().expect("findings").clone())
        .collect()
}

#[test]
fn replicate_to_an_ocfl_replica_then_damage_is_found_and_repaired() {
    let (_tmp, root, vault) = archive_with_ocfl_replica("ocfl-replica");
    assert!(vault
        .join("extensions/cairn-replica/replica.json")
        .is_file());
    let out = expect(&root, ["replicate", "--to", "vault", "--json"], 0).json();
    let items = out["replicas"][0]["items"]
        .as_array()
        .expect("items")
        .clone();
    assert!(
        items
            .iter()
            .any(|i| i["id"] == "cairn-000001" && i["copied"].as_u64() > Some(0)),
        "{out:#}"
    );
    // Every entry version an OCFL version: ingest, amend, revise, amend.
    let obj1 = object_root(&vault, "cairn-000001");
    let inv1 = inventory(&obj1);
    assert_eq!(inv1["head"], "v4", "{inv1:#}");
    assert_eq!(
        inventory(&object_root(&vault, "cairn-000003"))["head"],
        "v2"
    );
    validate_root(&vault);
    rocfl_reads_the_replica(&root, &vault);
    // A rerun writes nothing.
    let again = expect(&root, ["replicate", "--to", "vault", "--json"], 0).json();
    for i in again["replicas"][0]["items"].as_array().expect("items") {
        assert_eq!(i["copied"], 0, "{again:#}");
    }
    expect(&root, ["fixity", "--replica", "vault", "--all"], 0);

    // Damage: a file the revise added (v3), changed; an item's only payload, deleted.
    let p3 = content_path(&inv1, "data/p3.txt");
    assert!(p3.starts_with("v3/"), "{p3}");
    fs::write(obj1.join(&p3), b"Sample: page three, rotted\n").expect("damage");
    let obj2 = object_root(&vault, "cairn-000002");
    let b = content_path(&inventory(&obj2), "data/b.txt");
    fs::remove_file(obj2.join(&b)).expect("delete");

    let bad = expect(
        &root,
        ["fixity", "--replica", "vault", "--all", "--json"],
        1,
    )
    .json();
    let found = findings(&bad);
    let changed = found
        .iter()
        .find(|f| f["id"] == "cairn-000001")
        .unwrap_or_else(|| panic!("{bad:#}"));
    assert_eq!(changed["kind"], "changed", "{changed:#}");
    assert!(changed["key"].as_str().expect("key").ends_with(&p3));
    let detail = changed["detail"].as_str().expect("detail");
    assert!(
        detail.contains("v3 data/p3.txt") && detail.contains("v4 data/p3.txt"),
        "{detail}"
    );
    let missing = found
        .iter()
        .find(|f| f["id"] == "cairn-000002")
        .unwrap_or_else(|| panic!("{bad:#}"));
    assert_eq!(missing["kind"], "missing", "{missing:#}");
    assert!(missing["detail"]
        .as_str()
        .expect("detail")
        .contains("v1 data/b.txt"));
    assert_eq!(found.len(), 2, "{bad:#}");

    // Repair rewrites both from the archive's bytes; the next check is clean.
    let rep = expect(&root, ["repair", "cairn-000001", "--json"], 0).json();
    assert_eq!(
        rep["repaired"].as_array().expect("repaired").len(),
        1,
        "{rep:#}"
    );
    assert_eq!(rep["repaired"][0]["target"], "vault", "{rep:#}");
    assert_eq!(rep["repaired"][0]["source"], "archive", "{rep:#}");
    assert!(
        rep["repaired"][0]["source_key"]
            .as_str()
            .expect("source_key")
            .starts_with("archive/cairn-000001/"),
        "{rep:#}"
    );
    expect(&root, ["repair", "cairn-000002"], 0);
    assert_eq!(
        fs::read(obj1.join(&p3)).expect("repaired"),
        b"Sample: page three\n"
    );
    assert_eq!(
        fs::read(obj2.join(&b)).expect("repaired"),
        b"Sample: a note\n"
    );
    expect(&root, ["fixity", "--replica", "vault", "--all"], 0);
    validate_root(&vault);
    let log = fs::read_to_string(root.join("manifests/events.jsonl")).expect("log");
    assert!(log.contains("\"recovery\""), "no recovery event");
}

#[test]
fn a_damaged_inventory_is_found_and_not_repaired_from_guesses() {
    let (_tmp, root, vault) = archive_with_ocfl_replica("ocfl-replica-inv");
    expect(&root, ["replicate", "--to", "vault"], 0);
    let obj = object_root(&vault, "cairn-000002");
    let mut bytes = fs::read(obj.join("inventory.json")).expect("inventory");
    bytes.extend_from_slice(b" ");
    fs::write(obj.join("inventory.json"), &bytes).expect("damage");
    let bad = check_one(&root, "cairn-000002");
    let found = findings(&bad);
    assert!(
        found.iter().any(|f| f["kind"] == "changed"
            && f["key"].as_str().expect("key").ends_with("/inventory.json")),
        "{bad:#}"
    );
    let rep = expect(&root, ["repair", "cairn-000002", "--json"], 1).json();
    assert_eq!(
        rep["unrepairable"].as_array().expect("unrepairable").len(),
        1,
        "{rep:#}"
    );
}

#[test]
fn an_inventory_whose_paths_leave_the_object_is_never_followed() {
    let (tmp, root, vault) = archive_with_ocfl_replica("ocfl-replica-escape");
    expect(&root, ["replicate", "--to", "vault"], 0);
    // Inventory and sidecar rewritten together: the content path of data/b.txt now
    // points outside the object, at a file the check must not read nor repair write.
    let obj = object_root(&vault, "cairn-000002");
    let mut inv = inventory(&obj);
    let content = content_path(&inv, "data/b.txt");
    let escape = "../../../../../escape.txt";
    for paths in inv["manifest"]
        .as_object_mut()
        .expect("manifest")
        .values_mut()
    {
        for p in paths.as_array_mut().expect("paths") {
            if p == &Value::from(content.as_str()) {
                *p = Value::from(escape);
            }
        }
    }
    let bytes = serde_json::to_vec_pretty(&inv).expect("json");
    fs::write(obj.join("inventory.json"), &bytes).expect("inventory");
    fs::write(
        obj.join("inventory.json.sha512"),
        format!("{}  inventory.json\n", common::sha512_hex(&bytes)),
    )
    .expect("sidecar");
    let outside = obj.join(escape);
    let bad = check_one(&root, "cairn-000002");
    assert!(
        findings(&bad).iter().any(|f| f["kind"] == "unreadable"),
        "{bad:#}"
    );
    let rep = expect(&root, ["repair", "cairn-000002", "--json"], 1).json();
    assert!(
        !rep["unrepairable"].as_array().expect("list").is_empty(),
        "{rep:#}"
    );
    assert!(!outside.exists(), "repair wrote outside the object");
    assert!(!tmp.path().join("escape.txt").exists());
}

/// Every file under `archive/` and `manifests/` (no caches: the log's index and tree
/// are rebuilt), by path, with its bytes.
fn records(root: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    common::file_bytes(root)
        .into_iter()
        .filter(|(p, _)| {
            let s = p.to_string_lossy();
            s.starts_with("archive/")
                || (s.starts_with("manifests/") && s.ends_with(".json") && !s.contains("/."))
        })
        .collect()
}

#[test]
fn the_archive_deleted_is_restored_from_the_ocfl_replica_alone() {
    let (tmp, root, vault) = archive_with_ocfl_replica("ocfl-replica-restore");
    expect(&root, ["replicate", "--to", "vault"], 0);
    validate_root(&vault);
    let before = records(&root);
    let events_before = fs::read(root.join("manifests/events.jsonl")).expect("log");
    // Only the configuration is kept (the recovery kit); the archive is gone.
    let kit = tmp.path().join("kit");
    fs::create_dir(&kit).expect("kit");
    fs::copy(root.join("cairn.toml"), kit.join("cairn.toml")).expect("kit");
    fs::remove_dir_all(&root).expect("delete the archive");

    let dest = tmp.path().join("restored");
    let dest_s = dest.to_str().expect("utf-8");
    // A damaged content file in the root: nothing is restored (exit 1).
    let obj2 = object_root(&vault, "cairn-000002");
    let b = obj2.join(content_path(&inventory(&obj2), "data/b.txt"));
    let good = fs::read(&b).expect("content");
    fs::write(&b, b"rot").expect("damage");
    let out = expect(&kit, ["restore", "--from", "vault", dest_s], 1);
    assert!(out.stderr.contains("data/b.txt"), "{}", out.describe());
    assert!(!dest.exists() && !tmp.path().join(".restored.ocfl").exists());
    fs::write(&b, good).expect("undo");
    // DIR as a relative path (the hidden layout beside it too).
    let out = common::run(
        common::cairn()
            .current_dir(tmp.path())
            .args(["restore", "--from", "vault", "restored", "--root"])
            .arg(&kit),
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));
    assert!(
        !tmp.path().join(".restored.ocfl").exists(),
        "the staging folder is left"
    );
    // No file of the restored archive is a link into the replica.
    for e in walkdir::WalkDir::new(&vault) {
        use std::os::unix::fs::MetadataExt;
        let e = e.expect("walk");
        let links = e.metadata().expect("stat").nlink();
        assert!(
            e.file_type().is_dir() || links == 1,
            "{} is linked",
            e.path().display()
        );
    }
    let after = records(&dest);
    for (path, bytes) in &before {
        if path == Path::new("manifests/events.jsonl") {
            continue;
        }
        assert_eq!(
            after.get(path),
            Some(bytes),
            "{} differs or is missing",
            path.display()
        );
    }
    // The log as replicated (up to the run's own replication events), then the
    // restore's recovery event.
    let log = fs::read(dest.join("manifests/events.jsonl")).expect("log");
    let body = &log[..log.len() - 1];
    let cut = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    assert!(
        cut > 0 && events_before.starts_with(&log[..cut]),
        "the restored log is not the archive's"
    );
    let recovery = String::from_utf8_lossy(&log[cut..]).into_owned();
    assert!(recovery.contains("\"recovery\""), "{recovery}");
    // The event names the OCFL replica, not the hidden folder it was laid out in.
    assert!(!recovery.contains(".restored.ocfl"), "{recovery}");
    expect(&dest, ["audit"], 0);
    expect(&dest, ["fixity", "--all"], 0);
    let out = expect(&dest, ["show", "cairn-000001", "--json"], 0).json();
    assert!(out.to_string().contains("Sample: final"), "{out:#}");
    let mut bags = vec![
        dest.join("archive/cairn-000001"),
        dest.join("archive/cairn-000002"),
    ];
    bags.extend(
        fs::read_dir(dest.join("archive/.versions/cairn-000001"))
            .expect("kept versions")
            .map(|e| e.expect("entry").path()),
    );
    bags.push(dest.join("archive/.quarantine/cairn-000003"));
    for bag in bags {
        let out = common::run(common::cairn().args(["bag", "validate"]).arg(&bag));
        assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));
    }
}

#[test]
fn a_file_or_an_object_no_inventory_or_item_explains_is_reported() {
    let (_tmp, root, vault) = archive_with_ocfl_replica("ocfl-replica-strays");
    expect(&root, ["replicate", "--to", "vault"], 0);
    expect(&root, ["fixity", "--replica", "vault", "--all"], 0);
    expect(&root, ["audit", "--replicas"], 0);
    // A file in a version's content that the inventory does not list.
    let obj2 = object_root(&vault, "cairn-000002");
    common::write_file(&obj2, "v1/content/data/extra.txt", b"Sample: stray\n");
    // An object of no item: a copy of cairn-000002's under another item's place.
    let stray = object_root(&vault, "cairn-000099");
    fs::create_dir_all(stray.parent().expect("parent")).expect("stray object");
    common::copy_tree(&obj2, &stray);
    let stray_key = stray
        .strip_prefix(&vault)
        .expect("in the root")
        .to_str()
        .expect("utf-8")
        .to_string();

    let bad = expect(
        &root,
        ["fixity", "--replica", "vault", "--all", "--json"],
        1,
    )
    .json();
    let found = findings(&bad);
    assert_eq!(found.len(), 1, "{bad:#}");
    assert_eq!(found[0]["id"], "cairn-000002", "{bad:#}");
    assert_eq!(found[0]["kind"], "unexpected", "{bad:#}");
    assert!(
        found[0]["key"]
            .as_str()
            .expect("key")
            .ends_with("cairn-000002/v1/content/data/extra.txt"),
        "{bad:#}"
    );
    let unexpected = bad["unexpected"].as_array().expect("unexpected");
    assert_eq!(unexpected.len(), 1, "{bad:#}");
    assert_eq!(unexpected[0]["key"], stray_key.as_str(), "{bad:#}");
    assert_eq!(unexpected[0]["kind"], "unexpected", "{bad:#}");
    // One item: its file only (the objects of other items are not listed).
    let one = check_one(&root, "cairn-000002");
    assert_eq!(findings(&one).len(), 1, "{one:#}");
    assert!(one["unexpected"].as_array().expect("unexpected").is_empty());
    expect(
        &root,
        ["fixity", "--replica", "vault", "--id", "cairn-000001"],
        0,
    );

    // audit --replicas lists the stray object (listing only: not the file).
    let out = expect(&root, ["audit", "--replicas"], 1);
    assert!(
        out.stderr.contains(&stray_key) && out.stderr.contains("unexpected"),
        "{}",
        out.describe()
    );
    assert!(!out.stderr.contains("extra.txt"), "{}", out.describe());

    // repair writes only bytes an inventory names: the file is left, still found.
    expect(&root, ["repair", "cairn-000002"], 0);
    assert!(obj2.join("v1/content/data/extra.txt").is_file());
    check_one(&root, "cairn-000002");
}
