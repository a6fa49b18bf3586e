//! The digitisation profile (`[qc]`) and format validation at ingest and at revise, one
//! code path: a file the profile refuses turns the item or the revision down with a
//! clear message and nothing published; a file it passes gets its validation and
//! judgement in the register, one PREMIS `validation` event, and a line in the QC
//! section of `cairn report`. Revise applies the `[formats]` policy as ingest does.
//!
//! The TIFFs are written by `common::tiff_bytes` (a baseline greyscale strip image,
//! resolution given, with an ICC profile).

use std::path::{Path, PathBuf};

use crate::common;
use crate::life::{self, expect};

/// The profile the tests set: FADGI 3-star for textual documents (a preset).
const PROFILE: &str = "fadgi-3-star-text";

/// A baseline TIFF ([`common::tiff_bytes`]): 8-bit greyscale, uncompressed, one strip
/// of `width` x `height` pixels, `ppi` pixels per inch both ways, with an embedded ICC
/// profile (which the FADGI presets require).
fn tiff_bytes(width: u32, height: u32, ppi: u32) -> Vec<u8> {
    common::tiff_bytes(width, height, ppi, false, true)
}

/// A TIFF the profile passes (well above any preset's minimum resolution).
fn good_tiff() -> Vec<u8> {
    tiff_bytes(64, 48, 400)
}

/// A TIFF the profile refuses: 150 ppi.
fn poor_tiff() -> Vec<u8> {
    tiff_bytes(64, 48, 150)
}

/// Sets `[qc] profile` in the archive's cairn.toml, under the template's `[qc]` if it
/// has one.
fn set_profile(root: &Path, profile: &str) {
    let cfg = root.join("cairn.toml");
    let text = std::fs::read_to_string(&cfg).expect("cairn.toml");
    let line = format!("profile = \"{profile}\"");
    let mut out = Vec::new();
    let mut in_qc = false;
    let mut set = false;
    for l in text.lines() {
        let t = l.trim();
        if t.starts_with('[') {
            if in_qc && !set {
                out.push(line.clone());
                set = true;
            }
            in_qc = t == "[qc]";
        }
        if in_qc && !set && t.starts_with("profile") && t.contains('=') {
            out.push(line.clone());
            set = true;
            continue;
        }
        out.push(l.to_string());
    }
    if in_qc && !set {
        out.push(line.clone());
        set = true;
    }
    if !set {
        out.push(String::new());
        out.push("[qc]".into());
        out.push(line);
    }
    std::fs::write(&cfg, out.join("\n") + "\n").expect("write cairn.toml");
}

/// Sets the `[formats]` policy's `refuse` list.
fn set_refuse(root: &Path, rule: &str) {
    let cfg = root.join("cairn.toml");
    let text = std::fs::read_to_string(&cfg).expect("cairn.toml");
    assert!(text.contains("refuse = []\n"), "the template changed");
    let text = text.replacen("refuse = []\n", &format!("refuse = [\"{rule}\"]\n"), 1);
    std::fs::write(&cfg, text).expect("write cairn.toml");
}

/// An archive with the intake item `scans` holding `files`.
fn archive_with(tmp: &Path, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let root = tmp.join("arch");
    life::init(&root);
    let intake = root.join("intake");
    for (name, bytes) in files {
        common::write_file(&intake.join("scans"), name, bytes);
    }
    std::fs::write(
        intake.join("metadata.csv"),
        "filename,dc.title\nscans,Sample: scans of a letter\n",
    )
    .expect("csv");
    root
}

