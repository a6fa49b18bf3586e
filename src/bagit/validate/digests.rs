//! The digest stage: each file read once for all its algorithms, files in parallel
//! (when the source allows), small tag files hashed from the bytes already read.

use std::io;
use std::ops::Range;

use rayon::prelude::*;

thread_local! {
    /// The read buffer of each pool thread, reused from bag to bag.
    static BUFFER: std::cell::Cell<Option<Vec<u8>>> = const { std::cell::Cell::new(None) };
}

use super::super::finding::FindingKind;
use super::manifests::{wanted, Expected, Manifests};
use super::{record_read_error, Run, ValidateOptions};
use crate::digest::{Algorithm, Digest, Digests, BUF_SIZE};

/// Hashes every file an expectation names and reports each digest that differs.
pub(super) fn verify(
    run: &mut Run,
    manifests: &Manifests,
    expected: Expected,
    opts: &ValidateOptions,
) {
    let (manifest_files, payload_manifests) = (&manifests.files, &manifests.payload);
    let (index, tag_bytes, source) = (&run.index, &run.tag_bytes, run.source);
    let verifiable = payload_manifests
        .iter()
        .any(|m| m.1.is_some_and(|a| wanted(opts, a)));
    if !payload_manifests.is_empty() && !verifiable {
        run.f.problem(
            "manifest-*.txt",
            FindingKind::AlgorithmUnsupported,
            "no payload manifest uses an algorithm Cairn can verify, so no payload digest was checked",
        );
    }
    let mut expected = expected;
    expected.list.sort_by_key(|x| x.file);
    let expect = &expected.list;
    let mut jobs: Vec<Range<usize>> = Vec::new();
    for (i, x) in expect.iter().enumerate() {
        match jobs.last_mut() {
            Some(r) if expect[r.start].file == x.file => r.end = i + 1,
            _ => jobs.push(i..i + 1),
        }
    }
    struct Checked {
        mismatches: Vec<(Algorithm, Digest, Digest, u16)>,
        digests: Option<Digests>,
        error: Option<io::Error>,
    }
    let keep = opts.keep_digests;
    // Progress counts payload files, and the bytes of everything read.
    let _pass = crate::progress::phase(
        "verify",
        jobs.iter()
            .filter(|r| index.name(expect[r.start].file).starts_with("data/"))
            .count() as u64,
        jobs.iter()
            .map(|r| index.sizes[expect[r.start].file as usize])
            .sum(),
    );
    let hash_one = |buf: &mut Vec<u8>, range: &Range<usize>| -> Checked {
        let wants = &expect[range.clone()];
        let path = index.name(wants[0].file);
        let mut algs: Vec<Algorithm> = wants.iter().map(|w| w.alg).collect();
        algs.sort();
        algs.dedup();
        let result = match tag_bytes.get(&wants[0].file) {
            Some(bytes) => crate::digest::hash_reader(&bytes[..], &algs, buf),
            None => source.hash(path, &algs, buf),
        };
        if path.starts_with("data/") {
            crate::progress::file_done();
        }
        match result {
            Ok(digests) => Checked {
                mismatches: wants
                    .iter()
                    .filter_map(|w| {
                        let got = *digests.get(w.alg)?;
                        let want = expected.digest(w);
                        (got != want).then_some((w.alg, want, got, w.manifest))
                    })
                    .collect(),
                digests: keep.then_some(digests),
                error: None,
            },
            Err(e) => Checked {
                mismatches: Vec::new(),
                digests: None,
                error: Some(e),
            },
        }
    };
    // Only what has something to say is kept (a mismatch, an error, or the digests
    // when asked for): a valid bag of a million files keeps nothing here.
    let worth_keeping =
        |c: &Checked| !c.mismatches.is_empty() || c.error.is_some() || c.digests.is_some();
    let results: Vec<(usize, Checked)> = if source.parallel() {
        jobs.par_iter()
            .enumerate()
            .filter_map(|(j, job)| {
                // One buffer per pool thread, kept between bags: a fresh zeroed 256 KiB
                // per rayon split cost 7 % of a fixity run over small bags (perf).
                // Taken out while in use, so a nested job on the same thread (work
                // stealing inside a hash) gets its own instead of sharing it.
                let mut buf = BUFFER
                    .with(|b| b.take())
                    .unwrap_or_else(|| vec![0u8; BUF_SIZE]);
                let checked = hash_one(&mut buf, job);
                BUFFER.with(|b| b.set(Some(buf)));
                worth_keeping(&checked).then_some((j, checked))
            })
            .collect()
    } else {
        let mut buf = vec![0u8; BUF_SIZE];
        jobs.iter()
            .enumerate()
            .filter_map(|(j, job)| {
                let checked = hash_one(&mut buf, job);
                worth_keeping(&checked).then_some((j, checked))
            })
            .collect()
    };
    for (j, checked) in results {
        let range = &jobs[j];
        let path = index.name(expect[range.start].file);
        if let Some(e) = checked.error {
            record_read_error(path, &e, &mut run.f, &mut run.errors);
            continue;
        }
        for (alg, want, got, m) in checked.mismatches {
            run.f.digest_mismatch(
                path,
                alg.name(),
                want.to_hex(),
                got.to_hex(),
                &manifest_files[m as usize].1,
            );
        }
        if let Some(d) = checked.digests {
            run.report.computed.insert(path.to_string(), d.values);
        }
    }
}
