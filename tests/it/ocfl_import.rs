//! `cairn import` of an OCFL object: an object `cairn ocfl export` wrote round-trips
//! into a fresh archive (the same payload bytes, the same number of content versions,
//! each OCFL version's user, message and created in the events); an object made by
//! hand with dc.json is described by it; one version alone with `--version`; hostile
//! objects are refused with the archive left byte for byte as it was.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common;
use crate::life::{all_checks_pass, events, expect, init};

/// An archive whose cairn-000001 was ingested, amended and revised twice (three
/// content versions), exported to OCFL; the object root of cairn-000001.
fn exported(tmp: &Path) -> (PathBuf, PathBuf) {
    let root = tmp.join("a");
    init(&root);
    let intake = root.join("intake");
    common::write_file(&intake, "x/sub/p1.txt", b"Sample: page one\n");
    common::write_file(&intake, "x/p2.txt", b"Sample: page two\n");
    common::write_file(
        &intake,
        "metadata.csv",
        b"filename,dc.title,dc.date\nx,Sample: register,1977\n",
    );
    expect(&root, ["ingest"], 0);
    let id = "cairn-000001";
    expect(
        &root,
        [
            "amend",
            id,
            "--set",
            "dc.title=Sample: fixed",
            "--reason",
            "typo",
        ],
        0,
    );
    let rev = tmp.join("rev");
    common::write_file(&rev, "sub/p1.txt", b"Sample: page one\n");
    common::write_file(&rev, "p3.txt", b"Sample: page three\n");
    revise(&root, id, &rev, "new scan");
    let rev2 = tmp.join("rev2");
    common::write_file(&rev2, "p3.txt", b"Sample: page three, again\n");
    revise(&root, id, &rev2, "rescan");
    let object = export_first(&root, &tmp.join("ocfl"));
    (root, object)
}

/// `cairn ocfl export OCFL` of the archive at `root` (layout 0003): the object root
/// of cairn-000001.
fn export_first(root: &Path, ocfl: &Path) -> PathBuf {
    let out = common::run(
        common::cairn()
            .args(["ocfl", "export"])
            .arg(ocfl)
            .arg("--root")
            .arg(root),
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));
    ocfl.join("396/2ec/88d/cairn-000001")
}

/// The archive's files and folders, byte for byte, but for manifests/.lock (which names
/// the last run that held the lock, not the archive's state).
fn state(root: &Path) -> std::collections::BTreeMap<PathBuf, common::Node> {
    let mut s = common::snapshot(root);
    s.remove(Path::new("manifests/.lock"));
    s
}

/// `cairn import OBJECT` exits `code` and leaves the archive as it was.
fn import_changes_nothing(root: &Path, object: &str, code: i32) -> crate::life::Out {
    let before = state(root);
    let out = expect(root, ["import", object], code);
    let after = state(root);
    assert!(
        before == after,
        "import {object} changed the archive:\n{}\n{}",
        common::snapshot_diff(&before, &after),
        out.describe()
    );
    out
}

/// `cairn revise ID --from DIR --reason REASON` succeeds.
fn revise(root: &Path, id: &str, from: &Path, reason: &str) {
    let from = from.to_str().expect("utf-8");
    expect(root, ["revise", id, "--from", from, "--reason", reason], 0);
}

/// Every file under `dir`, relative path → bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    common::file_bytes(dir).into_iter().collect()
}

