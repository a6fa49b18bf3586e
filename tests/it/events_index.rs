//! The event index (manifests/.events-index, fs::events_index) is a cache: `show ID`
//! reads an item's events through it, and deleting it, letting it fall behind the log,
//! or corrupting it changes nothing `show` prints.

use std::fs;
use std::path::Path;
use std::process::Stdio;

use crate::common;

fn cairn(root: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = common::cairn()
        .args(args)
        .arg("--root")
        .arg(root)
        .stdin(Stdio::null())
        .output()
        .expect("cairn runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn make_archive(root: &Path, n: usize) {
    let out = common::cairn()
        .arg("init")
        .arg(root)
        .output()
        .expect("init");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let mut csv = String::from("filename,dc.title\n");
    for i in 0..n {
        let dir = root.join("intake").join(format!("item-{i:02}"));
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(
            dir.join("page.txt"),
            format!("Sample: synthetic page {i}\n"),
        )
        .expect("write");
        csv.push_str(&format!("item-{i:02},Sample: item {i}\n"));
    }
    fs::write(root.join("intake/metadata.csv"), csv).expect("csv");
    let (code, out) = cairn(root, &["ingest"]);
    assert_eq!(code, Some(0), "{out}");
}

/// The events `show --json` lists for `id`: (seq, type) pairs.
fn shown(root: &Path, id: &str) -> Vec<(u64, String)> {
    let (code, out) = cairn(root, &["show", "--json", id]);
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    seq_and_type(&v["events"])
}

/// (seq, type) of each event of a JSON array of events.
fn seq_and_type(events: &serde_json::Value) -> Vec<(u64, String)> {
    events
        .as_array()
        .expect("an array of events")
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().expect("seq"),
                e["type"].as_str().expect("type").to_string(),
            )
        })
        .collect()
}

/// The same from the log itself, read line by line.
fn from_log(root: &Path, id: &str) -> Vec<(u64, String)> {
    fs::read_to_string(root.join("manifests/events.jsonl"))
        .expect("log")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("line"))
        .filter(|v| v["object"] == id)
        .map(|v| {
            (
                v["seq"].as_u64().unwrap(),
                v["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Points every entry of the index one line off (each entry's seq plus one).
fn shift_index_entries(index: &Path) {
    for bucket in fs::read_dir(index).expect("index") {
        let p = bucket.expect("entry").path();
        if p.file_name().is_some_and(|n| n != "state") {
            let text = fs::read_to_string(&p).expect("bucket");
            let shifted: String = text
                .lines()
                .map(|l| {
                    let mut f: Vec<String> = l.splitn(4, ' ').map(str::to_string).collect();
                    f[0] = (f[0].parse::<u64>().expect("an entry's seq") + 1).to_string();
                    f.join(" ") + "\n"
                })
                .collect();
            fs::write(&p, shifted).expect("corrupt");
        }
    }
}

#[test]
fn show_reads_through_the_index_and_deleting_it_loses_nothing() {
    let tmp = common::fresh_dir("events-index");
    let root = tmp.path().join("a");
    make_archive(&root, 4);
    let index = root.join("manifests/.events-index");
    let id = "cairn-000002";
    let want = from_log(&root, id);
    assert!(want.len() >= 3, "{want:?}");

    // Built on first use.
    assert!(!index.exists());
    assert_eq!(shown(&root, id), want);
    assert!(index.join("state").is_file());

    // Kept up to date by appends: a fixity run adds one event per item.
    let (code, out) = cairn(&root, &["fixity", "--all"]);
    assert_eq!(code, Some(0), "{out}");
    let want = from_log(&root, id);
    assert_eq!(want.last().map(|e| e.1.as_str()), Some("fixity check"));
    assert_eq!(shown(&root, id), want);

    // Deleted: rebuilt, the same events.
    fs::remove_dir_all(&index).expect("delete index");
    assert_eq!(shown(&root, id), want);
    assert!(index.join("state").is_file());

    // Behind the log (an append made while it was missing), then corrupted: the same.
    fs::remove_dir_all(&index).expect("delete index");
    let (code, out) = cairn(&root, &["fixity", "--all"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!index.exists(), "appends do not build a missing index");
    let want = from_log(&root, id);
    assert_eq!(shown(&root, id), want);
    shift_index_entries(&index);
    assert_eq!(shown(&root, id), want);

    // Every item, against the log.
    for i in 1..=4 {
        let id = format!("cairn-{i:06}");
        assert_eq!(shown(&root, &id), from_log(&root, &id), "{id}");
    }
    // An index of another log (the log replaced): rebuilt, not trusted.
    fs::write(
        index.join("state"),
        "cairn-events-index-1 10 0000000000000000000000000000000000000000000000000000000000000000\n",
    )
    .expect("state");
    assert_eq!(shown(&root, id), want);
}

/// `events --id` of one item: (seq, type) of each event it prints as JSON.
fn listed(root: &Path, args: &[&str]) -> Vec<(u64, String)> {
    let mut all = vec!["events", "--json"];
    all.extend_from_slice(args);
    let (code, out) = cairn(root, &all);
    assert_eq!(code, Some(0), "{out}");
    seq_and_type(&serde_json::from_str(&out).expect("json"))
}

/// `events --id` reads the item's lines through the index (one item's history costs
/// the same in an archive of any size): the same events as the log holds, whether the
/// index is missing, behind the log or pointing at wrong lines, and the other filters
/// still apply.
#[test]
fn events_of_one_item_read_through_the_index_agree_with_the_log() {
    let tmp = common::fresh_dir("events-id-index");
    let root = tmp.path().join("a");
    make_archive(&root, 3);
    let index = root.join("manifests/.events-index");
    let id = "cairn-000003";

    assert!(!index.exists());
    assert_eq!(listed(&root, &["--id", id]), from_log(&root, id));
    assert!(index.join("state").is_file(), "built by the first query");

    // Appends since the index was written are read from the log's tail.
    let (code, out) = cairn(&root, &["fixity", "--all"]);
    assert_eq!(code, Some(0), "{out}");
    let want = from_log(&root, id);
    assert_eq!(want.last().map(|e| e.1.as_str()), Some("fixity check"));
    assert_eq!(listed(&root, &["--id", id]), want);

    // Filters: only the fixity checks of the item.
    let checks: Vec<_> = want
        .iter()
        .filter(|e| e.1 == "fixity check")
        .cloned()
        .collect();
    assert_eq!(
        listed(&root, &["--id", id, "--type", "fixity check"]),
        checks
    );

    // An index pointing every entry one line off is found out and rebuilt.
    shift_index_entries(&index);
    assert_eq!(listed(&root, &["--id", id]), want);

    // In text, the count says where the events came from.
    let (code, out) = cairn(&root, &["events", "--id", id]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("read through the event index"), "{out}");
}
