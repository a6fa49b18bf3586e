//! The life of an item after ingest, end to end on the real binary: `amend` (with
//! `--from-csv`) and `withdraw` (quarantine and purge), each success and each refusal
//! of issue 14. After each change every check an auditor runs passes (cairn bag
//! validate, bagit.py --validate, fixity --all, audit); a refusal changes nothing.

use std::fs;
use std::os::unix::fs::MetadataExt;

use crate::common;
use crate::life;
use life::{all_checks_pass, entry, events_of, expect, make_archive, state};

#[test]
fn amend_rewrites_the_metadata_keeps_the_payload_and_the_old_entry() {
    let tmp = common::fresh_dir("amend");
    let root = tmp.path().join("arch");
    make_archive(&root, 6);
    let bag = root.join("archive/cairn-000001");
    let page = bag.join("data/part-0/page-0000.txt");
    let inode_before = fs::metadata(&page).expect("page").ino();
    let bytes_before = fs::read(&page).expect("page");
    let entry_before = fs::read(root.join("manifests/cairn-000001.json")).expect("entry");

    let out = expect(
        &root,
        [
            "amend",
            "cairn-000001",
            "--set",
            "dc.date=1977-03",
            "--set",
            "dc.subject=Prisoners",
            "--set",
            "dc.subject=Registers",
            "--reason",
            "date read from the register's stamp",
        ],
        0,
    );
    assert!(
        out.stdout
            .contains("amended cairn-000001: dc.subject, dc.date (register entry version 2)"),
        "{}",
        out.describe()
    );
    // The payload was not copied or rewritten: the same inode, the same bytes.
    assert_eq!(fs::metadata(&page).expect("page").ino(), inode_before);
    assert_eq!(fs::read(&page).expect("page"), bytes_before);
    // The tag files say the new record.
    let xml = fs::read_to_string(bag.join("metadata/dc.xml")).expect("dc.xml");
    assert!(xml.contains("<dc:date>1977-03</dc:date>"), "{xml}");
    assert!(xml.contains("<dc:subject>Registers</dc:subject>"), "{xml}");
    let json = fs::read_to_string(bag.join("metadata/dc.json")).expect("dc.json");
    assert!(json.contains("\"1977-03\""), "{json}");
    // The register: version 2, the new record; version 1 kept byte for byte.
    let e = entry(&root, "cairn-000001");
    assert_eq!(e["entry_version"], 2);
    assert_eq!(e["dublin_core"]["dc.date"][0], "1977-03");
    assert!(e["updated"].is_string());
    let kept = fs::read(root.join("manifests/history/cairn-000001/000001.json")).expect("history");
    assert_eq!(kept, entry_before, "the superseded entry is kept unchanged");
    // The event: reason, terms, digests before and after.
    let evs = events_of(&root, "cairn-000001", "metadata modification");
    assert_eq!(evs.len(), 1, "{evs:?}");
    let d = &evs[0]["data"];
    assert_eq!(d["reason"], "date read from the register's stamp");
    assert_eq!(d["operator"], "test-archivist");
    assert_eq!(d["terms"], serde_json::json!(["dc.subject", "dc.date"]));
    let terms: Vec<&str> = d["terms"]
        .as_array()
        .expect("terms")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(terms.contains(&"dc.date") && terms.contains(&"dc.subject"));
    assert_ne!(
        d["before"]["metadata/dc.xml"]["blake3"], d["after"]["metadata/dc.xml"]["blake3"],
        "{d}"
    );
    assert_eq!(
        d["after"]["metadata/dc.xml"]["blake3"],
        e["tag_files"]["metadata/dc.xml"]["blake3"]
    );
    // show lists the versions.
    let show = expect(&root, ["show", "cairn-000001"], 0);
    assert!(
        show.stdout.contains("record version:   2, published"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("    1  published "), "{}", show.stdout);
    all_checks_pass(&root, "after amend");

    // A second amend: version 3, versions 1 and 2 kept; unset removes a term.
    expect(
        &root,
        [
            "amend",
            "cairn-000001",
            "--unset",
            "dc.subject",
            "--reason",
            "subjects to be assigned by the thesaurus review",
        ],
        0,
    );
    assert_eq!(entry(&root, "cairn-000001")["entry_version"], 3);
    assert!(root
        .join("manifests/history/cairn-000001/000002.json")
        .is_file());
    let xml = fs::read_to_string(bag.join("metadata/dc.xml")).expect("dc.xml");
    assert!(!xml.contains("dc:subject"), "{xml}");
    all_checks_pass(&root, "after the second amend");
}

#[test]
fn amend_that_changes_nothing_says_so_and_writes_nothing() {
    let tmp = common::fresh_dir("amend-same");
    let root = tmp.path().join("arch");
    make_archive(&root, 2);
    let before = state(&root);
    let out = expect(
        &root,
        [
            "amend",
            "cairn-000002",
            "--set",
            "dc.date=1979-01",
            "--reason",
            "check",
        ],
        0,
    );
    assert!(
        out.stdout.contains("unchanged cairn-000002"),
        "{}",
        out.describe()
    );
    assert_eq!(state(&root), before, "nothing may be written");
}

#[test]
fn amend_refusals_change_nothing() {
    let tmp = common::fresh_dir("amend-refused");
    let root = tmp.path().join("arch");
    make_archive(&root, 2);
    expect(
        &root,
        ["withdraw", "cairn-000003", "--reason", "donor withdrew it"],
        0,
    );
    let before = state(&root);
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &[
                "amend",
                "cairn-000099",
                "--set",
                "dc.date=1977",
                "--reason",
                "x",
            ],
            2,
            "no item \"cairn-000099\"",
        ),
        (
            &[
                "amend",
                "cairn-000003",
                "--set",
                "dc.date=1977",
                "--reason",
                "x",
            ],
            2,
            "was withdrawn",
        ),
        (
            &[
                "amend",
                "cairn-000002",
                "--set",
                "dc.date=1977/79",
                "--reason",
                "x",
            ],
            1,
            "not a W3C-DTF date",
        ),
        (
            &[
                "amend",
                "cairn-000002",
                "--set",
                "dc.date=1977",
                "--reason",
                "  ",
            ],
            2,
            "--reason is empty",
        ),
        (
            &[
                "amend",
                "cairn-000002",
                "--set",
                "dc.titel=x",
                "--reason",
                "x",
            ],
            2,
            "did you mean dc.title",
        ),
        (
            &[
                "amend",
                "cairn-000002",
                "--set",
                "dc.identifier=other",
                "--reason",
                "x",
            ],
            1,
            "cannot be amended",
        ),
        (
            &[
                "amend",
                "cairn-000002",
                "--unset",
                "dc.title",
                "--reason",
                "x",
            ],
            1,
            "title",
        ),
        (
            &["amend", "cairn-000002", "--reason", "x"],
            2,
            "nothing to change",
        ),
    ];
    for (args, code, says) in cases {
        let out = expect(&root, args.iter(), *code);
        assert!(
            out.stderr.contains(says),
            "{args:?}: expected {says:?}\n{}",
            out.describe()
        );
        assert_eq!(state(&root), before, "{args:?} changed the archive");
    }
}

