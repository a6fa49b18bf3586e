//! Amend and withdraw survive being killed at any moment (the tests/it/crash/ingest.rs
//! pattern): at every failpoint of the commit protocol, and by SIGKILL at moments spread
//! over a run. Right after the kill every bag in archive/ is a complete, valid bag
//! that is either the old one or the new one (never a mix of tag files); the next
//! command that takes the lock (here `cairn ingest` with nothing to ingest) finishes a
//! decided change or discards an undecided one, after which the archive is wholly in
//! the old state or wholly in the new one, and every auditor's check passes.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common;
use crate::life;
use common::copy_tree;
use life::{all_checks_pass, cairn_at, entry, events, expect, make_archive};

const PAGES: usize = 400;

fn amend_args() -> Vec<&'static str> {
    vec![
        "amend",
        "cairn-000001",
        "--set",
        "dc.date=1977-03",
        "--reason",
        "date read from the stamp",
    ]
}

fn withdraw_args() -> Vec<&'static str> {
    vec!["withdraw", "cairn-000001", "--reason", "donor withdrew it"]
}

/// The tag manifest digest (sha512 of tagmanifest-sha512.txt) of a bag folder.
fn tag_digest(bag: &Path) -> Option<String> {
    let bytes = fs::read(bag.join("tagmanifest-sha512.txt")).ok()?;
    Some(common::sha512_hex(&bytes))
}

