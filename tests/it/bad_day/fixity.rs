//! Scenarios: fixity (issues 27 and 28).
//!
//! - A bag folder or a tag file deleted is reported by the next `fixity` run, whatever
//!   its budget or schedule (the presence pass), not once the bag falls due.
//! - `--rate` holds the rate it is given, counting the bytes actually read.
//! - The release binary has no failpoints and no pause points.
//! - `amend` and `withdraw` beside a running `fixity` never make a false failure.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use crate::life::{cairn_at, events, expect, make_archive};

/// `cairn init ROOT`.
fn init(root: &Path) {
    let out = common::cairn()
        .arg("init")
        .arg(root)
        .output()
        .expect("init");
    assert!(out.status.success(), "{out:?}");
}

/// An archive of `n` one-file items, item-01 … (cairn-000001 …).
fn archive_of(root: &Path, n: usize) {
    init(root);
    let mut csv = String::from("filename,dc.title,dc.date,dc.type,dc.language\n");
    for i in 1..=n {
        let name = format!("item-{i:02}.txt");
        common::write_file(
            &root.join("intake"),
            &name,
            format!("Sample: synthetic note {i}, no real record\n").as_bytes(),
        );
        csv.push_str(&format!("{name},Sample: note {i},1979,Text,en\n"));
    }
    common::write_file(&root.join("intake"), "metadata.csv", csv.as_bytes());
    expect(root, ["ingest"], 0);
}

/// The `fixity check` events of the log whose outcome is not `success`.
fn failed_checks(root: &Path) -> Vec<serde_json::Value> {
    events(root, "fixity")
        .into_iter()
        .filter(|e| e["type"] == "fixity check" && e["outcome"] != "success")
        .collect()
}

#[test]
fn a_vanished_bag_or_tag_file_is_reported_by_the_next_budgeted_run() {
    let tmp = common::fresh_dir("fixity-vanished");
    let root = tmp.path().join("archive");
    // cairn-000001 holds 20 pages (1.4 KB): just ingested, nothing is due, and a budget
    // of 1 KiB is spent on it, the oldest, before any other bag is reached.
    make_archive(&root, 20);
    fs::remove_dir_all(root.join("archive/cairn-000002")).expect("delete the bag");
    fs::remove_file(root.join("archive/cairn-000003/metadata/dc.xml")).expect("delete dc.xml");

    let out = cairn_at(
        &root,
        ["fixity", "--due", "--max-bytes", "1K", "--quiet"],
        &[],
    );
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains("FAILED  cairn-000002") && out.stderr.contains("bag-missing"),
        "the deleted bag is named under --quiet\n{}",
        out.describe()
    );
    assert!(
        out.stderr.contains("FAILED  cairn-000003")
            && out.stderr.contains("tag-changed: metadata/dc.xml"),
        "the deleted tag file is named under --quiet\n{}",
        out.describe()
    );
    // Logged like any failed check.
    let failed = failed_checks(&root);
    let objects: Vec<&str> = failed.iter().filter_map(|e| e["object"].as_str()).collect();
    assert!(
        objects.contains(&"cairn-000002") && objects.contains(&"cairn-000003"),
        "{failed:?}"
    );

    // The same without a budget (only the due bags, none tonight), in JSON.
    let out = cairn_at(&root, ["fixity", "--json"], &[]);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    let report = out.json();
    assert_eq!(report["presence_checked"], 3, "{report}");
    let failed: Vec<&str> = report["checked"]
        .as_array()
        .expect("checked")
        .iter()
        .filter(|b| b["outcome"] == "failed")
        .filter_map(|b| b["id"].as_str())
        .collect();
    assert_eq!(failed, ["cairn-000002", "cairn-000003"], "{report}");
}

/// The bytes a full check of `id` reads: every file of its bag and its register entry.
fn bytes_read_by_check(root: &Path, id: &str) -> u64 {
    let bag: u64 = common::file_bytes(&root.join("archive").join(id))
        .values()
        .map(|b| b.len() as u64)
        .sum();
    let entry = fs::metadata(root.join(format!("manifests/{id}.json")))
        .expect("entry")
        .len();
    bag + entry
}

