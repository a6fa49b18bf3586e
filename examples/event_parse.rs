//! Throughput of the event log's readers on a log on disk (bench/event_parse.sh runs it
//! beside its peers): the chain check alone and every fold the commands run, each
//! timed over the whole log, best of `--runs`.
//!
//! ```text
//! cargo run --release --example event_parse -- LOG [--runs R]
//! cargo run --release --example event_parse -- --generate LOG LINES
//! ```
//!
//! `--generate` writes a chained log of LINES events shaped as examples/gen_archive
//! writes them (per item an ingestion's three events with their data, then seven
//! `fixity check` events), much faster than building the archive around it. Each case
//! prints `case seconds lines lines_per_second`.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use cairn::fs::events::{
    fold_log_audit, fold_log_brief, fold_log_from, line_digest, read_log, verify_links, Event,
    LogCursor, GENESIS,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--generate") if args.len() == 3 => args[2]
            .parse()
            .map_err(|e| format!("LINES: {e}"))
            .and_then(|n| generate(Path::new(&args[1]), n)),
        Some(log) if !log.starts_with('-') => {
            let runs = match args.get(1).map(String::as_str) {
                Some("--runs") => args.get(2).and_then(|r| r.parse().ok()).unwrap_or(3),
                _ => 3,
            };
            measure(Path::new(log), runs)
        }
        _ => Err("usage: event_parse LOG [--runs R] | event_parse --generate LOG LINES".into()),
    };
    if let Err(e) = result {
        eprintln!("event_parse: {e}");
        std::process::exit(2);
    }
}

/// The best of `runs` timings of `f`, which returns the lines it read.
fn best(runs: usize, mut f: impl FnMut() -> Result<usize, String>) -> Result<(f64, usize), String> {
    let mut out = (f64::MAX, 0);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let lines = f()?;
        out = (out.0.min(t.elapsed().as_secs_f64()), lines);
    }
    Ok(out)
}

fn measure(log: &Path, runs: usize) -> Result<(), String> {
    let e = |e: cairn::error::Error| e.to_string();
    type Case<'a> = (&'a str, Box<dyn FnMut() -> Result<usize, String> + 'a>);
    let cases: Vec<Case> = vec![
        (
            "links (verify_links over the bytes read whole)",
            Box::new(|| {
                let bytes = std::fs::read(log).map_err(|e| e.to_string())?;
                Ok(verify_links(&bytes).lines)
            }),
        ),
        (
            "brief (fold_log_brief: fixity plan, list, ingest start-up)",
            Box::new(|| {
                let mut n = 0usize;
                let r = fold_log_brief(log, |b| n += b.object.len()).map_err(e)?;
                std::hint::black_box(n);
                Ok(r.lines)
            }),
        ),
        (
            "audit (fold_log_audit: audit)",
            Box::new(|| {
                let mut n = 0usize;
                let r = fold_log_audit(log, |a, _| n += a.tag_manifests.is_some() as usize)
                    .map_err(e)?;
                std::hint::black_box(n);
                Ok(r.lines)
            }),
        ),
        (
            "from (fold_log_from: serve)",
            Box::new(|| {
                let mut file = std::fs::File::open(log).map_err(|e| e.to_string())?;
                let mut cursor = LogCursor::default();
                fold_log_from(&mut file, &mut cursor, |l| {
                    std::hint::black_box(l.offset);
                })
                .map_err(|e| e.to_string())?;
                Ok(cursor.lines)
            }),
        ),
        (
            "full (read_log: every event parsed and kept)",
            Box::new(|| Ok(read_log(log).map_err(e)?.events.len())),
        ),
    ];
    for (name, mut f) in cases {
        let (secs, lines) = best(runs, &mut f)?;
        println!("{name}\t{secs:.3}\t{lines}\t{:.0}", lines as f64 / secs);
    }
    Ok(())
}

/// Writes a chained log of `lines` events (see the module comment).
fn generate(path: &Path, lines: usize) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut prev = GENESIS.to_string();
    for i in 0..lines {
        let item = i / 10;
        let (event_type, detail, data) = match i % 10 {
            0 => (
                "message digest calculation",
                "3 files hashed (blake3, sha512)".to_string(),
                serde_json::json!({"files": 3, "bytes": 3072, "algorithms": ["blake3", "sha512"]}),
            ),
            1 => (
                "validation",
                "bag valid (RFC 8493)".to_string(),
                serde_json::Value::Null,
            ),
            2 => (
                "ingestion",
                format!("ingested from intake/folder-{item:06}"),
                serde_json::json!({
                    "version": 1,
                    "tag_manifests": {"tagmanifest-blake3.txt": format!("{:064x}", i * 7919)},
                    "register_files": {format!("cairn-{:06}.json", item + 1): format!("{:064x}", i * 104729)},
                }),
            ),
            _ => (
                "fixity check",
                "3 files, 3072 bytes: every blake3 checksum matches the manifests and the register"
                    .to_string(),
                serde_json::json!({"files": 3, "bytes": 3072, "algorithms": ["blake3"], "failures": [], "errors": []}),
            ),
        };
        let event = Event {
            seq: i as u64 + 1,
            id: format!("{:08x}-7c1e-4b5a-9d2f-{:012x}", i, i * 7919),
            event_type: event_type.into(),
            time: format!(
                "2027-{:02}-{:02}T03:{:02}:{:02}.000Z",
                i % 12 + 1,
                i % 28 + 1,
                i % 60,
                i % 60
            ),
            outcome: "success".into(),
            detail,
            object: format!("cairn-{:06}", item + 1),
            agent: "Cairn 0.1.0".into(),
            data,
            prev: prev.clone(),
        };
        let line = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
        prev = line_digest(&line);
        out.write_all(&line)
            .and_then(|_| out.write_all(b"\n"))
            .map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}
