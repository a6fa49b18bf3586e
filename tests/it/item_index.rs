//! The item index (manifests/.item-index, fs::item_index) is a cache: `list`, ingest's
//! start-up and `fixity --due` planning start from it, and deleting it, truncating it,
//! editing it, leaving it behind the log (a crash between the log's append and its
//! update) or ahead of it changes nothing any of them prints.

use std::fs;
use std::path::Path;
use std::process::Stdio;

use crate::common;

/// Exit code, stdout and stderr of `cairn ARGS --root ROOT`.
fn cairn_env(root: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = common::cairn();
    cmd.args(args).arg("--root").arg(root).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("cairn runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cairn(root: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    cairn_env(root, args, &[])
}

fn ok(root: &Path, args: &[&str]) {
    let (code, out, err) = cairn(root, args);
    assert_eq!(code, Some(0), "{args:?}: {out}{err}");
}

fn intake_item(root: &Path, name: &str, text: &str) {
    let dir = root.join("intake").join(name);
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join("page.txt"), text).expect("write");
}

/// An archive with five items: checked, one amended, one withdrawn; and an intake
/// holding one new item and one that duplicates an archived item's content.
fn make_archive(root: &Path) {
    let out = common::cairn()
        .arg("init")
        .arg(root)
        .output()
        .expect("init");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let mut csv = String::from("filename,dc.title,dc.identifier\n");
    for i in 0..5 {
        intake_item(root, &format!("item-{i}"), &format!("Sample: page {i}\n"));
        csv.push_str(&format!("item-{i},Sample: item {i},sample:{i}\n"));
    }
    fs::write(root.join("intake/metadata.csv"), csv).expect("csv");
    ok(root, &["ingest"]);
    ok(root, &["fixity", "--all"]);
    ok(
        root,
        &[
            "amend",
            "sample_2",
            "--set",
            "dc.title=Sample: renamed",
            "--reason",
            "test",
        ],
    );
    ok(root, &["withdraw", "sample_4", "--reason", "test"]);
    ok(root, &["fixity", "--id", "sample_3"]);
    intake_item(root, "new-one", "Sample: a new page\n");
    intake_item(root, "again", "Sample: page 1\n");
}

/// What every command that starts from the index prints (each command's exit code,
/// stdout and stderr, in order), with the fixity plan's clock fields taken out.
fn answers(root: &Path) -> String {
    let mut all = String::new();
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["list", "--status", "ok"],
        &["fixity", "--due", "--dry-run", "--json"],
        &["ingest", "--dry-run"],
    ] {
        let (code, out, err) = cairn(root, args);
        let out = if args[0] == "fixity" {
            let mut v: serde_json::Value = serde_json::from_str(&out).expect("json");
            v.as_object_mut().expect("object").remove("now");
            v.as_object_mut().expect("object").remove("seconds");
            v.to_string()
        } else {
            out
        };
        all.push_str(&format!("$ {args:?}\n{code:?}\n{out}\n{err}\n"));
    }
    all
}

fn index_dir(root: &Path) -> std::path::PathBuf {
    root.join("manifests/.item-index")
}

/// The answers with a freshly rebuilt index.
fn fresh_answers(root: &Path) -> String {
    ok(root, &["index", "rebuild"]);
    answers(root)
}

#[test]
fn deleting_truncating_or_editing_the_index_changes_no_answer() {
    let tmp = common::fresh_dir("item-index");
    let root = tmp.path().join("a");
    make_archive(&root);
    let want = fresh_answers(&root);
    assert!(want.contains("sample_2\t"), "{want}");
    assert!(want.contains("Sample: renamed"), "{want}");
    assert!(
        !want.contains("sample_4\t"),
        "withdrawn items are not listed: {want}"
    );
    let items = index_dir(&root).join("items");
    let state = index_dir(&root).join("state");

    type Damage = fn(&Path, &Path);
    let damages: [(&str, Damage); 7] = [
        // Done in the loop below (the folder, not a file in it).
        ("deleted", |_, _| {}),
        ("items truncated to nothing", |items, _| {
            fs::write(items, b"").expect("truncate");
        }),
        ("items cut in half", |items, _| {
            let b = fs::read(items).expect("items");
            fs::write(items, &b[..b.len() / 2]).expect("cut");
        }),
        ("a title edited", |items, _| {
            let t = fs::read_to_string(items).expect("items");
            fs::write(items, t.replace("Sample: item 1", "Sample: item X")).expect("edit");
        }),
        ("a line removed", |items, _| {
            let t = fs::read_to_string(items).expect("items");
            let kept: Vec<&str> = t.lines().skip(1).collect();
            fs::write(items, kept.join("\n") + "\n").expect("edit");
        }),
        ("state says the log is longer", |_, state| {
            let t = fs::read_to_string(state).expect("state");
            let mut p: Vec<String> = t.split_whitespace().map(str::to_string).collect();
            p[1] = (p[1].parse::<u64>().expect("offset") + 10).to_string();
            fs::write(state, p.join(" ") + "\n").expect("edit");
        }),
        ("state garbled", |_, state| {
            fs::write(state, b"\0\0\0garbage").expect("edit");
        }),
    ];
    for (what, damage) in damages {
        ok(&root, &["index", "rebuild"]);
        if what == "deleted" {
            fs::remove_dir_all(index_dir(&root)).expect("delete");
        } else {
            damage(&items, &state);
        }
        assert_eq!(answers(&root), want, "with the index {what}");
        // And the index was put right for the next command.
        assert_eq!(
            answers(&root),
            want,
            "after the index was {what}, a second time"
        );
    }
}

