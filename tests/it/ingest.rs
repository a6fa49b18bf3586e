//! End-to-end tests of `cairn init`, `cairn ingest`, `cairn show` and `cairn list`, through
//! the real binary, on fresh temporary archives.
//!
//! What is checked is what an archivist relies on: every item becomes a bag that Cairn
//! *and* bagit-python validate, with Dublin Core that an XML parser reads back byte for
//! byte, a register entry whose digests match the files (recomputed here), and events
//! whose BLAKE3 chain is recomputed here too. Refused items leave no trace in archive/
//! or manifests/ and stay in intake/ unchanged, while the other items are still ingested.
//!
//! Independent checkers: Python's `xml.etree` for dc.xml, `bagit.py --validate`
//! (bagit-python) for the bags, and the `blake3` / `sha2` crates for every digest.
//! The unreadable-file case runs the binary as `nobody` through `setpriv`, because the
//! tests run as root, and root reads a file whatever its mode.

use crate::common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/s21");
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const OAI_DC_ROOT: &str = "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc";
const DC_TITLE: &str = "{http://purl.org/dc/elements/1.1/}title";
const INGEST_EVENT_TYPES: [&str; 4] = [
    "message digest calculation",
    "validation",
    "ingestion",
    "format identification",
];

// ---------------------------------------------------------------------------------------
// Running the binary.

/// Runs `cairn ARGS` in `cwd` with extra environment variables. CAIRN_ROOT and
/// CAIRN_FAILPOINT are always cleared first, so the caller's environment cannot leak in.
fn cairn_env(cwd: Option<&Path>, env: &[(&str, &OsStr)], args: &[&OsStr]) -> Run {
    let cmdline = std::iter::once("cairn".to_string())
        .chain(args.iter().map(|a| format!("{a:?}")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = cairn_cmd();
    cmd.env_remove("CAIRN_ROOT").env_remove("CAIRN_FAILPOINT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args);
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmdline}: {e}"));
    let env_text: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v:?} ")).collect();
    Run {
        cmdline: format!("{}{cmdline}", env_text.concat()),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// An archive made by `cairn init` in a fresh temporary folder.
struct Arch {
    tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Arch {
    fn new(label: &str) -> Arch {
        let tmp = fresh_dir(label);
        let root = tmp.path().join("archive-root");
        cairn_env(None, &[], &[os("init"), root.as_os_str()]).assert_code(0);
        for d in ["intake", "archive", "manifests"] {
            assert!(root.join(d).is_dir(), "cairn init did not create {d}/");
        }
        assert!(root.join("cairn.toml").is_file(), "no cairn.toml");
        Arch { tmp, root }
    }

    fn intake(&self) -> PathBuf {
        self.root.join("intake")
    }

    fn bags(&self) -> PathBuf {
        self.root.join("archive")
    }

    fn manifests(&self) -> PathBuf {
        self.root.join("manifests")
    }

    fn bag(&self, id: &str) -> PathBuf {
        self.bags().join(id)
    }

    /// `cairn ingest --root ROOT EXTRA...`
    fn ingest(&self, extra: &[&str]) -> Run {
        self.ingest_env(&[], extra)
    }

    fn ingest_env(&self, env: &[(&str, &OsStr)], extra: &[&str]) -> Run {
        let mut args: Vec<&OsStr> = vec![os("ingest"), os("--root"), self.root.as_os_str()];
        args.extend(extra.iter().map(|s| os(s)));
        // Run from the temporary folder, so that nothing (not even a core file of the
        // failpoint tests) can land in the checkout.
        cairn_env(Some(self.tmp.path()), env, &args)
    }

    fn cmd(&self, args: &[&str]) -> Run {
        let mut all: Vec<&OsStr> = args.iter().map(|s| os(s)).collect();
        all.push(os("--root"));
        all.push(self.root.as_os_str());
        cairn_env(Some(self.tmp.path()), &[], &all)
    }

    /// Folders in archive/ (hidden ones such as .staging left out).
    fn bag_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = fs::read_dir(self.bags())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.') && n != "README.md")
            .collect();
        ids.sort();
        ids
    }

    /// The register: manifests/ID.json, parsed, by identifier.
    fn register(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for e in fs::read_dir(self.manifests()).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".json") {
                if id.starts_with('.') {
                    continue;
                }
                let bytes = fs::read(e.path()).unwrap();
                let v: Value = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|err| panic!("{name} is not JSON: {err}"));
                out.insert(id.to_string(), v);
            }
        }
        out
    }

    fn events_bytes(&self) -> Vec<u8> {
        match fs::read(self.manifests().join("events.jsonl")) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("read events.jsonl: {e}"),
        }
    }

    /// Every event, after checking the whole chain here: each line's `prev` is the
    /// BLAKE3 (hex) of the line before, the first line's is 64 zeros, `seq` counts from 1.
    fn events(&self) -> Vec<Value> {
        check_chain(&self.events_bytes())
    }

    /// The identifier of the register entry whose intake_name is exactly `name`.
    fn id_of(&self, name: &str) -> String {
        let reg = self.register();
        let hits: Vec<&String> = reg
            .iter()
            .filter(|(_, e)| e["intake_name"].as_str() == Some(name))
            .map(|(id, _)| id)
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "expected one register entry with intake_name {name:?}, found {hits:?}"
        );
        hits[0].clone()
    }

    /// Nothing but the intake/ and the lock file: what must not change between runs.
    fn state(&self) -> (BTreeMap<PathBuf, Node>, BTreeMap<PathBuf, Node>) {
        let mut manifests = snapshot(&self.manifests());
        manifests.remove(Path::new(".lock"));
        (snapshot(&self.bags()), manifests)
    }
}

fn check_chain(bytes: &[u8]) -> Vec<Value> {
    common::check_event_chain(bytes, "events.jsonl")
}

// ---------------------------------------------------------------------------------------
// Building intake items.

/// One CSV line, every cell quoted (RFC 4180).
fn csv_line(cells: &[&str]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
        .collect();
    format!("{}\n", quoted.join(","))
}

