//! Zip transfer end to end: `cairn export ID --zip`, `cairn import BAG.zip`, and
//! `cairn bag validate BAG.zip`, through the real binary on fresh archives.
//!
//! What is checked:
//! * round trip: the sample collection ingested into archive A, every item exported,
//!   imported into archive B: same bags byte for byte, same payload digests and Dublin
//!   Core in the register, both archives audit clean; the zip of a bag is the same bytes
//!   whenever and wherever it is made (A twice, and B's export of the imported copy);
//! * interoperability with independent tools: a bag made by bagit.py and zipped by
//!   Info-ZIP `zip` imports; a zip made by Cairn unzips with Info-ZIP `unzip` into a bag
//!   that bagit.py validates;
//! * `cairn bag validate X.zip`: a good export is valid; one payload byte changed (with a
//!   matching CRC, so only the BagIt digest can tell) is a digest-mismatch;
//! * the export's layout: one top-level folder named ID, sorted entries, 1980-01-01
//!   timestamps, fixed permissions, PNG stored and text deflated.
//!
//! Zips are inspected with Python's `zipfile` (independent of the `zip` crate Cairn uses).

use crate::common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/s21");

// ---------------------------------------------------------------------------------------
// Running things.

fn cairn_at(cwd: &Path, args: &[&OsStr]) -> Run {
    let cmdline = std::iter::once("cairn".to_string())
        .chain(args.iter().map(|a| format!("{a:?}")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = cairn_cmd();
    cmd.env_remove("CAIRN_ROOT").env_remove("CAIRN_FAILPOINT");
    cmd.args(args).current_dir(cwd);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmdline}: {e}"));
    Run {
        cmdline,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Runs an external tool; returns (exit code, stdout + stderr).
fn tool(cwd: &Path, env: &[(&str, &str)], program: &str, args: &[&OsStr]) -> (i32, String) {
    let mut cmd = assert_cmd::Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .timeout(Duration::from_secs(60));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {program} (is it installed?): {e}"));
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{program} {args:?}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn bagit_py(cwd: &Path, args: &[&OsStr]) -> (i32, String) {
    tool(cwd, &[], "bagit.py", args)
}

const UTF8_LOCALE: (&str, &str) = ("LC_ALL", "C.UTF-8");

/// Python zipfile's view of a zip: one object per entry, in central directory order.
fn zip_entries(zip: &Path) -> Vec<Value> {
    const SCRIPT: &str = r#"
import hashlib, json, sys, zipfile
out = []
with zipfile.ZipFile(sys.argv[1]) as z:
    for i in z.infolist():
        out.append({
            "name": i.filename,
            "dir": i.is_dir(),
            "compress_type": i.compress_type,
            "date_time": list(i.date_time),
            "mode": i.external_attr >> 16,
            "create_system": i.create_system,
            "flag_bits": i.flag_bits,
            "size": i.file_size,
            "sha256": None if i.is_dir() else hashlib.sha256(z.read(i)).hexdigest(),
        })
json.dump(out, sys.stdout)
"#;
    let out = Command::new("python3")
        .args([os("-c"), os(SCRIPT), zip.as_os_str()])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python zipfile cannot read {}:\n{}",
        zip.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

// ---------------------------------------------------------------------------------------
// Archives.

struct Arch {
    root: PathBuf,
}

impl Arch {
    fn new(tmp: &Path, name: &str) -> Arch {
        let root = tmp.join(name);
        cairn_at(tmp, &[os("init"), root.as_os_str()]).assert_code(0);
        Arch { root }
    }

    /// `cairn ARGS --root ROOT`, run from the archive's parent folder.
    fn cmd(&self, args: &[&OsStr]) -> Run {
        let mut all = args.to_vec();
        all.push(os("--root"));
        all.push(self.root.as_os_str());
        cairn_at(self.root.parent().unwrap(), &all)
    }

    fn bag(&self, id: &str) -> PathBuf {
        self.root.join("archive").join(id)
    }

    fn ids(&self) -> Vec<String> {
        let list = self.cmd(&[os("list"), os("--json")]);
        list.assert_code(0);
        let v: Value = serde_json::from_str(&list.stdout).expect("list --json prints JSON");
        let mut ids: Vec<String> = v
            .as_array()
            .expect("list --json prints an array")
            .iter()
            .map(|i| i["id"].as_str().expect("id").to_string())
            .collect();
        ids.sort();
        ids
    }

    fn entry(&self, id: &str) -> Value {
        let path = self.root.join("manifests").join(format!("{id}.json"));
        let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice(&bytes).unwrap()
    }

    fn events(&self) -> Vec<Value> {
        let text = fs::read_to_string(self.root.join("manifests/events.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("an event is JSON"))
            .collect()
    }

    fn staging_is_empty(&self) -> bool {
        match fs::read_dir(self.root.join("archive/.staging")) {
            Ok(mut rd) => rd.next().is_none(),
            Err(_) => true,
        }
    }

    fn export(&self, id: &str, zip: &Path) -> Run {
        self.cmd(&[os("export"), os(id), os("--zip"), zip.as_os_str()])
    }

    /// Imports a zip (or folder); returns the run and the identifiers it added.
    fn import(&self, what: &Path) -> (Run, Vec<String>) {
        let before: BTreeSet<String> = self.ids().into_iter().collect();
        let run = self.cmd(&[os("import"), what.as_os_str()]);
        let added = self
            .ids()
            .into_iter()
            .filter(|id| !before.contains(id))
            .collect();
        (run, added)
    }
}

/// Archive A with the sample collection ingested.
fn archive_with_samples(tmp: &Path) -> Arch {
    let a = Arch::new(tmp, "A");
    for e in fs::read_dir(SAMPLES).unwrap() {
        let e = e.unwrap();
        copy_tree(&e.path(), &a.root.join("intake").join(e.file_name()));
    }
    a.cmd(&[os("ingest")]).assert_code(0);
    let ids = a.ids();
    assert_eq!(ids.len(), 6, "the sample collection has six items: {ids:?}");
    a
}

fn is_generated_id(id: &str) -> bool {
    id.strip_prefix("cairn-")
        .is_some_and(|n| n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// bag-info.txt's External-Identifier.
fn external_identifier(bag: &Path) -> Option<String> {
    let text = fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("External-Identifier:"))
        .map(|v| v.trim().to_string())
}

/// Files of a folder, relative paths (with `/`) to contents.
fn files_of(root: &Path) -> BTreeMap<String, Vec<u8>> {
    snapshot(root)
        .into_iter()
        .filter_map(|(p, n)| match n {
            Node::File(b) => Some((p.to_str().unwrap().to_string(), b)),
            Node::Dir => None,
            Node::Symlink(t) => panic!("symlink {p:?} -> {t:?}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// (a) Round trip.

#[test]
fn round_trip_export_import_keeps_every_bag_byte_for_byte() {
    let tmp = fresh_dir("zipt-roundtrip");
    let a = archive_with_samples(tmp.path());
    let ids = a.ids();
    let out = tmp.path().join("exports");
    fs::create_dir(&out).unwrap();

    // Export every item.
    for id in &ids {
        let zip = out.join(format!("{id}.zip"));
        let events_before = a.events().len();
        let run = a.export(id, &zip);
        run.assert_code(0);
        assert!(
            zip.is_file(),
            "no zip at {}\n{}",
            zip.display(),
            run.describe()
        );
        let bytes = fs::read(&zip).unwrap();
        let events = a.events();
        assert_eq!(
            events.len(),
            events_before + 1,
            "export should append one event\n{}",
            run.describe()
        );
        let ev = events.last().unwrap();
        assert_eq!(ev["type"], "export", "{ev}");
        assert_eq!(ev["object"], id.as_str(), "{ev}");
        assert_eq!(
            ev["data"]["zip_blake3"].as_str(),
            Some(blake3_hex(&bytes).as_str()),
            "the export event records the zip's BLAKE3: {ev}"
        );
        let zip_name = format!("{id}.zip");
        assert!(
            ev["data"]
                .as_object()
                .unwrap()
                .values()
                .any(|v| v.as_str().is_some_and(|s| s.ends_with(&zip_name))),
            "the export event records the zip's path: {ev}"
        );

        // One top-level folder named ID; exactly the bag's files, same bytes.
        let entries = zip_entries(&zip);
        let names: Vec<&str> = entries
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        let prefix = format!("{id}/");
        assert!(
            names.iter().all(|n| n.starts_with(&prefix)),
            "every entry is under {prefix}: {names:?}"
        );
        assert!(names.contains(&format!("{id}/bagit.txt").as_str()));
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "entries are sorted");
        let in_zip: BTreeMap<String, String> = entries
            .iter()
            .filter(|e| !e["dir"].as_bool().unwrap())
            .map(|e| {
                (
                    e["name"].as_str().unwrap()[prefix.len()..].to_string(),
                    e["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let on_disk: BTreeMap<String, String> = files_of(&a.bag(id))
            .into_iter()
            .map(|(p, b)| (p, sha256_hex(&b)))
            .collect();
        assert_eq!(
            in_zip, on_disk,
            "{id}: the zip holds exactly the bag's files"
        );
    }

    // The same bag exported again: the same bytes. An existing zip is never replaced.
    let first = &ids[0];
    let zip1 = out.join(format!("{first}.zip"));
    let again = out.join("again.zip");
    a.export(first, &again).assert_code(0);
    assert!(
        fs::read(&zip1).unwrap() == fs::read(&again).unwrap(),
        "two exports of {first} differ"
    );
    let events_before = a.events().len();
    let original = fs::read(&zip1).unwrap();
    let run = a.export(&ids[1], &zip1);
    run.assert_code(2);
    assert_eq!(
        fs::read(&zip1).unwrap(),
        original,
        "an existing zip was replaced"
    );
    assert_eq!(
        a.events().len(),
        events_before,
        "a refused export logged an event"
    );

    // Import every zip into a fresh archive B.
    let b = Arch::new(tmp.path(), "B");
    for id in &ids {
        let zip = out.join(format!("{id}.zip"));
        let (run, added) = b.import(&zip);
        run.assert_code(0);
        assert_eq!(
            added,
            vec![id.clone()],
            "the External-Identifier ({:?}) names the imported bag\n{}",
            external_identifier(&a.bag(id)),
            run.describe()
        );
        assert!(b.staging_is_empty(), "archive/.staging left non-empty");

        // The bag is kept byte for byte: no file added, none changed.
        assert_eq!(
            snapshot_diff(&snapshot(&a.bag(id)), &snapshot(&b.bag(id))),
            "",
            "{id}: the imported bag differs from the exported one"
        );
        let (ea, eb) = (a.entry(id), b.entry(id));
        assert_eq!(ea["files"], eb["files"], "{id}: register files differ");
        assert_eq!(
            ea["dublin_core"], eb["dublin_core"],
            "{id}: Dublin Core differs"
        );
        // Chain of custody: B's ingestion event records the BLAKE3 that A's export
        // event recorded for the same zip.
        let exported = a
            .events()
            .into_iter()
            .find(|e| e["type"] == "export" && e["object"] == id.as_str())
            .unwrap();
        let ingested = b
            .events()
            .into_iter()
            .find(|e| e["type"] == "ingestion" && e["object"] == id.as_str())
            .unwrap_or_else(|| panic!("{id}: no ingestion event in B"));
        assert_eq!(
            ingested["data"]["zip_blake3"], exported["data"]["zip_blake3"],
            "{id}: the ingestion event records the imported zip's BLAKE3\n{ingested}"
        );
    }

    // Same bag, same zip, whichever archive makes it.
    let out_b = tmp.path().join("exports-b");
    fs::create_dir(&out_b).unwrap();
    for id in &ids {
        let zip_b = out_b.join(format!("{id}.zip"));
        b.export(id, &zip_b).assert_code(0);
        assert!(
            fs::read(&zip_b).unwrap() == fs::read(out.join(format!("{id}.zip"))).unwrap(),
            "{id}: B's export of the imported bag differs from A's export"
        );
    }

    // Importing the same zip again (issue 12): already archived, nothing added. A
    // different payload under a used External-Identifier gets a generated identifier
    // (tests/it/trust/blind_spots.rs).
    let (run, added) = b.import(&zip1);
    run.assert_code(0);
    assert_eq!(added.len(), 0, "{}", run.describe());
    assert!(
        run.stdout.contains(&format!("already archived as {first}")),
        "{}",
        run.describe()
    );

    for arch in [&a, &b] {
        let audit = arch.cmd(&[os("audit")]);
        audit.assert_code(0);
    }
}

// ---------------------------------------------------------------------------------------
// (b) Interoperability with bagit.py and Info-ZIP.

/// A bag made by bagit.py, with spaces and accents in its names, in `parent/NAME`.
fn bagit_py_bag(parent: &Path) -> PathBuf {
    let dir = parent.join("Dossier d'été 1979");
    write_file(&dir, "notes de séance.txt", b"Compte rendu (synthetic)\n");
    write_file(
        &dir,
        "sous dossier/crâne ü.txt",
        "ស្លាក (synthetic)\n".as_bytes(),
    );
    write_file(
        &dir,
        "photo 01.png",
        b"\x89PNG\r\n\x1a\nnot really an image\n",
    );
    let (code, out) = bagit_py(parent, &[os("--sha256"), os("--sha512"), dir.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    assert!(dir.join("bagit.txt").is_file());
    dir
}

#[test]
fn a_bag_from_bagit_py_zipped_by_info_zip_imports() {
    let tmp = fresh_dir("zipt-interop-in");
    let src = tmp.path().join("src");
    let bag = bagit_py_bag(&src);
    let original = snapshot(&bag);
    let zip = tmp.path().join("bag.zip");
    // Info-ZIP zip 3.0 stores these names as raw UTF-8 without the UTF-8 flag.
    let (code, out) = tool(
        &src,
        &[UTF8_LOCALE],
        "zip",
        &[
            os("-r"),
            os("-q"),
            zip.as_os_str(),
            bag.file_name().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}");

    let b = Arch::new(tmp.path(), "B");
    let validate = cairn_at(tmp.path(), &[os("bag"), os("validate"), zip.as_os_str()]);
    validate.assert_code(0);

    let (run, added) = b.import(&zip);
    run.assert_code(0);
    assert_eq!(added.len(), 1, "{}", run.describe());
    let id = &added[0];
    assert!(
        is_generated_id(id),
        "no External-Identifier: a generated id, not {id:?}"
    );
    assert_eq!(
        snapshot_diff(&original, &snapshot(&b.bag(id))),
        "",
        "the imported bag is not byte-identical to bagit.py's"
    );
    assert!(b.staging_is_empty());
    // The register's digests are those of the files.
    let entry = b.entry(id);
    let files = entry["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "{entry}");
    for f in files {
        let rel = f["path"].as_str().unwrap();
        let bytes = fs::read(b.bag(id).join(rel)).unwrap();
        let digests = f["digests"].as_object().unwrap();
        assert!(digests.contains_key("sha512"), "{f}");
        for (alg, hex) in digests {
            assert_eq!(
                hex.as_str().unwrap(),
                digest_hex(alg, &bytes),
                "{rel} {alg}"
            );
        }
    }
    b.cmd(&[os("audit")]).assert_code(0);

    // The bag folder itself is the same bag as the zip: already archived (issue 12),
    // nothing added, and the folder is left as it was.
    let (run, added) = b.import(&bag);
    run.assert_code(0);
    assert_eq!(added.len(), 0, "{}", run.describe());
    assert!(
        run.stdout.contains(&format!("already archived as {id}")),
        "{}",
        run.describe()
    );
    assert_eq!(
        snapshot_diff(&original, &snapshot(&bag)),
        "",
        "source changed"
    );
}

#[test]
fn cairn_zips_unzip_with_info_zip_into_bags_bagit_py_validates() {
    let tmp = fresh_dir("zipt-interop-out");
    let a = archive_with_samples(tmp.path());
    // Plus the bagit.py bag with spaces and accents.
    let bag = bagit_py_bag(&tmp.path().join("src"));
    let (run, added) = a.import(&bag);
    run.assert_code(0);
    assert_eq!(added.len(), 1);

    let out = tmp.path().join("exports");
    let unzipped = tmp.path().join("unzipped");
    fs::create_dir(&out).unwrap();
    fs::create_dir(&unzipped).unwrap();
    for id in a.ids() {
        let zip = out.join(format!("{id}.zip"));
        a.export(&id, &zip).assert_code(0);
        let (code, text) = tool(
            &unzipped,
            &[UTF8_LOCALE],
            "unzip",
            &[os("-q"), zip.as_os_str()],
        );
        assert_eq!(code, 0, "{text}");
        let there = unzipped.join(&id);
        assert_eq!(
            snapshot_diff(&snapshot(&a.bag(&id)), &snapshot(&there)),
            "",
            "{id}: unzip gives back other files"
        );
        let (code, text) = bagit_py(&unzipped, &[os("--validate"), there.as_os_str()]);
        assert_eq!(code, 0, "{id}: bagit.py --validate\n{text}");
    }
}

// ---------------------------------------------------------------------------------------
// (c) Validating a zipped bag.

/// Rewrites `src` as `dst` with one byte of `entry` flipped, the CRC recomputed, every
/// other entry (and every entry's compression, time and mode) unchanged.
fn flip_one_byte(src: &Path, dst: &Path, entry: &str) {
    const SCRIPT: &str = r#"
import sys, zipfile
src, dst, target = sys.argv[1:4]
done = False
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
    for i in zin.infolist():
        data = zin.read(i)
        if i.filename == target:
            assert i.compress_type == zipfile.ZIP_STORED, "the entry is not stored"
            b = bytearray(data)
            b[len(b) // 2] ^= 0x01
            data = bytes(b)
            done = True
        zout.writestr(i, data)
assert done, "no such entry"
"#;
    let out = Command::new("python3")
        .args([
            os("-c"),
            os(SCRIPT),
            src.as_os_str(),
            dst.as_os_str(),
            os(entry),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn validate_a_zip_passes_a_good_export_and_finds_one_changed_payload_byte() {
    let tmp = fresh_dir("zipt-validate");
    let a = archive_with_samples(tmp.path());
    let out = tmp.path().join("exports");
    fs::create_dir(&out).unwrap();

    // The item whose bag holds PNG files.
    let id = a
        .ids()
        .into_iter()
        .find(|id| a.entry(id)["intake_name"] == "intake portraits")
        .expect("the intake portraits item");
    let good = out.join("good.zip");
    a.export(&id, &good).assert_code(0);
    let v = cairn_at(tmp.path(), &[os("bag"), os("validate"), good.as_os_str()]);
    v.assert_code(0).assert_no_problems();

    let png = format!("{id}/data/portrait-placeholder-001.png");
    let bad = out.join("bad.zip");
    flip_one_byte(&good, &bad, &png);
    // The forged zip is sound as a zip: Python reads every entry, CRCs included.
    let entries = zip_entries(&bad);
    assert_eq!(entries.len(), zip_entries(&good).len());

    let v = cairn_at(tmp.path(), &[os("bag"), os("validate"), bad.as_os_str()]);
    v.assert_code(1);
    assert!(
        v.has_problem_like("data/portrait-placeholder-001.png", "digest-mismatch"),
        "expected a digest-mismatch naming the PNG\n{}",
        v.describe()
    );
    assert!(
        !v.kinds().iter().any(|k| k.starts_with("zip-")),
        "the zip itself is sound: no zip-* problem expected\n{}",
        v.describe()
    );

    // verify reads zips too, and agrees with the register.
    let register = a.root.join("manifests").join(format!("{id}.json"));
    let run = cairn_at(
        tmp.path(),
        &[
            os("verify"),
            good.as_os_str(),
            os("--against"),
            register.as_os_str(),
        ],
    );
    run.assert_code(0);
    let run = cairn_at(
        tmp.path(),
        &[
            os("verify"),
            bad.as_os_str(),
            os("--against"),
            register.as_os_str(),
        ],
    );
    run.assert_code(1);
    assert!(
        run.stderr.contains("portrait-placeholder-001.png"),
        "{}",
        run.describe()
    );
}

// ---------------------------------------------------------------------------------------
// (d) Layout of an export.

#[test]
fn export_stores_png_deflates_text_with_fixed_times_and_modes() {
    let tmp = fresh_dir("zipt-layout");
    let a = archive_with_samples(tmp.path());
    let out = tmp.path().join("exports");
    fs::create_dir(&out).unwrap();
    let mut pngs = 0;
    let mut texts = 0;
    for id in a.ids() {
        let zip = out.join(format!("{id}.zip"));
        a.export(&id, &zip).assert_code(0);
        let entries = zip_entries(&zip);
        let mut file_modes = BTreeSet::new();
        for e in &entries {
            let name = e["name"].as_str().unwrap();
            assert_eq!(
                e["date_time"],
                serde_json::json!([1980, 1, 1, 0, 0, 0]),
                "{name}: fixed timestamp"
            );
            assert_eq!(
                e["flag_bits"].as_u64().unwrap() & 1,
                0,
                "{name}: encrypted?"
            );
            if e["dir"].as_bool().unwrap() {
                continue;
            }
            file_modes.insert(e["mode"].as_u64().unwrap());
            let ct = e["compress_type"].as_u64().unwrap();
            if name.ends_with(".png") {
                pngs += 1;
                assert_eq!(ct, 0, "{name}: a PNG is stored, not deflated");
            } else if name.ends_with(".txt") || name.ends_with(".xml") || name.ends_with(".json") {
                texts += 1;
                assert_eq!(ct, 8, "{name}: text is deflated");
            }
        }
        assert_eq!(
            file_modes.len(),
            1,
            "{id}: every file entry has the same mode: {file_modes:?}"
        );
        let mode = *file_modes.iter().next().unwrap();
        assert_eq!(
            mode, 0o100644,
            "{id}: file entries are regular files, 0644 (mode {mode:o})"
        );
    }
    assert!(
        pngs >= 5 && texts >= 6,
        "{pngs} PNG and {texts} text entries seen"
    );
}
