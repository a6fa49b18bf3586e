//! Fixity and audit find every injected fault and blame the right bag and file (issue 4).
//!
//! One archive of many small bags gets at least 200 faults, one bag each: a flipped bit,
//! a truncated, deleted, added or renamed payload file, an edited manifest line, an
//! edited bag-info.txt, a payload change with every manifest and tag manifest rewritten
//! to match (the bag still validates on its own), an edited register entry (a payload
//! digest, or a tag manifest's digest). `cairn fixity --all` and `cairn audit` must fail
//! every faulted bag, naming the file, and pass every untouched one.
//!
//! Small separate archives take the event-log faults (the first break hides the later
//! ones): edited, deleted, reordered, inserted and truncated lines, each named by its
//! line number; and a forger who rewrites an early line and re-chains the whole log,
//! which only a head recorded earlier (`--since-head`) exposes. Last, a bag folder
//! deleted and a bag copied under an identifier the register does not know.
//!
//! Everything runs the real binary on fresh temporary folders; nothing is mocked.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use serde_json::Value;
use sha2::{Digest, Sha512};

/// Items in the big archive. Every 12th group of items gets one fault of each of the
/// ten kinds and leaves two bags untouched: 200 faulted bags and 40 untouched.
const ITEMS: usize = 240;
const GROUP: usize = 12;

use crate::common;
use common::{cairn, describe, run};

fn json_of(out: &Output, what: &str) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e}):\n{}", describe(out)))
}

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

fn sha512_hex(bytes: &[u8]) -> String {
    Sha512::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Another hex digit in place of the first character of `hex`.
fn alter_hex(hex: &str) -> String {
    let first = if hex.starts_with('0') { '1' } else { '0' };
    format!("{first}{}", &hex[1..])
}

/// Deterministic text of exactly `len` bytes, unique to (item, file).
fn text(item: usize, file: usize, len: usize) -> Vec<u8> {
    let line = format!("{item}:{file}: Sample: synthetic page, S-21; no real record.\n");
    line.bytes().cycle().take(len).collect()
}

/// Deterministic binary noise of exactly `len` bytes (xorshift seeded by the item).
fn noise(item: usize, len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (item as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The three files of item `i` (path inside the item folder, contents): two
/// subfolders, sizes from 0 to 20 KB, a Khmer name in every fourth item.
fn item_files(i: usize) -> Vec<(String, Vec<u8>)> {
    let note = if i.is_multiple_of(4) {
        format!("notes/ទួលស្លែង-{i:03}.txt")
    } else {
        format!("notes/note-{i:03}.txt")
    };
    vec![
        (
            "scans/page-1.txt".to_string(),
            text(i, 1, 64 + (i * 7919) % 20_000),
        ),
        (
            "scans/page-2.bin".to_string(),
            noise(i, (i * 104_729) % 20_480),
        ),
        (note, text(i, 3, 1 + (i * 389) % 6_000)),
    ]
}

/// `cairn init` and items in intake/ with their metadata sheet; returns the item names.
fn make_intake(root: &Path, items: usize) -> Vec<String> {
    let out = run(cairn().arg("init").arg(root));
    assert_eq!(out.status.code(), Some(0), "init: {}", describe(&out));
    let intake = root.join("intake");
    let mut csv = String::from("filename,dc.title,dc.date,dc.type\n");
    let mut names = Vec::new();
    for i in 0..items {
        let name = format!("item-{i:03}");
        for (rel, bytes) in item_files(i) {
            let path = intake.join(&name).join(rel);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(&path, bytes).expect("write");
        }
        csv.push_str(&format!(
            "{name},\"Sample: synthetic prisoner file {i}, S-21\",1977,Text\n"
        ));
        names.push(name);
    }
    fs::write(intake.join("metadata.csv"), csv).expect("write csv");
    names
}

/// Ingests everything in intake/ and returns intake name → identifier.
fn ingest(root: &Path) -> BTreeMap<String, String> {
    let out = run(cairn().args(["ingest", "--json", "--root"]).arg(root));
    assert_eq!(out.status.code(), Some(0), "ingest: {}", describe(&out));
    let report = json_of(&out, "ingest");
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|it| {
            assert_eq!(it["outcome"], "ingested", "{it}");
            (
                it["name"].as_str().expect("name").to_string(),
                it["id"].as_str().expect("id").to_string(),
            )
        })
        .collect()
}

/// `cairn fixity --all --json` (plus `extra`): exit code and the results by identifier.
fn fixity(root: &Path, extra: &[&str]) -> (Option<i32>, BTreeMap<String, Value>, Output) {
    let out = run(cairn()
        .args(["fixity", "--json", "--root"])
        .arg(root)
        .args(extra));
    let report = json_of(&out, "fixity");
    let by_id = report["checked"]
        .as_array()
        .expect("checked")
        .iter()
        .map(|b| (b["id"].as_str().expect("id").to_string(), b.clone()))
        .collect();
    (out.status.code(), by_id, out)
}

/// `cairn audit --json` (plus `extra`): exit code and report.
fn audit(root: &Path, extra: &[&str]) -> (Option<i32>, Value, Output) {
    let out = run(cairn()
        .args(["audit", "--json", "--root"])
        .arg(root)
        .args(extra));
    let report = json_of(&out, "audit");
    (out.status.code(), report, out)
}

/// The kinds of bag fault; one bag gets one fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    FlipBit,
    Truncate,
    Delete,
    Add,
    Rename,
    ManifestLine,
    BagInfo,
    Rewritten,
    RegisterPayload,
    RegisterTagManifest,
}

const FAULTS: [Fault; 10] = [
    Fault::FlipBit,
    Fault::Truncate,
    Fault::Delete,
    Fault::Add,
    Fault::Rename,
    Fault::ManifestLine,
    Fault::BagInfo,
    Fault::Rewritten,
    Fault::RegisterPayload,
    Fault::RegisterTagManifest,
];

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::FlipBit => "(a) one bit flipped in a payload file",
            Fault::Truncate => "(b) payload file truncated",
            Fault::Delete => "(c) payload file deleted",
            Fault::Add => "(d) file added under data/",
            Fault::Rename => "(e) payload file renamed",
            Fault::ManifestLine => "(f) manifest-blake3.txt line edited",
            Fault::BagInfo => "(g) bag-info.txt edited",
            Fault::Rewritten => "(h) payload changed, manifests and tag manifests rewritten",
            Fault::RegisterPayload => "(i) register entry: a payload digest edited",
            Fault::RegisterTagManifest => "(i') register entry: a tag manifest digest edited",
        }
    }

    /// Faults that need a target file with some bytes in it.
    fn needs_bytes(self) -> bool {
        matches!(
            self,
            Fault::FlipBit | Fault::Truncate | Fault::Rename | Fault::Rewritten
        )
    }
}