#[test]
fn amend_from_csv_is_one_command_for_a_batch_and_refuses_all_on_one_bad_row() {
    let tmp = common::fresh_dir("amend-csv");
    let root = tmp.path().join("arch");
    make_archive(&root, 2);
    let csv = tmp.path().join("corrections.csv");
    fs::write(
        &csv,
        "id,dc.date,dc.creator\n\
         cairn-000001,1977-04,Sample: synthetic registrar\n\
         cairn-000002,1979-01-07,\n",
    )
    .expect("csv");
    let out = expect(
        &root,
        [
            "amend".as_ref(),
            "--from-csv".as_ref(),
            csv.as_os_str(),
            "--reason".as_ref(),
            "catalogue review".as_ref(),
            "--json".as_ref(),
        ],
        0,
    );
    let r = out.json();
    assert_eq!(r["items"][0]["outcome"], "amended");
    assert_eq!(r["items"][1]["outcome"], "amended");
    assert_eq!(
        entry(&root, "cairn-000001")["dublin_core"]["dc.creator"][0],
        "Sample: synthetic registrar"
    );
    assert_eq!(
        entry(&root, "cairn-000002")["dublin_core"]["dc.date"][0],
        "1979-01-07"
    );
    all_checks_pass(&root, "after the batch");

    // One bad row (an invalid date, an unknown item): nothing changes.
    let before = state(&root);
    fs::write(
        &csv,
        "filename,dc.date\ncairn-000001,1977-05\ncairn-000002,January 1979\n",
    )
    .expect("csv");
    let out = expect(
        &root,
        [
            "amend".as_ref(),
            "--from-csv".as_ref(),
            csv.as_os_str(),
            "--reason".as_ref(),
            "x".as_ref(),
        ],
        1,
    );
    assert!(out.stderr.contains("line 3"), "{}", out.describe());
    assert_eq!(state(&root), before);
    fs::write(
        &csv,
        "filename,dc.date\ncairn-000001,1977-05\nnot-an-item,1977\n",
    )
    .expect("csv");
    let out = expect(
        &root,
        [
            "amend".as_ref(),
            "--from-csv".as_ref(),
            csv.as_os_str(),
            "--reason".as_ref(),
            "x".as_ref(),
        ],
        2,
    );
    assert!(out.stderr.contains("not-an-item"), "{}", out.describe());
    assert_eq!(state(&root), before);
}

