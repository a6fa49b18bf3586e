//! Scenarios: the archive's past. Ingest and import know what the archive held before
//! (issue 27): purged and withdrawn content does not come back, a rerun over a kept
//! intake does not duplicate what a later `revise` replaced, and an archivist can admit a
//! duplicate on purpose, linked in the events. And names that cannot travel (issue 28):
//! identifiers that are layout names or twins of another, payload names that differ only
//! in case or normalisation, an export Cairn could not read back, metadata.csv names with
//! spaces, oversized metadata values.

use std::fs;
use std::path::Path;

use crate::common;
use crate::life::{cairn_at, entry, events_of, expect, make_archive};

/// A new, empty archive in `tmp/arch`.
fn empty_archive(tmp: &Path) -> std::path::PathBuf {
    let root = tmp.join("arch");
    let out = common::cairn()
        .arg("init")
        .arg(&root)
        .output()
        .expect("init");
    assert!(out.status.success(), "{out:?}");
    root
}

/// Drops items into the archive's intake (each file by its intake-relative path) and
/// writes `sheet` as intake/metadata.csv.
fn drop_in(root: &Path, files: &[(&str, &[u8])], sheet: &str) {
    let intake = root.join("intake");
    for (rel, bytes) in files {
        common::write_file(&intake, rel, bytes);
    }
    common::write_file(&intake, "metadata.csv", sheet.as_bytes());
}

/// The register entries (manifests/*.json), by identifier.
fn ids(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(root.join("manifests"))
        .expect("manifests")
        .filter_map(|e| {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json").map(str::to_string)
        })
        .filter(|n| !n.starts_with('.'))
        .collect();
    out.sort();
    out
}

#[test]
fn purged_content_is_refused_by_ingest_and_import() {
    let tmp = common::fresh_dir("past-purge");
    let root = tmp.path().join("arch");
    make_archive(&root, 4);
    let zip = tmp.path().join("note.zip");
    expect(
        &root,
        [
            "export".as_ref(),
            "cairn-000002".as_ref(),
            "--zip".as_ref(),
            zip.as_os_str(),
        ],
        0,
    );
    for id in ["cairn-000001", "cairn-000002"] {
        expect(
            &root,
            [
                "withdraw",
                id,
                "--reason",
                "donor asked for destruction",
                "--purge",
                "--yes",
            ],
            0,
        );
    }
    // The intake is kept by default: the next ingest meets the purged items again.
    let out = expect(&root, ["ingest"], 1);
    for id in ["cairn-000001", "cairn-000002"] {
        assert!(
            out.stderr.contains(&format!("matches {id}, withdrawn "))
                && out.stderr.contains("purged: not ingested"),
            "{}",
            out.describe()
        );
    }
    // The same bytes under another name, and one purged page inside a new item.
    let intake = root.join("intake");
    fs::rename(intake.join("b-note.txt"), intake.join("renamed-note.txt")).expect("rename");
    fs::remove_dir_all(intake.join("a-register")).expect("rm");
    drop_in(
        &root,
        &[
            ("mixed/new.txt", b"Sample: a new page\n"),
            (
                "mixed/old.txt",
                b"Sample: page 2 of a synthetic prisoner register; no real record.\n",
            ),
        ],
        "filename,dc.title\nrenamed-note.txt,Renamed note\nmixed,Mixed\n",
    );
    let out = expect(&root, ["ingest"], 1);
    assert!(
        out.stderr.contains("matches cairn-000002, withdrawn")
            && out
                .stderr
                .contains("data/old.txt matches data/part-0/page-0002.txt of cairn-000001"),
        "{}",
        out.describe()
    );
    // The zip exported before the purge.
    let out = expect(&root, ["import".as_ref(), zip.as_os_str()], 1);
    assert!(
        out.stderr.contains("matches cairn-000002, withdrawn")
            && out.stderr.contains("purged: not imported"),
        "{}",
        out.describe()
    );
    assert_eq!(ids(&root), ["cairn-000003"], "nothing came back");
    // Unless the archivist names the match: then the import links the two.
    let out = expect(
        &root,
        [
            "import".as_ref(),
            zip.as_os_str(),
            "--allow-duplicate-of".as_ref(),
            "cairn-000002".as_ref(),
            "--json".as_ref(),
        ],
        0,
    );
    let report = out.json();
    assert_eq!(report["duplicate_of"], serde_json::json!(["cairn-000002"]));
    let id = report["id"].as_str().expect("imported").to_string();
    let ingestion = events_of(&root, &id, "ingestion");
    assert_eq!(
        ingestion[0]["data"]["duplicate_of"][0]["state"], "withdrawn, purged",
        "{}",
        ingestion[0]
    );
}