#[test]
fn an_index_behind_or_ahead_of_the_log_gives_the_same_answers() {
    let tmp = common::fresh_dir("item-index");
    let root = tmp.path().join("a");
    make_archive(&root);
    // A copy of the archive (and its index) before two more changes.
    let old = tmp.path().join("old");
    common::copy_tree(&root, &old);
    ok(
        &root,
        &[
            "amend",
            "sample_1",
            "--set",
            "dc.title=Sample: later",
            "--reason",
            "test",
        ],
    );
    ok(&root, &["fixity", "--id", "sample_1"]);
    // Behind: the old index in the newer archive.
    let newer = tmp.path().join("newer-index");
    common::copy_tree(&index_dir(&root), &newer);
    fs::remove_dir_all(index_dir(&root)).expect("rm");
    common::copy_tree(&index_dir(&old), &index_dir(&root));
    let behind = answers(&root);
    assert!(behind.contains("Sample: later"), "{behind}");
    assert_eq!(behind, fresh_answers(&root), "an index behind the log");
    // Ahead: the newer index in the older archive.
    fs::remove_dir_all(index_dir(&old)).expect("rm");
    common::copy_tree(&newer, &index_dir(&old));
    let ahead = answers(&old);
    assert!(!ahead.contains("Sample: later"), "{ahead}");
    assert_eq!(ahead, fresh_answers(&old), "an index ahead of the log");
}

#[test]
fn a_crash_between_the_log_and_the_index_leaves_it_behind_and_caught_up() {
    let tmp = common::fresh_dir("item-index");
    let root = tmp.path().join("a");
    make_archive(&root);
    ok(&root, &["index", "rebuild"]);
    let state_before = fs::read_to_string(index_dir(&root).join("state")).expect("state");
    let (code, _, err) = cairn_env(
        &root,
        &["fixity", "--id", "sample_1"],
        &[("CAIRN_FAILPOINT", "log-before-item-index")],
    );
    assert_ne!(code, Some(0), "the failpoint stops the run: {err}");
    let (state, offset, log_len) = reach(&root);
    assert_eq!(state, state_before, "the index was not updated");
    assert!(offset < log_len, "the index is behind the log: {state}");
    let got = answers(&root);
    assert!(got.contains("sample_1"), "{got}");
    assert_eq!(got, fresh_answers(&root));
}

#[test]
fn every_append_keeps_the_index_current() {
    let tmp = common::fresh_dir("item-index");
    let root = tmp.path().join("a");
    make_archive(&root);
    ok(&root, &["index", "rebuild"]);
    ok(&root, &["fixity", "--id", "sample_3"]);
    let (state, offset, log_len) = reach(&root);
    assert_eq!(
        offset, log_len,
        "the append brought the index up to date: {state}"
    );
}

/// The index's state file, the log offset it names, and the log's length.
fn reach(root: &Path) -> (String, u64, u64) {
    let log_len = fs::metadata(root.join("manifests/events.jsonl"))
        .expect("log")
        .len();
    let state = fs::read_to_string(index_dir(root).join("state")).expect("state");
    let offset = state
        .split_whitespace()
        .nth(1)
        .expect("offset")
        .parse()
        .expect("a number");
    (state, offset, log_len)
}

