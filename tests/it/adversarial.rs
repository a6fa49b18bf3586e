//! Adversarial conditions for ingest (issue 7): a full disk in the middle of a run,
//! files and folders Cairn may not read, files that change while they are copied, and
//! every command run concurrently against one archive.
//!
//! Each test drives the real binary and then checks the invariants that must hold
//! whenever no cairn process is running: every non-hidden folder in archive/ is a valid
//! bag, every register entry and every event names a bag that exists, and the event
//! log's chain is intact.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common;
use common::{cairn, check_invariants, file_bytes as snapshot, intake_names, run};

/// Hostile inputs tried, over every test of this file.
static HOSTILE: AtomicUsize = AtomicUsize::new(0);

fn hostile(what: &str) {
    let n = HOSTILE.fetch_add(1, Ordering::SeqCst) + 1;
    eprintln!("hostile input #{n}: {what}");
}

/// Runs the binary as `nobody`, so that file permissions bite (the tests run as root).
fn cairn_as_nobody() -> StdCommand {
    let mut cmd = StdCommand::new("/usr/bin/setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(common::cairn_bin());
    common::hermetic(&mut cmd);
    cmd
}

/// Limits the size of any file the child writes to `bytes` (RLIMIT_FSIZE), with
/// SIGXFSZ ignored so that the write fails with EFBIG instead of killing the process.
fn limit_file_size(cmd: &mut StdCommand, bytes: u64) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn init(root: &Path) {
    let out = run(cairn().arg("init").arg(root));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// Deterministic, incompressible bytes (xorshift), different for each seed.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A folder item with the given files and a cairn.dc.json sidecar giving its title.
fn make_item(intake: &Path, name: &str, files: &[(&str, Vec<u8>)]) {
    let dir = intake.join(name);
    for (rel, body) in files {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, body).expect("write");
    }
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(
        dir.join("cairn.dc.json"),
        format!("{{\"dc.title\": \"Sample: synthetic item {name}, S-21\", \"dc.type\": \"Text\"}}"),
    )
    .expect("sidecar");
}

fn staging_is_empty(root: &Path) -> bool {
    let staging = root.join("archive/.staging");
    !staging.exists()
        || fs::read_dir(&staging)
            .expect("read staging")
            .next()
            .is_none()
}

/// Unmounts the tmpfs when the test ends, pass or fail.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = StdCommand::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn try_mount_tmpfs(at: &Path, size: &str) -> Option<Mount> {
    fs::create_dir_all(at).expect("mkdir mount point");
    let ok = StdCommand::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(at)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then(|| Mount(at.to_path_buf()))
}

enum Squeeze {
    /// The whole archive on a tmpfs this small; freed by remounting it larger.
    Tmpfs(Mount),
    /// RLIMIT_FSIZE of this many bytes on the cairn process; freed by not setting it.
    FileSize(u64),
}