#[test]
fn an_exported_object_round_trips_with_its_history() {
    let tmp = common::fresh_dir("ocfl-import-round");
    let (src, object) = exported(tmp.path());
    let dest = tmp.path().join("b");
    init(&dest);
    let out = expect(
        &dest,
        ["import", object.to_str().expect("utf-8"), "--json"],
        0,
    );
    let report = out.json();
    assert_eq!(report["id"], "cairn-000001", "{report:#}");
    let versions = report["versions"].as_array().expect("versions");
    // Four OCFL versions (ingest, amend, revise, revise): four register entry
    // versions, three content versions.
    assert_eq!(versions.len(), 4, "{report:#}");
    let outcomes: Vec<&str> = versions
        .iter()
        .map(|v| v["outcome"].as_str().expect("outcome"))
        .collect();
    assert_eq!(outcomes, ["imported", "amended", "revised", "revised"]);
    assert_eq!(versions[3]["item_version"], 3);

    // The same payload bytes, version for version.
    let id = "cairn-000001";
    assert_eq!(
        files(&dest.join("archive").join(id).join("data")),
        files(&src.join("archive").join(id).join("data"))
    );
    for n in ["000001", "000002"] {
        let kept = |r: &Path| files(&r.join("archive/.versions").join(id).join(n).join("data"));
        assert!(!kept(&src).is_empty());
        assert_eq!(kept(&dest), kept(&src), "version {n}");
    }
    // The record came with it, amend included: the same register entry versions and
    // the same Dublin Core.
    let entry_of = |r: &Path| -> Value {
        serde_json::from_slice(
            &fs::read(r.join("manifests").join(format!("{id}.json"))).expect("entry"),
        )
        .expect("entry JSON")
    };
    let (mine, theirs) = (entry_of(&dest), entry_of(&src));
    assert_eq!(mine["version"], 3, "{mine:#}");
    assert_eq!(mine["entry_version"], theirs["entry_version"]);
    assert_eq!(mine["dublin_core"], theirs["dublin_core"]);
    assert_eq!(mine["dublin_core"]["dc.title"][0], "Sample: fixed");

    // Each OCFL version's user, message and created are in the events.
    let inv: Value = serde_json::from_slice(&fs::read(object.join("inventory.json")).expect("inv"))
        .expect("inventory JSON");
    let log = events(&dest, "import");
    let ingestion = log
        .iter()
        .find(|e| e["type"] == "ingestion")
        .expect("ingestion event");
    assert_eq!(ingestion["data"]["ocfl"]["version"], "v1");
    assert_eq!(ingestion["data"]["ocfl"]["object"], id);
    assert_eq!(
        ingestion["data"]["ocfl"]["created"],
        inv["versions"]["v1"]["created"]
    );
    assert_eq!(
        ingestion["data"]["ocfl"]["user"],
        inv["versions"]["v1"]["user"]
    );
    let amend = log
        .iter()
        .find(|e| e["type"] == "metadata modification")
        .expect("metadata modification event");
    assert_eq!(amend["data"]["ocfl"]["version"], "v2");
    assert_eq!(
        amend["data"]["ocfl"]["created"],
        inv["versions"]["v2"]["created"]
    );
    assert_eq!(amend["data"]["reason"], inv["versions"]["v2"]["message"]);
    let mods: Vec<&Value> = log.iter().filter(|e| e["type"] == "modification").collect();
    assert_eq!(mods.len(), 2);
    for (m, v) in mods.iter().zip(["v3", "v4"]) {
        let block = &inv["versions"][v];
        assert_eq!(m["data"]["ocfl"]["version"], v);
        assert_eq!(m["data"]["ocfl"]["created"], block["created"]);
        assert_eq!(m["data"]["ocfl"]["message"], block["message"]);
        assert_eq!(m["data"]["reason"], block["message"]);
        assert_eq!(m["data"]["operator"], block["user"]["name"]);
    }
    all_checks_pass(&dest, "after an OCFL import");

    // The same object again: already archived, nothing written.
    let again = import_changes_nothing(&dest, object.to_str().expect("utf-8"), 0);
    assert!(
        again.stdout.contains("already archived"),
        "{}",
        again.describe()
    );

    // An archive holding v1 alone (an import cut short): the whole object is not
    // "already archived"; it is refused, naming what is missing, and nothing is written.
    let part = tmp.path().join("c");
    init(&part);
    let obj = object.to_str().expect("utf-8");
    expect(&part, ["import", obj, "--version", "v1"], 0);
    let cut = import_changes_nothing(&part, obj, 1);
    assert!(cut.stderr.contains("later versions"), "{}", cut.describe());
}

