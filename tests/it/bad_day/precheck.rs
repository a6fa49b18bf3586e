//! Scenarios: every change starts from a verified item (issue 27).
//!
//! One byte of a payload file flipped: `revise`, `amend` and `export` check the current
//! bag in full first and refuse it (exit 1), naming the damaged bag, the damaged file
//! and `cairn repair ID`; `revise --accept-damage` goes on on purpose and logs that
//! decision as its own event; `replicate` never sends the damaged bytes. Also: `verify
//! --against` on an item whose dc.identifier was mapped to a folder name, and `ingest
//! --quiet` with a truncated scan.

use std::fs;
use std::path::Path;

use crate::common;
use crate::life::{self, cairn_at, expect};

const ID: &str = "cairn-000001";
const PAGE: &str = "data/part-0/page-0000.txt";

/// An archive of three items (life::make_archive) with one byte of cairn-000001's
/// first page flipped, `fixity --id` failing on it. Returns the good bytes.
fn damaged_archive(root: &Path) -> Vec<u8> {
    life::make_archive(root, 4);
    let file = root.join("archive").join(ID).join(PAGE);
    let good = fs::read(&file).expect("page");
    let mut bad = good.clone();
    bad[3] ^= 0x20;
    fs::write(&file, &bad).expect("flip a byte");
    expect(root, ["fixity", "--id", ID], 1);
    good
}

/// The archivist's corrected folder: a copy of the current (damaged) payload and a note.
fn corrected_from_archive(root: &Path, dir: &Path) {
    common::copy_tree(&root.join("archive").join(ID).join("data"), dir);
    fs::write(dir.join("note.txt"), "Sample: a note added on revision\n").expect("note");
}

/// `cairn revise ID --from DIR --reason REASON [extra...]`.
fn revise(root: &Path, from: &Path, reason: &str, extra: &[&str]) -> life::Out {
    let mut args = vec![
        "revise",
        ID,
        "--from",
        from.to_str().expect("utf-8"),
        "--reason",
        reason,
    ];
    args.extend(extra);
    cairn_at(root, args, &[])
}

/// `cairn amend ID --set dc.title=… --reason …`.
fn amend_title(root: &Path) -> life::Out {
    let set = "dc.title=Sample: corrected title";
    cairn_at(root, ["amend", ID, "--set", set, "--reason", "a typo"], &[])
}

/// A refusal names the damaged bag (the current one), the damaged file, and the way
/// out; it does not blame a new bag.
fn assert_names_damage(out: &life::Out, what: &str) {
    let bag = Path::new("archive").join(ID);
    for needle in [
        format!("the current bag of {ID}"),
        bag.display().to_string(),
        format!("changed: {PAGE}"),
        format!("cairn repair {ID}"),
    ] {
        assert!(
            out.stderr.contains(&needle),
            "{what}: the refusal must name {needle:?}\n{}",
            out.describe()
        );
    }
    assert!(
        !out.stderr.contains("new bag"),
        "{what}: the damaged bag is the current one, not a new one\n{}",
        out.describe()
    );
}

#[test]
fn revise_of_a_damaged_item_is_refused_and_changes_nothing() {
    let tmp = common::fresh_dir("precheck-revise");
    let root = tmp.path().join("archive");
    damaged_archive(&root);
    let corrected = tmp.path().join("corrected");
    corrected_from_archive(&root, &corrected);
    let before = life::state(&root);

    let out = revise(&root, &corrected, "a note found", &[]);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert_names_damage(&out, "revise");
    assert!(out.stderr.contains("--accept-damage"), "{}", out.describe());
    assert!(
        life::state(&root) == before,
        "a refused revise writes nothing"
    );
    assert!(!root.join("archive/.versions").join(ID).exists());
    assert_eq!(life::entry(&root, ID)["version"].as_u64().unwrap_or(1), 1);
}