/// One scenario of a full disk: ingest stops with exit 3 naming the file and the
/// cause, leaves intake/ and archive/ whole, and the next run with room finishes.
fn disk_full_scenario(tmp: &Path, squeeze: Squeeze) {
    let label = match &squeeze {
        Squeeze::Tmpfs(_) => "tmpfs of 4 MiB",
        Squeeze::FileSize(_) => "RLIMIT_FSIZE of 1 MiB",
    };
    let root = match &squeeze {
        Squeeze::Tmpfs(m) => m.0.join("arch"),
        Squeeze::FileSize(_) => tmp.join("arch-fsize"),
    };
    init(&root);
    // The intake lives outside the squeezed space: it is the source, never written.
    let intake = tmp.join(match &squeeze {
        Squeeze::Tmpfs(_) => "intake-tmpfs",
        Squeeze::FileSize(_) => "intake-fsize",
    });
    let mut names = Vec::new();
    let mut file_names = Vec::new();
    for i in 0..6u64 {
        let name = format!("prisoner-file-{i:02}");
        // Under the file-size limit, item 02 holds a scan larger than the limit.
        let big = matches!(squeeze, Squeeze::FileSize(_)) && i == 2;
        let (a, b) = (format!("scan-{i:02}-a.bin"), format!("scan-{i:02}-b.bin"));
        let size_b = if big { 1536 * 1024 } else { 400 * 1024 };
        make_item(
            &intake,
            &name,
            &[
                (a.as_str(), noise(i * 2 + 1, 700 * 1024)),
                (b.as_str(), noise(i * 2 + 2, size_b)),
            ],
        );
        names.push(name);
        file_names.push(a);
        file_names.push(b);
    }
    hostile(&format!(
        "disk full mid-ingest ({label}): 6 items of 1.1 MiB, 6.6 MiB in all"
    ));
    let intake_before = snapshot(&intake);

    let mut cmd = cairn();
    cmd.arg("ingest")
        .arg("--root")
        .arg(&root)
        .arg("--intake")
        .arg(&intake);
    if let Squeeze::FileSize(n) = squeeze {
        limit_file_size(&mut cmd, n);
    }
    let out = run(&mut cmd);
    let stderr = text(&out.stderr);
    eprintln!(
        "{label}: first run exit {:?}\nstdout: {}\nstderr: {stderr}",
        out.status.code(),
        text(&out.stdout)
    );
    let context = format!("{label}, first run");
    // Invariants first: whatever the exit code, nothing may be half made.
    let entries = check_invariants(&root, &context);
    assert_eq!(
        snapshot(&intake),
        intake_before,
        "{context}: intake changed"
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{context}: a full disk must stop the run with exit 3 (could not run), not refuse \
         an item as bad data\nstdout: {}\nstderr: {stderr}",
        text(&out.stdout)
    );
    let lower = stderr.to_lowercase();
    let cause = match squeeze {
        Squeeze::Tmpfs(_) => "no space",
        Squeeze::FileSize(_) => "too large",
    };
    assert!(
        lower.contains(cause),
        "{context}: the message must say `{cause}`: {stderr}"
    );
    assert!(
        file_names.iter().any(|f| stderr.contains(f.as_str())),
        "{context}: the message must name the file: {stderr}"
    );
    let archived = intake_names(&entries);
    assert!(
        archived.len() < names.len(),
        "{context}: everything fit; the squeeze did not bite"
    );

    // Free the space; the next run cleans up and finishes.
    let mut cmd = cairn();
    cmd.arg("ingest")
        .arg("--root")
        .arg(&root)
        .arg("--intake")
        .arg(&intake);
    if let Squeeze::Tmpfs(m) = &squeeze {
        let st = StdCommand::new("mount")
            .args(["-o", "remount,size=64m"])
            .arg(&m.0)
            .status()
            .expect("remount");
        assert!(st.success(), "remount the tmpfs larger");
    }
    let out = run(&mut cmd);
    let context = format!("{label}, run with room");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{context}: {}",
        text(&out.stderr)
    );
    let entries = check_invariants(&root, &context);
    assert_eq!(
        intake_names(&entries),
        names,
        "{context}: each item archived exactly once"
    );
    assert!(staging_is_empty(&root), "{context}: staging not cleaned");
    assert_eq!(
        snapshot(&intake),
        intake_before,
        "{context}: intake changed"
    );
    eprintln!(
        "{label}: {} items archived before the disk filled, all {} after",
        archived.len(),
        names.len()
    );
}

#[test]
fn a_full_disk_mid_ingest_stops_cleanly_and_the_next_run_finishes() {
    let tmp = common::fresh_dir("full");
    match try_mount_tmpfs(&tmp.path().join("mnt"), "4m") {
        Some(m) => disk_full_scenario(tmp.path(), Squeeze::Tmpfs(m)),
        None => common::skip(
            "mount -t tmpfs is not permitted here (the RLIMIT_FSIZE test still runs a full-disk-like stop)",
        ),
    }
}

#[test]
fn a_file_larger_than_the_size_limit_stops_cleanly_and_the_next_run_finishes() {
    let tmp = common::fresh_dir("fsize");
    disk_full_scenario(tmp.path(), Squeeze::FileSize(1024 * 1024));
}