#[test]
fn withdraw_quarantines_leaves_a_tombstone_and_the_id_is_never_reused() {
    let tmp = common::fresh_dir("withdraw");
    let root = tmp.path().join("arch");
    make_archive(&root, 2);
    let entry_before = fs::read(root.join("manifests/cairn-000002.json")).expect("entry");
    let out = expect(
        &root,
        [
            "withdraw",
            "cairn-000002",
            "--reason",
            "the donor withdrew the deposit",
        ],
        0,
    );
    assert!(
        out.stdout.contains("archive/.quarantine/cairn-000002"),
        "{}",
        out.describe()
    );
    assert!(!root.join("archive/cairn-000002").exists());
    assert!(root
        .join("archive/.quarantine/cairn-000002/bagit.txt")
        .is_file());
    assert!(!root.join("manifests/cairn-000002.json").exists());
    assert_eq!(
        fs::read(root.join("manifests/history/cairn-000002/000001.json")).expect("kept"),
        entry_before
    );
    let t: serde_json::Value = serde_json::from_slice(
        &fs::read(root.join("manifests/withdrawn/cairn-000002.json")).expect("tombstone"),
    )
    .expect("tombstone JSON");
    assert_eq!(t["reason"], "the donor withdrew the deposit");
    assert_eq!(t["operator"], "test-archivist");
    assert_eq!(t["disposition"], "quarantined");
    assert!(t["tag_manifests"]["tagmanifest-sha512.txt"]["sha512"].is_string());
    let evs = events_of(&root, "cairn-000002", "deaccession");
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["data"]["reason"], "the donor withdrew the deposit");

    // list hides it unless --withdrawn; show prints the tombstone.
    let list = expect(&root, ["list"], 0);
    assert!(!list.stdout.contains("cairn-000002"), "{}", list.stdout);
    let list = expect(&root, ["list", "--withdrawn"], 0);
    assert!(list.stdout.contains("cairn-000002"), "{}", list.stdout);
    let show = expect(&root, ["show", "cairn-000002"], 0);
    assert!(
        show.stdout.contains("cairn-000002  (WITHDRAWN)")
            && show.stdout.contains("the donor withdrew the deposit"),
        "{}",
        show.stdout
    );
    let fixity = expect(&root, ["fixity", "--id", "cairn-000002"], 2);
    assert!(fixity.stderr.contains("was withdrawn"), "{}", fixity.stderr);
    // fixity and audit treat it as withdrawn, not vanished.
    all_checks_pass(&root, "after withdraw");

    // The same content ingested again (on purpose: withdrawn content is otherwise
    // refused, docs/ingest.md) gets a new identifier, never cairn-000002.
    fs::write(
        root.join("intake/b-note.txt"),
        "Sample: synthetic note on Tuol Sleng\n",
    )
    .expect("write");
    fs::write(
        root.join("intake/metadata.csv"),
        "filename,dc.title,dc.date,dc.type,dc.language\nb-note.txt,Sample: note again,1979-01,Text,en\n",
    )
    .expect("csv");
    let out = expect(
        &root,
        ["ingest", "--json", "--allow-duplicate-of", "cairn-000002"],
        0,
    );
    let items = out.json()["items"].clone();
    let item = items
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["name"] == "b-note.txt")
        .expect("b-note.txt reported")
        .clone();
    assert_eq!(item["outcome"], "ingested", "{item}");
    let id = item["id"].as_str().expect("id").to_string();
    assert_eq!(id, "cairn-000004");
    // An explicit identifier that names the withdrawn folder is refused.
    fs::write(root.join("intake/again.txt"), "Sample: again\n").expect("write");
    fs::write(
        root.join("intake/metadata.csv"),
        "filename,dc.title,dc.identifier\nagain.txt,Sample: again,cairn-000002\n",
    )
    .expect("csv");
    let out = expect(&root, ["ingest"], 1);
    assert!(out.stderr.contains("already in use"), "{}", out.describe());
    all_checks_pass(&root, "after the new ingest");
}