#[test]
fn quarantined_content_is_refused_and_admitted_on_purpose_with_a_link() {
    let tmp = common::fresh_dir("past-quarantine");
    let root = tmp.path().join("arch");
    make_archive(&root, 2);
    expect(
        &root,
        ["withdraw", "cairn-000003", "--reason", "donor withdrew it"],
        0,
    );
    let out = expect(&root, ["ingest"], 1);
    assert!(
        out.stderr.contains("matches cairn-000003, withdrawn ")
            && out.stderr.contains("quarantined: not ingested")
            && out.stderr.contains("--allow-duplicate-of cairn-000003"),
        "{}",
        out.describe()
    );
    assert!(
        out.stdout.contains("already archived 2, refused 1"),
        "{}",
        out.describe()
    );
    let out = expect(&root, ["ingest", "--allow-duplicate-of", "cairn-000003"], 0);
    assert!(
        out.stdout.contains("ingested c-letter.txt as cairn-000004")
            && out.stdout.contains("a duplicate of cairn-000003"),
        "{}",
        out.describe()
    );
    let ingestion = events_of(&root, "cairn-000004", "ingestion");
    assert_eq!(ingestion.len(), 1);
    assert_eq!(
        ingestion[0]["data"]["duplicate_of"][0]["id"],
        "cairn-000003"
    );
    assert_eq!(
        ingestion[0]["data"]["duplicate_of"][0]["state"],
        "withdrawn, quarantined"
    );
    // A current item's content under another name is a duplicate too.
    drop_in(
        &root,
        &[(
            "copy-of-note.txt",
            b"Sample: synthetic note on Tuol Sleng\n",
        )],
        "filename,dc.title\ncopy-of-note.txt,A copy\n",
    );
    let out = expect(&root, ["ingest", "--dry-run"], 1);
    assert!(
        out.stderr
            .contains("copy-of-note.txt: matches cairn-000002: not ingested"),
        "{}",
        out.describe()
    );
    let out = expect(&root, ["ingest"], 1);
    assert!(
        out.stderr
            .contains("copy-of-note.txt: matches cairn-000002: not ingested"),
        "{}",
        out.describe()
    );
}

#[test]
fn a_rerun_after_revise_skips_version_one_as_already_archived() {
    let tmp = common::fresh_dir("past-revise");
    let root = empty_archive(tmp.path());
    drop_in(
        &root,
        &[
            ("box-2/page-1.txt", b"Sample: page one\n"),
            ("box-2/page-2.txt", b"Sample: page two\n"),
        ],
        "filename,dc.title,dc.identifier\nbox-2,Sample: box two,DC-Cam/D/0002\n",
    );
    expect(&root, ["ingest"], 0);
    let id = "DC-Cam_D_0002";
    let new = tmp.path().join("corrected");
    common::write_file(&new, "page-1.txt", b"Sample: page one\n");
    common::write_file(&new, "page-2.txt", b"Sample: page two, re-scanned\n");
    expect(
        &root,
        [
            "revise".as_ref(),
            id.as_ref(),
            "--from".as_ref(),
            new.as_os_str(),
            "--reason".as_ref(),
            "page 2 re-scanned".as_ref(),
        ],
        0,
    );
    // The intake still holds version 1 and the sheet still gives its identifier.
    let out = expect(&root, ["ingest"], 0);
    assert!(
        out.stdout.contains(&format!(
            "skipped box-2: already archived as version 1 of {id}"
        )),
        "{}",
        out.describe()
    );
    let out = expect(&root, ["ingest", "--json"], 0);
    let item = &out.json()["items"][0];
    assert_eq!(item["outcome"], "already-archived");
    assert_eq!(item["id"], id);
    assert_eq!(item["version"], 1);
    assert_eq!(ids(&root), [id]);
    assert_eq!(entry(&root, id)["version"], 2);
}