#[test]
fn one_version_alone_with_version() {
    let tmp = common::fresh_dir("ocfl-import-one");
    let (src, object) = exported(tmp.path());
    let dest = tmp.path().join("b");
    init(&dest);
    let report = expect(
        &dest,
        [
            "import",
            object.to_str().expect("utf-8"),
            "--version",
            "v3",
            "--json",
        ],
        0,
    )
    .json();
    assert_eq!(report["versions"].as_array().expect("versions").len(), 1);
    let id = "cairn-000001";
    assert_eq!(
        files(&dest.join("archive").join(id).join("data")),
        files(
            &src.join("archive/.versions")
                .join(id)
                .join("000002")
                .join("data")
        )
    );
    assert!(!dest.join("archive/.versions").join(id).exists());
    let ingestion = events(&dest, "one version")
        .into_iter()
        .find(|e| e["type"] == "ingestion")
        .expect("ingestion");
    assert_eq!(ingestion["data"]["ocfl"]["version"], "v3");
    let bad = expect(
        &dest,
        ["import", object.to_str().expect("utf-8"), "--version", "v9"],
        2,
    );
    assert!(bad.stderr.contains("v1 to v4"), "{}", bad.describe());
    // --version is for OCFL objects: a bag folder with it is bad usage.
    let bag = src.join("archive").join(id);
    let usage = expect(
        &dest,
        ["import", bag.to_str().expect("utf-8"), "--version", "v1"],
        2,
    );
    assert!(
        usage.stderr.contains("0=ocfl_object_1.1"),
        "{}",
        usage.describe()
    );
}

/// An OCFL object made by hand: `files` is each version's (logical path, bytes); each
/// distinct content stored once, at the first version and path that has it.
fn hand_object(dir: &Path, id: &str, files: &[&[(&str, &[u8])]]) -> Value {
    let mut manifest = serde_json::Map::new();
    let mut versions = serde_json::Map::new();
    for (i, state_files) in files.iter().enumerate() {
        let v = format!("v{}", i + 1);
        let mut state = serde_json::Map::new();
        for (logical, bytes) in state_files.iter() {
            let d = common::sha512_hex(bytes);
            if !manifest.contains_key(&d) {
                let content = format!("{v}/content/{logical}");
                common::write_file(dir, &content, bytes);
                manifest.insert(d.clone(), json!([content]));
            }
            state
                .entry(d)
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("array")
                .push(json!(logical));
        }
        versions.insert(
            v.clone(),
            json!({
                "created": format!("2020-01-0{}T10:00:00Z", i + 1),
                "message": format!("scan {}", i + 1),
                "user": {"name": "Ada Archivist", "address": "mailto:ada@example.org"},
                "state": state,
            }),
        );
    }
    let inv = json!({
        "id": id,
        "type": "https://ocfl.io/1.1/spec/#inventory",
        "digestAlgorithm": "sha512",
        "head": format!("v{}", files.len()),
        "manifest": manifest,
        "versions": versions,
    });
    write_inventory(dir, &inv);
    common::write_file(dir, "0=ocfl_object_1.1", b"ocfl_object_1.1\n");
    inv
}

fn write_inventory(dir: &Path, inv: &Value) {
    let bytes = serde_json::to_vec_pretty(inv).expect("JSON");
    common::write_file(dir, "inventory.json", &bytes);
    common::write_file(
        dir,
        "inventory.json.sha512",
        format!("{}  inventory.json\n", common::sha512_hex(&bytes)).as_bytes(),
    );
}

const DC: &[u8] = br#"{"dc.title": ["Letters of Ada"], "dc.date": ["1843"]}"#;
const DC3: &[u8] = br#"{"dc.title": ["Letters of Ada Lovelace"]}"#;