#[test]
fn withdraw_purge_deletes_the_bytes_only_with_yes() {
    let tmp = common::fresh_dir("purge");
    let root = tmp.path().join("arch");
    make_archive(&root, 2);
    let before = state(&root);
    let out = expect(
        &root,
        [
            "withdraw",
            "cairn-000001",
            "--reason",
            "court order",
            "--purge",
        ],
        2,
    );
    assert!(out.stderr.contains("add --yes"), "{}", out.describe());
    assert_eq!(state(&root), before);
    expect(
        &root,
        [
            "withdraw",
            "cairn-000001",
            "--reason",
            "court order",
            "--purge",
            "--yes",
        ],
        0,
    );
    assert!(!root.join("archive/cairn-000001").exists());
    assert!(!root.join("archive/.quarantine/cairn-000001").exists());
    let staging = root.join("archive/.staging");
    assert!(
        !staging.exists() || fs::read_dir(&staging).expect("staging").next().is_none(),
        "nothing left in staging"
    );
    let show = expect(&root, ["show", "cairn-000001", "--json"], 0);
    assert_eq!(show.json()["withdrawn"]["disposition"], "purged");
    all_checks_pass(&root, "after purge");
}

#[test]
fn withdraw_refusals_change_nothing() {
    let tmp = common::fresh_dir("withdraw-refused");
    let root = tmp.path().join("arch");
    make_archive(&root, 2);
    expect(&root, ["withdraw", "cairn-000003", "--reason", "x"], 0);
    let before = state(&root);
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["withdraw", "cairn-000099", "--reason", "x"],
            2,
            "no item \"cairn-000099\"",
        ),
        (
            &["withdraw", "cairn-000003", "--reason", "x"],
            2,
            "was withdrawn",
        ),
        (
            &["withdraw", "cairn-000001", "--reason", ""],
            2,
            "--reason is empty",
        ),
        (
            &["withdraw", "cairn-000001", "--reason", "x", "--yes"],
            2,
            "--purge",
        ),
        (&["withdraw", "../etc", "--reason", "x"], 2, "no item"),
    ];
    for (args, code, says) in cases {
        let out = expect(&root, args.iter(), *code);
        assert!(
            out.stderr.contains(says),
            "{args:?}: expected {says:?}\n{}",
            out.describe()
        );
        assert_eq!(state(&root), before, "{args:?} changed the archive");
    }
}