fn write_csv(intake: &Path, header: &[&str], rows: &[&[&str]]) {
    let mut text = csv_line(header);
    for r in rows {
        text.push_str(&csv_line(r));
    }
    write_file(intake, "metadata.csv", text.as_bytes());
}

/// A folder item with one text file and a cairn.dc.json giving its title, so that it
/// has metadata whatever happens to metadata.csv.
fn good_item(intake: &Path, name: &str, title: &str) {
    write_file(
        intake,
        format!("{name}/content.txt"),
        format!("the content of {name}\n").as_bytes(),
    );
    let sidecar = serde_json::json!({ "dc.title": title, "dc.type": "Text" });
    write_file(
        intake,
        format!("{name}/cairn.dc.json"),
        sidecar.to_string().as_bytes(),
    );
}

/// A tree snapshot that also copes with fifos (never opened) and records each entry's
/// permission bits, for "the intake still holds it unchanged".
fn intake_state(root: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, rel: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for entry in fs::read_dir(root.join(rel)).unwrap() {
            let entry = entry.unwrap();
            let rel_child = rel.join(entry.file_name());
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let ft = meta.file_type();
            let mode = meta.permissions().mode() & 0o7777;
            let desc = if ft.is_symlink() {
                format!("link -> {:?}", fs::read_link(&path).unwrap())
            } else if ft.is_dir() {
                walk(root, &rel_child, out);
                format!("dir {mode:o}")
            } else if ft.is_fifo() {
                format!("fifo {mode:o}")
            } else if ft.is_file() {
                // Root reads even mode 000 files.
                format!("file {mode:o} {}", blake3_hex(&fs::read(&path).unwrap()))
            } else {
                format!("other {mode:o}")
            };
            out.insert(rel_child, desc);
        }
    }
    let mut out = BTreeMap::new();
    walk(root, Path::new(""), &mut out);
    out
}

/// Label: value pairs of a bag-info.txt (continuation lines joined).
fn bag_info(bag: &Path) -> Vec<(String, String)> {
    let text = fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("bag-info.txt line without a colon: {line:?}"));
        out.push((k.to_string(), v.trim_start().to_string()));
    }
    out
}

fn info_values(bag: &Path, label: &str) -> Vec<String> {
    bag_info(bag)
        .into_iter()
        .filter(|(k, _)| k == label)
        .map(|(_, v)| v)
        .collect()
}

/// Every regular file under `dir`, relative, `/`-separated, raw names kept.
fn files_under(dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (rel, node) in snapshot(dir) {
        if let Node::File(bytes) = node {
            out.insert(rel.as_os_str().as_bytes().to_vec(), bytes);
        }
    }
    out
}