#[test]
fn an_object_made_elsewhere_is_described_by_its_dc_json() {
    let tmp = common::fresh_dir("ocfl-import-hand");
    let object = tmp.path().join("obj");
    hand_object(
        &object,
        "urn:example:ada",
        &[
            &[("dc.json", DC), ("letters/1.txt", b"Dear Charles\n")],
            &[
                ("dc.json", DC),
                ("letters/1.txt", b"Dear Charles\n"),
                ("letters/2.txt", b"Dear Charles, again\n"),
            ],
            &[
                ("dc.json", DC3),
                ("letters/1.txt", b"Dear Charles\n"),
                ("letters/2.txt", b"Dear Charles, again\n"),
            ],
        ],
    );
    // A valid OCFL object, as the peer validator sees it (the hostile objects below
    // are this one spoiled).
    match crate::ocfl::ocfl_validate() {
        Some(validator) => {
            let out = common::run(std::process::Command::new(validator).arg(&object));
            assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));
        }
        None => common::skip("ocfl-validate (PyPI ocfl-py) is not installed"),
    }
    let dest = tmp.path().join("b");
    init(&dest);
    let report = expect(
        &dest,
        ["import", object.to_str().expect("utf-8"), "--json"],
        0,
    )
    .json();
    let id = report["id"].as_str().expect("id").to_string();
    // The object's id, as a folder can hold it.
    assert_eq!(id, "urn_example_ada", "{report:#}");
    let entry: Value = serde_json::from_slice(
        &fs::read(dest.join("manifests").join(format!("{id}.json"))).expect("entry"),
    )
    .expect("entry JSON");
    // v3 changed the record only: an amend, dc.date gone with it.
    assert_eq!(
        entry["dublin_core"],
        json!({"dc.title": ["Letters of Ada Lovelace"]}),
        "{entry:#}"
    );
    assert_eq!(entry["version"], 2);
    assert_eq!(entry["entry_version"], 3);
    let outcomes: Vec<&Value> = report["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| &v["outcome"])
        .collect();
    assert_eq!(outcomes, ["imported", "revised", "amended"]);
    let bag = dest.join("archive").join(&id);
    assert!(
        !bag.join("data/dc.json").exists(),
        "dc.json is the record, not payload"
    );
    assert_eq!(
        fs::read(bag.join("data/letters/2.txt")).expect("payload"),
        b"Dear Charles, again\n"
    );
    let log = events(&dest, "hand object");
    let m = log
        .iter()
        .find(|e| e["type"] == "modification")
        .expect("modification");
    assert_eq!(m["data"]["operator"], "Ada Archivist");
    assert_eq!(m["data"]["reason"], "scan 2");
    assert_eq!(m["data"]["ocfl"]["created"], "2020-01-02T10:00:00Z");
    assert_eq!(
        m["data"]["ocfl"]["user"]["address"],
        "mailto:ada@example.org"
    );
    all_checks_pass(&dest, "after importing a hand-made object");
}

/// Each hostile object is refused (exit 1, the reason on stderr) and the archive is
/// left byte for byte as it was.
#[test]
fn hostile_objects_are_refused_and_change_nothing() {
    let tmp = common::fresh_dir("ocfl-import-hostile");
    let dest = tmp.path().join("b");
    init(&dest);
    let good: &[&[(&str, &[u8])]] = &[&[("a.txt", b"Sample: a\n"), ("b/c.txt", b"Sample: c\n")]];
    type Spoil = fn(&Path, &mut Value);
    let cases: Vec<(&str, Spoil, &str)> = vec![
        (
            "dotdot-content",
            |_, inv| {
                let m = inv["manifest"].as_object_mut().expect("manifest");
                let (_, paths) = m.iter_mut().next().expect("one");
                *paths = json!(["v1/content/../../../etc/passwd"]);
            },
            "not a safe relative path",
        ),
        (
            "absolute-logical",
            |_, inv| {
                let state = inv["versions"]["v1"]["state"]
                    .as_object_mut()
                    .expect("state");
                let (_, paths) = state.iter_mut().next().expect("one");
                *paths = json!(["/etc/passwd"]);
            },
            "not a safe relative path",
        ),
        (
            "digest-mismatch",
            |dir, _| common::write_file(dir, "v1/content/a.txt", b"Sample: tampered\n"),
            "as the inventory records",
        ),
        (
            "missing-file",
            |dir, _| fs::remove_file(dir.join("v1/content/b/c.txt")).expect("rm"),
            "missing",
        ),
        (
            "unknown-algorithm",
            |_, inv| inv["digestAlgorithm"] = json!("blake3"),
            "digestAlgorithm",
        ),
        (
            "sha256-sidecar",
            |dir, _| {
                fs::rename(
                    dir.join("inventory.json.sha512"),
                    dir.join("inventory.json.sha256"),
                )
                .expect("mv")
            },
            "sha512",
        ),
        (
            "bad-sidecar",
            |dir, _| {
                common::write_file(
                    dir,
                    "inventory.json.sha512",
                    format!("{}  inventory.json\n", "0".repeat(128)).as_bytes(),
                )
            },
            "does not match its sidecar",
        ),
        (
            "huge-inventory",
            |dir, _| {
                let f = fs::OpenOptions::new()
                    .append(true)
                    .open(dir.join("inventory.json"))
                    .expect("open");
                f.set_len((64 << 20) + 1).expect("grow");
            },
            "bytes, over",
        ),
        (
            "symlinked-content",
            |dir, _| {
                // The same bytes, through a link: a link is never content.
                let target = dir.join("elsewhere.txt");
                fs::write(&target, b"Sample: a\n").expect("write");
                fs::remove_file(dir.join("v1/content/a.txt")).expect("rm");
                std::os::unix::fs::symlink(&target, dir.join("v1/content/a.txt")).expect("symlink");
            },
            "not a regular file",
        ),
        (
            "stale-head-inventory",
            |dir, _| common::write_file(dir, "v1/inventory.json", b"{}\n"),
            "differs from the object root",
        ),
        (
            "undeclared-digest",
            |_, inv| {
                inv["versions"]["v1"]["state"][&"f".repeat(128)] = json!(["x.txt"]);
            },
            "does not store",
        ),
    ];
    for (label, spoil, says) in cases {
        let object = tmp.path().join(label);
        let mut inv = hand_object(&object, "hostile", good);
        spoil(&object, &mut inv);
        // Spoilers of the inventory write it back with a matching sidecar; the others
        // changed files only (the sidecar and size spoilers must keep their change).
        if !matches!(
            label,
            "digest-mismatch"
                | "missing-file"
                | "sha256-sidecar"
                | "bad-sidecar"
                | "huge-inventory"
        ) {
            write_inventory(&object, &inv);
        }
        let out = import_changes_nothing(&dest, object.to_str().expect("utf-8"), 1);
        assert!(
            out.stderr.contains(says),
            "{label}: stderr should say {says:?}\n{}",
            out.describe()
        );
    }
}