/// Right after a kill: every bag is whole and valid; cairn-000001 is the old bag or
/// the new one (by its tag manifest); for a withdrawal, it is in archive/ or in
/// quarantine, never in both or neither.
fn check_after_kill(root: &Path, old_digest: &str, context: &str, withdrawing: bool) {
    for bag in life::bags(root) {
        let out = common::cairn()
            .args(["bag", "validate"])
            .arg(&bag)
            .output()
            .expect("validate");
        assert!(
            out.status.success(),
            "{context}: {} is not a complete, valid bag: {}",
            bag.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bag = root.join("archive/cairn-000001");
    if withdrawing {
        let q = root.join("archive/.quarantine/cairn-000001");
        assert!(
            bag.is_dir() != q.is_dir(),
            "{context}: the bag must be in archive/ or in quarantine"
        );
        let here = if bag.is_dir() { bag } else { q };
        assert_eq!(tag_digest(&here).as_deref(), Some(old_digest), "{context}");
    } else {
        // The old bag, or a new one whose dc.xml says the new date.
        let d = tag_digest(&bag).expect("a bag at archive/cairn-000001");
        if d != old_digest {
            let xml = fs::read_to_string(bag.join("metadata/dc.xml")).expect("dc.xml");
            assert!(
                xml.contains("1977-03"),
                "{context}: a new bag without the new date"
            );
        }
    }
    events(root, context);
}

/// After recovery: wholly old or wholly new; returns whether the change happened.
fn check_recovered(root: &Path, old_digest: &str, context: &str, withdrawing: bool) -> bool {
    let staging = root.join("archive/.staging");
    assert!(
        !staging.exists() || fs::read_dir(&staging).expect("staging").next().is_none(),
        "{context}: staging not cleaned"
    );
    let kind = if withdrawing {
        "deaccession"
    } else {
        "metadata modification"
    };
    let logged = life::events_of(root, "cairn-000001", kind).len();
    assert!(
        logged <= 1,
        "{context}: the change was logged {logged} times"
    );
    let done = logged == 1;
    let history = root.join("manifests/history/cairn-000001/000001.json");
    if withdrawing {
        assert_eq!(
            root.join("manifests/withdrawn/cairn-000001.json").is_file(),
            done,
            "{context}: tombstone"
        );
        assert_eq!(
            root.join("manifests/cairn-000001.json").is_file(),
            !done,
            "{context}: register entry"
        );
        assert_eq!(
            root.join("archive/.quarantine/cairn-000001").is_dir(),
            done,
            "{context}: quarantine"
        );
        assert_eq!(root.join("archive/cairn-000001").is_dir(), !done);
    } else {
        let e = entry(root, "cairn-000001");
        let bag_digest = tag_digest(&root.join("archive/cairn-000001")).expect("bag");
        if done {
            assert_eq!(e["entry_version"], 2, "{context}");
            assert_eq!(e["dublin_core"]["dc.date"][0], "1977-03", "{context}");
            assert_ne!(
                bag_digest, old_digest,
                "{context}: the old bag with the new entry"
            );
        } else {
            assert!(e.get("entry_version").is_none(), "{context}");
            assert_eq!(
                bag_digest, old_digest,
                "{context}: a new bag with the old entry"
            );
        }
    }
    if done {
        assert!(history.is_file(), "{context}: the superseded entry is kept");
    }
    all_checks_pass(root, context);
    done
}

/// Recovery: a command that takes the lock (ingest of an empty intake: the archive's
/// own intake still holds the withdrawn item, which ingest would refuse, exit 1).
fn recover(root: &Path, context: &str) {
    let empty = root.join("empty-intake");
    fs::create_dir_all(&empty).expect("empty intake");
    let out = cairn_at(
        root,
        ["ingest".as_ref(), "--intake".as_ref(), empty.as_os_str()],
        &[],
    );
    assert_eq!(out.code, Some(0), "{context}: recovery\n{}", out.describe());
}

#[test]
fn a_crash_at_each_step_of_an_amend_or_a_withdrawal_is_recovered() {
    for (kind, args) in [("amend", amend_args()), ("withdraw", withdraw_args())] {
        let withdrawing = kind == "withdraw";
        for step in [
            "before-publish",
            "after-publish",
            "after-register",
            "after-events",
        ] {
            let fp = format!("{kind}-{step}");
            let tmp = common::fresh_dir("life-crash");
            let root = tmp.path().join("arch");
            make_archive(&root, 20);
            let old = tag_digest(&root.join("archive/cairn-000001")).expect("bag");
            let out = cairn_at(&root, &args, &[("CAIRN_FAILPOINT", fp.as_str())]);
            assert_eq!(
                out.code,
                None,
                "{fp}: the failpoint did not fire\n{}",
                out.describe()
            );
            check_after_kill(&root, &old, &fp, withdrawing);
            recover(&root, &fp);
            // Every failpoint sits after the change was decided: it is finished.
            assert!(
                check_recovered(&root, &old, &fp, withdrawing),
                "{fp}: a decided change must be finished by recovery"
            );
            // The command run again: unchanged, or already withdrawn; nothing doubles.
            let again = cairn_at(&root, &args, &[]);
            assert_eq!(
                again.code,
                Some(if withdrawing { 2 } else { 0 }),
                "{fp}\n{}",
                again.describe()
            );
            check_recovered(&root, &old, &fp, withdrawing);
        }
    }
}

#[test]
fn sigkill_at_many_moments_of_an_amend_or_a_withdrawal_leaves_old_or_new() {
    for (kind, args) in [("amend", amend_args()), ("withdraw", withdraw_args())] {
        let withdrawing = kind == "withdraw";
        let tmp = common::fresh_dir("life-kill");
        let template = tmp.path().join("template");
        make_archive(&template, PAGES);
        let old = tag_digest(&template.join("archive/cairn-000001")).expect("bag");
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        // How long the command takes here: the quickest of three runs on copies.
        let full = quickest_run(&template, tmp.path(), &args);
        let kills = 12;
        let (mut done, mut not_done) = (0, 0);
        for k in 0..kills {
            let root = tmp.path().join(format!("arch-{k}"));
            copy_tree(&template, &root);
            let delay = full.mul_f64((k as f64 + 0.5) / kills as f64);
            let status = run_and_kill(&root, &args, delay);
            let context = format!("{kind}: kill {k} after {delay:?} of {full:?} ({status:?})");
            check_after_kill(&root, &old, &context, withdrawing);
            recover(&root, &context);
            if check_recovered(&root, &old, &context, withdrawing) {
                done += 1;
            } else {
                not_done += 1;
            }
            let _ = fs::remove_dir_all(&root);
        }
        eprintln!("{kind}: {kills} kills: {done} finished, {not_done} left in the old state");
    }
}

/// How long `args` takes on a copy of `template`: the quickest of three runs.
fn quickest_run(template: &Path, tmp: &Path, args: &[&OsStr]) -> Duration {
    let mut full = Duration::MAX;
    for p in 0..3 {
        let probe = tmp.join(format!("probe-{p}"));
        copy_tree(template, &probe);
        let t0 = Instant::now();
        expect(&probe, args, 0);
        full = full.min(t0.elapsed());
        let _ = fs::remove_dir_all(&probe);
    }
    full
}

/// Runs `args` on `root` and sends SIGKILL after `delay` unless it has finished.
fn run_and_kill(root: &Path, args: &[&OsStr], delay: Duration) -> std::process::ExitStatus {
    let mut child = common::cairn()
        .args(args)
        .arg("--root")
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(delay);
    if child.try_wait().expect("try_wait").is_none() {
        child.kill().expect("SIGKILL");
    }
    child.wait().expect("wait")
}

/// A revision's new content beside `root`: the item's current pages and one new page.
fn revision_content(tmp: &Path, root: &Path) -> std::path::PathBuf {
    let new = tmp.join("new");
    copy_tree(&root.join("archive/cairn-000001/data"), &new);
    fs::write(
        new.join("part-0/page-9999.txt"),
        "Sample: a forgotten page\n",
    )
    .expect("page");
    new
}

/// Every bag in archive/, and the kept version 1 when it is there, is whole and valid.
fn revision_bags_whole(root: &Path, context: &str) {
    for bag in life::bags(root)
        .into_iter()
        .chain(std::iter::once(
            root.join("archive/.versions/cairn-000001/000001"),
        ))
        .filter(|b| b.is_dir())
    {
        let v = common::cairn()
            .args(["bag", "validate"])
            .arg(&bag)
            .output()
            .expect("validate");
        assert!(
            v.status.success(),
            "{context}: {} is not a complete, valid bag: {}",
            bag.display(),
            String::from_utf8_lossy(&v.stderr)
        );
    }
}

#[test]
fn a_crash_at_each_step_of_a_revision_is_recovered() {
    for step in [
        "before-publish",
        "after-publish",
        "after-register",
        "after-events",
    ] {
        let fp = format!("revise-{step}");
        let tmp = common::fresh_dir("revise-crash");
        let root = tmp.path().join("arch");
        make_archive(&root, 20);
        let old = tag_digest(&root.join("archive/cairn-000001")).expect("bag");
        let new = revision_content(tmp.path(), &root);
        let args = [
            "revise".as_ref(),
            "cairn-000001".as_ref(),
            "--from".as_ref(),
            new.as_os_str(),
            "--reason".as_ref(),
            "a forgotten page".as_ref(),
        ];
        let out = cairn_at(&root, args, &[("CAIRN_FAILPOINT", fp.as_str())]);
        assert_eq!(
            out.code,
            None,
            "{fp}: the failpoint did not fire\n{}",
            out.describe()
        );
        // Right after: every bag in archive/ (and the kept version, if there) is whole.
        revision_bags_whole(&root, &fp);
        recover(&root, &fp);
        // Decided before every failpoint: finished by recovery.
        let e = entry(&root, "cairn-000001");
        assert_eq!(e["version"], 2, "{fp}");
        assert_eq!(
            tag_digest(&root.join("archive/.versions/cairn-000001/000001")).as_deref(),
            Some(old.as_str()),
            "{fp}: version 1 kept unchanged"
        );
        assert_eq!(
            life::events_of(&root, "cairn-000001", "modification").len(),
            1,
            "{fp}: logged once"
        );
        let staging = root.join("archive/.staging");
        assert!(
            !staging.exists() || fs::read_dir(&staging).expect("staging").next().is_none(),
            "{fp}: staging not cleaned"
        );
        all_checks_pass(&root, &fp);
        // The same folder again changes nothing.
        let again = cairn_at(&root, args, &[]);
        assert_eq!(again.code, Some(0), "{fp}\n{}", again.describe());
        assert!(
            again.stdout.contains("unchanged"),
            "{fp}\n{}",
            again.describe()
        );
    }
}

#[test]
fn sigkill_at_many_moments_of_a_revision_leaves_version_one_or_two() {
    let tmp = common::fresh_dir("revise-kill");
    let template = tmp.path().join("template");
    make_archive(&template, PAGES);
    let old = tag_digest(&template.join("archive/cairn-000001")).expect("bag");
    // Outside every copy of the archive.
    let new = revision_content(tmp.path(), &template);
    let args = [
        "revise".as_ref(),
        "cairn-000001".as_ref(),
        "--from".as_ref(),
        new.as_os_str(),
        "--reason".as_ref(),
        "a forgotten page".as_ref(),
    ];
    // How long a revision takes here: the quickest of three runs on copies.
    let full = quickest_run(&template, tmp.path(), &args);
    let kept = "archive/.versions/cairn-000001/000001";
    let kills = 12;
    let (mut done, mut not_done) = (0, 0);
    for k in 0..kills {
        let root = tmp.path().join(format!("arch-{k}"));
        copy_tree(&template, &root);
        let delay = full.mul_f64((k as f64 + 0.5) / kills as f64);
        let status = run_and_kill(&root, &args, delay);
        let context = format!("revise: kill {k} after {delay:?} of {full:?} ({status:?})");
        // Right after the kill: every bag, the kept version too if there, is whole.
        revision_bags_whole(&root, &context);
        recover(&root, &context);
        // After recovery: wholly version 1 or wholly version 2, logged at most once.
        let logged = life::events_of(&root, "cairn-000001", "modification").len();
        assert!(logged <= 1, "{context}: logged {logged} times");
        let e = entry(&root, "cairn-000001");
        if logged == 1 {
            assert_eq!(e["version"], 2, "{context}");
            assert_eq!(
                tag_digest(&root.join(kept)).as_deref(),
                Some(old.as_str()),
                "{context}: version 1 kept unchanged"
            );
            assert!(
                root.join("archive/cairn-000001/data/part-0/page-9999.txt")
                    .is_file(),
                "{context}: version 2 holds the new page"
            );
            done += 1;
        } else {
            assert!(
                e.get("version").is_none() || e["version"] == 1,
                "{context}: {e}"
            );
            assert_eq!(
                tag_digest(&root.join("archive/cairn-000001")).as_deref(),
                Some(old.as_str()),
                "{context}: version 1 in place"
            );
            assert!(
                !root.join(kept).exists(),
                "{context}: a kept version with no revision"
            );
            not_done += 1;
        }
        let staging = root.join("archive/.staging");
        assert!(
            !staging.exists() || fs::read_dir(&staging).expect("staging").next().is_none(),
            "{context}: staging not cleaned"
        );
        all_checks_pass(&root, &context);
        let _ = fs::remove_dir_all(&root);
    }
    eprintln!("revise: {kills} kills: {done} finished, {not_done} left at version 1");
}