#[test]
fn identifiers_that_are_layout_names_or_twins_are_refused() {
    let tmp = common::fresh_dir("past-reserved");
    let root = empty_archive(tmp.path());
    drop_in(
        &root,
        &[("first.txt", b"Sample: the first item\n")],
        "filename,dc.title,dc.identifier\nfirst.txt,First,Box-1\n",
    );
    expect(&root, ["ingest"], 0);
    drop_in(
        &root,
        &[
            ("head.txt", b"Sample: head\n"),
            ("hist.txt", b"Sample: history\n"),
            ("twin.txt", b"Sample: another item\n"),
            ("ligature.txt", b"Sample: a ligature\n"),
            ("first-again.txt", b"Sample: yet another\n"),
        ],
        "filename,dc.title,dc.identifier\n\
         head.txt,Head,events.head\n\
         hist.txt,History,History\n\
         twin.txt,Twin,box-1\n\
         ligature.txt,Ligature,\u{fb01}rst\n\
         first-again.txt,First again,FIRST\n",
    );
    let out = expect(&root, ["ingest"], 1);
    for (item, why) in [
        ("head.txt", "\"events.head\" is reserved"),
        ("hist.txt", "\"History\" is reserved"),
        (
            "twin.txt",
            "identifier \"Box-1\" of an item archived earlier only in case",
        ),
    ] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains(why) && out.stderr.contains(item)),
            "{item}: {}",
            out.describe()
        );
    }
    // Two new items whose identifiers fold together (NFKC, case): the second is refused.
    assert!(
        out.stdout.contains("ingested first-again.txt as FIRST"),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.contains("identifier \"FIRST\" of an item archived earlier only in case or Unicode normalisation"),
        "{}",
        out.describe()
    );
    assert!(
        !root.join("manifests/events.head.json").exists(),
        "{}",
        out.describe()
    );
    // Import does not take such an External-Identifier: the bag gets a generated one.
    let src = tmp.path().join("head-src");
    common::write_file(
        &src,
        "head.txt",
        b"Sample: an imported head
",
    );
    let bag = tmp.path().join("head-bag");
    let made = common::create(&src, &bag, &["--info", "External-Identifier: events.head"]);
    assert_eq!(made.code, Some(0), "{}", made.describe());
    let out = cairn_at(
        &root,
        ["import".as_ref(), bag.as_os_str(), "--json".as_ref()],
        &[],
    );
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let report = out.json();
    assert_eq!(report["id"], "cairn-000001", "{}", out.describe());
    assert!(
        report["id_note"]
            .as_str()
            .is_some_and(|n| n.contains("\"events.head\" is reserved")),
        "{}",
        out.describe()
    );
    assert!(!root.join("manifests/events.head.json").exists());
}

#[test]
fn payload_names_that_differ_only_in_case_or_normalisation_are_refused() {
    let tmp = common::fresh_dir("past-twins");
    let root = empty_archive(tmp.path());
    drop_in(
        &root,
        &[
            ("cased/README.TXT", b"Sample: upper\n"),
            ("cased/readme.txt", b"Sample: lower\n"),
            ("accents/caf\u{e9}.txt", b"Sample: composed\n"),
            ("accents/cafe\u{301}.txt", b"Sample: decomposed\n"),
            ("folders/Scans/1.txt", b"Sample: one\n"),
            ("folders/scans/2.txt", b"Sample: two\n"),
        ],
        "filename,dc.title\ncased,Cased\naccents,Accents\nfolders,Folders\n",
    );
    let out = expect(&root, ["ingest"], 1);
    for pair in [
        ("\"README.TXT\"", "\"readme.txt\""),
        ("\"caf\u{e9}.txt\"", "\"cafe\u{301}.txt\""),
        ("\"Scans\"", "\"scans\""),
    ] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains(pair.0) && l.contains(pair.1) && l.contains("only in case")),
            "{pair:?}: {}",
            out.describe()
        );
    }
    assert_eq!(ids(&root), Vec::<String>::new());
}