#[test]
fn revise_accept_damage_logs_the_decision_before_the_modification() {
    let tmp = common::fresh_dir("precheck-accept");
    let root = tmp.path().join("archive");
    damaged_archive(&root);
    let corrected = tmp.path().join("corrected");
    corrected_from_archive(&root, &corrected);
    let damaged_bytes = fs::read(corrected.join("part-0/page-0000.txt")).expect("copy");

    let out = revise(
        &root,
        &corrected,
        "keep the page as it is now",
        &["--accept-damage"],
    );
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(
        out.stderr.contains(PAGE) && out.stderr.contains("--accept-damage"),
        "the accepted damage is said\n{}",
        out.describe()
    );
    let events: Vec<serde_json::Value> = life::events(&root, "accept-damage")
        .into_iter()
        .filter(|e| e["object"] == ID)
        .collect();
    let n = events.len();
    assert!(n >= 2, "{events:?}");
    let (decision, modification) = (&events[n - 2], &events[n - 1]);
    assert_eq!(decision["type"], "validation", "{decision}");
    assert_eq!(decision["outcome"], "warning", "{decision}");
    assert_eq!(decision["data"]["decision"], "accept-damage", "{decision}");
    assert_eq!(decision["data"]["findings"][0]["path"], PAGE, "{decision}");
    assert!(
        decision["detail"].as_str().unwrap_or("").contains(PAGE),
        "{decision}"
    );
    assert_eq!(modification["type"], "modification", "{modification}");
    assert_eq!(
        decision["data"]["change"], modification["data"]["change"],
        "one change: the decision and the modification are logged together"
    );
    // Version 2 holds the bytes as given, and is a valid bag.
    assert_eq!(life::entry(&root, ID)["version"], 2);
    let now = fs::read(root.join("archive").join(ID).join(PAGE)).expect("page");
    assert_eq!(now, damaged_bytes);
    common::validate(&root.join("archive").join(ID), &[]).assert_code(0);
}

#[test]
fn revise_accept_damage_copies_good_bytes_instead_of_linking_damaged_ones() {
    let tmp = common::fresh_dir("precheck-accept-good");
    let root = tmp.path().join("archive");
    let good = damaged_archive(&root);
    let corrected = tmp.path().join("corrected");
    corrected_from_archive(&root, &corrected);
    // The archivist found the good page elsewhere: its digest is the register's, but
    // the current bag's copy is damaged, so it must be copied, not hard-linked.
    fs::write(corrected.join("part-0/page-0000.txt"), &good).expect("good page");
    let out = revise(
        &root,
        &corrected,
        "the good page found",
        &["--accept-damage"],
    );
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert_eq!(
        fs::read(root.join("archive").join(ID).join(PAGE)).expect("page"),
        good
    );
    common::validate(&root.join("archive").join(ID), &[]).assert_code(0);
}

#[test]
fn amend_of_a_damaged_item_is_refused_with_exit_1_naming_the_current_bag() {
    let tmp = common::fresh_dir("precheck-amend");
    let root = tmp.path().join("archive");
    damaged_archive(&root);
    let before = life::state(&root);
    let out = amend_title(&root);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert_names_damage(&out, "amend");
    assert!(
        life::state(&root) == before,
        "a refused amend writes nothing"
    );
    assert!(!root.join("manifests/history").join(ID).exists());
}

#[test]
fn export_of_a_damaged_item_names_the_bag_and_repair() {
    let tmp = common::fresh_dir("precheck-export");
    let root = tmp.path().join("archive");
    damaged_archive(&root);
    let zip = tmp.path().join("out.zip");
    let out = cairn_at(
        &root,
        ["export", ID, "--zip", zip.to_str().expect("utf-8")],
        &[],
    );
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert_names_damage(&out, "export");
    assert!(out.stderr.contains("--force"), "{}", out.describe());
    assert!(!zip.exists(), "nothing exported");
}

#[test]
fn an_intact_item_says_which_check_it_started_from() {
    let tmp = common::fresh_dir("precheck-intact");
    let root = tmp.path().join("archive");
    life::make_archive(&root, 2);
    let zip = tmp.path().join("out.zip");
    let out = expect(
        &root,
        [
            "export",
            ID,
            "--zip",
            zip.to_str().expect("utf-8"),
            "--json",
        ],
        0,
    );
    let report = out.json();
    assert_eq!(report["precheck"]["depth"], "full", "{report}");
    assert_eq!(report["precheck"]["files"], 2, "{report}");
    let out = amend_title(&root);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(
        out.stderr
            .contains(&format!("checked the current bag of {ID} in full first")),
        "{}",
        out.describe()
    );
    life::all_checks_pass(&root, "after an amend of an intact item");
}

#[test]
fn replicate_never_sends_damaged_bytes_and_names_repair() {
    let tmp = common::fresh_dir("precheck-replicate");
    let root = tmp.path().join("archive");
    damaged_archive(&root);
    let replica = tmp.path().join("replica");
    fs::create_dir_all(&replica).expect("replica root");
    let toml = root.join("cairn.toml");
    let mut text = fs::read_to_string(&toml).expect("cairn.toml");
    text.push_str(&format!(
        "\n[[replica]]\nname = \"usb\"\nurl = \"file://{}\"\n",
        replica.display()
    ));
    fs::write(&toml, text).expect("write cairn.toml");
    let init = cairn_at(&root, ["replicate", "--init", "usb"], &[]);
    assert_eq!(init.code, Some(0), "{}", init.describe());
    let out = cairn_at(&root, ["replicate"], &[]);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    let key = format!("archive/{ID}/{PAGE}");
    assert!(
        out.stderr.lines().any(|l| l.contains(&key)
            && l.contains("archive-damaged")
            && l.contains(&format!("cairn repair {ID}"))),
        "{}",
        out.describe()
    );
    assert!(!replica.join(&key).exists(), "the damaged bytes were sent");
    // The other items went.
    assert!(replica.join("archive/cairn-000002").is_dir());
}

