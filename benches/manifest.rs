//! Micro-benchmarks of the manifest parser and renderer (issue 6), so that a slower
//! parse of a million-line manifest shows up as a regression.
//!
//!     cargo bench --bench manifest
//!
//! criterion prints each case's time and its change against the previous run.

use cairn::bagit::manifest::{parse_manifest, render_manifest};
use cairn::bagit::{BagPath, Version};
use cairn::digest::{Algorithm, Digest};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

/// A manifest of `n` lines as Cairn writes them: SHA-512 digests, paths in folders,
/// a few needing percent-encoding, some non-ASCII.
fn manifest_text(n: usize) -> String {
    let entries: Vec<(BagPath, Digest)> = (0..n)
        .map(|i| {
            let name = match i % 50 {
                0 => format!("data/box-{:03}/page {i:06} 100%.tif", i % 200),
                1 => format!("data/box-{:03}/ទួលស្លែង-{i:06}.txt", i % 200),
                _ => format!("data/box-{:03}/page-{i:06}.tif", i % 200),
            };
            let mut raw = [0u8; 64];
            for (k, b) in raw.iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(31).wrapping_add(k as u8);
            }
            let path = BagPath::parse(&name).expect("valid bag path");
            (path, Digest::from_bytes(&raw).expect("64 bytes"))
        })
        .collect();
    render_manifest(entries.iter().map(|(p, d)| (p, d)))
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_manifest");
    for n in [1_000usize, 100_000] {
        let text = manifest_text(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("sha512 lines", n), &text, |b, text| {
            b.iter(|| {
                let (entries, issues) =
                    parse_manifest(black_box(text), Some(Algorithm::Sha512), Version::V1_0);
                assert!(issues.is_empty());
                entries.len()
            })
        });
    }
    group.finish();
}

fn render(c: &mut Criterion) {
    let n = 100_000;
    let text = manifest_text(n);
    let (entries, _) = parse_manifest(&text, Some(Algorithm::Sha512), Version::V1_0);
    let mut group = c.benchmark_group("render_manifest");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("100000 sha512 lines", |b| {
        b.iter(|| render_manifest(entries.iter().map(|e| (&e.path, &e.digest))).len())
    });
    group.finish();
}

criterion_group!(benches, parse, render);
criterion_main!(benches);