fn chown_tree(root: &Path, uid: u32) {
    if !root.is_dir() {
        std::os::unix::fs::lchown(root, Some(uid), Some(uid)).expect("chown");
        return;
    }
    for e in walkdir::WalkDir::new(root) {
        let e = e.expect("walk");
        std::os::unix::fs::lchown(e.path(), Some(uid), Some(uid)).expect("chown");
    }
}

const NOBODY: u32 = 65534;

fn set_mode(p: &Path, m: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(m)).expect("chmod");
}

/// An archive with two good items plus what `setup` adds to intake/ (it returns the
/// refused item's name and the path its refusal must name), ingested as nobody. The
/// hostile item is refused naming the path, the good ones are ingested, and nothing
/// is recorded for the refused one.
fn permission_scenario(label: &str, setup: impl FnOnce(&Path) -> (&'static str, &'static str)) {
    hostile(label);
    let tmp = common::fresh_dir("perm");
    set_mode(tmp.path(), 0o755);
    let root = tmp.path().join("arch");
    init(&root);
    let intake = root.join("intake");
    make_item(
        &intake,
        "good-a",
        &[("page-1.txt", b"Sample: page\n".to_vec())],
    );
    make_item(
        &intake,
        "good-b",
        &[("sub/page-2.txt", b"Sample: p2\n".to_vec())],
    );
    chown_tree(&root, NOBODY);
    let (refused, path) = setup(&intake);
    let intake_before = snapshot(&intake);

    let out = run(cairn_as_nobody()
        .arg("ingest")
        .arg("--root")
        .arg(&root)
        .arg("--json"));
    let stderr = text(&out.stderr);
    eprintln!(
        "{label}: exit {:?}\nstdout: {}\nstderr: {stderr}",
        out.status.code(),
        text(&out.stdout)
    );
    let entries = check_invariants(&root, label);
    assert!(staging_is_empty(&root), "{label}: staging left behind");
    assert_eq!(snapshot(&intake), intake_before, "{label}: intake changed");
    let log = fs::read_to_string(root.join("manifests/events.jsonl")).unwrap_or_default();
    assert!(
        !log.contains(refused),
        "{label}: an event mentions the refused item {refused}"
    );
    assert!(
        intake_names(&entries).iter().all(|n| n != refused),
        "{label}: the refused item is registered"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{label}: an unreadable item is refused (exit 1), the run goes on: {stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the --json report");
    let items = report["items"].as_array().expect("items");
    let outcome = |name: &str| {
        items
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("{label}: {name} is not in the report"))
            .clone()
    };
    for good in ["good-a", "good-b"] {
        assert_eq!(
            outcome(good)["outcome"],
            "ingested",
            "{label}: {good}: {report}"
        );
    }
    assert_eq!(intake_names(&entries), vec!["good-a", "good-b"], "{label}");
    let item = outcome(refused);
    assert_eq!(item["outcome"], "refused", "{label}: {item}");
    let problems = item["problems"].to_string();
    assert!(
        problems.contains(path),
        "{label}: the refusal must name {path}: {problems}"
    );
    assert!(
        problems.to_lowercase().contains("permission denied"),
        "{label}: the refusal must say why: {problems}"
    );
}

#[test]
fn a_file_of_mode_000_inside_an_item_refuses_only_that_item() {
    permission_scenario(
        "a file of mode 000 inside an item folder, read as nobody",
        |intake| {
            make_item(
                intake,
                "sealed",
                &[
                    ("readable.txt", b"Sample: fine\n".to_vec()),
                    ("secret.txt", b"Sample: mode 000\n".to_vec()),
                ],
            );
            chown_tree(&intake.join("sealed"), NOBODY);
            set_mode(&intake.join("sealed/secret.txt"), 0o000);
            ("sealed", "sealed/secret.txt")
        },
    );
}

#[test]
fn a_lone_file_item_of_mode_000_is_refused() {
    permission_scenario("a lone-file item of mode 000, read as nobody", |intake| {
        let f = intake.join("locked.txt");
        fs::write(&f, "Sample: lone file, mode 000\n").expect("write");
        let csv = intake.join("metadata.csv");
        fs::write(
            &csv,
            "filename,dc.title\nlocked.txt,Sample: locked lone file\n",
        )
        .expect("csv");
        chown_tree(&f, NOBODY);
        chown_tree(&csv, NOBODY);
        set_mode(&f, 0o000);
        ("locked.txt", "intake/locked.txt")
    });
}

#[test]
fn a_folder_without_execute_permission_refuses_only_that_item() {
    permission_scenario(
        "a folder of mode 0600 (listable, not traversable) inside an item, as nobody",
        |intake| {
            make_item(
                intake,
                "no-exec",
                &[("inner/page.txt", b"Sample: behind a 0600 folder\n".to_vec())],
            );
            chown_tree(&intake.join("no-exec"), NOBODY);
            set_mode(&intake.join("no-exec/inner"), 0o600);
            ("no-exec", "no-exec/inner")
        },
    );
}

/// An archive whose bags carry BLAKE3 only (the changing-file tests read 200 MB).
fn blake3_only_archive(root: &Path) {
    init(root);
    let toml = root.join("cairn.toml");
    let conf = fs::read_to_string(&toml).expect("read cairn.toml");
    assert!(conf.contains("algorithms = [\"blake3\", \"sha512\"]"));
    fs::write(
        &toml,
        conf.replace(
            "algorithms = [\"blake3\", \"sha512\"]",
            "algorithms = [\"blake3\"]",
        ),
    )
    .expect("write cairn.toml");
}

const BIG: usize = 200 * 1024 * 1024;

fn write_big(path: &Path, seed: u64) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let mut f = fs::File::create(path).expect("create");
    let chunk = noise(seed, 8 * 1024 * 1024);
    for _ in 0..BIG / chunk.len() {
        f.write_all(&chunk).expect("write");
    }
    f.sync_all().expect("fsync");
}