#[test]
fn events_filter_by_item_type_outcome_and_date_in_text_json_and_csv() {
    let tmp = common::fresh_dir("events");
    let root = tmp.path().join("arch");
    make_archive(&root, 2);
    expect(
        &root,
        [
            "amend",
            "cairn-000001",
            "--set",
            "dc.date=1977-02",
            "--reason",
            "stamp",
        ],
        0,
    );
    expect(&root, ["withdraw", "cairn-000003", "--reason", "donor"], 0);
    // A damaged bag gives a failed fixity check.
    fs::write(
        root.join("archive/cairn-000002/data/b-note.txt"),
        "Sample: altered\n",
    )
    .expect("damage");
    expect(&root, ["fixity", "--all"], 1);

    // list --status and --json: each item's status, version and last check.
    let out = expect(&root, ["list", "--status", "failed"], 0);
    assert!(
        out.stdout.starts_with("cairn-000002\t") && out.stdout.lines().count() == 1,
        "{}",
        out.describe()
    );
    let out = expect(&root, ["list", "--status", "withdrawn"], 0);
    assert!(
        out.stdout.starts_with("cairn-000003\t"),
        "{}",
        out.describe()
    );
    let items = expect(&root, ["list", "--json"], 0).json();
    let first = &items[0];
    assert_eq!(first["id"], "cairn-000001");
    assert_eq!(first["status"], "ok");
    assert_eq!(first["entry_version"], 2);
    assert_eq!(first["last_fixity_outcome"], "success");
    assert!(first["last_check"].is_string());
    assert_eq!(items[1]["status"], "failed");

    let out = expect(&root, ["events", "--id", "cairn-000001"], 0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.iter().all(|l| l.contains("  cairn-000001  ")),
        "{}",
        out.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("metadata modification  success: dc.date changed")),
        "{}",
        out.stdout
    );

    let out = expect(&root, ["events", "--outcome", "failure", "--json"], 0);
    let evs = out.json();
    let evs = evs.as_array().expect("array");
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(evs[0]["object"], "cairn-000002");
    assert_eq!(evs[0]["type"], "fixity check");

    let out = expect(&root, ["events", "--type", "deaccession", "--csv"], 0);
    let mut rdr = csv::Reader::from_reader(out.stdout.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("csv row")).collect();
    assert_eq!(rows.len(), 1, "{}", out.stdout);
    assert_eq!(&rows[0][2], "deaccession");
    assert_eq!(&rows[0][4], "cairn-000003");

    // Dates: nothing before 2000, everything up to 2999; an unreadable one is refused.
    let out = expect(&root, ["events", "--until", "2000-01-01", "--json"], 0);
    assert_eq!(out.json().as_array().expect("array").len(), 0);
    let all = expect(&root, ["events", "--json"], 0).json();
    let out = expect(
        &root,
        [
            "events",
            "--since",
            "2000-01-01",
            "--until",
            "2999-12-31",
            "--json",
        ],
        0,
    );
    assert_eq!(out.json(), all);
    let out = expect(&root, ["events", "--since", "last week"], 2);
    assert!(out.stderr.contains("expected a date"), "{}", out.describe());

    // report: JSON, CSV, and one self-contained HTML file with the chart.
    let r = expect(&root, ["report", "--json"], 0).json();
    assert_eq!(r["items"], 2);
    assert_eq!(r["status"]["failed"], 1);
    assert_eq!(r["withdrawn"][0]["id"], "cairn-000003");
    assert_eq!(r["failures"][0]["id"], "cairn-000002");
    assert!(r["log"]["head"].as_str().is_some_and(|h| h.len() == 64));
    let csv_out = expect(&root, ["report", "--csv"], 0).stdout;
    assert!(csv_out.starts_with("id,title,status,"), "{csv_out}");
    assert!(
        csv_out.contains("cairn-000002,") && csv_out.contains(",failed,"),
        "{csv_out}"
    );
    let html = tmp.path().join("report.html");
    expect(
        &root,
        ["report".as_ref(), "--html".as_ref(), html.as_os_str()],
        0,
    );
    let page = fs::read_to_string(&html).expect("html");
    assert!(
        page.contains("<svg") && page.contains("name=\"viewport\""),
        "{page}"
    );
    assert!(
        !page.contains("src=") && !page.contains("href=\"http"),
        "no network: {page}"
    );
    expect(
        &root,
        ["report".as_ref(), "--html".as_ref(), html.as_os_str()],
        2,
    );

    // A broken chain: the events before it are listed, exit 1.
    let log = root.join("manifests/events.jsonl");
    let text = fs::read_to_string(&log).expect("log");
    // The first line edited: the second's link to it breaks.
    let edited = text.replacen("computed while copying", "computed while copying!", 1);
    assert_ne!(text, edited);
    fs::write(&log, edited).expect("tamper");
    let out = expect(&root, ["events"], 1);
    assert!(
        out.stderr.contains("chain is broken at line 2"),
        "{}",
        out.describe()
    );
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.describe());
}

