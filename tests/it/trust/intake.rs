//! Issue 12, intake that real people leave behind: items already archived and still in
//! intake when the next batch comes, many items refused for one reason, and system
//! clutter (Thumbs.db, desktop.ini, .DS_Store, AppleDouble `._*`, Office `~$*`). Drives
//! the real binary.

use crate::common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

fn init(tmp: &Path) -> PathBuf {
    let root = tmp.join("arch");
    run_cairn(["init".as_ref(), root.as_os_str()]).assert_code(0);
    root
}

fn ingest(root: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<std::ffi::OsString> = vec!["ingest".into(), "--root".into(), root.into()];
    args.extend(extra.iter().map(|a| a.into()));
    run_cairn(args)
}

fn sheet(rows: &[String]) -> Vec<u8> {
    let mut s = String::from("filename,dc.title,dc.date\n");
    for r in rows {
        s.push_str(&format!("{r},Sample item {r},1978\n"));
    }
    s.into_bytes()
}

#[test]
fn archived_items_left_in_intake_are_recognised_before_metadata_is_looked_for() {
    let tmp = fresh_dir("intake-archived");
    let root = init(tmp.path());
    let intake = root.join("intake");
    let n = 30;
    let names: Vec<String> = (0..n).map(|i| format!("box-{i:03}")).collect();
    for name in &names {
        write_file(&intake, format!("{name}/page.txt"), name.as_bytes());
    }
    write_file(&intake, "metadata.csv", &sheet(&names));
    ingest(&root, &[]).assert_code(0);

    // The next batch: one new item and a new metadata.csv that describes only it.
    write_file(&intake, "box-new/page.txt", b"a new item\n");
    write_file(&intake, "metadata.csv", &sheet(&["box-new".to_string()]));
    let r = ingest(&root, &[]);
    r.assert_code(0);
    assert!(
        r.stdout.contains("ingested box-new as cairn-000031"),
        "{}",
        r.describe()
    );
    assert!(!r.stderr.contains("refused"), "{}", r.describe());
    assert!(
        r.stdout
            .contains(&format!("skipped {n} items already archived")),
        "already archived items are grouped\n{}",
        r.describe()
    );
    let lines = r.stdout.lines().count() + r.stderr.lines().count();
    assert!(lines <= 4, "{lines} lines\n{}", r.describe());
    assert!(r
        .stdout
        .contains("arch: ingested 1, already archived 30, refused 0"));
}

#[test]
fn many_items_refused_for_one_reason_are_one_paragraph() {
    let tmp = fresh_dir("intake-grouped");
    let root = init(tmp.path());
    let intake = root.join("intake");
    for i in 0..12 {
        write_file(&intake, format!("undescribed-{i:02}/page.txt"), b"x");
    }
    write_file(&intake, "described/page.txt", b"y");
    write_file(&intake, "metadata.csv", &sheet(&["described".to_string()]));
    let r = ingest(&root, &[]);
    r.assert_code(1);
    assert_eq!(
        r.stderr
            .matches("refused 12 items for the same reason")
            .count(),
        1,
        "{}",
        r.describe()
    );
    assert_eq!(
        r.stderr.matches("no metadata").count(),
        1,
        "{}",
        r.describe()
    );
    assert!(r.stderr.lines().count() <= 3, "{}", r.describe());
    assert!(r.stdout.contains("ingested described"), "{}", r.describe());
    // The JSON report still lists every item.
    let j = ingest(&root, &["--json", "--dry-run"]);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    let refused = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["outcome"] == "refused")
        .count();
    assert_eq!(refused, 12);
}