/// Ingests the intake (exit 0) and returns the one item's identifier.
fn ingest_one(root: &Path) -> String {
    let out = expect(root, ["ingest", "--json"], 0);
    let items = out.json()["items"].clone();
    items[0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {}", out.describe()))
        .to_string()
}

/// The events of the log, parsed (none when there is no log).
fn events(root: &Path) -> Vec<serde_json::Value> {
    match std::fs::read_to_string(root.join("manifests/events.jsonl")) {
        Ok(text) => text
            .lines()
            .map(|l| serde_json::from_str(l).expect("event"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The `validation` events that judged a file (`data.file`).
fn file_validations(root: &Path) -> Vec<serde_json::Value> {
    events(root)
        .into_iter()
        .filter(|e| e["type"] == "validation" && e["data"]["file"].is_string())
        .collect()
}

fn entry(root: &Path, id: &str) -> serde_json::Value {
    let text =
        std::fs::read_to_string(root.join("manifests").join(format!("{id}.json"))).expect("entry");
    serde_json::from_str(&text).expect("entry JSON")
}

/// Every file of the archive's bags, register and log, with its bytes (the lock file
/// aside: every command that takes the lock writes its holder there).
fn archive_state(root: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut all = common::file_bytes(&root.join("archive"));
    for (p, b) in common::file_bytes(&root.join("manifests")) {
        if p != Path::new(".lock") {
            all.insert(Path::new("manifests").join(p), b);
        }
    }
    all
}

/// A folder with the item's new content for `revise`.
fn new_content(tmp: &Path, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let dir = tmp.join("new-content");
    for (name, bytes) in files {
        common::write_file(&dir, name, bytes);
    }
    dir
}

fn revise(root: &Path, id: &str, from: &Path, code: i32) -> life::Out {
    expect(
        root,
        [
            "revise".as_ref(),
            id.as_ref(),
            "--from".as_ref(),
            from.as_os_str(),
            "--reason".as_ref(),
            "the vendor re-scanned the pages".as_ref(),
        ],
        code,
    )
}

// Needs the real profile presets (qccmd): the interface stub passes every file.
#[test]
fn profile_refuses_a_150_ppi_tiff_at_ingest_and_nothing_is_published() {
    let tmp = common::fresh_dir("qc-ingest-refuse");
    let root = archive_with(
        tmp.path(),
        &[("scan-016.tif", good_tiff()), ("scan-017.tif", poor_tiff())],
    );
    set_profile(&root, PROFILE);
    let log_before = std::fs::read(root.join("manifests/events.jsonl")).ok();
    let out = expect(&root, ["ingest"], 1);
    assert!(
        out.stderr
            .contains("scan-017.tif: QC profile fadgi-3-star-text")
            && out.stderr.contains("min_ppi")
            && out.stderr.contains("150"),
        "{}",
        out.describe()
    );
    assert!(
        !out.stderr.contains("scan-016.tif: QC profile"),
        "{}",
        out.describe()
    );
    // No bag, no register entry, the log as it was, the item still in intake.
    assert!(life::bags(&root).is_empty(), "{}", out.describe());
    let entries: Vec<_> = std::fs::read_dir(root.join("manifests"))
        .expect("manifests")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert!(entries.is_empty(), "{entries:?}");
    assert_eq!(
        std::fs::read(root.join("manifests/events.jsonl")).ok(),
        log_before
    );
    assert_eq!(
        std::fs::read(root.join("intake/scans/scan-017.tif")).expect("left in intake"),
        poor_tiff()
    );
}

// Needs the real profile presets (qccmd): the interface stub passes every file.
#[test]
fn profile_refuses_a_150_ppi_tiff_at_revise_and_the_version_stands() {
    let tmp = common::fresh_dir("qc-revise-refuse");
    let root = archive_with(tmp.path(), &[("scan-017.tif", good_tiff())]);
    set_profile(&root, PROFILE);
    let id = ingest_one(&root);
    let before = archive_state(&root);
    let from = new_content(
        tmp.path(),
        &[("scan-017.tif", poor_tiff()), ("scan-018.tif", good_tiff())],
    );
    let out = revise(&root, &id, &from, 1);
    assert!(
        out.stderr
            .contains("scan-017.tif: QC profile fadgi-3-star-text")
            && out.stderr.contains("min_ppi")
            && out.stderr.contains("nothing was changed"),
        "{}",
        out.describe()
    );
    // The bag, its register entry and the log exactly as they were; nothing staged.
    let after = archive_state(&root);
    assert!(
        before == after,
        "changed: {:?}",
        after
            .iter()
            .filter(|(p, b)| before.get(*p) != Some(*b))
            .map(|(p, _)| p)
            .chain(before.keys().filter(|p| !after.contains_key(*p)))
            .collect::<Vec<_>>()
    );
    assert_eq!(entry(&root, &id).get("version"), None, "still version 1");
}

#[test]
fn profile_passes_good_tiffs_with_a_validation_event_per_file() {
    let tmp = common::fresh_dir("qc-ingest-pass");
    let root = archive_with(
        tmp.path(),
        &[
            ("scan-001.tif", good_tiff()),
            ("scan-002.tif", tiff_bytes(32, 32, 600)),
        ],
    );
    set_profile(&root, PROFILE);
    let id = ingest_one(&root);
    let judged = file_validations(&root);
    let mut files: Vec<&str> = judged
        .iter()
        .map(|e| e["data"]["file"].as_str().expect("file"))
        .collect();
    files.sort();
    assert_eq!(files, ["data/scan-001.tif", "data/scan-002.tif"]);
    for e in &judged {
        assert_eq!(e["object"], id.as_str());
        assert_eq!(e["data"]["profile"], PROFILE);
        assert!(
            e["outcome"] == "success" || e["outcome"] == "warning",
            "{e}"
        );
        let detail = e["detail"].as_str().expect("detail");
        assert!(
            detail.contains(e["data"]["file"].as_str().expect("file"))
                && detail.contains("QC profile fadgi-3-star-text"),
            "{detail}"
        );
    }
    // In the same append as the ingestion (one append: one time), after it.
    let all = events(&root);
    let ingestion = all
        .iter()
        .find(|e| e["type"] == "ingestion")
        .expect("ingestion");
    for e in &judged {
        assert_eq!(e["time"], ingestion["time"], "{e}");
        assert!(e["seq"].as_u64() > ingestion["seq"].as_u64(), "{e}");
    }
    // The register keeps each file's judgement.
    for f in entry(&root, &id)["files"].as_array().expect("files") {
        assert_eq!(f["qc"]["profile"], PROFILE, "{f}");
    }
    // The chain holds, the audit accepts them.
    common::check_chain(&root, "after a judged ingest");
    expect(&root, ["audit"], 0);
    // PREMIS: validation events linked to the file.
    let premis = expect(&root, ["show", id.as_str(), "--premis"], 0);
    let n = premis
        .stdout
        .matches(">validation</premis:eventType>")
        .count();
    assert!(
        n >= 3,
        "the bag's validation and two files':\n{}",
        premis.stdout
    );
    assert!(
        premis.stdout.contains(&format!(
            "<premis:linkingObjectIdentifierValue>{id}/data/scan-002.tif</premis:linkingObjectIdentifierValue>"
        )),
        "{}",
        premis.stdout
    );

    // A revision changing one file judges that file alone: one more event.
    let from = new_content(
        tmp.path(),
        &[
            ("scan-001.tif", good_tiff()),
            ("scan-002.tif", tiff_bytes(32, 32, 800)),
        ],
    );
    revise(&root, &id, &from, 0);
    let judged = file_validations(&root);
    assert_eq!(judged.len(), 3, "{judged:?}");
    assert_eq!(judged[2]["data"]["file"], "data/scan-002.tif");
    let e = entry(&root, &id);
    assert_eq!(e["version"], 2);
    for f in e["files"].as_array().expect("files") {
        assert_eq!(f["qc"]["profile"], PROFILE, "{f}");
        assert!(f["format"].is_object(), "{f}");
    }
    common::check_chain(&root, "after a judged revision");
    expect(&root, ["audit"], 0);
}

/// The hole this closes: revise took any file, whatever `[formats]` refuses.
#[test]
fn revise_applies_the_format_policy_as_ingest_does() {
    let tmp = common::fresh_dir("qc-revise-policy");
    let root = tmp.path().join("arch");
    life::init(&root);
    common::write_file(
        &root.join("intake/letter"),
        "page-1.txt",
        b"Sample: a letter\n",
    );
    std::fs::write(
        root.join("intake/metadata.csv"),
        "filename,dc.title\nletter,Sample: a letter\n",
    )
    .expect("csv");
    set_refuse(&root, "image/tiff: no TIFF in this collection");
    let id = ingest_one(&root);
    let before = archive_state(&root);
    let from = new_content(
        tmp.path(),
        &[
            ("page-1.txt", b"Sample: a letter\n".to_vec()),
            ("page-2.tif", good_tiff()),
        ],
    );
    let out = revise(&root, &id, &from, 1);
    assert!(
        out.stderr.contains("page-2.tif")
            && out
                .stderr
                .contains("formats.refuse says image/tiff: no TIFF in this collection"),
        "{}",
        out.describe()
    );
    assert!(before == archive_state(&root), "the archive changed");
    // Without the TIFF the revision goes through, and the new file's format is recorded.
    std::fs::remove_file(from.join("page-2.tif")).expect("rm");
    std::fs::write(from.join("page-2.txt"), "Sample: page two\n").expect("page");
    revise(&root, &id, &from, 0);
    let e = entry(&root, &id);
    let added = e["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "data/page-2.txt")
        .expect("added")
        .clone();
    assert!(added["format"].is_object(), "{added}");
}

#[test]
fn report_has_a_qc_section_only_when_files_were_judged() {
    let tmp = common::fresh_dir("qc-report");
    let root = archive_with(tmp.path(), &[("scan-001.tif", good_tiff())]);
    // Without a profile: no validation, no section.
    let id = ingest_one(&root);
    assert!(
        entry(&root, &id)["files"][0].get("qc").is_none(),
        "judged without a profile"
    );
    assert!(file_validations(&root).is_empty());
    let r = expect(&root, ["report", "--json"], 0).json();
    assert!(r.get("qc").is_none(), "{r}");
    let text = expect(&root, ["report"], 0);
    assert!(
        !text.stdout.contains("quality control"),
        "{}",
        text.describe()
    );

    set_profile(&root, PROFILE);
    common::write_file(
        &root.join("intake/more"),
        "scan-002.tif",
        &tiff_bytes(40, 30, 600),
    );
    std::fs::write(
        root.join("intake/metadata.csv"),
        "filename,dc.title\nmore,Sample: more scans\n",
    )
    .expect("csv");
    let second = ingest_one(&root);
    let r = expect(&root, ["report", "--json"], 0).json();
    let qc = &r["qc"];
    assert_eq!(qc["totals"]["files"], 1, "{qc}");
    let f = &qc["files"][0];
    assert_eq!(f["id"], second.as_str());
    assert_eq!(f["path"], "data/scan-002.tif");
    assert_eq!(f["ppi"], 600.0);
    assert_eq!(f["width"], 40);
    assert_eq!(f["depth"], "8");
    assert_eq!(f["profile"], PROFILE);
    let text = expect(&root, ["report"], 0);
    assert!(
        text.stdout.contains("quality control: 1 file")
            && text.stdout.contains("data/scan-002.tif")
            && text.stdout.contains("600 ppi")
            && text.stdout.contains("fadgi-3-star-text: "),
        "{}",
        text.describe()
    );
    let html = tmp.path().join("report.html");
    expect(
        &root,
        ["report".as_ref(), "--html".as_ref(), html.as_os_str()],
        0,
    );
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(
        page.contains("<h2>Quality control</h2>") && page.contains("data/scan-002.tif"),
        "no QC section"
    );
}

/// The profile judges the masters only: an item of a good scan and its transcription
/// is ingested (the transcription is outside the profile: no judgement, no event),
/// while a file named `.tif` whose header is damaged past recognition is not a file out
/// of scope but the worst damage: not well-formed, and the item refused.
#[test]
fn profile_judges_masters_not_transcriptions_and_refuses_an_unrecognisable_tif() {
    let tmp = common::fresh_dir("qc-ingest-scope");
    let transcription = "Sample transcription of page 1.\n".as_bytes().to_vec();
    let root = archive_with(
        tmp.path(),
        &[
            ("scan-001.tif", good_tiff()),
            ("scan-001.txt", transcription),
        ],
    );
    set_profile(&root, PROFILE);
    let id = ingest_one(&root);
    let judged: Vec<String> = file_validations(&root)
        .iter()
        .map(|e| e["data"]["file"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(judged, vec!["data/scan-001.tif".to_string()], "{judged:?}");
    let e = entry(&root, &id);
    let txt = e["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "data/scan-001.txt")
        .expect("the transcription's record");
    assert!(
        txt.get("qc").is_none() && txt.get("validation").is_none(),
        "{txt}"
    );

    // A second item: a .tif whose first bytes are no TIFF's.
    let mut damaged = good_tiff();
    damaged[0] = b'X';
    common::write_file(&root.join("intake/more"), "scan-002.tif", &damaged);
    std::fs::write(
        root.join("intake/metadata.csv"),
        "filename,dc.title\nmore,Sample: a damaged scan\n",
    )
    .expect("csv");
    let log_before = std::fs::read(root.join("manifests/events.jsonl")).expect("log");
    let out = expect(&root, ["ingest"], 1);
    assert!(
        out.stderr
            .contains("scan-002.tif: QC profile fadgi-3-star-text")
            && out.stderr.contains("not well-formed"),
        "{}",
        out.describe()
    );
    assert_eq!(
        std::fs::read(root.join("manifests/events.jsonl")).expect("log"),
        log_before
    );
    // cairn qc on the same file, outside the archive, without a profile: it fails.
    let out = common::cairn()
        .args(["qc", "--json"])
        .arg(root.join("intake/more"))
        .current_dir(tmp.path())
        .output()
        .expect("run cairn qc");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["files"][0]["status"], "not well-formed", "{v}");
    assert_eq!(
        v["files"][0]["validation"]["findings"][0]["code"], "QC-SIGNATURE",
        "{v}"
    );
}