/// One injected fault and what the checks must say about it.
#[derive(Debug)]
struct Injected {
    id: String,
    fault: Fault,
    what: String,
    /// Findings that must all be present in the bag's fixity result: (kind, path).
    must: Vec<(&'static str, String)>,
    /// For a rename: the `moved` finding must point here.
    moved_to: Option<String>,
    /// Every finding must blame one of these paths (nothing else in the bag).
    allowed: BTreeSet<String>,
    /// An audit discrepancy of this kind must name the bag.
    audit: Option<&'static str>,
}

/// Replaces the manifest line for `path` (`DIGEST  PATH`) with `digest`.
fn set_manifest_digest(manifest: &Path, path: &str, digest: &str) {
    let text = fs::read_to_string(manifest).expect("read manifest");
    let suffix = format!("  {path}");
    let mut found = 0;
    let rewritten: String = text
        .lines()
        .map(|line| {
            if line.ends_with(&suffix) {
                found += 1;
                format!("{digest}{suffix}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert_eq!(found, 1, "{} lists {path} once", manifest.display());
    fs::write(manifest, rewritten).expect("write manifest");
}

fn manifest_digest(manifest: &Path, path: &str) -> String {
    let text = fs::read_to_string(manifest).expect("read manifest");
    let suffix = format!("  {path}");
    text.lines()
        .find_map(|l| l.strip_suffix(&suffix))
        .unwrap_or_else(|| panic!("{} does not list {path}", manifest.display()))
        .to_string()
}

fn edit_register(register: &Path, edit: impl FnOnce(&mut Value)) {
    let mut entry: Value =
        serde_json::from_slice(&fs::read(register).expect("read register")).expect("entry");
    edit(&mut entry);
    let mut bytes = serde_json::to_vec_pretty(&entry).expect("encode");
    bytes.push(b'\n');
    fs::write(register, bytes).expect("write register");
}

fn set<'a>(paths: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    paths.into_iter().map(str::to_string).collect()
}

/// Injects `fault` into the bag of item `i` (the `g`-th bag with this fault, to vary
/// the target and the variant).
fn inject(root: &Path, id: &str, i: usize, g: usize, fault: Fault) -> Injected {
    let bag = root.join("archive").join(id);
    let register = root.join("manifests").join(format!("{id}.json"));
    let files = item_files(i);
    // The target file: rotate over the three, skipping empty ones where bytes are needed.
    let (rel, original) = (0..files.len())
        .map(|k| &files[(g + k) % files.len()])
        .find(|(_, b)| !fault.needs_bytes() || b.len() >= 2)
        .expect("a file with bytes");
    let p = format!("data/{rel}");
    let file = bag.join(&p);
    let mut inj = Injected {
        id: id.to_string(),
        fault,
        what: String::new(),
        must: Vec::new(),
        moved_to: None,
        allowed: BTreeSet::new(),
        audit: None,
    };
    match fault {
        Fault::FlipBit => {
            let mut bytes = fs::read(&file).expect("read");
            assert_eq!(&bytes, original, "{id}: {p} is as ingested");
            let pos = match g % 3 {
                0 => 0,
                1 => bytes.len() / 2,
                _ => bytes.len() - 1,
            };
            bytes[pos] ^= 1 << (g % 8);
            fs::write(&file, bytes).expect("write");
            inj.what = format!("bit {} of byte {pos} of {p} flipped", g % 8);
            inj.must.push(("changed", p.clone()));
            inj.allowed = set([p.as_str()]);
        }
        Fault::Truncate => {
            let len = if g.is_multiple_of(2) {
                original.len() / 2
            } else {
                0
            };
            fs::OpenOptions::new()
                .write(true)
                .open(&file)
                .and_then(|f| f.set_len(len as u64))
                .expect("truncate");
            inj.what = format!("{p} truncated from {} to {len} bytes", original.len());
            inj.must.push(("changed", p.clone()));
            // Payload-Oxum in bag-info.txt no longer adds up either.
            inj.allowed = set([p.as_str(), "bag-info.txt"]);
        }
        Fault::Delete => {
            fs::remove_file(&file).expect("delete");
            inj.what = format!("{p} deleted");
            inj.must.push(("missing", p.clone()));
            inj.allowed = set([p.as_str(), "bag-info.txt"]);
        }
        Fault::Add => {
            let new = if g.is_multiple_of(2) {
                format!("data/scans/added-{i:03}.txt")
            } else {
                format!("data/ឯកសារ-{i:03}.txt")
            };
            fs::write(
                bag.join(&new),
                format!("Sample: nobody archived this ({id})\n"),
            )
            .expect("add");
            inj.what = format!("{new} added");
            inj.must.push(("new", new.clone()));
            inj.allowed = set([new.as_str(), "bag-info.txt"]);
        }
        Fault::Rename => {
            let (dir, name) = p.rsplit_once('/').expect("in a folder");
            let new = if g.is_multiple_of(2) {
                format!("{dir}/renamed-{name}")
            } else {
                fs::create_dir_all(bag.join("data/elsewhere")).expect("mkdir");
                format!("data/elsewhere/{name}")
            };
            fs::rename(&file, bag.join(&new)).expect("rename");
            inj.what = format!("{p} renamed to {new}");
            inj.must.push(("moved", p.clone()));
            inj.moved_to = Some(new.clone());
            inj.allowed = set([p.as_str(), new.as_str()]);
        }
        Fault::ManifestLine => {
            let manifest = bag.join("manifest-blake3.txt");
            let old = manifest_digest(&manifest, &p);
            set_manifest_digest(&manifest, &p, &alter_hex(&old));
            inj.what = format!("the manifest-blake3.txt line of {p} edited (one hex digit)");
            inj.must.push(("changed", p.clone()));
            inj.must.push(("tag-changed", "manifest-blake3.txt".into()));
            inj.allowed = set([p.as_str(), "manifest-blake3.txt"]);
        }
        Fault::BagInfo => {
            let info = bag.join("bag-info.txt");
            let text = fs::read_to_string(&info).expect("read bag-info");
            let edited = match g % 3 {
                0 => format!("{text}Contact-Name: Somebody Else\n"),
                1 => text
                    .lines()
                    .map(|l| {
                        if l.starts_with("External-Description:") {
                            "External-Description: Sample: a title someone changed\n".into()
                        } else {
                            format!("{l}\n")
                        }
                    })
                    .collect(),
                _ => text.replacen("Bagging-Date: ", "Bagging-Date: 1", 1),
            };
            assert_ne!(edited, text, "{id}: bag-info.txt edited");
            fs::write(&info, edited).expect("write bag-info");
            inj.what = format!("bag-info.txt edited (variant {})", g % 3);
            inj.must.push(("tag-changed", "bag-info.txt".into()));
            inj.allowed = set(["bag-info.txt"]);
        }
        Fault::Rewritten => {
            // Same size (so Payload-Oxum still holds), other bytes.
            let mut bytes = fs::read(&file).expect("read");
            let mid = bytes.len() / 2;
            bytes[mid] = bytes[mid].wrapping_add(1);
            fs::write(&file, &bytes).expect("write");
            set_manifest_digest(&bag.join("manifest-blake3.txt"), &p, &blake3_hex(&bytes));
            set_manifest_digest(&bag.join("manifest-sha512.txt"), &p, &sha512_hex(&bytes));
            for manifest in ["manifest-blake3.txt", "manifest-sha512.txt"] {
                let m = fs::read(bag.join(manifest)).expect("read manifest");
                set_manifest_digest(
                    &bag.join("tagmanifest-blake3.txt"),
                    manifest,
                    &blake3_hex(&m),
                );
                set_manifest_digest(
                    &bag.join("tagmanifest-sha512.txt"),
                    manifest,
                    &sha512_hex(&m),
                );
            }
            // The forgery is consistent: the bag validates on its own.
            let out = run(cairn().args(["bag", "validate"]).arg(&bag));
            assert_eq!(
                out.status.code(),
                Some(0),
                "{id}: the rewritten bag must validate on its own: {}",
                describe(&out)
            );
            inj.what = format!(
                "byte {mid} of {p} changed, its lines in both manifests and both tag manifests rewritten to match"
            );
            inj.must.push(("register-mismatch", p.clone()));
            inj.must
                .push(("tag-changed", "tagmanifest-blake3.txt".into()));
            inj.allowed = set([
                p.as_str(),
                "manifest-blake3.txt",
                "manifest-sha512.txt",
                "tagmanifest-blake3.txt",
                "tagmanifest-sha512.txt",
            ]);
            inj.audit = Some("tag-manifest-differs-from-register");
        }
        Fault::RegisterPayload => {
            edit_register(&register, |entry| {
                let rec = entry["files"]
                    .as_array_mut()
                    .expect("files")
                    .iter_mut()
                    .find(|f| f["path"] == p.as_str())
                    .unwrap_or_else(|| panic!("{id}: the register records {p}"));
                let old = rec["digests"]["blake3"]
                    .as_str()
                    .expect("blake3")
                    .to_string();
                rec["digests"]["blake3"] = Value::String(alter_hex(&old));
            });
            inj.what = format!("manifests/{id}.json: the blake3 digest of {p} edited");
            inj.must.push(("register-mismatch", p.clone()));
            inj.allowed = set([p.as_str()]);
        }
        Fault::RegisterTagManifest => {
            edit_register(&register, |entry| {
                let d = &mut entry["tag_files"]["tagmanifest-blake3.txt"]["blake3"];
                let old = d
                    .as_str()
                    .expect("recorded tag manifest digest")
                    .to_string();
                *d = Value::String(alter_hex(&old));
            });
            inj.what =
                format!("manifests/{id}.json: the blake3 digest of tagmanifest-blake3.txt edited");
            inj.must
                .push(("tag-changed", "tagmanifest-blake3.txt".into()));
            inj.allowed = set(["tagmanifest-blake3.txt"]);
            inj.audit = Some("tag-manifest-differs-from-register");
        }
    }
    inj
}

fn findings(result: &Value) -> Vec<(String, String, Option<String>)> {
    result["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or("?").to_string(),
                f["path"].as_str().unwrap_or("?").to_string(),
                f["moved_to"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// Checks one fixity run's results against the injected faults: every faulted bag
/// failed with the expected findings and nothing blamed outside the fault, every
/// untouched bag passed. Returns the faults caught, by kind.
fn check_fixity(
    label: &str,
    code: Option<i32>,
    results: &BTreeMap<String, Value>,
    out: &Output,
    injected: &[Injected],
    untouched: &[String],
    failures: &mut Vec<String>,
) -> BTreeMap<Fault, usize> {
    if code != Some(1) {
        failures.push(format!("{label} exits {code:?}, not 1"));
    }
    if results.len() != ITEMS {
        failures.push(format!(
            "{label} checked {} bags, not {ITEMS}: {}",
            results.len(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut caught: BTreeMap<Fault, usize> = BTreeMap::new();
    for inj in injected {
        let Some(result) = results.get(&inj.id) else {
            failures.push(format!(
                "{label}: {} ({}): not in the report",
                inj.id, inj.what
            ));
            continue;
        };
        let got = findings(result);
        let mut problems = Vec::new();
        if result["outcome"] != "failed" {
            problems.push(format!("outcome {}", result["outcome"]));
        }
        for (kind, path) in &inj.must {
            let hit = got.iter().any(|(k, p, to)| {
                k == kind
                    && p == path
                    && (*kind != "moved" || to.as_deref() == inj.moved_to.as_deref())
            });
            if !hit {
                problems.push(format!(
                    "no {kind} finding on {path}{}",
                    inj.moved_to
                        .as_ref()
                        .filter(|_| *kind == "moved")
                        .map(|to| format!(" with moved_to {to}"))
                        .unwrap_or_default()
                ));
            }
        }
        for (kind, path, _) in &got {
            if !inj.allowed.contains(path) {
                problems.push(format!("also blames {path:?} ({kind})"));
            }
        }
        if problems.is_empty() {
            *caught.entry(inj.fault).or_default() += 1;
        } else {
            failures.push(format!(
                "{label}: {} [{}] {}: {}; fixity said {}",
                inj.id,
                inj.fault.name(),
                inj.what,
                problems.join("; "),
                result
            ));
        }
    }
    for id in untouched {
        match results.get(id) {
            Some(r) if r["outcome"] == "passed" && findings(r).is_empty() => {}
            Some(r) => failures.push(format!("{label}: untouched {id} did not pass: {r}")),
            None => failures.push(format!("{label}: untouched {id}: not in the report")),
        }
    }
    caught
}

#[test]
fn two_hundred_faults_are_each_found_and_blamed_on_their_bag() {
    let started = Instant::now();
    let tmp = common::fresh_dir("many");
    let root = tmp.path().join("archive-root");
    let names = make_intake(&root, ITEMS);
    let ids = ingest(&root);
    assert_eq!(ids.len(), ITEMS);
    let t_ingest = started.elapsed();

    // Sound before anything is touched.
    let (code, results, out) = fixity(&root, &["--all"]);
    assert_eq!(
        code,
        Some(0),
        "fixity of the intact archive: {}",
        describe(&out)
    );
    assert_eq!(results.len(), ITEMS);
    let t_clean = started.elapsed();

    // Inject: in every group of 12 items, one of each fault and two untouched.
    let mut injected: Vec<Injected> = Vec::new();
    let mut untouched: Vec<String> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let id = &ids[name];
        let (g, slot) = (i / GROUP, i % GROUP);
        match FAULTS.get(slot) {
            Some(&fault) => injected.push(inject(&root, id, i, g, fault)),
            None => untouched.push(id.clone()),
        }
    }
    let mut totals: BTreeMap<Fault, usize> = BTreeMap::new();
    for inj in &injected {
        *totals.entry(inj.fault).or_default() += 1;
    }
    eprintln!("faults injected, one bag each:");
    for (fault, n) in &totals {
        eprintln!("  {n:4}  {}", fault.name());
    }
    eprintln!(
        "  {:4}  in all, in {} distinct bags; {} bags untouched",
        injected.len(),
        injected
            .iter()
            .map(|f| &f.id)
            .collect::<BTreeSet<_>>()
            .len(),
        untouched.len()
    );
    assert!(injected.len() >= 200);
    assert!(untouched.len() >= 30);
    let t_inject = started.elapsed();

    let (code, results, out) = fixity(&root, &["--all"]);
    let t_fixity = started.elapsed();
    let mut failures: Vec<String> = Vec::new();
    let caught = check_fixity(
        "fixity --all",
        code,
        &results,
        &out,
        &injected,
        &untouched,
        &mut failures,
    );
    // Every manifest's algorithm (SHA-512 too), not only the routine BLAKE3.
    let (code, results, out) = fixity(&root, &["--all", "--algorithms", "all"]);
    let caught_all = check_fixity(
        "fixity --all --algorithms all",
        code,
        &results,
        &out,
        &injected,
        &untouched,
        &mut failures,
    );
    let t_fixity_all = started.elapsed();

    // Checking one bag by id agrees.
    let faulted = &injected[0];
    let (code, _, out) = fixity(&root, &["--id", &faulted.id]);
    if code != Some(1) {
        failures.push(format!(
            "fixity --id {} exits {code:?}: {}",
            faulted.id,
            describe(&out)
        ));
    }
    let (code, _, out) = fixity(&root, &["--id", &untouched[0]]);
    if code != Some(0) {
        failures.push(format!(
            "fixity --id {} (untouched) exits {code:?}: {}",
            untouched[0],
            describe(&out)
        ));
    }

    // The audit: register and tag manifests, the chain, and the failed last checks.
    let (code, report, out) = audit(&root, &[]);
    let t_audit = started.elapsed();
    if code != Some(1) {
        failures.push(format!("audit exits {code:?}, not 1: {}", describe(&out)));
    }
    if !report["log"]["broken"].is_null() {
        failures.push(format!(
            "audit: the untouched log is reported broken: {}",
            report["log"]
        ));
    }
    let mut discrepancies: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for d in report["discrepancies"].as_array().expect("discrepancies") {
        discrepancies
            .entry(d["id"].as_str().unwrap_or("").to_string())
            .or_default()
            .push(d);
    }
    let failed_last: BTreeSet<String> = report["last_check_failed"]
        .as_array()
        .expect("last_check_failed")
        .iter()
        .map(|c| c["id"].as_str().unwrap_or("").to_string())
        .collect();
    let faulted_ids: BTreeSet<&str> = injected.iter().map(|f| f.id.as_str()).collect();
    for (id, ds) in &discrepancies {
        if !faulted_ids.contains(id.as_str()) {
            failures.push(format!(
                "audit: discrepancy on {id:?}, which has no fault: {ds:?}"
            ));
        }
    }
    for id in &failed_last {
        if !faulted_ids.contains(id.as_str()) {
            failures.push(format!(
                "audit: last check failed for {id}, which has no fault"
            ));
        }
    }
    let mut audit_caught = 0;
    for inj in &injected {
        if !failed_last.contains(&inj.id) {
            failures.push(format!(
                "audit: {} ({}) is not listed in last_check_failed",
                inj.id, inj.what
            ));
        }
        let Some(kind) = inj.audit else { continue };
        let want_path = format!("archive/{}/tagmanifest-blake3.txt", inj.id);
        let hit = discrepancies.get(&inj.id).is_some_and(|ds| {
            ds.iter()
                .any(|d| d["kind"] == kind && d["path"] == want_path.as_str())
        });
        if hit {
            audit_caught += 1;
        } else {
            failures.push(format!(
                "audit: {} [{}] {}: no {kind} discrepancy on {want_path}; audit said {:?}",
                inj.id,
                inj.fault.name(),
                inj.what,
                discrepancies.get(&inj.id)
            ));
        }
    }

    eprintln!("caught by fixity, blamed on the right bag and file (blake3 / all algorithms):");
    for fault in FAULTS {
        eprintln!(
            "  {:4} / {:4} of {:4}  {}",
            caught.get(&fault).copied().unwrap_or(0),
            caught_all.get(&fault).copied().unwrap_or(0),
            totals.get(&fault).copied().unwrap_or(0),
            fault.name()
        );
    }
    eprintln!(
        "  {} / {} of {} caught in all; audit named {audit_caught} bags by their tag manifests; {} untouched bags checked",
        caught.values().sum::<usize>(),
        caught_all.values().sum::<usize>(),
        injected.len(),
        untouched.len()
    );
    eprintln!(
        "timings: ingest {:.1}s, clean fixity {:.1}s, inject {:.1}s, fixity {:.1}s, fixity (all algorithms) {:.1}s, audit {:.1}s",
        t_ingest.as_secs_f64(),
        (t_clean - t_ingest).as_secs_f64(),
        (t_inject - t_clean).as_secs_f64(),
        (t_fixity - t_inject).as_secs_f64(),
        (t_fixity_all - t_fixity).as_secs_f64(),
        (t_audit - t_fixity_all).as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A small archive: `items` items ingested, then one fixity run; returns its root and
/// the identifiers.
fn small_archive(tmp: &tempfile::TempDir, items: usize) -> (PathBuf, Vec<String>) {
    let root = tmp.path().join("archive-root");
    make_intake(&root, items);
    let ids: Vec<String> = ingest(&root).into_values().collect();
    let (code, _, out) = fixity(&root, &["--all"]);
    assert_eq!(code, Some(0), "fixity: {}", describe(&out));
    (root, ids)
}

/// The log's lines, without their newlines.
fn log_lines(root: &Path) -> Vec<Vec<u8>> {
    let bytes = fs::read(root.join("manifests/events.jsonl")).expect("read log");
    let body = bytes
        .strip_suffix(b"\n")
        .expect("the log ends with a newline");
    body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

fn join_lines(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

fn object_of(line: &[u8]) -> String {
    serde_json::from_slice::<Value>(line)
        .ok()
        .and_then(|v| v["object"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Sets a line's `prev` (the last field Cairn writes) by editing its bytes in place.
fn set_prev(line: &[u8], prev: &str) -> Vec<u8> {
    let text = std::str::from_utf8(line).expect("UTF-8 line");
    let at = text.rfind("\"prev\":\"").expect("a prev field") + "\"prev\":\"".len();
    format!("{}{prev}{}", &text[..at], &text[at + 64..]).into_bytes()
}

/// Replaces the first `from` in a line by `to`.
fn edit_line(line: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = std::str::from_utf8(line).expect("UTF-8 line");
    assert!(text.contains(from), "{text} contains {from}");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn every_event_log_tampering_names_its_first_broken_line() {
    let tmp = common::fresh_dir("log");
    let (root, _) = small_archive(&tmp, 5);
    let log = root.join("manifests/events.jsonl");
    let original = fs::read(&log).expect("read log");
    let lines = log_lines(&root);
    let n = lines.len();
    assert_eq!(
        n, 25,
        "5 items: 4 ingest events each (digests, validation, ingestion, format identification), then 5 fixity checks"
    );
    let (code, report, out) = audit(&root, &[]);
    assert_eq!(
        code,
        Some(0),
        "audit of the intact archive: {}",
        describe(&out)
    );
    assert!(report["log"]["broken"].is_null());

    // (what, the tampered log, the first broken line, the object it must name: that
    // of the line before it, the suspect, for a link that does not verify; that of the
    // line itself when it is not an event). A cut last line is a torn tail, not a
    // break: the Merkle tree names it as removed (below).
    let obj = |i: usize| object_of(&lines[i - 1]);
    let mut cases: Vec<(&str, Vec<u8>, usize, String)> = Vec::new();
    {
        let mut l = lines.clone();
        l[6] = edit_line(&l[6], "\"outcome\":\"success\"", "\"outcome\":\"failure\"");
        cases.push(("line 7's outcome edited", join_lines(&l), 8, obj(7)));
    }
    {
        let mut l = lines.clone();
        l[11] = edit_line(&l[11], "\"detail\":\"", "\"detail\":\"edited: ");
        cases.push(("line 12's detail edited", join_lines(&l), 13, obj(12)));
    }
    {
        let mut l = lines.clone();
        let half = l[8].len() / 2;
        l[8].truncate(half);
        cases.push(("line 9 cut to garbage", join_lines(&l), 9, String::new()));
    }
    {
        let mut l = lines.clone();
        l.remove(9);
        cases.push(("line 10 deleted", join_lines(&l), 10, obj(9)));
    }
    {
        let mut l = lines.clone();
        l.remove(0);
        cases.push(("line 1 deleted", join_lines(&l), 1, obj(2)));
    }
    {
        let mut l = lines.clone();
        l.pop();
        l.pop();
        l.push(lines[n - 1].clone());
        cases.push((
            "the last but one line deleted",
            join_lines(&l),
            n - 1,
            obj(n - 2),
        ));
    }
    {
        let mut l = lines.clone();
        l.swap(3, 4);
        cases.push(("lines 4 and 5 swapped", join_lines(&l), 4, obj(3)));
    }
    {
        let mut l = lines.clone();
        l.swap(n - 2, n - 1);
        cases.push((
            "the last two lines swapped",
            join_lines(&l),
            n - 1,
            obj(n - 2),
        ));
    }
    {
        let mut l = lines.clone();
        l.insert(6, lines[5].clone());
        cases.push(("line 6 copied after itself", join_lines(&l), 7, obj(6)));
    }
    {
        let mut l = lines.clone();
        l.push(lines[2].clone());
        cases.push(("line 3 copied to the end", join_lines(&l), n + 1, obj(n)));
    }

    let mut failures = Vec::new();
    for (what, bytes, line, object) in &cases {
        fs::write(&log, bytes).expect("write tampered log");
        let (code, report, out) = audit(&root, &[]);
        let broken = &report["log"]["broken"];
        let chain: Vec<&Value> = report["discrepancies"]
            .as_array()
            .expect("discrepancies")
            .iter()
            .filter(|d| d["kind"] == "log-chain-broken")
            .collect();
        let want_path = format!("manifests/events.jsonl:{line}");
        let ok = code == Some(1)
            && broken["line"].as_u64() == Some(*line as u64)
            && chain.len() == 1
            && chain[0]["id"] == object.as_str()
            && chain[0]["path"] == want_path.as_str();
        if !ok {
            failures.push(format!(
                "{what}: expected exit 1, line {line}, object {object:?}; got exit {code:?}, broken {broken}, discrepancies {}\n{}",
                report["discrepancies"],
                String::from_utf8_lossy(&out.stderr)
            ));
        } else {
            eprintln!("{what}: chain broken at line {line} ({object:?}), as expected");
        }
        fs::write(&log, &original).expect("restore log");
    }
    // The last line cut: a torn tail, not a broken chain; Cairn's tree says the line it
    // appended there is gone.
    for (what, cut) in [
        ("the last newline removed", 1),
        ("the last line cut short", 11),
    ] {
        fs::write(&log, &original[..original.len() - cut]).expect("write tampered log");
        let (code, report, _) = audit(&root, &[]);
        let kinds: Vec<&Value> = report["discrepancies"]
            .as_array()
            .expect("discrepancies")
            .iter()
            .map(|d| &d["kind"])
            .collect();
        let ok = code == Some(1)
            && report["log"]["broken"].is_null()
            && report["log"]["torn_tail"]["line"] == n
            && kinds == ["log-differs-from-tree"]
            && report["discrepancies"][0]["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&format!("lines {n}..{n} were removed")));
        if !ok {
            failures.push(format!(
                "{what}: expected a torn line {n} and the tree naming it removed; got exit {code:?}, log {}, discrepancies {}",
                report["log"], report["discrepancies"]
            ));
        }
        fs::write(&log, &original).expect("restore log");
    }
    let (code, _, out) = audit(&root, &[]);
    assert_eq!(code, Some(0), "audit after restoring: {}", describe(&out));
    assert!(
        failures.is_empty(),
        "{} of {} tamperings misreported:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The whole chain recomputed, as a forger who controls the machine would.
fn rechain(lines: &mut [Vec<u8>]) {
    let mut prev = "0".repeat(64);
    for line in lines.iter_mut() {
        *line = set_prev(line, &prev);
        prev = blake3_hex(line);
    }
}

#[test]
fn a_rechained_forgery_fails_only_against_a_recorded_head() {
    let tmp = common::fresh_dir("forger");
    let root = tmp.path().join("archive-root");
    make_intake(&root, 3);
    ingest(&root);

    // An auditor records today's head.
    let (code, report, out) = audit(&root, &[]);
    assert_eq!(code, Some(0), "{}", describe(&out));
    let old_head = report["log"]["head"].as_str().expect("head").to_string();
    let old_lines = report["log"]["lines"].as_u64().expect("lines") as usize;
    let lines = log_lines(&root);
    assert_eq!(old_lines, lines.len());
    assert_eq!(old_head, blake3_hex(&lines[lines.len() - 1]));

    // Appending (a fixity run) extends it.
    let (code, _, out) = fixity(&root, &["--all"]);
    assert_eq!(code, Some(0), "{}", describe(&out));
    let (code, report, out) = audit(&root, &["--since-head", &old_head]);
    assert_eq!(code, Some(0), "{}", describe(&out));
    let since = &report["log"]["since_head"];
    assert_eq!(since["extends"], true, "{since}");
    assert_eq!(since["found_at_line"], old_lines, "{since}");
    let first_head = blake3_hex(&log_lines(&root)[0]);

    // The forger rewrites line 2 and re-chains everything after it.
    let mut forged = log_lines(&root);
    let genuine = forged.clone();
    forged[1] = edit_line(&forged[1], "\"detail\":\"", "\"detail\":\"(rewritten) ");
    rechain(&mut forged);
    assert_eq!(forged[0], genuine[0], "line 1 is untouched");
    // The forgery is internally consistent: check it here with the rule of
    // docs/event-log.md, independently of Cairn.
    let mut prev = "0".repeat(64);
    for (i, line) in forged.iter().enumerate() {
        let v: Value = serde_json::from_slice(line).expect("forged line is JSON");
        assert_eq!(v["prev"], prev.as_str(), "forged line {}", i + 1);
        assert_eq!(v["seq"], i as u64 + 1);
        prev = blake3_hex(line);
    }
    fs::write(root.join("manifests/events.jsonl"), join_lines(&forged)).expect("write forgery");

    // Cairn's Merkle tree of the lines it appended tells: line 2 is not the line it
    // appended there.
    let (code, report, out) = audit(&root, &[]);
    assert_eq!(code, Some(1), "{}", describe(&out));
    assert!(report["log"]["broken"].is_null(), "{}", report["log"]);
    assert_eq!(report["discrepancies"][0]["kind"], "log-differs-from-tree");
    assert!(
        report["discrepancies"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("line 2 of the event log")),
        "{}",
        report["discrepancies"]
    );
    // A forger who also deletes the tree (a cache beside the log): the chain alone
    // cannot tell.
    fs::remove_dir_all(root.join("manifests/tlog")).expect("remove tree");
    fs::remove_file(root.join("manifests/tlog.pending")).expect("remove mark");
    let (code, report, out) = audit(&root, &[]);
    assert_eq!(
        code,
        Some(0),
        "a fully re-chained log passes the chain check: {}",
        describe(&out)
    );
    assert!(report["log"]["broken"].is_null(), "{}", report["log"]);
    assert_eq!(report["log"]["head"], prev.as_str());

    // The recorded head does.
    let (code, report, out) = audit(&root, &["--since-head", &old_head]);
    assert_eq!(code, Some(1), "{}", describe(&out));
    let since = &report["log"]["since_head"];
    assert_eq!(since["extends"], false, "{since}");
    assert!(since["found_at_line"].is_null(), "{since}");
    assert!(report["log"]["broken"].is_null());

    // A head recorded before the rewritten line still holds.
    let (code, report, out) = audit(&root, &["--since-head", &first_head]);
    assert_eq!(code, Some(0), "{}", describe(&out));
    assert_eq!(report["log"]["since_head"]["found_at_line"], 1);

    // Editing only the last line breaks no link either; the head recorded before says so.
    let mut last_edited = genuine.clone();
    let k = last_edited.len() - 1;
    last_edited[k] = edit_line(
        &last_edited[k],
        "\"detail\":\"",
        "\"detail\":\"(rewritten) ",
    );
    fs::write(
        root.join("manifests/events.jsonl"),
        join_lines(&last_edited),
    )
    .expect("write");
    let genuine_head = blake3_hex(&genuine[k]);
    let (code, report, out) = audit(&root, &["--since-head", &genuine_head]);
    assert_eq!(code, Some(1), "{}", describe(&out));
    assert!(report["log"]["broken"].is_null());
    assert_eq!(report["log"]["since_head"]["extends"], false);
}

#[test]
fn a_missing_bag_and_an_unregistered_bag_are_named() {
    let tmp = common::fresh_dir("cross");
    let (root, ids) = small_archive(&tmp, 4);
    let (gone, copied) = (&ids[1], &ids[2]);
    fs::remove_dir_all(root.join("archive").join(gone)).expect("remove bag");
    let stranger = "cairn-999999";
    let src = root.join("archive").join(copied);
    let dst = root.join("archive").join(stranger);
    for e in walkdir::WalkDir::new(&src) {
        let e = e.expect("walk");
        let to = dst.join(e.path().strip_prefix(&src).expect("under"));
        if e.file_type().is_dir() {
            fs::create_dir_all(&to).expect("mkdir");
        } else {
            fs::copy(e.path(), &to).expect("copy");
        }
    }

    let (code, results, out) = fixity(&root, &["--all"]);
    assert_eq!(code, Some(1), "{}", describe(&out));
    let kinds = |id: &str| -> Vec<String> {
        findings(&results[id])
            .into_iter()
            .map(|(k, _, _)| k)
            .collect()
    };
    assert_eq!(results[gone.as_str()]["outcome"], "failed");
    assert_eq!(kinds(gone), ["bag-missing"], "{}", results[gone.as_str()]);
    assert_eq!(results[stranger]["outcome"], "failed");
    assert_eq!(kinds(stranger), ["unregistered"], "{}", results[stranger]);
    for id in &ids {
        if id != gone {
            assert_eq!(
                results[id.as_str()]["outcome"],
                "passed",
                "{}",
                results[id.as_str()]
            );
        }
    }

    let (code, report, out) = audit(&root, &[]);
    assert_eq!(code, Some(1), "{}", describe(&out));
    let found: BTreeSet<(String, String)> = report["discrepancies"]
        .as_array()
        .expect("discrepancies")
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or("").to_string(),
                d["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("register-entry-without-bag".to_string(), gone.clone()),
        (
            "bag-without-register-entry".to_string(),
            stranger.to_string(),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(found, want, "{}", report["discrepancies"]);
}