#[test]
fn system_clutter_is_skipped_at_the_top_and_excluded_inside_items_by_name() {
    let tmp = fresh_dir("intake-clutter");
    let root = init(tmp.path());
    let intake = root.join("intake");
    for junk in [
        "Thumbs.db",
        "desktop.ini",
        ".DS_Store",
        "._scan.tif",
        "~$notes.docx",
    ] {
        write_file(&intake, junk, b"clutter");
    }
    write_file(&intake, "letters/page-1.txt", b"page one\n");
    write_file(&intake, "letters/Thumbs.db", b"thumbs");
    write_file(&intake, "letters/sub/.DS_Store", b"ds");
    write_file(&intake, "letters/sub/._page-2.txt", b"appledouble");
    write_file(&intake, "letters/sub/page-2.txt", b"page two\n");
    write_file(&intake, "letters/~$draft.docx", b"lock");
    write_file(&intake, "metadata.csv", &sheet(&["letters".to_string()]));
    let r = ingest(&root, &[]);
    r.assert_code(0);
    for junk in [
        "Thumbs.db",
        "desktop.ini",
        ".DS_Store",
        "._scan.tif",
        "~$notes.docx",
    ] {
        assert!(
            r.stderr.contains(&format!("skipped {junk}: not an item")),
            "{junk}\n{}",
            r.describe()
        );
    }
    let excluded = [
        "Thumbs.db",
        "sub/.DS_Store",
        "sub/._page-2.txt",
        "~$draft.docx",
    ];
    for e in excluded {
        assert!(r.stdout.contains(e), "{e} not named\n{}", r.describe());
    }
    assert!(
        r.stdout
            .contains("ingested letters as cairn-000001: 2 files, 18 bytes; excluded"),
        "{}",
        r.describe()
    );
    assert!(r
        .stdout
        .contains("ingested 1, already archived 0, refused 0"));
    // The bag holds the two pages only; the event names every excluded file.
    let data = root.join("archive/cairn-000001/data");
    let mut held: Vec<String> = snapshot(&data)
        .into_iter()
        .filter(|(_, n)| matches!(n, Node::File(_)))
        .map(|(p, _)| p.to_string_lossy().into_owned())
        .collect();
    held.sort();
    assert_eq!(held, vec!["page-1.txt", "sub/page-2.txt"]);
    let log = fs::read_to_string(root.join("manifests/events.jsonl")).unwrap();
    let ingestion: serde_json::Value = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["type"] == "ingestion")
        .unwrap();
    let mut logged: Vec<&str> = ingestion["data"]["excluded"]
        .as_array()
        .unwrap_or_else(|| panic!("no data.excluded: {ingestion}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    logged.sort();
    let mut want = excluded.to_vec();
    want.sort();
    assert_eq!(logged, want);

    // Configurable: CAIRN_INGEST_EXCLUDE (as ingest.exclude in cairn.toml).
    write_file(&intake, "drafts/keep.txt", b"keep\n");
    write_file(&intake, "drafts/scratch.tmp", b"tmp\n");
    write_file(&intake, "drafts/Thumbs.db", b"kept now\n");
    write_file(&intake, "metadata.csv", &sheet(&["drafts".to_string()]));
    let mut cmd = cairn_cmd();
    cmd.args(["ingest", "--root"])
        .arg(&root)
        .env("CAIRN_INGEST_EXCLUDE", "*.tmp");
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ingested drafts as cairn-000002: 2 files")
            && stdout.contains("excluded scratch.tmp"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_problem_of_a_sheet_is_reported_in_one_run_with_hints() {
    let tmp = fresh_dir("intake-sheet");
    let root = init(tmp.path());
    let intake = root.join("intake");
    for item in ["Letters", "box2", "box3"] {
        write_file(&intake, format!("{item}/p.txt"), item.as_bytes());
    }
    // An unknown column, a row with an approximate date, two rows with one identifier,
    // a row without a title, and a filename that matches only when case is ignored.
    write_file(
        &intake,
        "metadata.csv",
        b"filename,dc.title,dc.date,dc.identifier,dc.colour\n\
          letters,Letters,ca. 1978,ID-1,red\n\
          box2,Box two,1978,ID-1,blue\n\
          box3,,1979,ID-3,green\n",
    );
    let r = ingest(&root, &[]);
    r.assert_code(1);
    let problems: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("problem: "))
        .collect();
    let has = |needle: &str| problems.iter().any(|l| l.contains(needle));
    assert!(has("\"dc.colour\""), "{}", r.describe());
    assert!(
        has("lines 2 and 3: \"letters\" and \"box2\" have the same dc.identifier \"ID-1\""),
        "{}",
        r.describe()
    );
    assert_eq!(
        problems.iter().filter(|l| l.contains("ID-1")).count(),
        1,
        "one conflict, not one per row\n{}",
        r.describe()
    );
    assert!(
        has("line 2: \"letters\": dc.date \"ca. 1978\"") && has("1977/1979"),
        "{}",
        r.describe()
    );
    assert!(has("line 4: \"box3\": dc.title"), "{}", r.describe());

    // Fixed header and identifiers: the case-only mismatch gets a "did you mean".
    write_file(
        &intake,
        "metadata.csv",
        b"filename,dc.title,dc.date\nletters,Letters,1978\nbox2,Box two,1978\nbox3,Box three,1979\n",
    );
    let r = ingest(&root, &[]);
    r.assert_code(1);
    assert!(
        r.stderr.contains("did you mean \"Letters\"?"),
        "{}",
        r.describe()
    );

    // A sheet separated by `;`.
    write_file(
        &intake,
        "metadata.csv",
        b"filename;dc.title;dc.date\nbox2;Box two;1978\n",
    );
    let r = ingest(&root, &["--dry-run"]);
    r.assert_code(1);
    assert!(r.stderr.contains("separated by `;`"), "{}", r.describe());
    assert!(!r.stderr.contains("dc.title: required"), "{}", r.describe());
}

#[test]
fn bag_create_output_names_a_missing_parent_and_cleans_a_killed_runs_staging() {
    let tmp = fresh_dir("create-output");
    let src = tmp.path().join("src");
    write_file(&src, "a.txt", b"hello\n");
    let dest = tmp.path().join("nope/deeper/bag");
    let r = create(&src, &dest, &[]);
    r.assert_code(2);
    assert!(
        r.stderr.contains("does not exist; create it first"),
        "{}",
        r.describe()
    );
    // The staging folder a killed run leaves (its process is gone).
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let out = tmp.path().join("out");
    let stale = out.join(format!(".bag.cairn-partial-{pid}-1"));
    write_file(&stale, "data/half.txt", b"half");
    let r = create(&src, &out.join("bag"), &[]);
    r.assert_code(0);
    assert!(!stale.exists(), "{}", r.describe());
    assert!(
        r.stderr.contains("unfinished staging folder"),
        "{}",
        r.describe()
    );
    assert_eq!(
        fs::read_dir(&out).unwrap().count(),
        1,
        "only the bag is left"
    );
}
