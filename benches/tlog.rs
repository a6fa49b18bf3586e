//! The event log's Merkle tree at a million events (issue 19): the cost per event of
//! keeping the tree on append, and the times of `cairn checkpoint`, `cairn proof` and
//! `cairn audit --checkpoint` on a 1,000,000-event log, each beside a peer measured in
//! the same run (the same append on a 10-event log; a full rebuild of the tree).
//!
//!     cargo bench --bench tlog              # 1,000,000 events
//!     cargo bench --bench tlog -- 100000    # another size
//!
//! The log is written directly (valid chained lines, as Cairn writes them), in a
//! temporary folder that is removed at the end. Not a criterion bench: each figure is
//! the median of a few runs of the real binary or of one library call.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cairn::fs::archive::Archive;
use cairn::fs::events::{line_digest, Event, NewEvent, GENESIS};
use cairn::fs::tlog_store::{self, TreeStore};
use cairn::vocab::{EventType, Outcome};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Writes `n` chained fixity-check events, as `cairn fixity` would.
fn write_log(path: &Path, n: u64) -> u64 {
    let f = std::fs::File::create(path).expect("create log");
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let mut prev = GENESIS.to_string();
    let mut bytes = 0u64;
    for seq in 1..=n {
        let e = Event {
            seq,
            id: uuid::Uuid::new_v4().to_string(),
            event_type: "fixity check".into(),
            time: "2026-12-01T03:00:00.000Z".into(),
            outcome: "success".into(),
            detail: "blake3: 12 files, 1048576 bytes verified".into(),
            object: format!("cairn-{:06}", seq % 100_000),
            agent: cairn::agent(),
            data: serde_json::json!({"algorithms": ["blake3"], "files": 12, "bytes": 1_048_576}),
            prev,
        };
        let line = serde_json::to_vec(&e).expect("encode");
        prev = line_digest(&line);
        w.write_all(&line).expect("write");
        w.write_all(b"\n").expect("write");
        bytes += line.len() as u64 + 1;
    }
    w.into_inner().expect("flush").sync_all().expect("sync");
    bytes
}

fn run(args: &[&str], root: &Path) -> Duration {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .arg("--root")
        .arg(root)
        .output()
        .expect("run cairn");
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "cairn {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

/// Median time of one `append_events` of one event, over `k` appends.
fn appends(archive: &Archive, k: usize) -> Duration {
    let now = chrono::Utc::now();
    let times = (0..k)
        .map(|i| {
            let e = NewEvent::new(
                EventType::FixityCheck,
                Outcome::Success,
                "cairn-000001",
                format!("bench {i}"),
            );
            let t = Instant::now();
            archive.append_events(now, &[e]).expect("append");
            t.elapsed()
        })
        .collect();
    median(times)
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::Builder::new()
        .prefix("cairn-bench-tlog-")
        .tempdir()
        .expect("tempdir");
    let mk = |name: &str, events: u64| {
        let root = tmp.path().join(name);
        Archive::init(&root).expect("init");
        let log = root.join("manifests/events.jsonl");
        let t = Instant::now();
        let bytes = write_log(&log, events);
        let archive = Archive::open(&root).expect("open");
        (root, archive, log, bytes, t.elapsed())
    };
    println!("tlog bench: {n} events");
    let (root, archive, _log, bytes, took) = mk("big", n);
    println!(
        "  wrote the log: {} MiB in {:.1} s",
        bytes >> 20,
        took.as_secs_f64()
    );
    let (small_root, small, _, _, _) = mk("small", 10);

    // The peer of everything: building the whole tree from the log.
    let dir = root.join("manifests").join(tlog_store::TREE_DIR);
    let t = Instant::now();
    archive.rebuild_merkle_tree().expect("rebuild");
    let rebuild = t.elapsed();
    println!(
        "  rebuild the tree from the log (O(n), the peer): {}",
        ms(rebuild)
    );

    // Appends: one event each, fsynced log + tree, at n and at 10 events.
    let k = 200;
    let at_small = appends(&small, k);
    let at_big = appends(&archive, k);
    println!(
        "  append one event (log + tree, fsynced): {} at {n} events, {} at 10 events: ratio {:.2}",
        ms(at_big),
        ms(at_small),
        at_big.as_secs_f64() / at_small.as_secs_f64()
    );
    // The tree's share: the same work on the tree alone.
    let mut store = TreeStore::open(&dir).expect("open").expect("tree");
    let leaf_times: Vec<Duration> = (0..k)
        .map(|i| {
            let leaf = cairn::tlog::merkle::leaf_hash(format!("bench leaf {i}").as_bytes());
            let t = Instant::now();
            store.append(&[leaf]).expect("append leaf");
            t.elapsed()
        })
        .collect();
    let tree_only = median(leaf_times);
    println!(
        "  of which the tree (leaf + completed subtrees, fdatasync): {}: {:.0}% of an append",
        ms(tree_only),
        100.0 * tree_only.as_secs_f64() / at_big.as_secs_f64()
    );
    // The tree got extra leaves: rebuild so that it matches the log again.
    archive.rebuild_merkle_tree().expect("rebuild");

    // checkpoint and proof through the real binary.
    let key = tmp.path().join("bench.key");
    cairn::ops::tlog::generate_key("big", &key).expect("key");
    let key_s = key.to_string_lossy().into_owned();
    let checkpoint = median(
        (0..5)
            .map(|_| run(&["checkpoint", "--key", &key_s, "--json"], &root))
            .collect(),
    );
    let small_key = tmp.path().join("small.key");
    cairn::ops::tlog::generate_key("small", &small_key).expect("key");
    let small_checkpoint = median(
        (0..5)
            .map(|_| {
                run(
                    &[
                        "checkpoint",
                        "--key",
                        &small_key.to_string_lossy(),
                        "--json",
                    ],
                    &small_root,
                )
            })
            .collect(),
    );
    println!(
        "  cairn checkpoint: {} at {n} events, {} at 10 events: ratio {:.2}; {:.4} of a rebuild",
        ms(checkpoint),
        ms(small_checkpoint),
        checkpoint.as_secs_f64() / small_checkpoint.as_secs_f64(),
        checkpoint.as_secs_f64() / rebuild.as_secs_f64()
    );
    let cp = std::fs::read_dir(root.join("manifests/checkpoints"))
        .expect("checkpoints")
        .map(|e| e.expect("entry").path())
        .max()
        .expect("a checkpoint");
    let cp_s = cp.to_string_lossy().into_owned();
    let mid = (n / 2 + 1).to_string();
    let proof = median(
        (0..5)
            .map(|_| run(&["proof", "--event", &mid, "--checkpoint", &cp_s], &root))
            .collect(),
    );
    let small_proof = median(
        (0..5)
            .map(|_| run(&["proof", "--event", "5"], &small_root))
            .collect(),
    );
    println!(
        "  cairn proof --event {mid}: {} at {n} events, {} at 10 events: ratio {:.2}; {:.4} of a rebuild",
        ms(proof),
        ms(small_proof),
        proof.as_secs_f64() / small_proof.as_secs_f64(),
        proof.as_secs_f64() / rebuild.as_secs_f64()
    );
    let pub_s = format!("{key_s}.pub");
    let audit = run(
        &["audit", "--checkpoint", &cp_s, "--key", &pub_s, "--json"],
        &root,
    );
    println!(
        "  cairn audit --checkpoint (reads and re-hashes the whole log): {}: {:.2} of a rebuild",
        ms(audit),
        audit.as_secs_f64() / rebuild.as_secs_f64()
    );
}