/// What happened to an item whose file changed while ingest read it. Either it was
/// refused saying so, or its bag validates and the register's digest is that of the
/// bytes in the bag. Returns a description.
fn judge_changing(root: &Path, out: &Output, item: &str, rel: &str, source: &Path) -> String {
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{item}: no --json report: {}", text(&out.stderr)));
    let it = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["name"] == item)
        .expect("the item is reported")
        .clone();
    let entries = check_invariants(root, item);
    match it["outcome"].as_str() {
        Some("refused") => {
            assert_eq!(out.status.code(), Some(1), "{item}: {}", text(&out.stderr));
            let problems = it["problems"].to_string();
            assert!(
                problems.contains("changed while it was being read") && problems.contains(rel),
                "{item}: the refusal must name the file and say it changed: {problems}"
            );
            assert!(
                intake_names(&entries).iter().all(|n| n != item),
                "{item}: refused yet registered"
            );
            assert!(staging_is_empty(root), "{item}: staging left behind");
            format!("refused: {problems}")
        }
        Some("ingested") => {
            let id = it["id"].as_str().expect("id");
            let bag = root.join("archive").join(id);
            let entry = &entries[id];
            let bag_file = bag.join("data").join(rel);
            let actual = blake3::hash(&fs::read(&bag_file).expect("read bag file"))
                .to_hex()
                .to_string();
            let recorded = entry["files"]
                .as_array()
                .expect("files")
                .iter()
                .find(|f| f["path"] == format!("data/{rel}"))
                .expect("the file is registered")["digests"]["blake3"]
                .as_str()
                .expect("blake3")
                .to_string();
            assert_eq!(
                recorded, actual,
                "{item}: the register records a digest that is not that of the bag's bytes"
            );
            let src = blake3::hash(&fs::read(source).expect("read source"))
                .to_hex()
                .to_string();
            format!(
                "ingested as {id}; bag validates, register digest = bag bytes ({actual}); \
                 source now {} the bag",
                if src == actual {
                    "equals"
                } else {
                    "DIFFERS FROM"
                }
            )
        }
        other => panic!("{item}: unexpected outcome {other:?}: {it}"),
    }
}

