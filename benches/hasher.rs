//! Micro-benchmarks of the multi-digest hasher (issue 6): the per-byte cost of each
//! algorithm alone, of Cairn's default pair (BLAKE3 + SHA-512) in one pass, and the
//! per-file overhead on 8 KiB inputs, so a regression in either shows.
//!
//!     cargo bench --bench hasher
//!
//! The 1 MiB cases feed one chunk, so they take MultiHasher's multi-threaded path;
//! the 8 KiB cases the single-threaded one.

use cairn::digest::{hash_reader, Algorithm, MultiHasher, BUF_SIZE};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

fn sets() -> Vec<(&'static str, Vec<Algorithm>)> {
    vec![
        ("blake3", vec![Algorithm::Blake3]),
        ("sha256", vec![Algorithm::Sha256]),
        ("sha512", vec![Algorithm::Sha512]),
        ("blake3+sha512", vec![Algorithm::Blake3, Algorithm::Sha512]),
    ]
}

fn one_chunk(c: &mut Criterion) {
    let mut group = c.benchmark_group("multihasher 1 MiB chunk");
    let input = data(1 << 20);
    group.throughput(Throughput::Bytes(input.len() as u64));
    for (name, algs) in sets() {
        group.bench_with_input(BenchmarkId::from_parameter(name), &algs, |b, algs| {
            b.iter(|| {
                let mut h = MultiHasher::new(algs);
                h.update(black_box(&input));
                h.finish()
            })
        });
    }
    group.finish();
}

fn small_files(c: &mut Criterion) {
    let mut group = c.benchmark_group("hash_reader 8 KiB file");
    let input = data(8 * 1024);
    let mut buf = vec![0u8; BUF_SIZE];
    group.throughput(Throughput::Bytes(input.len() as u64));
    for (name, algs) in sets() {
        group.bench_with_input(BenchmarkId::from_parameter(name), &algs, |b, algs| {
            b.iter(|| hash_reader(black_box(&input[..]), algs, &mut buf))
        });
    }
    group.finish();
}

criterion_group!(benches, one_chunk, small_files);
criterion_main!(benches);
