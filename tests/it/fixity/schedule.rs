//! The fixity schedule as cron runs it: a rolling check under a byte budget covers
//! every bag once per interval; shards partition the archive; --quiet is silent on
//! success; an overlapping run does not pile up; --rate throttles.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

use crate::common;
use common::run;

fn cairn() -> StdCommand {
    let mut cmd = common::cairn();
    cmd.stdin(Stdio::null());
    cmd
}

/// An archive of `n` items whose payloads all have the same size, `interval_days`
/// between checks.
fn make_archive(root: &Path, n: usize, bytes_per_item: usize, interval_days: u32) {
    let out = run(cairn().arg("init").arg(root));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let config = root.join("cairn.toml");
    let text = fs::read_to_string(&config).expect("config");
    fs::write(
        &config,
        text.replace(
            "interval_days = 90",
            &format!("interval_days = {interval_days}"),
        ),
    )
    .expect("config");
    let mut csv = String::from("filename,dc.title\n");
    for i in 0..n {
        let dir = root.join("intake").join(format!("item-{i:03}"));
        fs::create_dir_all(&dir).expect("mkdir");
        let mut body = format!("Sample: synthetic item {i}\n").into_bytes();
        body.resize(bytes_per_item, b'.');
        fs::write(dir.join("page.txt"), body).expect("write");
        csv.push_str(&format!("item-{i:03},Sample: item {i}\n"));
    }
    fs::write(root.join("intake/metadata.csv"), csv).expect("csv");
    let out = run(cairn().arg("ingest").arg("--root").arg(root));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fixity_json(root: &Path, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    // `--now` is for --dry-run only; a simulated night that logs its checks takes the
    // test build's clock, CAIRN_TEST_NOW.
    let mut cmd = cairn();
    cmd.arg("fixity").arg("--root").arg(root);
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        if *a == "--now" {
            cmd.env("CAIRN_TEST_NOW", rest.next().expect("--now TIME"));
        } else {
            cmd.arg(a);
        }
    }
    let out = run(cmd.arg("--json"));
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "fixity --json: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

fn checked_ids(v: &serde_json::Value) -> Vec<String> {
    v["checked"]
        .as_array()
        .expect("checked")
        .iter()
        .map(|b| b["id"].as_str().expect("id").to_string())
        .collect()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[test]
fn a_nightly_budgeted_run_checks_every_bag_once_per_interval() {
    let tmp = common::fresh_dir("rolling");
    let root = tmp.path().join("arch");
    let (n, size, interval) = (21usize, 4096usize, 7i64);
    make_archive(&root, n, size, interval as u32);
    let ingested = Utc::now();
    // A nightly budget of the archive's size over the interval: 3 bags a night.
    let budget = (n as i64 / interval) as usize * size;

    // Without a budget, nothing is due the night after ingest...
    let night = |d: i64| rfc3339(ingested + Duration::days(d) + Duration::hours(3));
    let (code, v) = fixity_json(&root, &["--due", "--now", &night(1)]);
    assert_eq!(code, Some(0));
    assert!(
        checked_ids(&v).is_empty(),
        "nothing is due a day after ingest: {v}"
    );

    // ...but a budgeted run starts the rolling sweep at once, oldest first.
    let mut checks: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for d in 1..=28 {
        let (code, v) = fixity_json(
            &root,
            &[
                "--due",
                "--max-bytes",
                &budget.to_string(),
                "--now",
                &night(d),
            ],
        );
        assert_eq!(code, Some(0), "night {d}: {v}");
        let ids = checked_ids(&v);
        assert_eq!(
            ids.len(),
            budget / size,
            "night {d}: the budget buys exactly {} bags: {ids:?}",
            budget / size
        );
        for id in ids {
            checks.entry(id).or_default().push(d);
        }
    }
    assert_eq!(checks.len(), n, "every bag was checked: {checks:?}");
    for (id, nights) in &checks {
        // Once per interval: first within the first interval, then every `interval` nights.
        assert!(
            nights[0] <= interval,
            "{id} first checked on night {}",
            nights[0]
        );
        for w in nights.windows(2) {
            assert_eq!(w[1] - w[0], interval, "{id} checked on nights {nights:?}");
        }
        assert_eq!(
            nights.len(),
            4,
            "{id}: 28 nights, one check per 7: {nights:?}"
        );
    }

    // The audit sees nothing overdue at the end of the sweep.
    let out = run(cairn()
        .args(["audit", "--json", "--now", &night(28)])
        .arg("--root")
        .arg(&root));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).expect("audit json");
    assert_eq!(
        audit["overdue"].as_array().map(|a| a.len()),
        Some(0),
        "{audit}"
    );
    assert_eq!(
        audit["never_checked"].as_array().map(|a| a.len()),
        Some(0),
        "{audit}"
    );

    // Without a budget, a night after a long pause checks exactly the due bags.
    let (_, v) = fixity_json(&root, &["--due", "--now", &night(28 + 8)]);
    assert_eq!(
        checked_ids(&v).len(),
        n,
        "all bags are due after 8 idle nights: {v}"
    );
}

#[test]
fn shards_partition_the_archive_and_every_check_is_logged() {
    let tmp = common::fresh_dir("shards");
    let root = tmp.path().join("arch");
    make_archive(&root, 12, 100, 90);
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for k in 1..=3 {
        let (code, v) = fixity_json(&root, &["--all", "--shard", &format!("{k}/3")]);
        assert_eq!(code, Some(0));
        let ids = checked_ids(&v);
        total += ids.len();
        seen.extend(ids);
    }
    assert_eq!(total, 12, "shards overlap or miss bags");
    assert_eq!(seen.len(), 12);
    let log = fs::read_to_string(root.join("manifests/events.jsonl")).expect("log");
    let checks = log
        .lines()
        .filter(|l| l.contains(r#""type":"fixity check""#))
        .count();
    assert_eq!(checks, 12, "one fixity check event per bag checked");
    for bad in ["0/3", "4/3", "1/0", "x"] {
        let out = run(cairn()
            .args(["fixity", "--all", "--shard", bad])
            .arg("--root")
            .arg(&root));
        assert_eq!(out.status.code(), Some(2), "--shard {bad}");
    }
}

#[test]
fn quiet_is_silent_on_success_and_loud_on_failure() {
    let tmp = common::fresh_dir("quiet");
    let root = tmp.path().join("arch");
    make_archive(&root, 3, 100, 90);
    let out = run(cairn()
        .args(["fixity", "--all", "--quiet"])
        .arg("--root")
        .arg(&root));
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    fs::write(root.join("archive/cairn-000002/data/page.txt"), b"rot").expect("corrupt");
    let out = run(cairn()
        .args(["fixity", "--all", "--quiet"])
        .arg("--root")
        .arg(&root));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cairn-000002") && stderr.contains("data/page.txt"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("cairn-000001"),
        "passing bags stay quiet: {stderr}"
    );
}

#[test]
fn an_overlapping_run_exits_3_at_once_and_logs_nothing() {
    let tmp = common::fresh_dir("overlap");
    let root = tmp.path().join("arch");
    make_archive(&root, 2, 100, 90);
    let lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(root.join("manifests/.fixity.lock"))
        .expect("open");
    lock.try_lock()
        .expect("the test plays the running fixity job");
    let before = fs::read(root.join("manifests/events.jsonl")).expect("log");
    let t0 = Instant::now();
    let out = run(cairn().args(["fixity", "--all"]).arg("--root").arg(&root));
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        t0.elapsed().as_secs() < 10,
        "it must not wait for the other run"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("locked"));
    assert_eq!(
        fs::read(root.join("manifests/events.jsonl")).expect("log"),
        before
    );
    drop(lock);
    // Ingest does not wait for fixity, nor fixity for ingest: different locks.
    let out = run(cairn().args(["fixity", "--all"]).arg("--root").arg(&root));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn budgets_stop_between_bags_and_rate_throttles() {
    let tmp = common::fresh_dir("budget");
    let root = tmp.path().join("arch");
    make_archive(&root, 6, 200_000, 90);
    let (code, v) = fixity_json(&root, &["--all", "--max-time", "0s"]);
    assert_eq!(code, Some(0));
    assert_eq!(checked_ids(&v).len(), 0);
    assert_eq!(v["stopped"], "time-budget");
    let (_, v) = fixity_json(&root, &["--all", "--max-bytes", "300000"]);
    assert_eq!(
        checked_ids(&v).len(),
        2,
        "a bag is started while under the budget: {v}"
    );
    assert_eq!(v["stopped"], "byte-budget");
    // 1.2 MB at 2 MB/s cannot take less than about 0.6 s.
    let t0 = Instant::now();
    let (code, v) = fixity_json(&root, &["--all", "--rate", "2M"]);
    assert_eq!(code, Some(0), "{v}");
    assert!(
        t0.elapsed().as_millis() >= 500,
        "--rate 2M read 1.2 MB in {:?}",
        t0.elapsed()
    );
}