/// With replicate_on_ingest, the replica gets the item once all its versions are in:
/// its register entry is the archive's last, and `audit --replicas` agrees.
#[test]
fn replicate_on_ingest_copies_the_item_whole() {
    let tmp = common::fresh_dir("ocfl-import-replica");
    let (_, object) = exported(tmp.path());
    let dest = tmp.path().join("b");
    init(&dest);
    let replica = tmp.path().join("nas");
    fs::create_dir(&replica).expect("replica folder");
    let mut toml = fs::read_to_string(dest.join("cairn.toml")).expect("cairn.toml");
    toml.push_str(&format!(
        "\n[[replica]]\nname = \"nas\"\nurl = \"file://{}\"\n",
        replica.display()
    ));
    fs::write(dest.join("cairn.toml"), toml).expect("write cairn.toml");
    expect(&dest, ["replicate", "--init", "nas"], 0);
    let out = crate::life::cairn_at(
        &dest,
        ["import", object.to_str().expect("utf-8")],
        &[("CAIRN_ARCHIVE_REPLICATE_ON_INGEST", "true")],
    );
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let entry =
        |r: &Path| fs::read_to_string(r.join("manifests/cairn-000001.json")).expect("entry");
    assert_eq!(entry(&replica), entry(&dest));
    expect(&dest, ["audit", "--replicas"], 0);
}

/// An object whose last version withdraws the item (as `cairn ocfl export` writes a
/// withdrawal) is imported up to the version before it, and the report says why.
#[test]
fn a_withdrawal_version_ends_the_import_with_a_note() {
    let tmp = common::fresh_dir("ocfl-import-withdrawn");
    let root = tmp.path().join("a");
    init(&root);
    common::write_file(&root.join("intake"), "w.txt", b"Sample: to withdraw\n");
    common::write_file(
        &root.join("intake"),
        "metadata.csv",
        b"filename,dc.title\nw.txt,Sample: withdrawn\n",
    );
    expect(&root, ["ingest"], 0);
    expect(
        &root,
        ["withdraw", "cairn-000001", "--reason", "donor asked"],
        0,
    );
    let object = export_first(&root, &tmp.path().join("ocfl"));
    let dest = tmp.path().join("b");
    init(&dest);
    let out = expect(&dest, ["import", object.to_str().expect("utf-8")], 0);
    assert!(
        out.stderr.contains("v2 withdraws the item"),
        "{}",
        out.describe()
    );
    let report = expect(&dest, ["show", "cairn-000001", "--json"], 0).json();
    assert_eq!(report["bag_present"], true, "{report:#}");
    assert!(!dest.join("archive/.versions/cairn-000001").exists());
    assert!(!dest.join("manifests/withdrawn/cairn-000001.json").exists());
    assert_eq!(
        fs::read(dest.join("archive/cairn-000001/data/w.txt")).expect("payload"),
        b"Sample: to withdraw\n"
    );
}