#[test]
fn export_reads_its_zip_back_and_removes_one_that_fails() {
    let tmp = common::fresh_dir("past-export");
    let root = tmp.path().join("arch");
    make_archive(&root, 2);
    // A bag made elsewhere with case twins (an archive from before ingest refused them).
    let src = tmp.path().join("twins");
    common::write_file(&src, "README.TXT", b"Sample: upper\n");
    common::write_file(&src, "readme.txt", b"Sample: lower\n");
    let bag = tmp.path().join("twins-bag");
    let out = common::create(&src, &bag, &[]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let out = cairn_at(&root, ["import".as_ref(), bag.as_os_str()], &[]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let id = "cairn-000004";
    let zip = tmp.path().join("twins.zip");
    let out = cairn_at(
        &root,
        [
            "export".as_ref(),
            id.as_ref(),
            "--zip".as_ref(),
            zip.as_os_str(),
        ],
        &[],
    );
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains("does not read back as a valid bag"),
        "{}",
        out.describe()
    );
    assert!(!zip.exists(), "the failed zip is removed");
    let leftovers: Vec<_> = fs::read_dir(tmp.path())
        .expect("tmp")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("cairn-partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(events_of(&root, id, "export").is_empty());
    // A good bag exports as before.
    let zip = tmp.path().join("good.zip");
    expect(
        &root,
        [
            "export".as_ref(),
            "cairn-000002".as_ref(),
            "--zip".as_ref(),
            zip.as_os_str(),
        ],
        0,
    );
}

#[test]
fn metadata_csv_names_match_exactly_and_values_have_a_size_limit() {
    let tmp = common::fresh_dir("past-sheet");
    let root = empty_archive(tmp.path());
    let long = "x".repeat(70 * 1024);
    drop_in(
        &root,
        &[
            ("box ", b"Sample: a name ending in a space\n"),
            ("long.txt", b"Sample: a long description\n"),
        ],
        &format!(
            "filename,dc.title,dc.description\n\"box \",Box with a space,\nlong.txt,Long,{long}\n"
        ),
    );
    let out = expect(&root, ["ingest"], 1);
    assert!(
        out.stdout.contains("ingested \"box \" as cairn-000001")
            || out.stdout.contains("ingested box  as cairn-000001"),
        "{}",
        out.describe()
    );
    assert_eq!(
        entry(&root, "cairn-000001")["dublin_core"]["dc.title"],
        serde_json::json!(["Box with a space"])
    );
    assert!(
        out.stderr
            .contains("dc.description: a value of 71680 bytes")
            && out.stderr.contains("ingest.max_value_size"),
        "{}",
        out.describe()
    );
    let out = cairn_at(&root, ["ingest"], &[("CAIRN_INGEST_MAX_VALUE_SIZE", "1M")]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(
        out.stdout.contains("ingested long.txt"),
        "{}",
        out.describe()
    );
    // amend holds values to the same limit.
    let set = format!("dc.description={long}");
    let out = expect(
        &root,
        [
            "amend",
            "cairn-000001",
            "--set",
            &set,
            "--reason",
            "a long note",
        ],
        1,
    );
    assert!(
        out.stderr
            .contains("dc.description: a value of 71680 bytes"),
        "{}",
        out.describe()
    );
}

#[test]
fn two_identical_items_in_one_batch_are_one_item_and_the_dry_run_says_so() {
    let tmp = common::fresh_dir("past-batch");
    let root = empty_archive(tmp.path());
    drop_in(
        &root,
        &[
            ("scan-a.txt", b"Sample: the same scan twice\n"),
            ("scan-b.txt", b"Sample: the same scan twice\n"),
        ],
        "filename,dc.title\nscan-a.txt,Scan A\nscan-b.txt,Scan B\n",
    );
    for args in [&["ingest", "--dry-run"][..], &["ingest"][..]] {
        let out = expect(&root, args, 1);
        assert!(
            out.stderr
                .contains("scan-b.txt: matches cairn-000001: not ingested"),
            "{args:?}: {}",
            out.describe()
        );
    }
    assert_eq!(ids(&root), ["cairn-000001"]);
}