/// Runs `fixity --id ID --rate R`, with R chosen to make the run last about two
/// seconds, and checks that the achieved rate (bytes read over the run's time, start-up
/// included) is within 20 % of R.
fn check_rate(root: &Path, id: &str, what: &str) {
    let total = bytes_read_by_check(root, id);
    let rate = total / 2;
    let start = Instant::now();
    let out = common::run_cairn_full(
        None,
        Duration::from_secs(30),
        [
            "fixity",
            "--root",
            root.to_str().expect("utf-8 path"),
            "--id",
            id,
            "--rate",
            &rate.to_string(),
        ],
    );
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(out.code, Some(0), "{what}\n{}", out.describe());
    let achieved = total as f64 / seconds;
    let ratio = achieved / rate as f64;
    eprintln!(
        "{what}: {total} bytes at --rate {rate}: {seconds:.2} s, {achieved:.0} B/s ({:.0} % of the rate)",
        ratio * 100.0
    );
    assert!(
        (0.8..=1.2).contains(&ratio),
        "{what}: achieved {achieved:.0} B/s at --rate {rate} ({total} bytes in {seconds:.2} s), not within 20 %"
    );
}

#[test]
fn rate_is_held_on_many_small_files_and_on_one_large_file() {
    let tmp = common::fresh_dir("fixity-rate");
    let root = tmp.path().join("archive");
    init(&root);
    let intake = root.join("intake");
    for i in 0..1000 {
        let mut page = format!("Sample: page {i} of a synthetic register. ").into_bytes();
        page.resize(1000, b'.');
        common::write_file(&intake, format!("pages/p-{i:04}.txt"), &page);
    }
    // 100 MB that do not compress to nothing on any storage.
    let mut big = vec![0u8; 100_000_000];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in big.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    common::write_file(&intake, "scan.bin", &big);
    drop(big);
    common::write_file(
        &intake,
        "metadata.csv",
        b"filename,dc.title,dc.date,dc.type,dc.language\n\
          pages,Sample: synthetic register,1977,Text,en\n\
          scan.bin,Sample: synthetic scan,1978,Image,en\n",
    );
    expect(&root, ["ingest"], 0);
    fs::remove_dir_all(&intake).expect("intake removed");
    check_rate(&root, "cairn-000001", "1,000 files of 1 KB");
    check_rate(&root, "cairn-000002", "one file of 100 MB");
}

/// The release binary beside the test build's (`cargo build --release --locked`), if
/// it was built.
fn release_binary() -> Option<PathBuf> {
    let debug = PathBuf::from(env!("CARGO_BIN_EXE_cairn"));
    let release = debug.parent()?.parent()?.join("release").join("cairn");
    release.is_file().then_some(release)
}