/// An archive whose one item has dc.identifier DC-Cam/D/0002 (its folder DC-Cam_D_0002)
/// and another without.
fn archive_with_dc_identifier(root: &Path) {
    life::init(root);
    let intake = root.join("intake");
    fs::write(intake.join("map.txt"), "Sample: a synthetic map note\n").expect("write");
    fs::write(
        intake.join("other.txt"),
        "Sample: another synthetic note, longer\n",
    )
    .expect("write");
    fs::write(
        intake.join("metadata.csv"),
        "filename,dc.title,dc.identifier,dc.type\n\
         map.txt,Sample: map,DC-Cam/D/0002,Text\n\
         other.txt,Sample: other,,Text\n",
    )
    .expect("csv");
    expect(root, ["ingest"], 0);
}

/// `cairn verify BAG --against ENTRY` (verify takes no --root).
fn verify(bag: &Path, entry: &Path) -> common::Run {
    common::run_cairn([
        "verify".as_ref(),
        bag.as_os_str(),
        "--against".as_ref(),
        entry.as_os_str(),
    ])
}

#[test]
fn verify_against_an_item_with_a_mapped_dc_identifier_passes() {
    let tmp = common::fresh_dir("precheck-verify");
    let root = tmp.path().join("archive");
    archive_with_dc_identifier(&root);
    let folder = "DC-Cam_D_0002";
    assert!(root.join("archive").join(folder).is_dir());
    let bag = root.join("archive").join(folder);
    let entry = root.join("manifests").join(format!("{folder}.json"));
    let out = verify(&bag, &entry);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(!out.stderr.contains("different"), "{}", out.describe());

    // Another item's bag against it: a different item, and the details promised follow.
    let other = root.join("archive").join("cairn-000001");
    let out = verify(&other, &entry);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    let lines: Vec<&str> = out.stderr.lines().collect();
    let first = lines.first().copied().unwrap_or_default();
    assert!(
        first.contains("different-item") && first.contains("DC-Cam/D/0002"),
        "{}",
        out.describe()
    );
    // "the N findings below follow from that": N lines of findings do follow.
    let promised: usize = first
        .split("the ")
        .filter_map(|s| s.split(' ').next()?.parse().ok())
        .last()
        .unwrap_or_else(|| panic!("a count of the details below\n{}", out.describe()));
    let details = lines[1..].iter().filter(|l| !l.contains("FAILED")).count();
    assert!(promised > 0, "{}", out.describe());
    assert_eq!(details, promised, "{}", out.describe());
}

/// A JPEG without its end-of-image marker: a scan cut short.
pub(crate) fn truncated_jpeg() -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    // APP0 JFIF
    j.extend([
        0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x01, 0x00, 0x00,
    ]);
    // DQT: one table of 64 ones.
    j.extend([0xFF, 0xDB, 0x00, 0x43, 0x00]);
    j.extend([1u8; 64]);
    // SOF0: 8 bits, 8x8, one component.
    j.extend([
        0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00,
    ]);
    // SOS, then some entropy-coded bytes, and no FFD9.
    j.extend([0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
    j.extend([0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC]);
    j
}

#[test]
fn ingest_quiet_still_prints_truncated_scan_warnings() {
    let tmp = common::fresh_dir("precheck-quiet");
    let root = tmp.path().join("archive");
    life::init(&root);
    let intake = root.join("intake");
    fs::create_dir_all(intake.join("scan")).expect("mkdir");
    fs::write(intake.join("scan/page-1.jpg"), truncated_jpeg()).expect("jpeg");
    fs::write(
        intake.join("metadata.csv"),
        "filename,dc.title,dc.type\nscan,Sample: a scan cut short,Image\n",
    )
    .expect("csv");
    let out = cairn_at(&root, ["ingest", "--quiet"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("warning: scan") && l.contains("end-of-image")),
        "--quiet hides routine output, never evidence: the truncated scan must be named\n{}",
        out.describe()
    );
    assert!(
        out.stdout.is_empty(),
        "routine output stays hidden\n{}",
        out.describe()
    );
}
