//! Throughput of the event log's chain verification (issue 12): every command that
//! appends to the log (ingest, import, fixity, export) verifies the whole chain first,
//! so its cost on a large log must stay small. Target: at least 1,000,000 lines per
//! second on a 1,000,000-line log.
//!
//!     cargo bench --bench chain
//!
//! The log is built in memory as Cairn writes it: one `fixity check` event per line
//! (the commonest kind in a long-lived archive), with its data, each chained to the
//! BLAKE3 of the line before. criterion prints the time per verification and the
//! lines per second, for the chain check alone (`verify_links`), the check with every
//! event parsed (`verify_chain`), and a peer: BLAKE3 of each line, serially.

use cairn::fs::events::{line_digest, verify_chain, verify_links, Event, GENESIS};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use std::hint::black_box;

const LINES: usize = 1_000_000;

fn log(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 600);
    let mut prev = GENESIS.to_string();
    for i in 0..n {
        let id = format!("cairn-{:06}", i % 20_000 + 1);
        let event = Event {
            seq: i as u64 + 1,
            id: format!("{:08x}-7c1e-4b5a-9d2f-{:012x}", i, i * 7919),
            event_type: "fixity check".into(),
            time: format!(
                "2027-{:02}-{:02}T03:{:02}:{:02}.000Z",
                i % 12 + 1,
                i % 28 + 1,
                i % 60,
                i % 60
            ),
            outcome: "success".into(),
            detail:
                "3 files, 2239 bytes: every blake3 checksum matches the manifests and the register"
                    .into(),
            object: id,
            agent: "Cairn 0.1.0".into(),
            data: serde_json::json!({
                "files": 3,
                "bytes": 2239,
                "algorithms": ["blake3"],
                "failures": [],
                "errors": [],
            }),
            prev: prev.clone(),
        };
        let line = serde_json::to_vec(&event).unwrap();
        prev = line_digest(&line);
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    out
}

fn chain(c: &mut Criterion) {
    let bytes = log(LINES);
    let check = verify_chain(&bytes);
    assert!(check.broken.is_none(), "{:?}", check.broken);
    assert_eq!(check.lines, LINES);
    eprintln!(
        "chain: {LINES} lines, {} bytes ({} bytes a line)",
        bytes.len(),
        bytes.len() / LINES
    );
    let links = verify_links(&bytes);
    assert!(links.broken.is_none() && links.lines == LINES && links.head == check.head);
    let mut group = c.benchmark_group("event log chain");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(LINES as u64));
    // The peer: BLAKE3 of every line, one after the other, and nothing else: the floor
    // of any check of the chain.
    group.bench_function("peer: blake3 of each line, serial", |b| {
        b.iter(|| {
            black_box(&bytes)
                .split(|&c| c == b'\n')
                .map(|l| blake3::hash(l).as_bytes()[0] as u64)
                .sum::<u64>()
        })
    });
    // Where the chain check's time goes, one thread: finding seq and prev in each line.
    group.bench_function("parts: serde_json seq and prev of each line, serial", |b| {
        #[derive(serde::Deserialize)]
        struct Link<'a> {
            seq: u64,
            #[serde(borrow)]
            prev: std::borrow::Cow<'a, str>,
        }
        b.iter(|| {
            black_box(&bytes)
                .split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    serde_json::from_slice::<Link>(l).map_or(0, |k| k.seq + k.prev.len() as u64)
                })
                .sum::<u64>()
        })
    });
    // What every appending command runs first.
    group.bench_function("verify_links (the chain check)", |b| {
        b.iter(|| verify_links(black_box(&bytes)))
    });
    // The check plus every event parsed and kept (fixity and audit read them).
    group.bench_function("verify_chain (check and parse every event)", |b| {
        b.iter(|| verify_chain(black_box(&bytes)))
    });
    group.finish();
}

criterion_group!(benches, chain);
criterion_main!(benches);
