//! Builds a large archive fixture for the scale benchmarks (bench/scale.py) fast: N items
//! of F small files each, every bag, register entry and event rendered by Cairn's own
//! library (the bag builder, `RegisterEntry`, `addition_events`, the event log's
//! chaining), but written straight to disk without fsync and without the per-item
//! read-back that a real ingest does. The result is an archive `cairn audit` passes.
//!
//! ```text
//! cargo run --release --example gen_archive -- ROOT ITEMS [--files F] [--size BYTES] [--rounds R]
//! ```
//!
//! Each item gets the events a real ingest writes (message digest calculation,
//! validation, ingestion) followed by R `fixity check` events (default 7: ten events an
//! item). Times are in the past and in order: the ingestions, then R rounds of checks,
//! each round spread over 50 days, the last ending half a day ago, so that with the
//! default 90-day interval nothing is due, and with `CAIRN_FIXITY_INTERVAL_DAYS=50` the
//! oldest 1 % of the last round is due.
//!
//! A fixture, not an archive to trust: nothing is fsynced (write it to a fresh folder,
//! use it, delete it).

use std::io::Write;
use std::path::{Path, PathBuf};

use cairn::bagit::builder::BagBuilder;
use cairn::bagit::BagPath;
use cairn::digest::{hash_reader, Algorithm, Digests};
use cairn::fs::archive::Archive;
use cairn::fs::events::{line_digest, Event, NewEvent, GENESIS};
use cairn::fs::register::{DigestMap, FileRecord, RegisterEntry};
use cairn::metadata::{render_oai_dc, DublinCore, Term};
use cairn::vocab::{EventType, Outcome};
use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;

