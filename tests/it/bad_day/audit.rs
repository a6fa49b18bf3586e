//! Scenarios: audit and the event log (issues 27 and 28). A register entry edited by
//! hand, one edited log line, a torn last line left by a full disk, and lines the
//! archive never wrote (added or cut outside Cairn), each driven through the binary.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common;
use crate::life::{cairn_at, expect, make_archive, Out};

fn archive(label: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = common::fresh_dir(label);
    let root = tmp.path().join("arch");
    make_archive(&root, 2);
    (tmp, root)
}

fn log_path(root: &Path) -> PathBuf {
    root.join("manifests/events.jsonl")
}

fn log_lines(root: &Path) -> Vec<String> {
    fs::read_to_string(log_path(root))
        .expect("log")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Writes the log back from lines, each line's `prev` recomputed (a chain-valid log).
fn write_chained(root: &Path, lines: &[serde_json::Value]) {
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    for (i, v) in lines.iter().enumerate() {
        let mut v = v.clone();
        v["seq"] = serde_json::json!(i + 1);
        v["prev"] = serde_json::json!(prev);
        let line = serde_json::to_string(&v).expect("encode");
        prev = common::blake3_hex(line.as_bytes());
        out.push_str(&line);
        out.push('\n');
    }
    fs::write(log_path(root), out).expect("write log");
}

fn audit_json(root: &Path) -> (Out, serde_json::Value) {
    let out = cairn_at(root, ["audit", "--json"], &[]);
    let v = out.json();
    (out, v)
}

fn kinds(v: &serde_json::Value) -> Vec<String> {
    v["discrepancies"]
        .as_array()
        .expect("discrepancies")
        .iter()
        .map(|d| d["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Sets `pointer` in the register entry of `id` to `value`, as a hand edit would.
fn edit_entry(root: &Path, id: &str, pointer: &str, value: serde_json::Value) {
    let path = root.join(format!("manifests/{id}.json"));
    let mut v: serde_json::Value =
        serde_json::from_slice(&fs::read(&path).expect("entry")).expect("entry JSON");
    match v.pointer_mut(pointer) {
        Some(slot) => *slot = value,
        None => panic!("{pointer} in {id}"),
    }
    fs::write(&path, serde_json::to_vec_pretty(&v).expect("encode")).expect("write");
}

/// A day's changes: cairn-000001 amended, cairn-000003 withdrawn.
fn amend_and_withdraw(root: &Path) {
    let amend = [
        "amend",
        "cairn-000001",
        "--set",
        "dc.date=1977-03",
        "--reason",
        "date corrected",
    ];
    expect(root, amend, 0);
    expect(
        root,
        ["withdraw", "cairn-000003", "--reason", "donor withdrew it"],
        0,
    );
}

#[test]
fn a_hand_edited_title_fails_audit_naming_the_file_and_the_term() {
    let (_tmp, root) = archive("audit-title");
    expect(&root, ["audit"], 0);
    edit_entry(
        &root,
        "cairn-000002",
        "/dublin_core/dc.title/0",
        serde_json::json!("Sample: a forged title"),
    );
    let out = cairn_at(&root, ["audit"], &[]);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains(
            "manifests/cairn-000002.json: dc.title differs from the bag's metadata/dc.json"
        ),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.contains(
            "manifests/cairn-000002.json: dc.title differs from the bag's metadata/dc.xml"
        ),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr
            .contains("manifests/cairn-000002.json: digest differs from the one logged at line"),
        "{}",
        out.describe()
    );
}

#[test]
fn a_forged_payload_digest_in_the_register_fails_audit() {
    let (_tmp, root) = archive("audit-digest");
    let entry = crate::life::entry(&root, "cairn-000003");
    let old = entry["files"][0]["digests"]["blake3"]
        .as_str()
        .expect("blake3")
        .to_string();
    let forged = format!(
        "{}{}",
        if old.starts_with('0') { '1' } else { '0' },
        &old[1..]
    );
    edit_entry(
        &root,
        "cairn-000003",
        "/files/0/digests/blake3",
        serde_json::json!(forged),
    );
    let (out, v) = audit_json(&root);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert_eq!(
        kinds(&v),
        ["register-file-differs-from-log"],
        "{}",
        out.describe()
    );
    assert_eq!(v["discrepancies"][0]["path"], "manifests/cairn-000003.json");
}

#[test]
fn every_register_file_an_event_writes_is_logged_and_checked() {
    let (_tmp, root) = archive("audit-lifecycle");
    amend_and_withdraw(&root);
    let (out, v) = audit_json(&root);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    // Three current or superseded entries of cairn-000001 and -000002, the history of
    // cairn-000001 and -000003, and the tombstone.
    assert_eq!(v["register_log"]["checked"], 5, "{}", out.describe());
    assert_eq!(v["register_log"]["not_logged"], 0);
    // A superseded entry edited by hand is caught as well as a current one.
    let history = root.join("manifests/history/cairn-000001/000001.json");
    let text = fs::read_to_string(&history).expect("history");
    fs::write(&history, text.replace("1977", "1976")).expect("edit");
    let tomb = root.join("manifests/withdrawn/cairn-000003.json");
    let text = fs::read_to_string(&tomb).expect("tombstone");
    fs::write(&tomb, text.replace("donor withdrew it", "lost")).expect("edit");
    let (out, v) = audit_json(&root);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    let paths: Vec<&str> = v["discrepancies"]
        .as_array()
        .expect("list")
        .iter()
        .map(|d| d["path"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        paths,
        [
            "manifests/history/cairn-000001/000001.json",
            "manifests/withdrawn/cairn-000003.json"
        ],
        "{}",
        out.describe()
    );
}

#[test]
fn an_archive_whose_events_carry_no_entry_digests_passes_and_says_what_was_not_checked() {
    let (_tmp, root) = archive("audit-old");
    // As the previous version wrote it: no `register_files` in any event, and (the log
    // re-chained by this test) no Merkle tree yet.
    let lines: Vec<serde_json::Value> = log_lines(&root)
        .iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("event");
            if let Some(d) = v["data"].as_object_mut() {
                d.remove("register_files");
            }
            v
        })
        .collect();
    write_chained(&root, &lines);
    fs::remove_dir_all(root.join("manifests/tlog")).expect("remove tree");
    let _ = fs::remove_file(root.join("manifests/tlog.pending"));
    let out = cairn_at(&root, ["audit"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(
        out.stdout
            .contains("3 files were written by a Cairn that did not log their digests")
            || out
                .stderr
                .contains("3 files were written by a Cairn that did not log their digests"),
        "{}",
        out.describe()
    );
    // The Dublin Core check does not need the log.
    edit_entry(
        &root,
        "cairn-000001",
        "/dublin_core/dc.title/0",
        serde_json::json!("Sample: forged"),
    );
    let (out, v) = audit_json(&root);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert_eq!(
        kinds(&v),
        [
            "register-differs-from-bag-metadata",
            "register-differs-from-bag-metadata"
        ],
        "{}",
        out.describe()
    );
}

#[test]
fn one_edited_log_line_is_one_finding_naming_it() {
    let (_tmp, root) = archive("audit-one-edit");
    amend_and_withdraw(&root);
    expect(&root, ["fixity", "--all"], 0);
    let mut lines = log_lines(&root);
    // The validation event of cairn-000002: every later event is past the break.
    let at = lines
        .iter()
        .position(|l| l.contains("\"type\":\"validation\"") && l.contains("cairn-000002"))
        .expect("validation event");
    lines[at] = lines[at].replace("\"outcome\":\"success\"", "\"outcome\":\"failure\"");
    fs::write(log_path(&root), lines.join("\n") + "\n").expect("write");
    let edited = at + 1;

    let (out, v) = audit_json(&root);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert_eq!(kinds(&v), ["log-chain-broken"], "{}", out.describe());
    let d = &v["discrepancies"][0];
    assert_eq!(d["id"], "cairn-000002", "{d}");
    let detail = d["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("line {} ", edited + 1))
            && detail.contains(&format!("Line {edited} was changed")),
        "{detail}"
    );
    assert!(!v["skipped"].as_array().expect("skipped").is_empty(), "{v}");
    assert_eq!(v["never_checked"], serde_json::json!([]), "{v}");
    assert_eq!(v["overdue"], serde_json::json!([]), "{v}");
    // The text output says what was skipped; the bags were still checked against the
    // register: a changed tag manifest shows beside the break.
    let out = cairn_at(&root, ["audit"], &[]);
    assert!(
        out.stderr.contains("skipped (the chain is broken)"),
        "{}",
        out.describe()
    );
    let bag = root.join("archive/cairn-000002");
    let tm = fs::read_dir(&bag)
        .expect("bag")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("tagmanifest-")
        })
        .expect("tag manifest");
    let mut bytes = fs::read(&tm).expect("read");
    bytes.push(b'\n');
    fs::write(&tm, bytes).expect("write");
    let (out, v) = audit_json(&root);
    assert_eq!(
        kinds(&v),
        ["log-chain-broken", "tag-manifest-differs-from-register"],
        "{}",
        out.describe()
    );
}

/// Bytes of an event cut short, as a full disk leaves them.
const TORN: &[u8] = b"{\"seq\":999,\"id\":\"5b0e7c52-torn";

fn tear(root: &Path) {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(log_path(root))
        .expect("open log");
    f.write_all(TORN).expect("tear");
}

fn last_event(root: &Path, kind: &str) -> Option<serde_json::Value> {
    crate::life::events(root, "log")
        .into_iter()
        .rev()
        .find(|e| e["type"] == kind)
}

#[test]
fn a_torn_last_line_is_repaired_by_every_writer_and_never_called_tampering() {
    let (tmp, root) = archive("audit-torn");
    let (key, _public) = {
        let key = tmp.path().join("archive.key");
        expect(
            &root,
            ["key", "generate", "--out", key.to_str().unwrap()],
            0,
        );
        (key.clone(), PathBuf::from(format!("{}.pub", key.display())))
    };
    // Before any writer runs: an accident awaiting repair, not a broken chain.
    tear(&root);
    let out = cairn_at(&root, ["audit"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(out.stderr.contains("is incomplete"), "{}", out.describe());

    let writers: Vec<Vec<String>> = vec![
        vec!["fixity".into(), "--all".into(), "--quiet".into()],
        vec!["ingest".into()],
        vec![
            "amend".into(),
            "cairn-000002".into(),
            "--set".into(),
            "dc.date=1979-02".into(),
            "--reason".into(),
            "date corrected".into(),
        ],
        vec![
            "withdraw".into(),
            "cairn-000003".into(),
            "--reason".into(),
            "donor withdrew it".into(),
        ],
        vec![
            "checkpoint".into(),
            "--key".into(),
            key.display().to_string(),
        ],
    ];
    let mut repairs = 0;
    for (i, args) in writers.iter().enumerate() {
        if i > 0 {
            tear(&root);
        }
        let out = cairn_at(&root, args, &[]);
        assert!(
            matches!(out.code, Some(0)),
            "cairn {args:?} after a torn line\n{}",
            out.describe()
        );
        repairs += 1;
        let repair = last_event(&root, "log repair").expect("a log repair event");
        assert_eq!(
            repair["data"]["removed"],
            String::from_utf8_lossy(TORN).as_ref(),
            "{args:?}"
        );
        let count = crate::life::events(&root, "log")
            .iter()
            .filter(|e| e["type"] == "log repair")
            .count();
        assert_eq!(count, repairs, "cairn {args:?}");
    }
    let (out, v) = audit_json(&root);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert_eq!(
        v["log"]["repairs"].as_array().map(Vec::len),
        Some(repairs),
        "{}",
        out.describe()
    );
}

#[test]
fn a_full_disk_during_an_append_is_repaired_once_space_is_freed() {
    if !nix_is_root() {
        eprintln!("skipped: the ENOSPC case needs root to mount a tmpfs (the torn-line test covers the repair)");
        return;
    }
    let tmp = common::fresh_dir("audit-enospc");
    let mnt = tmp.path().join("mnt");
    fs::create_dir(&mnt).expect("mkdir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (the torn-line test covers the repair)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    let root = mnt.join("arch");
    make_archive(&root, 2);
    // Fill the disk.
    let filler = mnt.join("filler");
    {
        use std::io::Write;
        let mut f = fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let mut byte = [0u8; 1];
        while f.write_all(&byte).is_ok() {
            byte[0] = 0;
        }
    }
    // Appends go on into the log's last page until one is cut short.
    let mut failed = None;
    for _ in 0..200 {
        let out = cairn_at(&root, ["fixity", "--all"], &[]);
        if out.code != Some(0) {
            failed = Some(out);
            break;
        }
    }
    let failed = failed.expect("a full disk stops an append");
    assert_eq!(failed.code, Some(3), "{}", failed.describe());
    let torn = !fs::read(log_path(&root)).expect("log").ends_with(b"\n");
    // Still full: audit (which writes nothing) calls it an accident, not tampering.
    let out = cairn_at(&root, ["audit"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert_eq!(
        out.stderr.contains("is incomplete"),
        torn,
        "{}",
        out.describe()
    );
    fs::remove_file(&filler).expect("free space");
    let out = cairn_at(&root, ["fixity", "--all", "--quiet"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let (out, v) = audit_json(&root);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    eprintln!(
        "full disk: the append was {}",
        if torn { "torn" } else { "refused whole" }
    );
    if torn {
        assert_eq!(
            v["log"]["repairs"].as_array().map(Vec::len),
            Some(1),
            "{}",
            out.describe()
        );
    } else {
        eprintln!("note: the full disk refused the append whole (no torn line this time)");
    }
}

fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `cairn ARGS` refuses: exit 1, `why` on stderr (whatever `--quiet` says), and the
/// log still `log`, nothing appended.
fn refused_loudly(root: &Path, args: &[&str], why: &str, log: &str) {
    let out = cairn_at(root, args, &[]);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert!(out.stderr.contains(why), "{}", out.describe());
    assert_eq!(
        fs::read_to_string(log_path(root)).expect("log"),
        log,
        "nothing appended"
    );
}

#[test]
fn a_line_cairn_did_not_write_is_refused_by_the_next_append_and_named_by_audit() {
    let (tmp, root) = archive("audit-foreign");
    // Not refused: a tree one append short after a crash between the log's write and
    // the tree's (the tree as it was before an append, put back after it).
    let saved = tmp.path().join("tlog-before");
    common::copy_tree(&root.join("manifests/tlog"), &saved);
    expect(&root, ["fixity", "--all"], 0);
    fs::remove_dir_all(root.join("manifests/tlog")).expect("remove");
    common::copy_tree(&saved, &root.join("manifests/tlog"));
    expect(&root, ["audit"], 0);
    expect(&root, ["fixity", "--all", "--quiet"], 0);
    // Refused: a chain-valid line appended outside Cairn.
    let lines = log_lines(&root);
    let last: serde_json::Value = serde_json::from_str(lines.last().expect("line")).expect("ev");
    let mut forged = last.clone();
    forged["seq"] = serde_json::json!(lines.len() + 1);
    forged["prev"] = serde_json::json!(common::blake3_hex(lines.last().unwrap().as_bytes()));
    forged["detail"] = serde_json::json!("a line written outside Cairn");
    let mut text = fs::read_to_string(log_path(&root)).expect("log");
    text.push_str(&serde_json::to_string(&forged).expect("encode"));
    text.push('\n');
    fs::write(log_path(&root), &text).expect("write");
    let n = lines.len() + 1;

    refused_loudly(
        &root,
        &["fixity", "--all", "--quiet"],
        &format!("lines {n}..{n} of the event log were not written by Cairn"),
        &text,
    );
    let (out, v) = audit_json(&root);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert_eq!(kinds(&v), ["log-differs-from-tree"], "{}", out.describe());
    assert!(
        v["discrepancies"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("lines {n}..{n}")),
        "{v}"
    );
}

#[test]
fn a_log_cut_by_18_lines_is_refused_loudly_by_cron() {
    let (_tmp, root) = archive("audit-truncated");
    for _ in 0..3 {
        expect(&root, ["fixity", "--all"], 0);
    }
    let lines = log_lines(&root);
    assert!(lines.len() > 20, "{} lines", lines.len());
    let kept = &lines[..lines.len() - 18];
    let text = kept.join("\n") + "\n";
    fs::write(log_path(&root), &text).expect("truncate");
    refused_loudly(
        &root,
        &["fixity", "--due", "--quiet"],
        &format!("lines {}..{} were removed", kept.len() + 1, lines.len()),
        &text,
    );
    let replaced = fs::read_dir(root.join("manifests"))
        .expect("manifests")
        .filter(|e| {
            e.as_ref()
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .starts_with("tlog.replaced-")
        })
        .count();
    assert_eq!(replaced, 0, "the tree was not replaced");
}