/// A copy of archive/ID/data as a folder an archivist would prepare for `revise`.
fn content_of(root: &std::path::Path, id: &str, to: &std::path::Path) {
    for e in walkdir::WalkDir::new(root.join("archive").join(id).join("data")) {
        let e = e.expect("walk");
        let rel = e
            .path()
            .strip_prefix(root.join("archive").join(id).join("data"))
            .expect("under data");
        let target = to.join(rel);
        if e.file_type().is_dir() {
            fs::create_dir_all(&target).expect("mkdir");
        } else {
            fs::copy(e.path(), &target).expect("copy");
        }
    }
}

#[test]
fn revise_makes_a_new_complete_version_and_keeps_the_old_one_unchanged() {
    let tmp = common::fresh_dir("revise");
    let root = tmp.path().join("arch");
    make_archive(&root, 6);
    let new = tmp.path().join("corrected");
    content_of(&root, "cairn-000001", &new);
    fs::write(
        new.join("part-1/page-0006.txt"),
        "Sample: a forgotten page of the synthetic register\n",
    )
    .expect("page");
    fs::write(
        new.join("part-0/page-0002.txt"),
        "Sample: page 2, re-scanned\n",
    )
    .expect("page");
    fs::remove_file(new.join("part-1/page-0005.txt")).expect("rm");
    let old_bag = fs::read(root.join("archive/cairn-000001/tagmanifest-sha512.txt")).expect("tm");
    let kept_inode = fs::metadata(root.join("archive/cairn-000001/data/part-0/page-0000.txt"))
        .expect("page")
        .ino();

    let out = expect(
        &root,
        [
            "revise".as_ref(),
            "cairn-000001".as_ref(),
            "--from".as_ref(),
            new.as_os_str(),
            "--reason".as_ref(),
            "a forgotten page turned up; page 2 re-scanned".as_ref(),
            "--json".as_ref(),
        ],
        0,
    );
    let r = out.json();
    assert_eq!(r["outcome"], "revised");
    assert_eq!(r["version"], 2);
    assert_eq!(r["added"], serde_json::json!(["data/part-1/page-0006.txt"]));
    assert_eq!(
        r["removed"],
        serde_json::json!(["data/part-1/page-0005.txt"])
    );
    assert_eq!(
        r["changed"],
        serde_json::json!(["data/part-0/page-0002.txt"])
    );
    // Version 1 is kept unchanged; the unchanged pages are stored once (one inode).
    let v1 = root.join("archive/.versions/cairn-000001/000001");
    assert_eq!(
        fs::read(v1.join("tagmanifest-sha512.txt")).expect("tm"),
        old_bag
    );
    assert!(v1.join("data/part-1/page-0005.txt").is_file());
    let cur = root.join("archive/cairn-000001");
    assert_eq!(
        fs::metadata(cur.join("data/part-0/page-0000.txt"))
            .expect("page")
            .ino(),
        kept_inode
    );
    assert_eq!(
        fs::metadata(v1.join("data/part-0/page-0000.txt"))
            .expect("page")
            .ino(),
        kept_inode
    );
    assert!(!cur.join("data/part-1/page-0005.txt").exists());
    let e = entry(&root, "cairn-000001");
    assert_eq!(e["version"], 2);
    assert_eq!(e["files"].as_array().expect("files").len(), 6);
    let evs = events_of(&root, "cairn-000001", "modification");
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["data"]["added"][0], "data/part-1/page-0006.txt");
    // show lists the versions; both bags pass every check (bagit.py included).
    let show = expect(&root, ["show", "cairn-000001"], 0);
    assert!(
        show.stdout.contains(
            "content versions: 1 (archive/.versions/cairn-000001/000001), 2 (archive/cairn-000001)"
        ),
        "{}",
        show.stdout
    );
    all_checks_pass(&root, "after revise");
    // export --version N: any retained version, a valid bag on its own.
    for (v, files) in [("1", 6), ("2", 6)] {
        let zip = tmp.path().join(format!("v{v}.zip"));
        expect(
            &root,
            [
                "export".as_ref(),
                "cairn-000001".as_ref(),
                "--version".as_ref(),
                v.as_ref(),
                "--zip".as_ref(),
                zip.as_os_str(),
            ],
            0,
        );
        let out = common::cairn()
            .args(["bag", "validate", "--json"])
            .arg(&zip)
            .output()
            .expect("validate");
        assert!(out.status.success(), "v{v}: {out:?}");
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(r["files"], files, "v{v}: {r}");
    }
    let zip = tmp.path().join("v3.zip");
    let out = expect(
        &root,
        [
            "export".as_ref(),
            "cairn-000001".as_ref(),
            "--version".as_ref(),
            "3".as_ref(),
            "--zip".as_ref(),
            zip.as_os_str(),
        ],
        2,
    );
    assert!(
        out.stderr.contains("has no version 3 (kept: 1, 2)"),
        "{}",
        out.describe()
    );
    if let Some(py) = life::bagit_py() {
        let out = std::process::Command::new(&py[0])
            .args(&py[1..])
            .arg("--validate")
            .arg(&v1)
            .output()
            .expect("bagit.py");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // fixity checks the retained version too: damage in it alone is found.
    let only_v1 = v1.join("data/part-1/page-0005.txt");
    fs::write(&only_v1, "Sample: altered\n").expect("damage");
    let out = expect(&root, ["fixity", "--id", "cairn-000001"], 1);
    assert!(
        out.describe()
            .contains("changed: .versions/cairn-000001/000001/data/part-1/page-0005.txt"),
        "{}",
        out.describe()
    );
    let out = expect(&root, ["audit"], 1);
    assert!(
        out.describe().contains("cairn-000001"),
        "{}",
        out.describe()
    );

    // The same folder again: nothing changes, no new version.
    let before = state(&root);
    let out = expect(
        &root,
        [
            "revise".as_ref(),
            "cairn-000001".as_ref(),
            "--from".as_ref(),
            new.as_os_str(),
            "--reason".as_ref(),
            "again".as_ref(),
        ],
        0,
    );
    assert!(
        out.stdout.contains("unchanged cairn-000001"),
        "{}",
        out.describe()
    );
    assert_eq!(state(&root), before);
}