struct Args {
    root: PathBuf,
    items: usize,
    files: usize,
    size: usize,
    rounds: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let root = it
        .next()
        .ok_or("usage: gen_archive ROOT ITEMS [--files F] [--size BYTES] [--rounds R]")?;
    let items = it
        .next()
        .ok_or("ITEMS missing")?
        .parse()
        .map_err(|e| format!("ITEMS: {e}"))?;
    let mut args = Args {
        root: PathBuf::from(root),
        items,
        files: 1,
        size: 1024,
        rounds: 7,
    };
    while let Some(flag) = it.next() {
        let value: usize = it
            .next()
            .ok_or(format!("{flag} needs a value"))?
            .parse()
            .map_err(|e| format!("{flag}: {e}"))?;
        match flag.as_str() {
            "--files" => args.files = value,
            "--size" => args.size = value,
            "--rounds" => args.rounds = value,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(args)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("gen_archive: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let t0 = std::time::Instant::now();
    Archive::init(&args.root)?;
    let archive = Archive::open(&args.root)?;
    let algorithms = archive.config.algorithms()?;
    let prefix = archive.config.ingest.identifier_prefix.clone();
    let now = Utc::now();
    // Phase k (0: ingestion, 1..=rounds: fixity) spans 50 days from start + k × 55 days.
    let span = Duration::days(50);
    let start = now - Duration::hours(12) - span - Duration::days(55) * args.rounds as i32;
    let at = |phase: usize, i: usize| -> DateTime<Utc> {
        start
            + Duration::days(55) * phase as i32
            + Duration::milliseconds(span.num_milliseconds() * i as i64 / args.items.max(1) as i64)
    };

    let log_path = archive.events_path();
    let mut log = Log::new(&log_path)?;
    let ids: Vec<String> = (1..=args.items)
        .map(|i| format!("{prefix}{i:06}"))
        .collect();
    let mut summaries: Vec<(u64, u64)> = Vec::with_capacity(args.items);
    // Bags and entries in parallel, a chunk at a time; the log (a chain) in order.
    for chunk in (0..args.items).collect::<Vec<_>>().chunks(5_000) {
        let made: Vec<Result<(RegisterEntry, Vec<NewEvent>), String>> = chunk
            .par_iter()
            .map(|&i| make_item(&archive, &args, &algorithms, &ids[i], i, at(0, i)))
            .collect();
        for (k, m) in made.into_iter().enumerate() {
            let (entry, events) = m?;
            let i = chunk[k];
            summaries.push((
                entry.files.len() as u64,
                entry.files.iter().map(|f| f.size).sum(),
            ));
            for e in events {
                log.push(e, at(0, i))?;
            }
        }
    }
    let algs = serde_json::to_value([algorithms[0]])?;
    for round in 1..=args.rounds {
        for (i, id) in ids.iter().enumerate() {
            let (files, bytes) = summaries[i];
            let detail = format!(
                "{}, {}: every {} checksum matches the manifests and the register",
                cairn::units::count(files, "file", "files"),
                cairn::units::count(bytes, "byte", "bytes"),
                algorithms[0].name()
            );
            let e = NewEvent::new(EventType::FixityCheck, Outcome::Success, id, detail).with_data(
                serde_json::json!({
                    "files": files, "bytes": bytes, "algorithms": algs,
                    "failures": [], "errors": [],
                }),
            );
            log.push(e, at(round, i))?;
        }
    }
    log.finish()?;
    archive.rebuild_merkle_tree()?;
    eprintln!(
        "gen_archive: {} items, {} events in {:.1} s",
        args.items,
        log.seq,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One item: its bag (payload and the tag files the bag builder renders, as ingest
/// writes them), its register entry, and the events of its ingestion.
fn make_item(
    archive: &Archive,
    args: &Args,
    algorithms: &[Algorithm],
    id: &str,
    i: usize,
    when: DateTime<Utc>,
) -> Result<(RegisterEntry, Vec<NewEvent>), String> {
    let err = |e: &dyn std::fmt::Display| format!("{id}: {e}");
    let bag = archive.bag_path(id);
    let data = bag.join("data");
    std::fs::create_dir_all(&data).map_err(|e| err(&e))?;
    std::fs::create_dir_all(bag.join("metadata")).map_err(|e| err(&e))?;
    let name = format!("scan-{i:06}");
    let mut record = DublinCore::new();
    let term = |t: &str| Term::parse(t).map_err(|e| err(&e));
    record.push(
        term("dc.title")?,
        format!("Synthetic prisoner record {i} (scale fixture)"),
    );
    record.push(term("dc.type")?, "Text");
    record.push(term("dc.date")?, "1977");
    record.push(term("dc.language")?, "km");

    let mut buf = vec![0u8; 64 * 1024];
    let mut payload: Vec<(BagPath, Digests)> = Vec::new();
    let mut content = vec![0u8; args.size];
    for f in 0..args.files {
        // Distinct bytes per file, so that no two payloads are alike.
        let mut h = blake3::Hasher::new();
        h.update(&(i as u64).to_le_bytes())
            .update(&(f as u64).to_le_bytes());
        h.finalize_xof().fill(&mut content);
        let rel = format!("page-{f:03}.bin");
        std::fs::write(data.join(&rel), &content).map_err(|e| err(&e))?;
        let d = hash_reader(&content[..], algorithms, &mut buf).map_err(|e| err(&e))?;
        payload.push((
            BagPath::parse(&format!("data/{rel}")).map_err(|e| err(&e))?,
            d,
        ));
    }
    let title = record.title().unwrap_or_default().to_string();
    let info = vec![
        ("External-Identifier".to_string(), id.to_string()),
        ("External-Description".to_string(), title),
        ("Internal-Sender-Identifier".to_string(), name.clone()),
    ];
    let extra = vec![
        (
            "metadata/dc.xml".to_string(),
            render_oai_dc(&record).into_bytes(),
        ),
        (
            "metadata/dc.json".to_string(),
            record.render_json().into_bytes(),
        ),
    ];
    let listed: Vec<(&BagPath, &Digests)> = payload.iter().map(|(p, d)| (p, d)).collect();
    let tags = BagBuilder {
        algorithms,
        bagging_date: when.date_naive(),
        info: &info,
        extra_tags: &extra,
    }
    .render(&listed)
    .map_err(|e| err(&e))?;
    for (tag, bytes) in &tags.files {
        std::fs::write(bag.join(tag), bytes).map_err(|e| err(&e))?;
    }
    let entry = RegisterEntry {
        id: id.to_string(),
        archived: when.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        software: cairn::agent(),
        intake_name: name,
        bag: format!("archive/{id}"),
        entry_version: 1,
        updated: None,
        version: 1,
        extra: Default::default(),
        bagit_version: "1.0".into(),
        payload_oxum: tags.payload_oxum.clone(),
        dublin_core: record.clone().into(),
        files: payload
            .iter()
            .map(|(p, d)| FileRecord {
                path: p.as_str().to_string(),
                size: d.len,
                mime: "application/octet-stream".into(),
                digests: DigestMap::new(d.values.clone()),
                format: None,
                techmd: None,
                validation: None,
                qc: None,
                extra: Default::default(),
            })
            .collect(),
        format_registry: None,
        tag_files: tags
            .digests
            .iter()
            .map(|(n, d)| (n.clone(), DigestMap::of(d)))
            .collect(),
    };
    let mut json = serde_json::to_vec_pretty(&entry).map_err(|e| err(&e))?;
    json.push(b'\n');
    std::fs::write(archive.register_path(id), json).map_err(|e| err(&e))?;
    let events = cairn::ops::commit::addition_events(&entry, "", None, serde_json::Value::Null);
    Ok((entry, events))
}

/// The event log, written in one pass, chained as `fs::events::append` chains it.
struct Log {
    out: std::io::BufWriter<std::fs::File>,
    seq: u64,
    prev: String,
}

impl Log {
    fn new(path: &Path) -> std::io::Result<Log> {
        Ok(Log {
            out: std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?),
            seq: 0,
            prev: GENESIS.to_string(),
        })
    }

    fn push(&mut self, e: NewEvent, time: DateTime<Utc>) -> Result<(), Box<dyn std::error::Error>> {
        self.seq += 1;
        let event = Event {
            seq: self.seq,
            id: uuid::Uuid::new_v4().to_string(),
            event_type: e.event_type,
            time: time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            outcome: e.outcome,
            detail: e.detail,
            object: e.object,
            agent: cairn::agent(),
            data: e.data,
            prev: std::mem::take(&mut self.prev),
        };
        let line = serde_json::to_vec(&event)?;
        self.prev = line_digest(&line);
        self.out.write_all(&line)?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