#[test]
fn a_file_that_changes_while_read_is_refused_or_recorded_truthfully() {
    let tmp = common::fresh_dir("changing");
    let root = tmp.path().join("arch");
    blake3_only_archive(&root);
    let intake = root.join("intake");

    // 1. A file appended to during the read.
    let growing = intake.join("growing/big.bin");
    write_big(&growing, 7);
    make_item(&intake, "growing", &[]);
    make_item(
        &intake,
        "steady",
        &[("page.txt", b"Sample: steady\n".to_vec())],
    );
    hostile("a 200 MB file appended to while ingest reads it");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let path = growing.clone();
        std::thread::spawn(move || {
            let mut f = fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("open to append");
            let chunk = noise(99, 64 * 1024);
            let mut appended = 0usize;
            while !stop.load(Ordering::SeqCst) && appended < 512 * 1024 * 1024 {
                f.write_all(&chunk).expect("append");
                appended += chunk.len();
                std::thread::sleep(Duration::from_millis(2));
            }
            appended
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    let out = run(cairn().arg("ingest").arg("--root").arg(&root).arg("--json"));
    stop.store(true, Ordering::SeqCst);
    let appended = writer.join().expect("writer");
    let verdict = judge_changing(&root, &out, "growing", "big.bin", &growing);
    eprintln!("appended {appended} bytes during the run; growing: {verdict}");
    let entries = check_invariants(&root, "after growing");
    assert!(
        intake_names(&entries).contains(&"steady".to_string()),
        "the other item was not ingested: {}",
        text(&out.stderr)
    );

    // 2. A file rewritten in place, same size, during the read.
    fs::remove_dir_all(intake.join("growing")).expect("rm");
    fs::remove_dir_all(intake.join("steady")).expect("rm");
    let rewritten = intake.join("rewritten/big.bin");
    write_big(&rewritten, 11);
    make_item(&intake, "rewritten", &[]);
    hostile("a 200 MB file overwritten in place (same size) while ingest reads it");
    let size = fs::metadata(&rewritten).expect("stat").len();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let path = rewritten.clone();
        std::thread::spawn(move || {
            let f = fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .expect("open to write");
            let block = noise(1234, 64 * 1024);
            let mut writes = 0u64;
            let mut x = 0x2545_F491_4F6C_DD1Du64;
            while !stop.load(Ordering::SeqCst) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let off = (x % (size - block.len() as u64)) & !4095;
                f.write_all_at(&block, off).expect("pwrite");
                writes += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            writes
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    let out = run(cairn().arg("ingest").arg("--root").arg(&root).arg("--json"));
    stop.store(true, Ordering::SeqCst);
    let writes = writer.join().expect("writer");
    assert_eq!(fs::metadata(&rewritten).expect("stat").len(), size);
    let verdict = judge_changing(&root, &out, "rewritten", "big.bin", &rewritten);
    eprintln!("overwrote 64 KiB in place {writes} times during the run; rewritten: {verdict}");
}

/// One command's runs and exits, for the stress test.
#[derive(Default)]
struct Tally {
    runs: BTreeMap<&'static str, usize>,
    locked: BTreeMap<&'static str, usize>,
    bad: Vec<String>,
}

#[test]
fn concurrent_ingest_fixity_audit_and_validate_never_fail_or_corrupt() {
    let tmp = common::fresh_dir("stress");
    let root = tmp.path().join("arch");
    init(&root);
    let intake = root.join("intake");
    let dropped = Arc::new(Mutex::new(Vec::<String>::new()));
    for i in 0..3 {
        let name = format!("seed-item-{i}");
        make_item(
            &intake,
            &name,
            &[("page.txt", format!("Sample: seed {i}\n").into_bytes())],
        );
        dropped.lock().expect("lock").push(name);
    }
    hostile("ingest x2, fixity --all x2, audit, bag validate, all at once for 20 s");
    let tally = Arc::new(Mutex::new(Tally::default()));
    let deadline = Instant::now() + Duration::from_secs(20);
    let record = |tally: &Mutex<Tally>, what: &'static str, out: &Output| {
        let mut t = tally.lock().expect("tally");
        *t.runs.entry(what).or_default() += 1;
        let stderr = text(&out.stderr);
        match out.status.code() {
            Some(0) => {}
            Some(3) if matches!(what, "ingest" | "fixity") && stderr.contains("locked") => {
                *t.locked.entry(what).or_default() += 1;
            }
            code => t.bad.push(format!("{what} exited {code:?}: {stderr}")),
        }
    };
    std::thread::scope(|s| {
        for t in 0..2 {
            let (root, intake, dropped, tally) = (&root, &intake, dropped.clone(), &tally);
            s.spawn(move || {
                let mut n = 0;
                while Instant::now() < deadline {
                    // A new item arrives whole: built under a hidden name, then renamed.
                    let name = format!("drop-{t}-{n:03}");
                    let hidden = intake.join(format!(".incoming-{name}"));
                    make_item(
                        &hidden,
                        "x",
                        &[
                            (
                                "a.txt",
                                format!("Sample: {name} a\n").repeat(50).into_bytes(),
                            ),
                            ("b/c.txt", noise(n as u64 * 7 + t, 3000)),
                        ],
                    );
                    fs::rename(hidden.join("x"), intake.join(&name)).expect("drop item");
                    fs::remove_dir(&hidden).expect("rm hidden");
                    dropped.lock().expect("lock").push(name);
                    n += 1;
                    let out = run(cairn().arg("ingest").arg("--root").arg(root));
                    record(tally, "ingest", &out);
                    if out.status.code() == Some(3) {
                        // Locked out: wait a little rather than pile up new items.
                        std::thread::sleep(Duration::from_millis(300));
                    }
                }
            });
        }
        for _ in 0..2 {
            let (root, tally) = (&root, &tally);
            s.spawn(move || {
                while Instant::now() < deadline {
                    let out = run(cairn()
                        .args(["fixity", "--all", "--quiet", "--root"])
                        .arg(root));
                    record(tally, "fixity", &out);
                    if out.status.code() == Some(3) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            });
        }
        {
            let (root, tally) = (&root, &tally);
            s.spawn(move || {
                // At least once, however slow a loaded machine makes the first ingests.
                let mut ran = false;
                while Instant::now() < deadline || !ran {
                    let out = run(cairn().args(["audit", "--root"]).arg(root));
                    record(tally, "audit", &out);
                    ran = true;
                }
            });
        }
        {
            let (root, tally) = (&root, &tally);
            s.spawn(move || {
                let mut k = 0usize;
                // Until the deadline, and past it until one bag has been validated (a
                // loaded machine can take the whole 20 s over the first ingest), within
                // reason.
                let give_up = deadline + Duration::from_secs(180);
                while Instant::now() < deadline || (k == 0 && Instant::now() < give_up) {
                    let bags: Vec<PathBuf> = fs::read_dir(root.join("archive"))
                        .expect("read archive")
                        .filter_map(|e| e.ok())
                        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                        .map(|e| e.path())
                        .collect();
                    if bags.is_empty() {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                    k += 1;
                    let out = run(cairn().args(["bag", "validate"]).arg(&bags[k % bags.len()]));
                    record(tally, "bag validate", &out);
                }
            });
        }
    });

    // A last ingest picks up whatever arrived during the last run.
    let out = run(cairn().arg("ingest").arg("--root").arg(&root));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let tally = tally.lock().expect("tally");
    eprintln!(
        "stress: runs {:?}; exit 3 for a held lock {:?}; {} bad exits",
        tally.runs,
        tally.locked,
        tally.bad.len()
    );
    let audit = run(cairn().args(["audit", "--root"]).arg(&root));
    let entries = check_invariants(&root, "after the stress");
    let mut expected = dropped.lock().expect("lock").clone();
    expected.sort();
    assert_eq!(
        intake_names(&entries),
        expected,
        "each item archived exactly once"
    );
    assert!(staging_is_empty(&root), "staging left behind");
    eprintln!(
        "stress: final audit exit {:?}: {}{}",
        audit.status.code(),
        text(&audit.stdout),
        text(&audit.stderr)
    );
    assert!(
        tally.bad.is_empty(),
        "{} exits other than 0 (or 3 for a held lock); the first 12:\n{}",
        tally.bad.len(),
        tally
            .bad
            .iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(audit.status.code(), Some(0), "{}", text(&audit.stdout));
    for what in ["ingest", "fixity", "audit", "bag validate"] {
        assert!(
            tally.runs.get(what).copied().unwrap_or(0) > 0,
            "{what} never ran"
        );
    }
}
