//! Ingest survives being killed at any moment, and two ingests cannot corrupt anything.
//!
//! After every kill: intake/ is intact, every bag in archive/ is complete and valid,
//! every register entry and every event names a bag that exists, and the event log's
//! chain is intact. The next run cleans up and finishes; in the end each intake item
//! is archived exactly once.

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common;
use common::{cairn, copy_tree, file_bytes as snapshot, run};

const ITEMS: usize = 6;
const FILES_PER_ITEM: usize = 60;

/// An archive with ITEMS items of FILES_PER_ITEM files each, and their metadata.
fn make_archive(root: &Path) {
    let out = run(cairn().arg("init").arg(root));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let intake = root.join("intake");
    let mut csv = String::from("filename,dc.title,dc.date,dc.type,dc.language\n");
    for i in 0..ITEMS {
        let name = format!("prisoner-file-{i:02}");
        for j in 0..FILES_PER_ITEM {
            let dir = intake.join(&name).join(format!("pages-{}", j / 20));
            fs::create_dir_all(&dir).expect("mkdir");
            let body =
                format!("Sample: page {j} of synthetic item {i}; no real record.\n").repeat(40 + j);
            fs::write(dir.join(format!("page-{j:03}.txt")), body).expect("write");
        }
        csv.push_str(&format!(
            "objects/{name},\"Sample: synthetic prisoner file {i}, S-21\",1977,Text,en\n"
        ));
    }
    // A lone-file item too.
    fs::write(intake.join("ទួលស្លែង-note.txt"), "Sample: Tuol Sleng note\n").expect("write");
    csv.push_str("ទួលស្លែង-note.txt,Sample: note on Tuol Sleng,1979-01,Text,km\n");
    fs::write(intake.join("metadata.csv"), csv).expect("write csv");
}

/// The invariants that must hold whenever no cairn process is running
/// (common::check_invariants). Returns the intake names registered, sorted.
fn check_invariants(root: &Path, context: &str) -> Vec<String> {
    common::intake_names(&common::check_invariants(root, context))
}

fn all_item_names() -> Vec<String> {
    let mut names: Vec<String> = (0..ITEMS)
        .map(|i| format!("prisoner-file-{i:02}"))
        .collect();
    names.push("ទួលស្លែង-note.txt".to_string());
    names.sort();
    names
}

#[test]
fn a_crash_at_each_step_of_an_ingest_is_recovered() {
    let steps = [
        ("create-copy-file", false),
        ("create-tag-file", false),
        ("ingest-before-publish", false),
        ("ingest-after-publish", false),
        ("ingest-after-register", false),
        ("ingest-after-events", false),
        ("ingest-before-remove-source", true),
    ];
    for (fp, remove) in steps {
        let tmp = common::fresh_dir("step");
        let root = tmp.path().join("arch");
        make_archive(&root);
        let intake_before = snapshot(&root.join("intake"));
        let mut cmd = cairn();
        cmd.arg("ingest")
            .arg("--root")
            .arg(&root)
            .env("CAIRN_FAILPOINT", fp);
        if remove {
            cmd.arg("--remove-source");
        }
        let out = run(&mut cmd);
        assert_eq!(
            out.status.code(),
            None,
            "{fp}: the failpoint did not fire: {out:?}"
        );
        check_invariants(&root, fp);
        if !remove {
            assert_eq!(
                snapshot(&root.join("intake")),
                intake_before,
                "{fp}: intake changed"
            );
        }

        let mut cmd = cairn();
        cmd.arg("ingest").arg("--root").arg(&root);
        if remove {
            cmd.arg("--remove-source");
        }
        let out = run(&mut cmd);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{fp}: the next run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let names = check_invariants(&root, fp);
        assert_eq!(
            names,
            all_item_names(),
            "{fp}: each item must be archived exactly once"
        );
        let staging = root.join("archive/.staging");
        assert!(
            !staging.exists() || fs::read_dir(&staging).expect("read").next().is_none(),
            "{fp}: staging not cleaned"
        );
        if remove {
            let left: Vec<_> = fs::read_dir(root.join("intake"))
                .expect("read intake")
                .map(|e| e.expect("entry").file_name())
                .collect();
            assert_eq!(
                left,
                vec![std::ffi::OsString::from("metadata.csv")],
                "{fp}: intake items not removed"
            );
        }
    }
}