/// Spawns a command, with stdout and stderr piped.
fn spawn(mut cmd: std::process::Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// Waits for `path` to appear while `child` runs; false if the child ended first or
/// a minute passed.
fn wait_for_file(path: &Path, child: &mut Child) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        if path.exists() {
            return true;
        }
        if child.try_wait().expect("try_wait").is_some() {
            return path.exists();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Waits for the child to end, at most `limit`; kills it and fails past that.
fn finish(mut child: Child, limit: Duration, what: &str) -> std::process::Output {
    let t0 = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "{what}: still running after {limit:?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().expect("wait")
}

fn describe(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_release_binary_ignores_failpoints_and_pause_points() {
    let tmp = common::fresh_dir("fixity-release-hooks");
    // A payload file larger than 256 KiB is hashed through a memory map, where
    // `hash-mapped-truncate` cuts it to half its mapped part in a test build.
    let src = tmp.path().join("src");
    let size = 2_000_000;
    common::write_file(&src, "scan.bin", &vec![0x5a; size]);
    let bag = tmp.path().join("bag");
    common::create(&src, &bag, &[]).assert_code(0);
    let payload = bag.join("data/scan.bin");

    // The test build has its hooks (else this test would prove nothing): the same
    // command truncates a copy of the bag there.
    let control = tmp.path().join("control");
    common::copy_tree(&bag, &control);
    let out = common::cairn()
        .args(["bag", "validate"])
        .arg(&control)
        .env("CAIRN_FAILPOINT", "hash-mapped-truncate")
        .output()
        .expect("validate");
    let len = fs::metadata(control.join("data/scan.bin"))
        .expect("len")
        .len();
    assert!(
        (len as usize) < size,
        "the test build's failpoint did nothing: the test-hooks feature is off in `cargo test`\n{}",
        describe(&out)
    );

    let Some(release) = release_binary() else {
        common::skip(
            "target/release/cairn is not built (`cargo build --release --locked`): the release binary's failpoints are not checked",
        );
        return;
    };
    let stale = "(is target/release/cairn older than the source? `cargo build --release --locked`)";
    let out = std::process::Command::new(&release)
        .args(["bag", "validate"])
        .arg(&bag)
        .env("CAIRN_FAILPOINT", "hash-mapped-truncate")
        .env_remove("CAIRN_PAUSEPOINT")
        .output()
        .expect("release validate");
    assert_eq!(out.status.code(), Some(0), "{stale}\n{}", describe(&out));
    assert_eq!(
        fs::metadata(&payload).expect("len").len() as usize,
        size,
        "the release binary truncated a payload file {stale}"
    );

    // A failpoint that aborts an ingest in a test build, and a pause point that stops
    // every fixity check there: the release binary goes through both (on an archive it
    // made itself).
    let root = tmp.path().join("archive");
    let out = std::process::Command::new(&release)
        .arg("init")
        .arg(&root)
        .output()
        .expect("release init");
    assert_eq!(out.status.code(), Some(0), "{stale}\n{}", describe(&out));
    common::write_file(
        &root.join("intake"),
        "note.txt",
        b"Sample: synthetic note\n",
    );
    common::write_file(
        &root.join("intake"),
        "metadata.csv",
        b"filename,dc.title,dc.date,dc.type,dc.language\nnote.txt,Sample: note,1979,Text,en\n",
    );
    let mut cmd = std::process::Command::new(&release);
    cmd.args(["ingest", "--root"])
        .arg(&root)
        .env("CAIRN_FAILPOINT", "ingest-before-publish");
    let out = finish(spawn(cmd), Duration::from_secs(60), "release ingest");
    assert_eq!(out.status.code(), Some(0), "{stale}\n{}", describe(&out));
    assert!(root.join("archive/cairn-000001/bagit.txt").is_file());

    let paused = tmp.path().join("paused");
    let mut cmd = std::process::Command::new(&release);
    cmd.args(["fixity", "--all", "--root"])
        .arg(&root)
        .env_remove("CAIRN_FAILPOINT")
        .env("CAIRN_TEST_NOW", "1999-01-01T00:00:00Z")
        .env("CAIRN_PAUSEPOINT", "fixity-bag-listed")
        .env("CAIRN_PAUSEPOINT_FILE", &paused);
    let out = finish(spawn(cmd), Duration::from_secs(60), "release fixity");
    assert_eq!(out.status.code(), Some(0), "{stale}\n{}", describe(&out));
    assert!(
        !paused.exists(),
        "the release binary stopped at a pause point {stale}"
    );
    // Nor does it take the tests' pretend time: the check is logged at the real one.
    let log = fs::read_to_string(root.join("manifests/events.jsonl")).expect("log");
    assert!(
        !log.contains("\"time\":\"1999-"),
        "the release binary logged CAIRN_TEST_NOW's time {stale}"
    );
    // Where the test build does stop.
    let mut cmd = common::cairn();
    cmd.args(["fixity", "--all", "--root"])
        .arg(&root)
        .env("CAIRN_PAUSEPOINT", "fixity-bag-listed")
        .env("CAIRN_PAUSEPOINT_FILE", &paused);
    let mut child = spawn(cmd);
    assert!(
        wait_for_file(&paused, &mut child),
        "the test build did not stop at fixity-bag-listed"
    );
    fs::remove_file(&paused).expect("release the pause");
    let out = finish(child, Duration::from_secs(60), "test-build fixity");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// A `cairn` of the test build at `root`, with a pause point armed.
fn paused_cairn(root: &Path, args: &[&str], point: &str, file: &Path) -> Child {
    let mut cmd = common::cairn();
    cmd.args(args)
        .arg("--root")
        .arg(root)
        .env("CAIRN_OPERATOR", "test-archivist")
        .env("CAIRN_PAUSEPOINT", point)
        .env("CAIRN_PAUSEPOINT_FILE", file);
    spawn(cmd)
}

/// One trial of a writer racing `fixity --id ID`, in one of two windows, each hit
/// deterministically with pause points:
///
/// - `mid_check`: fixity has listed the bag and stops; the writer runs to its end;
///   fixity goes on reading a bag that was exchanged (amend) or moved away (withdraw).
/// - `in_commit`: the writer stops right after it published (amend: bag exchanged,
///   register not yet replaced; withdraw: bag moved out, no tombstone yet); fixity
///   runs and must see the item in the writer's hands (pause point `fixity-item-busy`)
///   rather than record what it found; then the writer finishes, then fixity.
///
/// Returns fixity's output; the writer must succeed.
fn race(
    root: &Path,
    id: &str,
    writer: &[&str],
    writer_point: &str,
    mid_check: bool,
) -> std::process::Output {
    let dir = root.parent().expect("parent");
    let fixity_paused = dir.join("fixity-paused");
    let writer_paused = dir.join("writer-paused");
    let fixity_args = ["fixity", "--id", id];
    if mid_check {
        let mut fixity = paused_cairn(root, &fixity_args, "fixity-bag-listed", &fixity_paused);
        assert!(
            wait_for_file(&fixity_paused, &mut fixity),
            "fixity never listed the bag\n{}",
            describe(&fixity.wait_with_output().expect("wait"))
        );
        let out = cairn_at(root, writer, &[]);
        assert_eq!(out.code, Some(0), "{writer:?}\n{}", out.describe());
        fs::remove_file(&fixity_paused).expect("release fixity");
        finish(fixity, Duration::from_secs(60), "fixity")
    } else {
        let mut w = paused_cairn(root, writer, writer_point, &writer_paused);
        assert!(
            wait_for_file(&writer_paused, &mut w),
            "{writer:?} never reached {writer_point}\n{}",
            describe(&w.wait_with_output().expect("wait"))
        );
        let mut fixity = paused_cairn(root, &fixity_args, "fixity-item-busy", &fixity_paused);
        if !wait_for_file(&fixity_paused, &mut fixity) {
            fs::remove_file(&writer_paused).expect("release the writer");
            let _ = finish(w, Duration::from_secs(60), "writer");
            panic!(
                "fixity did not wait for {writer:?} stopped at {writer_point}\n{}",
                describe(&finish(fixity, Duration::from_secs(60), "fixity"))
            );
        }
        fs::remove_file(&writer_paused).expect("release the writer");
        let out = finish(w, Duration::from_secs(60), "writer");
        assert_eq!(out.status.code(), Some(0), "{writer:?}\n{}", describe(&out));
        fs::remove_file(&fixity_paused).expect("release fixity");
        finish(fixity, Duration::from_secs(60), "fixity")
    }
}

/// Trials of each race (half in each window).
const TRIALS: usize = 20;

#[test]
fn amend_beside_fixity_makes_no_false_failure() {
    let tmp = common::fresh_dir("fixity-amend-race");
    let root = tmp.path().join("archive");
    archive_of(&root, 1);
    for trial in 0..TRIALS {
        let title = format!("dc.title=Sample: note, amended {trial}");
        let writer = [
            "amend",
            "cairn-000001",
            "--set",
            &title,
            "--reason",
            "title corrected",
        ];
        let out = race(
            &root,
            "cairn-000001",
            &writer,
            "amend-after-publish",
            trial % 2 == 0,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "trial {trial}: fixity beside amend\n{}",
            describe(&out)
        );
    }
    assert_eq!(failed_checks(&root), Vec::<serde_json::Value>::new());
    expect(&root, ["audit"], 0);
    expect(&root, ["fixity", "--all"], 0);
}

#[test]
fn withdraw_beside_fixity_makes_no_false_failure() {
    let tmp = common::fresh_dir("fixity-withdraw-race");
    let root = tmp.path().join("archive");
    archive_of(&root, TRIALS + 1);
    for trial in 0..TRIALS {
        let id = format!("cairn-{:06}", trial + 1);
        let writer = ["withdraw", id.as_str(), "--reason", "donor withdrew it"];
        let out = race(
            &root,
            &id,
            &writer,
            "withdraw-after-publish",
            trial % 2 == 0,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "trial {trial}: fixity beside withdraw\n{}",
            describe(&out)
        );
        assert!(!root.join("archive").join(&id).exists());
    }
    assert_eq!(failed_checks(&root), Vec::<serde_json::Value>::new());
    expect(&root, ["audit"], 0);
    expect(&root, ["fixity", "--all"], 0);
}