/// The first line of `list`, and `list` whole (from a fresh index).
fn listed(root: &Path) -> (String, String) {
    let (code, out, err) = cairn(root, &["list"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let first = out.lines().next().expect("a line").to_string();
    (first, out)
}

#[test]
fn list_prints_its_first_line_before_the_index_is_read_through() {
    let tmp = common::fresh_dir("item-index");
    let root = tmp.path().join("a");
    make_archive(&root);
    ok(&root, &["index", "rebuild"]);
    let (first, all) = listed(&root);
    assert!(all.lines().count() > 1, "{all}");
    // Stopped as soon as the walk has handed on one record, before it reads the
    // next line of the index: that record is already printed.
    let (code, out, err) = cairn_env(
        &root,
        &["list"],
        &[("CAIRN_FAILPOINT", "item-index-walked-one")],
    );
    assert_ne!(code, Some(0), "the failpoint stops the run: {out}{err}");
    assert_eq!(out, format!("{first}\n"), "{err}");
    assert_eq!(answers(&root), fresh_answers(&root));
}

#[test]
fn a_long_tail_of_updates_is_merged_in_order_and_compacted() {
    let tmp = common::fresh_dir("item-index");
    let root = tmp.path().join("a");
    make_archive(&root);
    let want = fresh_answers(&root);
    // A tail of 300 copies of every line after the base (each line keeps its check):
    // the same facts said again, longer than a reader holds in memory before
    // compacting.
    let items = index_dir(&root).join("items");
    let state = index_dir(&root).join("state");
    let base = fs::read(&items).expect("items");
    let mut all = base.clone();
    for _ in 0..300 {
        all.extend_from_slice(&base);
    }
    fs::write(&items, &all).expect("items");
    let t = fs::read_to_string(&state).expect("state");
    let mut p: Vec<String> = t.split_whitespace().map(str::to_string).collect();
    let last = p.len() - 1;
    p[last] = all.len().to_string();
    fs::write(&state, p.join(" ") + "\n").expect("state");
    assert_eq!(answers(&root), want, "with a long tail");
    let after = fs::metadata(&items).expect("items").len();
    assert_eq!(
        after,
        base.len() as u64,
        "the tail was compacted into the base"
    );
    let compacted = fs::read_to_string(&state).expect("state");
    let f: Vec<&str> = compacted.split_whitespace().collect();
    assert_eq!(
        f[4..],
        [after.to_string(), after.to_string()],
        "the state names a base as long as items, and no tail: {compacted}"
    );
    assert_eq!(answers(&root), want, "after the compaction");
    // Lines of the tail out of order with the base, or a tail line for an identifier
    // the base lacks, still merge in identifier order.
    let lines: Vec<&[u8]> = base.split_inclusive(|b| *b == b'\n').collect();
    let mut shuffled: Vec<u8> = lines[..1].concat();
    let rest: Vec<&[u8]> = lines[1..].iter().rev().copied().collect();
    shuffled.extend(rest.concat());
    shuffled.extend(rest.concat());
    fs::write(&items, &shuffled).expect("items");
    p[last] = shuffled.len().to_string();
    p[last - 1] = lines[0].len().to_string();
    fs::write(&state, p.join(" ") + "\n").expect("state");
    assert_eq!(
        answers(&root),
        want,
        "with a base of one line and the rest in a tail"
    );
}

#[test]
fn ingest_start_up_reads_the_log_from_the_index_position_on() {
    let tmp = common::fresh_dir("item-index");
    let root = tmp.path().join("a");
    make_archive(&root);
    fs::remove_dir_all(root.join("intake")).expect("rm");
    fs::create_dir(root.join("intake")).expect("mkdir");
    ok(&root, &["index", "rebuild"]);
    let log = root.join("manifests/events.jsonl");
    // The first line edited, its length kept: the index's position (the end of the
    // log) still holds the line it names, so an ingest with nothing to ingest does
    // not read the lines before it again. audit, which checks the whole chain, sees
    // the break.
    let text = fs::read_to_string(&log).expect("log");
    let edited = text.replacen("computed while copying", "Computed while copying", 1);
    assert_ne!(text, edited);
    fs::write(&log, &edited).expect("tamper");
    let (code, out, err) = cairn(&root, &["ingest"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(fs::read_to_string(&log).expect("log"), edited);
    let (code, out, err) = cairn(&root, &["audit"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        format!("{out}{err}").contains("line 2"),
        "audit names the break: {out}{err}"
    );
    // With an item to ingest, the whole chain is checked first: refused, nothing
    // appended, no bag.
    intake_item(&root, "new-one", "Sample: a new page\n");
    fs::write(
        root.join("intake/metadata.csv"),
        "filename,dc.title\nnew-one,Sample: new\n",
    )
    .expect("csv");
    let (code, out, err) = cairn(&root, &["ingest"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("chain is broken at line 2"), "{out}{err}");
    assert_eq!(fs::read_to_string(&log).expect("log"), edited);
    assert!(!root.join("archive/sample_5").exists());
    fs::remove_dir_all(root.join("intake")).expect("rm");
    fs::create_dir(root.join("intake")).expect("mkdir");
    // A link broken after the index's position is refused even with nothing to
    // ingest, with its line, and nothing is appended.
    let last = text.lines().last().expect("a line").to_string();
    let broken = format!("{text}{last}\n");
    fs::write(&log, &broken).expect("tamper");
    let lines = broken.lines().count();
    let (code, out, err) = cairn(&root, &["ingest"]);
    assert_ne!(code, Some(0), "{out}{err}");
    assert!(
        err.contains(&format!("chain is broken at line {lines}")),
        "{out}{err}"
    );
    assert_eq!(fs::read_to_string(&log).expect("log"), broken);
}