/// dc.xml read with Python's xml.etree: (root tag, [(tag, text)] of its children).
fn parse_dc_xml(path: &Path) -> (String, Vec<(String, String)>) {
    const SCRIPT: &str = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
out = {"root": root.tag, "children": [[c.tag, c.text or ""] for c in root]}
sys.stdout.buffer.write(json.dumps(out, ensure_ascii=True).encode("ascii"))
"#;
    let out = std::process::Command::new("python3")
        .args([os("-c"), os(SCRIPT), path.as_os_str()])
        .output()
        .expect("python3 is needed to check dc.xml");
    assert!(
        out.status.success(),
        "python3 xml.etree could not parse {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let children = v["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c[0].as_str().unwrap().to_string(),
                c[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (v["root"].as_str().unwrap().to_string(), children)
}

fn xml_titles(bag: &Path) -> Vec<String> {
    let (root, children) = parse_dc_xml(&bag.join("metadata/dc.xml"));
    assert_eq!(root, OAI_DC_ROOT, "{}: root element", bag.display());
    children
        .into_iter()
        .filter(|(t, _)| t == DC_TITLE)
        .map(|(_, v)| v)
        .collect()
}

fn json_titles(bag: &Path) -> Vec<String> {
    let v: Value = serde_json::from_slice(&fs::read(bag.join("metadata/dc.json")).unwrap())
        .expect("metadata/dc.json is JSON");
    v["dc.title"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: dc.json has no dc.title array: {v}", bag.display()))
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

fn bagit_py_validate(bag: &Path) {
    let out = std::process::Command::new("bagit.py")
        .arg("--validate")
        .arg(bag)
        .output()
        .expect("bagit.py (pip install bagit) must be on PATH");
    assert!(
        out.status.success(),
        "bagit.py --validate {} failed:\n{}{}",
        bag.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn cairn_validate(bag: &Path) {
    validate(bag, &[]).assert_code(0).assert_no_problems();
}

/// The three ingest events, in order, for `id`, and no other event about it.
fn assert_ingest_events(events: &[Value], id: &str) {
    let types: Vec<&str> = events
        .iter()
        .filter(|e| e["object"].as_str() == Some(id))
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, INGEST_EVENT_TYPES, "events about {id}");
    for e in events.iter().filter(|e| e["object"].as_str() == Some(id)) {
        assert_eq!(e["outcome"], "success", "{e}");
    }
}

/// The register entry's files against the bag's payload: same set, same sizes, and
/// BLAKE3 and SHA-512 digests recomputed here.
fn assert_register_matches_bag(entry: &Value, bag: &Path) {
    let payload = files_under(&bag.join("data"));
    let files = entry["files"].as_array().expect("files array");
    assert_eq!(
        files.len(),
        payload.len(),
        "register lists {} files, the bag holds {}",
        files.len(),
        payload.len()
    );
    for f in files {
        let path = f["path"].as_str().unwrap();
        let rel = path
            .strip_prefix("data/")
            .unwrap_or_else(|| panic!("register path {path:?} is not under data/"));
        let bytes = payload
            .get(rel.as_bytes())
            .unwrap_or_else(|| panic!("register lists {path:?}, not in {}", bag.display()));
        assert_eq!(f["size"].as_u64(), Some(bytes.len() as u64), "{path}: size");
        assert_eq!(
            f["digests"]["blake3"].as_str(),
            Some(blake3_hex(bytes).as_str()),
            "{path}: blake3"
        );
        assert_eq!(
            f["digests"]["sha512"].as_str(),
            Some(sha512_hex(bytes).as_str()),
            "{path}: sha512"
        );
        let mime = f["mime"].as_str().expect("mime");
        assert!(!mime.is_empty(), "{path}: empty mime");
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            assert_eq!(mime, "image/png", "{path}: a PNG");
        }
    }
}

fn sample_titles() -> BTreeMap<String, String> {
    let mut reader = csv::Reader::from_path(Path::new(SAMPLES).join("metadata.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = headers.iter().position(|h| h == "dc.title").unwrap();
    let mut out = BTreeMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        let name = row[0]
            .strip_prefix("objects/")
            .unwrap_or(&row[0])
            .to_string();
        out.insert(name, row[col].to_string());
    }
    out
}

fn copy_samples(intake: &Path) {
    for e in fs::read_dir(SAMPLES).unwrap() {
        let e = e.unwrap();
        copy_tree(&e.path(), &intake.join(e.file_name()));
    }
}

// ---------------------------------------------------------------------------------------
// 1. The sample collection.

#[test]
fn sample_collection_is_ingested_verified_and_idempotent() {
    let a = Arch::new("ingest-samples");
    copy_samples(&a.intake());
    let titles = sample_titles();
    assert_eq!(titles.len(), 6, "the sample sheet describes 6 items");

    let run = a.ingest(&[]);
    run.assert_code(0);
    let reg = a.register();
    assert_eq!(reg.len(), 6, "register entries\n{}", run.describe());
    assert_eq!(a.bag_ids(), reg.keys().cloned().collect::<Vec<_>>());
    let expected_ids: Vec<String> = (1..=6).map(|n| format!("cairn-{n:06}")).collect();
    assert_eq!(a.bag_ids(), expected_ids, "generated identifiers");

    let events = a.events();
    assert_eq!(events.len(), 24, "four events per item");
    assert_eq!(events[0]["prev"], GENESIS);

    for (name, title) in &titles {
        let id = a.id_of(name);
        let bag = a.bag(&id);
        assert!(
            run.stdout.contains(name.as_str()) && run.stdout.contains(id.as_str()),
            "the report names {name:?} and {id}\n{}",
            run.describe()
        );
        cairn_validate(&bag);
        bagit_py_validate(&bag);

        assert_eq!(
            xml_titles(&bag),
            std::slice::from_ref(title),
            "{id}: dc.xml title of {name:?}"
        );
        assert_eq!(
            json_titles(&bag),
            std::slice::from_ref(title),
            "{id}: dc.json title"
        );
        let entry = &reg[&id];
        assert_eq!(entry["id"], id.as_str());
        assert_eq!(entry["dublin_core"]["dc.title"][0], title.as_str());
        assert_register_matches_bag(entry, &bag);

        // The payload is the intake item, byte for byte.
        let src = Path::new(SAMPLES).join(name);
        let expected: BTreeMap<Vec<u8>, Vec<u8>> = if src.is_dir() {
            files_under(&src)
        } else {
            BTreeMap::from([(name.as_bytes().to_vec(), fs::read(&src).unwrap())])
        };
        assert_eq!(
            files_under(&bag.join("data")),
            expected,
            "{id}: payload of {name:?}"
        );

        assert_eq!(
            info_values(&bag, "External-Identifier"),
            std::slice::from_ref(&id)
        );
        assert_eq!(
            info_values(&bag, "Internal-Sender-Identifier"),
            std::slice::from_ref(name)
        );
        assert_ingest_events(&events, &id);
    }
    // PNGs are identified (and there are some).
    let pngs = reg
        .values()
        .flat_map(|e| e["files"].as_array().unwrap().iter())
        .filter(|f| f["mime"] == "image/png")
        .count();
    assert_eq!(pngs, 6, "the sample holds six PNG files");

    // A second run finds everything archived and writes nothing.
    let before = a.state();
    let again = a.ingest(&[]);
    again.assert_code(0);
    for name in titles.keys() {
        let id = a.id_of(name);
        assert!(
            again.stdout.lines().any(|l| l.contains(name.as_str())
                && l.contains("already archived")
                && l.contains(&id)),
            "{name:?} should be reported as already archived as {id}\n{}",
            again.describe()
        );
    }
    assert!(
        !again.stdout.lines().any(|l| l.starts_with("ingested ")),
        "nothing may be ingested twice\n{}",
        again.describe()
    );
    let after = a.state();
    assert_eq!(
        snapshot_diff(&before.0, &after.0),
        "",
        "archive/ changed on the second run"
    );
    assert_eq!(
        snapshot_diff(&before.1, &after.1),
        "",
        "manifests/ changed on the second run"
    );
}

/// The MIME type comes from the bytes, not the name.
#[test]
fn mime_types_come_from_the_bytes() {
    let a = Arch::new("ingest-mime");
    let png =
        fs::read(Path::new(SAMPLES).join("intake portraits/portrait-placeholder-001.png")).unwrap();
    write_file(&a.intake(), "sniff/picture.txt", &png);
    write_file(
        &a.intake(),
        "sniff/notes.png",
        b"plain words, not an image\n",
    );
    write_file(
        &a.intake(),
        "sniff/cairn.dc.json",
        br#"{"dc.title": "Misnamed files"}"#,
    );
    a.ingest(&[]).assert_code(0);
    let id = a.id_of("sniff");
    let entry = &a.register()[&id];
    let mime = |p: &str| {
        entry["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p)
            .unwrap_or_else(|| panic!("no {p} in {entry}"))["mime"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(mime("data/picture.txt"), "image/png");
    assert_ne!(mime("data/notes.png"), "image/png");
    assert!(mime("data/notes.png").starts_with("text/plain"), "{entry}");
    // The sidecar is metadata, not payload: kept as a tag file.
    assert!(a.bag(&id).join("metadata/cairn.dc.json").is_file());
    assert!(!a.bag(&id).join("data/cairn.dc.json").exists());
}

// ---------------------------------------------------------------------------------------
// 2. Dry run.

#[test]
fn dry_run_reports_ids_and_writes_nothing() {
    let a = Arch::new("ingest-dry");
    copy_samples(&a.intake());
    let bags_before = snapshot(&a.bags());
    let manifests_before = snapshot(&a.manifests());
    let intake_before = snapshot(&a.intake());

    let run = a.ingest(&["--dry-run"]);
    run.assert_code(0);
    let reported: Vec<String> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("would ingest"))
        .map(String::from)
        .collect();
    assert_eq!(reported.len(), 6, "{}", run.describe());
    for n in 1..=6 {
        let id = format!("cairn-{n:06}");
        assert!(
            reported.iter().any(|l| l.contains(&id)),
            "the dry run should name {id}\n{}",
            run.describe()
        );
    }
    assert_eq!(
        snapshot_diff(&bags_before, &snapshot(&a.bags())),
        "",
        "archive/ changed in a dry run"
    );
    assert_eq!(
        snapshot_diff(&intake_before, &snapshot(&a.intake())),
        "",
        "intake/ changed in a dry run"
    );
    assert_eq!(
        snapshot_diff(&manifests_before, &snapshot(&a.manifests())),
        "",
        "manifests/ changed in a dry run (byte for byte, the lock file included)"
    );
}

/// The identifiers a dry run announces are the ones a real run then gives, and a dry
/// run over an archive that already has items changes none of it (the lock file aside,
/// which `dry_run_reports_ids_and_writes_nothing` checks on its own).
#[test]
fn dry_run_ids_match_the_real_run() {
    let a = Arch::new("ingest-dry-ids");
    good_item(&a.intake(), "first", "First");
    a.ingest(&[]).assert_code(0);
    good_item(&a.intake(), "second", "Second");
    good_item(&a.intake(), "third", "Third");
    write_file(
        &a.intake(),
        "third/cairn.dc.json",
        br#"{"dc.title": "Third", "dc.identifier": "S21 box 7"}"#,
    );
    let before = a.state();
    let intake_before = snapshot(&a.intake());
    let dry = a.ingest(&["--dry-run", "--json"]);
    dry.assert_code(0);
    let report: Value = serde_json::from_str(&dry.stdout).expect("--json prints JSON");
    let planned: BTreeMap<String, String> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["outcome"] == "would-ingest")
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        planned,
        BTreeMap::from([
            ("second".to_string(), "cairn-000002".to_string()),
            ("third".to_string(), "S21_box_7".to_string()),
        ]),
        "{}",
        dry.describe()
    );
    let after = a.state();
    assert_eq!(snapshot_diff(&before.0, &after.0), "", "archive/ changed");
    assert_eq!(snapshot_diff(&before.1, &after.1), "", "manifests/ changed");
    assert_eq!(snapshot_diff(&intake_before, &snapshot(&a.intake())), "");

    a.ingest(&[]).assert_code(0);
    for (name, id) in &planned {
        assert_eq!(&a.id_of(name), id, "the real run's identifier for {name}");
    }
}

// ---------------------------------------------------------------------------------------
// 3. Unicode names and values.

#[test]
fn unicode_names_and_values_are_kept_byte_for_byte() {
    let a = Arch::new("ingest-unicode");
    let intake = a.intake();
    // Folder in NFD; the sheet names it in NFC.
    let nfd_item = "Nu\u{301}n\u{303}ez-notes";
    let nfc_item = "N\u{fa}\u{f1}ez-notes";
    let nfd_file = "E\u{301}tude.txt";
    // A title in NFD too: values are never normalised either.
    let nfd_title = "Notes de Nu\u{301}n\u{303}ez";
    let khmer_item = "ឯកសារ-ទួលស្លែង";
    let khmer_file = "កំណត់ត្រា.txt";
    let khmer_title = "កំណត់ត្រាអំពីទួលស្លែង (ភ្នំពេញ)";
    write_file(&intake, format!("{nfd_item}/{nfd_file}"), b"etude\n");
    write_file(
        &intake,
        format!("{khmer_item}/{khmer_file}"),
        "ខ្មែរ\n".as_bytes(),
    );
    write_csv(
        &intake,
        &["filename", "dc.title", "dc.language"],
        &[
            &[&format!("objects/{nfc_item}"), nfd_title, "es"],
            &[khmer_item, khmer_title, "km"],
        ],
    );
    let run = a.ingest(&[]);
    run.assert_code(0);
    assert_eq!(a.register().len(), 2, "{}", run.describe());

    for (item, file, title) in [
        (nfd_item, nfd_file, nfd_title),
        (khmer_item, khmer_file, khmer_title),
    ] {
        let id = a.id_of(item); // exact bytes of the on-disk name
        let bag = a.bag(&id);
        cairn_validate(&bag);
        bagit_py_validate(&bag);
        // Payload name: the very bytes.
        let names: Vec<OsString> = fs::read_dir(bag.join("data"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [OsString::from(file)], "{id}: payload names");
        let manifest = fs::read(bag.join("manifest-sha512.txt")).unwrap();
        let listed: Vec<Vec<u8>> = parse_manifest(&manifest, "manifest-sha512.txt")
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        assert_eq!(
            listed,
            [format!("data/{file}").into_bytes()],
            "{id}: manifest"
        );
        assert_eq!(
            info_values(&bag, "Internal-Sender-Identifier"),
            [item.to_string()],
            "{id}: Internal-Sender-Identifier"
        );
        assert_eq!(xml_titles(&bag), [title.to_string()], "{id}: dc.xml");
        assert_eq!(json_titles(&bag), [title.to_string()], "{id}: dc.json");
        let entry = &a.register()[&id];
        assert_eq!(entry["intake_name"], item, "{id}: register intake_name");
        assert_eq!(entry["dublin_core"]["dc.title"][0], title);
        assert_eq!(entry["files"][0]["path"], format!("data/{file}"));
        assert_register_matches_bag(entry, &bag);
    }
    // The event log names the items exactly too.
    let events = a.events();
    for item in [nfd_item, khmer_item] {
        assert!(
            events
                .iter()
                .any(|e| e["data"]["intake_name"].as_str() == Some(item)),
            "no ingestion event carries the intake name {item:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 4. Hostile items: each refused with its reason, next to a good item that is ingested.

const GOOD: &str = "good-item";

/// Sets up a good item and, through `setup`, a hostile one (named to sort before the
/// good one, so a refusal must not stop the run). Runs ingest, then checks: exit 1;
/// stderr holds every fragment of `expect`; the good item, and only it, has a bag that
/// validates, a register entry and its three events; intake/ is unchanged.
fn hostile_case(label: &str, setup: impl FnOnce(&Path), expect: &[&str]) -> (Arch, Run) {
    let a = Arch::new(label);
    good_item(&a.intake(), GOOD, "A good item");
    setup(&a.intake());
    let run = a.ingest(&[]);
    check_hostile(&a, &run, expect, &intake_state(&a.intake()));
    (a, run)
}

fn check_hostile(a: &Arch, run: &Run, expect: &[&str], intake_before: &BTreeMap<PathBuf, String>) {
    run.assert_code(1);
    for fragment in expect {
        assert!(
            run.stderr.contains(fragment),
            "stderr should contain {fragment:?}\n{}",
            run.describe()
        );
    }
    let reg = a.register();
    assert_eq!(
        reg.len(),
        1,
        "only the good item may be registered\n{}",
        run.describe()
    );
    let id = a.id_of(GOOD);
    assert_eq!(
        a.bag_ids(),
        std::slice::from_ref(&id),
        "only the good item's bag"
    );
    cairn_validate(&a.bag(&id));
    let events = a.events();
    assert_eq!(events.len(), 4, "only the good item's events: {events:?}");
    assert_ingest_events(&events, &id);
    let staging = a.bags().join(".staging");
    if staging.exists() {
        assert_eq!(
            fs::read_dir(&staging).unwrap().count(),
            0,
            "a refused item left something in archive/.staging"
        );
    }
    assert_eq!(
        &intake_state(&a.intake()),
        intake_before,
        "intake/ changed\n{}",
        run.describe()
    );
}

#[test]
fn hostile_symlink_out_of_intake_is_refused() {
    let outside = fresh_dir("ingest-outside");
    let secret = outside.path().join("secret.txt");
    fs::write(&secret, b"outside the intake\n").unwrap();
    let (a, _) = hostile_case(
        "ingest-symlink",
        |intake| {
            good_item(intake, "bad-link", "Has a link");
            std::os::unix::fs::symlink(&secret, intake.join("bad-link/escape")).unwrap();
        },
        &["bad-link", "escape", "symbolic link"],
    );
    // Never followed: the target's bytes are nowhere in the archive.
    for (_, node) in snapshot(&a.bags()) {
        if let Node::File(b) = node {
            assert!(!b.windows(18).any(|w| w == b"outside the intake"));
        }
    }
}

#[test]
fn hostile_fifo_is_refused_without_hanging() {
    hostile_case(
        "ingest-fifo",
        |intake| {
            good_item(intake, "bad-fifo", "Has a fifo");
            let p = std::ffi::CString::new(
                intake.join("bad-fifo/pipe").as_os_str().as_bytes().to_vec(),
            )
            .unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o644) }, 0, "mkfifo");
        },
        &["bad-fifo", "pipe", "fifo"],
    );
}

#[test]
fn hostile_newline_in_a_name_is_refused() {
    hostile_case(
        "ingest-newline",
        |intake| {
            good_item(intake, "bad-newline", "Has a newline");
            write_file(intake, "bad-newline/a\nb.txt", b"x\n");
        },
        // The name is shown escaped once, on one line: `a\nb.txt`. (Escaped twice,
        // `a\\nb.txt`, it would read as a name holding a backslash and an `n`.)
        &["bad-newline", "/a\\nb.txt", "control character"],
    );
}

#[test]
fn hostile_percent_in_a_name_is_refused() {
    hostile_case(
        "ingest-percent",
        |intake| {
            good_item(intake, "bad-percent", "Has a percent");
            write_file(intake, "bad-percent/a%0Ab.txt", b"x\n");
        },
        &["bad-percent", "a%0Ab.txt", "`%`"],
    );
}

#[test]
fn hostile_item_without_metadata_is_refused() {
    hostile_case(
        "ingest-nometa",
        |intake| write_file(intake, "bad-nometa/file.txt", b"undescribed\n"),
        &["bad-nometa", "no metadata"],
    );
}

#[test]
fn hostile_unknown_csv_column_suggests_the_nearest_name() {
    hostile_case(
        "ingest-titel",
        |intake| {
            write_file(intake, "bad-typo/file.txt", b"x\n");
            write_csv(intake, &["filename", "dc.titel"], &[&["bad-typo", "Typo"]]);
        },
        &[
            "metadata.csv",
            "dc.titel",
            "did you mean dc.title?",
            "bad-typo",
        ],
    );
}

#[test]
fn hostile_bad_date_is_refused() {
    hostile_case(
        "ingest-date",
        |intake| {
            write_file(intake, "bad-date/file.txt", b"x\n");
            write_csv(
                intake,
                &["filename", "dc.title", "dc.date"],
                &[&["bad-date", "Dated", "1975-13-01"]],
            );
        },
        &["bad-date", "dc.date", "1975-13-01", "month 13"],
    );
}

#[test]
fn hostile_dc_type_outside_dcmi_suggests_the_right_spelling() {
    hostile_case(
        "ingest-type",
        |intake| {
            write_file(intake, "bad-type/file.txt", b"x\n");
            write_csv(
                intake,
                &["filename", "dc.title", "dc.type"],
                &[&["bad-type", "Typed", "stillimage"]],
            );
        },
        &[
            "bad-type",
            "dc.type",
            "stillimage",
            "did you mean StillImage?",
        ],
    );
}

#[test]
fn hostile_bad_language_code_is_refused() {
    hostile_case(
        "ingest-lang",
        |intake| {
            write_file(intake, "bad-lang/file.txt", b"x\n");
            write_csv(
                intake,
                &["filename", "dc.title", "dc.language"],
                &[&["bad-lang", "Language", "English"]],
            );
        },
        &[
            "bad-lang",
            "dc.language",
            "English",
            "ISO 639",
            "did you mean en?",
        ],
    );
}

#[test]
fn csv_row_naming_no_item_is_reported() {
    let a = Arch::new("ingest-ghost");
    write_file(&a.intake(), format!("{GOOD}/content.txt"), b"good\n");
    write_csv(
        &a.intake(),
        &["filename", "dc.title"],
        &[
            &[GOOD, "A good item"],
            &["objects/ghost-item", "Never dropped in"],
        ],
    );
    let before = intake_state(&a.intake());
    let run = a.ingest(&[]);
    check_hostile(
        &a,
        &run,
        &["metadata.csv:3", "ghost-item", "not an item"],
        &before,
    );
}

#[test]
fn hostile_unreadable_file_is_refused() {
    // Root reads any file, so run as nobody, in an archive nobody may write to.
    let probe = std::process::Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "true"])
        .output();
    match &probe {
        Ok(o) if o.status.success() => {}
        other => {
            // Without a way to drop root's privileges an unreadable file cannot be made
            // here: as root, chmod 000 does not stop reads. Nothing can be asserted.
            common::skip(&format!(
                "setpriv cannot switch to nobody here ({other:?}), so no file can be made unreadable"
            ));
            return;
        }
    }
    let a = Arch::new("ingest-unreadable");
    good_item(&a.intake(), GOOD, "A good item");
    good_item(&a.intake(), "bad-unreadable", "Has an unreadable file");
    let secret = a.intake().join("bad-unreadable/secret.txt");
    fs::write(&secret, b"no one may read this\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(a.tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    for d in [a.bags(), a.manifests()] {
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
    }
    // The binary must be reachable by nobody; copy it next to the archive.
    let bin = a.tmp.path().join("cairn");
    fs::copy(common::cairn_bin(), &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let readable_by_nobody = std::process::Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
        .arg(&secret)
        .output()
        .unwrap();
    assert!(
        !readable_by_nobody.status.success(),
        "setup: nobody can still read the mode-000 file"
    );

    let before = intake_state(&a.intake());
    let mut setpriv = std::process::Command::new("/usr/bin/setpriv");
    common::hermetic(&mut setpriv);
    let out = assert_cmd::Command::from_std(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args([os("ingest"), os("--root"), a.root.as_os_str()])
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    let run = Run {
        cmdline: format!("setpriv (as nobody) cairn ingest --root {:?}", a.root),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    check_hostile(&a, &run, &["bad-unreadable", "secret.txt"], &before);
    assert!(
        [
            "ermission denied",
            "cannot read",
            "unreadable",
            "not readable"
        ]
        .iter()
        .any(|r| run.stderr.contains(r)),
        "stderr should say the file cannot be read\n{}",
        run.describe()
    );
}

// ---------------------------------------------------------------------------------------
// 5. --remove-source.

fn two_items(intake: &Path) {
    write_file(intake, "alpha/one.txt", b"alpha one\n");
    write_file(intake, "alpha/sub/two.txt", b"alpha two\n");
    write_file(intake, "beta.txt", b"beta, a lone file\n");
    write_csv(
        intake,
        &["filename", "dc.title"],
        &[&["alpha", "Alpha"], &["beta.txt", "Beta"]],
    );
}

#[test]
fn remove_source_deletes_intake_items_only_after_commit() {
    let a = Arch::new("ingest-remove");
    two_items(&a.intake());
    let alpha_before = intake_state(&a.intake().join("alpha"));

    // Stop the run just before it deletes the first item's intake copy: by then its bag,
    // register entry and events must all exist, and the intake copy must be whole.
    let crashed = a.ingest_env(
        &[("CAIRN_FAILPOINT", os("ingest-before-remove-source"))],
        &["--remove-source"],
    );
    assert_ne!(crashed.code, Some(0), "{}", crashed.describe());
    assert!(
        crashed
            .stderr
            .contains("failpoint ingest-before-remove-source"),
        "the failpoint did not fire\n{}",
        crashed.describe()
    );
    let alpha_id = a.id_of("alpha");
    cairn_validate(&a.bag(&alpha_id));
    assert_ingest_events(&a.events(), &alpha_id);
    assert_eq!(
        intake_state(&a.intake().join("alpha")),
        alpha_before,
        "alpha's intake copy"
    );
    assert!(a.intake().join("beta.txt").is_file());

    // Run again: alpha is already archived (its bag validates) so its copy goes; beta is
    // ingested and removed.
    let run = a.ingest(&["--remove-source"]);
    run.assert_code(0);
    assert!(
        run.stdout.lines().any(|l| l.contains("alpha")
            && l.contains("already archived")
            && l.contains("removed")),
        "{}",
        run.describe()
    );
    assert!(!a.intake().join("alpha").exists(), "alpha still in intake");
    assert!(
        !a.intake().join("beta.txt").exists(),
        "beta.txt still in intake"
    );
    assert!(
        a.intake().join("metadata.csv").is_file(),
        "metadata.csv is not an item"
    );
    let beta_id = a.id_of("beta.txt");
    cairn_validate(&a.bag(&beta_id));
    let events = a.events();
    assert_eq!(events.len(), 8, "{events:?}");
    assert_ingest_events(&events, &alpha_id);
    assert_ingest_events(&events, &beta_id);
    assert_eq!(a.register().len(), 2);

    // And again: nothing to do, nothing written; the sheet's rows name archived items,
    // which is no problem.
    let before = a.state();
    let rerun = a.ingest(&["--remove-source"]);
    rerun.assert_code(0);
    let after = a.state();
    assert_eq!(snapshot_diff(&before.0, &after.0), "");
    assert_eq!(snapshot_diff(&before.1, &after.1), "");
}

#[test]
fn remove_source_keeps_the_intake_copy_when_the_archived_bag_is_damaged() {
    let a = Arch::new("ingest-remove-corrupt");
    two_items(&a.intake());
    a.ingest(&[]).assert_code(0);
    let alpha = a.id_of("alpha");
    let beta = a.id_of("beta.txt");
    // Damage alpha's archived copy; beta's is intact.
    let victim = a.bag(&alpha).join("data/one.txt");
    fs::write(&victim, b"alpha ONE\n").unwrap();
    assert_eq!(validate(&a.bag(&alpha), &[]).code, Some(1));

    let alpha_before = intake_state(&a.intake().join("alpha"));
    let run = a.ingest(&["--remove-source"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("alpha") && run.stderr.contains(&alpha),
        "stderr should name alpha and its bag\n{}",
        run.describe()
    );
    assert_eq!(
        intake_state(&a.intake().join("alpha")),
        alpha_before,
        "alpha's intake copy is the last good one and must be kept"
    );
    assert!(
        !a.intake().join("beta.txt").exists(),
        "beta's archived bag validates, so its intake copy goes\n{}",
        run.describe()
    );
    assert!(a.bag(&beta).is_dir());
    assert_eq!(a.events().len(), 8, "no new ingestion");
}

// ---------------------------------------------------------------------------------------
// 6. Identifiers.

#[test]
fn dc_identifier_names_the_folder_and_is_never_reused() {
    let a = Arch::new("ingest-ids");
    let intake = a.intake();
    write_file(&intake, "first/f.txt", b"first\n");
    write_csv(
        &intake,
        &["filename", "dc.title", "dc.identifier"],
        &[&["first", "First", "DC-Cam/S21/0001"]],
    );
    a.ingest(&[]).assert_code(0);
    assert_eq!(a.bag_ids(), ["DC-Cam_S21_0001"]);
    let bag = a.bag("DC-Cam_S21_0001");
    cairn_validate(&bag);
    assert_eq!(
        info_values(&bag, "External-Identifier"),
        ["DC-Cam/S21/0001"]
    );
    assert_eq!(a.id_of("first"), "DC-Cam_S21_0001");

    // The same identifier again, and one that maps to the same folder name.
    fs::remove_dir_all(intake.join("first")).unwrap();
    write_file(&intake, "same-id/f.txt", b"another item\n");
    write_file(&intake, "same-folder/f.txt", b"yet another item\n");
    good_item(&intake, GOOD, "A good item");
    write_csv(
        &intake,
        &["filename", "dc.title", "dc.identifier"],
        &[
            &["first", "First", "DC-Cam/S21/0001"],
            &["same-id", "Same identifier", "DC-Cam/S21/0001"],
            &["same-folder", "Same folder", "DC-Cam:S21:0001"],
        ],
    );
    let before_bag = snapshot(&bag);
    let run = a.ingest(&[]);
    run.assert_code(1);
    for fragment in [
        "same-id",
        "DC-Cam/S21/0001",
        "same-folder",
        "DC-Cam:S21:0001",
        "DC-Cam_S21_0001",
    ] {
        assert!(
            run.stderr.contains(fragment),
            "stderr should mention {fragment:?}\n{}",
            run.describe()
        );
    }
    let refused: Vec<&str> = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("refused "))
        .collect();
    assert_eq!(refused, ["same-folder:", "same-id:"], "{}", run.describe());
    assert_eq!(
        snapshot_diff(&before_bag, &snapshot(&bag)),
        "",
        "the first bag changed"
    );
    let good = a.id_of(GOOD);
    assert_eq!(good, "cairn-000001");
    assert_eq!(a.bag_ids(), ["DC-Cam_S21_0001", "cairn-000001"]);
    assert_eq!(a.register().len(), 2);
    assert_eq!(a.events().len(), 8);
}

#[test]
fn generated_ids_are_never_reused_even_after_a_bag_is_deleted() {
    let a = Arch::new("ingest-gen");
    good_item(&a.intake(), "item-a", "A");
    good_item(&a.intake(), "item-b", "B");
    a.ingest(&["--remove-source"]).assert_code(0);
    assert_eq!(a.id_of("item-a"), "cairn-000001");
    assert_eq!(a.id_of("item-b"), "cairn-000002");
    // Delete the newest item by hand, bag and register entry.
    fs::remove_dir_all(a.bag("cairn-000002")).unwrap();
    fs::remove_file(a.manifests().join("cairn-000002.json")).unwrap();

    good_item(&a.intake(), "item-c", "C");
    let run = a.ingest(&[]);
    run.assert_code(0);
    assert_eq!(
        a.id_of("item-c"),
        "cairn-000003",
        "the event log remembers cairn-000002\n{}",
        run.describe()
    );
    assert!(!a.bag("cairn-000002").exists());
    assert!(!a.manifests().join("cairn-000002.json").exists());
}

// ---------------------------------------------------------------------------------------
// 7. show and list.

#[test]
fn show_and_list_report_the_register_and_events() {
    let a = Arch::new("ingest-show");
    two_items(&a.intake());
    a.ingest(&[]).assert_code(0);
    let alpha = a.id_of("alpha");
    let beta = a.id_of("beta.txt");

    let show = a.cmd(&["show", &alpha]);
    show.assert_code(0);
    assert!(
        show.stdout.contains("dc.title: Alpha"),
        "{}",
        show.describe()
    );
    for (rel, bytes) in [
        ("one.txt", &b"alpha one\n"[..]),
        ("sub/two.txt", &b"alpha two\n"[..]),
    ] {
        for fragment in [format!("data/{rel}"), blake3_hex(bytes), sha512_hex(bytes)] {
            assert!(
                show.stdout.contains(&fragment),
                "show should print {fragment}\n{}",
                show.describe()
            );
        }
    }
    for t in INGEST_EVENT_TYPES {
        assert!(show.stdout.contains(t), "show should list the {t} event");
    }

    let json = a.cmd(&["show", &alpha, "--json"]);
    json.assert_code(0);
    let v: Value = serde_json::from_str(&json.stdout).expect("show --json prints JSON");
    assert_eq!(v["entry"]["id"], alpha.as_str());
    assert_eq!(v["entry"]["dublin_core"]["dc.title"][0], "Alpha");
    assert_eq!(v["entry"]["files"].as_array().unwrap().len(), 2);
    let types: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, INGEST_EVENT_TYPES);

    let missing = a.cmd(&["show", "cairn-999999"]);
    missing.assert_code(2);
    assert!(
        missing.stderr.contains("cairn-999999"),
        "{}",
        missing.describe()
    );

    let list = a.cmd(&["list", "--json"]);
    list.assert_code(0);
    let items: Value = serde_json::from_str(&list.stdout).expect("list --json prints JSON");
    let got: BTreeMap<String, String> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["title"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        BTreeMap::from([(alpha, "Alpha".to_string()), (beta, "Beta".to_string())])
    );
}

// ---------------------------------------------------------------------------------------
// 8. cairn.toml, init, the archive root.

#[test]
fn unknown_config_key_is_an_operational_error_naming_file_line_and_key() {
    let a = Arch::new("ingest-config");
    good_item(&a.intake(), GOOD, "A good item");
    let path = a.root.join("cairn.toml");
    let text = fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.trim() == "[ingest]").unwrap() + 1;
    lines.insert(at, "identifer_prefix = \"s21-\"");
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    let line_no = at + 1;

    let run = a.ingest(&[]);
    run.assert_code(3);
    for fragment in [
        format!("cairn.toml:{line_no}"),
        "identifer_prefix".to_string(),
    ] {
        assert!(
            run.stderr.contains(&fragment),
            "stderr should contain {fragment:?}\n{}",
            run.describe()
        );
    }
    assert!(a.bag_ids().is_empty() && a.register().is_empty());
}

#[test]
fn init_refuses_to_overwrite_an_archive() {
    let a = Arch::new("ingest-init");
    let config = a.root.join("cairn.toml");
    // An edited configuration must survive a second init.
    let edited = fs::read_to_string(&config)
        .unwrap()
        .replace("collection = \"\"", "collection = \"S-21\"");
    fs::write(&config, &edited).unwrap();
    let run = cairn_env(None, &[], &[os("init"), a.root.as_os_str()]);
    run.assert_code(2);
    assert!(run.stderr.contains("cairn.toml"), "{}", run.describe());
    assert_eq!(fs::read_to_string(&config).unwrap(), edited);
}

#[test]
fn ingest_outside_an_archive_says_to_run_init() {
    let dir = fresh_dir("ingest-noarchive");
    fs::create_dir(dir.path().join("intake")).unwrap();
    let run = cairn_env(Some(dir.path()), &[], &[os("ingest")]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("cairn init") && run.stderr.contains("cairn.toml"),
        "{}",
        run.describe()
    );
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing written"
    );
}

#[test]
fn archive_root_from_cairn_root_or_the_current_folder() {
    let a = Arch::new("ingest-root");
    good_item(&a.intake(), "by-env", "By CAIRN_ROOT");
    let elsewhere = fresh_dir("ingest-elsewhere");
    let run = cairn_env(
        Some(elsewhere.path()),
        &[("CAIRN_ROOT", a.root.as_os_str())],
        &[os("ingest")],
    );
    run.assert_code(0);
    assert_eq!(a.id_of("by-env"), "cairn-000001");
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);

    good_item(&a.intake(), "by-cwd", "By the current folder");
    cairn_env(Some(&a.root), &[], &[os("ingest")]).assert_code(0);
    assert_eq!(a.id_of("by-cwd"), "cairn-000002");

    let list = cairn_env(
        Some(elsewhere.path()),
        &[("CAIRN_ROOT", a.root.as_os_str())],
        &[os("list"), os("--json")],
    );
    list.assert_code(0);
    let items: Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(items.as_array().unwrap().len(), 2);
}

#[test]
fn intake_option_reads_another_folder() {
    let a = Arch::new("ingest-intake-opt");
    let other = a.tmp.path().join("elsewhere");
    good_item(&other, "from-elsewhere", "From another folder");
    good_item(&a.intake(), "in-intake", "Stays waiting");
    let other_s = other.to_str().unwrap().to_string();
    a.ingest(&["--intake", &other_s]).assert_code(0);
    let reg = a.register();
    assert_eq!(reg.len(), 1);
    a.id_of("from-elsewhere");
    assert!(a.intake().join("in-intake").is_dir());
}

/// A damaged event log stops ingest before anything is written (docs/ingest.md): new
/// events must never be chained onto a log that no longer verifies.
#[test]
fn tampered_event_log_stops_ingest() {
    let a = Arch::new("ingest-tamper");
    good_item(&a.intake(), "first", "First");
    good_item(&a.intake(), "second", "Second");
    a.ingest(&["--remove-source"]).assert_code(0);
    let log = a.manifests().join("events.jsonl");
    let text = fs::read_to_string(&log).unwrap();
    // Edit line 2: line 3's prev no longer matches.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[1] = lines[1].replace("\"success\"", "\"failure\"");
    let tampered = lines.join("\n") + "\n";
    assert_ne!(tampered, text, "setup: the edit changed nothing");
    fs::write(&log, &tampered).unwrap();

    good_item(&a.intake(), "third", "Third");
    let before = a.state();
    let run = a.ingest(&[]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("events.jsonl") && run.stderr.contains("line 3"),
        "stderr should name the log and the first broken line\n{}",
        run.describe()
    );
    let after = a.state();
    assert_eq!(snapshot_diff(&before.0, &after.0), "", "archive/ changed");
    assert_eq!(snapshot_diff(&before.1, &after.1), "", "manifests/ changed");
    assert_eq!(fs::read_to_string(&log).unwrap(), tampered);
}