#[test]
fn sigkill_at_many_moments_never_loses_or_half_makes_anything() {
    let tmp = common::fresh_dir("kill");
    let template = tmp.path().join("template");
    make_archive(&template);
    let intake_before = snapshot(&template.join("intake"));

    // How long an uninterrupted ingest takes here: the quickest of three runs on
    // copies (a first run on a cold cache would spread the kills too late).
    let mut full = Duration::MAX;
    for p in 0..3 {
        let probe = tmp.path().join(format!("probe-{p}"));
        copy_tree(&template, &probe);
        let t0 = Instant::now();
        let out = run(cairn().arg("ingest").arg("--root").arg(&probe));
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        full = full.min(t0.elapsed());
    }

    // Kill a fresh copy at moments spread over a whole run, then let the next run
    // recover and finish.
    let kills = 24;
    let mut killed = 0;
    for k in 0..kills {
        let root = tmp.path().join(format!("arch-{k}"));
        copy_tree(&template, &root);
        // Spread over the first 75% of a run: timings vary with the machine's load.
        let delay = full.mul_f64(0.75 * (k as f64 + 0.5) / kills as f64);
        let mut child = cairn()
            .arg("ingest")
            .arg("--root")
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(delay);
        if child.try_wait().expect("try_wait").is_none() {
            child.kill().expect("SIGKILL");
            killed += 1;
        }
        let status = child.wait().expect("wait");
        let context = format!("kill {k} after {delay:?} of {full:?} ({status:?})");
        let archived = check_invariants(&root, &context);
        assert_eq!(
            snapshot(&root.join("intake")),
            intake_before,
            "{context}: intake changed"
        );

        let out = run(cairn().arg("ingest").arg("--root").arg(&root));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{context}: the next run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            check_invariants(&root, &context),
            all_item_names(),
            "{context}: after recovery"
        );
        eprintln!(
            "{context}: {} items were archived when killed",
            archived.len()
        );
        fs::remove_dir_all(&root).expect("clean up");
    }
    // Load from other tests can make a run finish before its moment; most must hit,
    // or the test is not testing what it says.
    assert!(
        killed >= kills / 2,
        "only {killed} of {kills} runs were still going when killed"
    );
    eprintln!(
        "killed {killed} of {kills} ingests mid-run (full run {full:?}); all invariants held"
    );
}

#[test]
fn a_second_ingest_while_the_lock_is_held_exits_3_and_changes_nothing() {
    let tmp = common::fresh_dir("lock");
    let root = tmp.path().join("arch");
    make_archive(&root);
    let lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(root.join("manifests/.lock"))
        .expect("open lock");
    lock.try_lock().expect("the test takes the archive lock");
    let before = snapshot(&root);
    let out = run(cairn().arg("ingest").arg("--root").arg(&root));
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("locked by another cairn process"),
        "{stderr}"
    );
    assert_eq!(
        snapshot(&root),
        before,
        "a locked-out ingest changed something"
    );
    drop(lock);
    let out = run(cairn().arg("ingest").arg("--root").arg(&root));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn two_ingests_started_together_archive_each_item_once() {
    for round in 0..3 {
        let tmp = common::fresh_dir("race");
        let root = tmp.path().join("arch");
        make_archive(&root);
        let spawn = || {
            cairn()
                .arg("ingest")
                .arg("--root")
                .arg(&root)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        let (a, b) = (spawn(), spawn());
        let (a, b) = (
            a.wait_with_output().expect("a"),
            b.wait_with_output().expect("b"),
        );
        let codes = [a.status.code(), b.status.code()];
        assert!(
            codes.contains(&Some(0)) && codes.iter().all(|c| *c == Some(0) || *c == Some(3)),
            "round {round}: exit codes {codes:?}\n{}\n{}",
            String::from_utf8_lossy(&a.stderr),
            String::from_utf8_lossy(&b.stderr)
        );
        for o in [&a, &b] {
            if o.status.code() == Some(3) {
                assert!(
                    String::from_utf8_lossy(&o.stderr).contains("locked"),
                    "{o:?}"
                );
            }
        }
        assert_eq!(
            check_invariants(&root, &format!("race {round}")),
            all_item_names()
        );
        // Whoever lost the race can run again and finds nothing to do.
        let again = run(cairn().arg("ingest").arg("--root").arg(&root));
        assert_eq!(again.status.code(), Some(0));
        assert_eq!(check_invariants(&root, "after race"), all_item_names());
    }
}