#[test]
fn revise_refusals_change_nothing() {
    let tmp = common::fresh_dir("revise-refused");
    let root = tmp.path().join("arch");
    make_archive(&root, 2);
    expect(&root, ["withdraw", "cairn-000003", "--reason", "donor"], 0);
    let good = tmp.path().join("good");
    content_of(&root, "cairn-000001", &good);
    fs::write(good.join("new.txt"), "Sample: new\n").expect("write");
    let linked = tmp.path().join("linked");
    content_of(&root, "cairn-000001", &linked);
    std::os::unix::fs::symlink("/etc/passwd", linked.join("passwd")).expect("symlink");
    let percent = tmp.path().join("percent");
    content_of(&root, "cairn-000001", &percent);
    fs::write(percent.join("100%.txt"), "Sample\n").expect("write");
    let before = state(&root);
    let g = good.to_str().expect("utf-8");
    let l = linked.to_str().expect("utf-8");
    let p = percent.to_str().expect("utf-8");
    let missing = tmp.path().join("missing");
    let m = missing.to_str().expect("utf-8");
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["revise", "cairn-000099", "--from", g, "--reason", "x"],
            2,
            "no item",
        ),
        (
            vec!["revise", "cairn-000003", "--from", g, "--reason", "x"],
            2,
            "was withdrawn",
        ),
        (
            vec!["revise", "cairn-000001", "--from", g, "--reason", " "],
            2,
            "--reason is empty",
        ),
        (
            vec!["revise", "cairn-000001", "--from", m, "--reason", "x"],
            2,
            "not a folder",
        ),
        (
            vec!["revise", "cairn-000001", "--from", l, "--reason", "x"],
            1,
            "symbolic link",
        ),
        (
            vec!["revise", "cairn-000001", "--from", p, "--reason", "x"],
            1,
            "`%`",
        ),
    ];
    for (args, code, says) in cases {
        let out = expect(&root, &args, code);
        assert!(
            out.stderr.contains(says),
            "{args:?}: expected {says:?}\n{}",
            out.describe()
        );
        assert_eq!(state(&root), before, "{args:?} changed the archive");
    }
}
