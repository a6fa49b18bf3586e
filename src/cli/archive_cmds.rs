//! The archive commands: init, ingest, show, list, export, import, config.

use std::path::{Path, PathBuf};

use cairn::clock::SystemClock;
use cairn::fs::archive::Archive;
use cairn::ops::ingest::{ingest, IngestOptions, IngestReport, Outcome};
use cairn::ops::show::{list, show, ShowReport};
use cairn::units::count;

use super::args::{ConfigArgs, ExportArgs, ImportArgs, IngestArgs, InitArgs, ListArgs, ShowArgs};
use super::common::{
    archive_name, archive_root, finding_line, note, open_archive, print_json, printable, quiet, say,
};
use super::outcome::{error_exit, exit, exit_code};
use super::progress::with_progress;

pub(super) fn run_init(args: InitArgs) -> u8 {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from("."));
    match Archive::init(&dir) {
        Ok(report) => {
            if args.json {
                print_json(&report);
            } else {
                say!("created {}", report.config.display());
                for d in &report.created {
                    say!("created {}/", d.display());
                }
                say!(
                    "next: put items in {}/ with a metadata.csv, then run `cairn ingest --root {}`",
                    dir.join("intake").display(),
                    dir.display()
                );
            }
            exit::OK
        }
        Err(e) => error_exit("init", &e),
    }
}

pub(super) fn run_ingest(args: IngestArgs) -> u8 {
    if let Some(intake) = &args.intake {
        if let Err(code) = super::common::require_exists("ingest", "intake folder", intake) {
            return code;
        }
    }
    let archive = match open_archive(&args.root, "ingest") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let opts = IngestOptions {
        intake: args.intake,
        dry_run: args.dry_run,
        remove_source: args.remove_source,
        allow_duplicate_of: args.allow_duplicate_of,
        ..IngestOptions::default()
    };
    let started = std::time::Instant::now();
    let report = match with_progress("ingest", || ingest(&archive, &opts, &SystemClock)) {
        Ok(r) => r,
        Err(e) => return error_exit("ingest", &e),
    };
    let ingested = report
        .items
        .iter()
        .filter(|i| i.outcome == Outcome::Ingested)
        .count();
    let refused = report
        .items
        .iter()
        .filter(|i| i.outcome == Outcome::Refused)
        .count();
    tracing::info!(
        items = report.items.len(),
        ingested,
        refused,
        failures = refused + report.sheet_problems.len(),
        files = report.items.iter().map(|i| i.files).sum::<u64>(),
        bytes = report.items.iter().map(|i| i.bytes).sum::<u64>(),
        seconds = started.elapsed().as_secs_f64(),
        "ingest finished"
    );
    if args.json {
        print_json(&report);
    } else {
        print_ingest(&archive.root, &report);
    }
    let code = exit_code(&report);
    super::after_write::report(&report.after_write, "ingest", code)
}

/// From this many items refused for one reason, the report groups them.
const GROUP_FROM: usize = 5;

/// Up to this many already archived items are listed one per line; more are one line.
const ARCHIVED_LISTED_UP_TO: usize = 10;

/// `; excluded A, B` naming every file `ingest.exclude` left out of an item.
fn excluded_note(excluded: &[String]) -> String {
    if excluded.is_empty() {
        return String::new();
    }
    let names: Vec<String> = excluded.iter().map(|e| printable(e)).collect();
    format!("; excluded {}", names.join(", "))
}

/// `; a duplicate of A, B (--allow-duplicate-of)` for an item admitted on purpose.
fn duplicate_note(of: &[String]) -> String {
    if of.is_empty() {
        return String::new();
    }
    format!("; a duplicate of {} (--allow-duplicate-of)", of.join(", "))
}

/// The ingest report in text, in the order the run went: what it noted before the
/// items ([`print_run_notes`]), the already archived items when many
/// ([`print_archived_group`]), each item or group of items refused for one reason
/// ([`print_item`]), then the summary line ([`print_ingest_summary`]).
fn print_ingest(root: &Path, r: &IngestReport) {
    print_run_notes(r);
    // Identical problems are grouped: 2,000 items refused for one reason are one
    // paragraph naming a few of them, not 2,000 (the JSON report lists every item).
    let mut groups: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for item in &r.items {
        if let Some(t) = refusal_template(item) {
            groups.entry(t).or_default().push(item.name.as_str());
        }
    }
    groups.retain(|_, names| names.len() >= GROUP_FROM);
    let mut grouped_shown = std::collections::BTreeSet::new();
    let group_archived = print_archived_group(r);
    for item in &r.items {
        let name = printable(&item.name);
        if item.outcome != Outcome::Refused {
            for w in &item.warnings {
                errln!("warning: {name}: {}", printable(w));
            }
        }
        if let Some(t) = refusal_template(item).filter(|t| groups.contains_key(t)) {
            if grouped_shown.insert(t.clone()) {
                let names = &groups[&t];
                let shown: Vec<String> = names.iter().take(3).map(|n| printable(n)).collect();
                errln!(
                    "refused {} for the same reason: {} and {} more:",
                    count(names.len() as u64, "item", "items"),
                    shown.join(", "),
                    names.len() - shown.len()
                );
                errln!("  problem: {}", printable(&t));
            }
            continue;
        }
        if !(item.outcome == Outcome::AlreadyArchived && group_archived) {
            print_item(item, &name);
        }
    }
    print_ingest_summary(root, r);
}

/// What the run noted before any item: recovered transactions, problems in the sheet,
/// entries of the intake folder that are not items.
fn print_run_notes(r: &IngestReport) {
    for n in &r.recovered {
        note!("recovered: {n}");
    }
    for p in &r.sheet_problems {
        errln!("problem: {}", printable(p));
    }
    for n in &r.skipped {
        note!(
            "skipped {}: not an item (left by the operating system or an office program; ingest.exclude in cairn.toml)",
            printable(n)
        );
    }
}

/// A refused item's one problem with its name replaced by `<item>`: the key under
/// which items refused for the same reason are grouped.
fn refusal_template(item: &cairn::ops::ingest::ItemReport) -> Option<String> {
    match item.problems.as_slice() {
        [one] if item.outcome == Outcome::Refused && one.contains(item.name.as_str()) => {
            Some(one.replace(item.name.as_str(), "<item>"))
        }
        _ => None,
    }
}

/// More than [`ARCHIVED_LISTED_UP_TO`] items already archived are one line naming a
/// few; returns whether they were (and are then not listed one by one).
fn print_archived_group(r: &IngestReport) -> bool {
    let archived: Vec<&cairn::ops::ingest::ItemReport> = r
        .items
        .iter()
        .filter(|i| i.outcome == Outcome::AlreadyArchived)
        .collect();
    let group_archived = archived.len() > ARCHIVED_LISTED_UP_TO;
    if group_archived {
        let shown: Vec<String> = archived
            .iter()
            .take(3)
            .map(|i| {
                format!(
                    "{} as {}",
                    printable(&i.name),
                    i.id.as_deref().unwrap_or("-")
                )
            })
            .collect();
        let removed = archived.iter().filter(|i| i.removed_source).count();
        say!(
            "skipped {} already archived: {} and {} more{}",
            count(archived.len() as u64, "item", "items"),
            shown.join(", "),
            archived.len() - shown.len(),
            if removed > 0 {
                format!(" ({removed} intake copies removed)")
            } else {
                String::new()
            }
        );
    }
    group_archived
}

/// One item's line (or lines, for a refusal), by its outcome; `name` is printable.
fn print_item(item: &cairn::ops::ingest::ItemReport, name: &str) {
    let id = item.id.as_deref().unwrap_or("-");
    match item.outcome {
        Outcome::Ingested => say!(
            "ingested {name} as {id}: {}, {}{}{}{}",
            count(item.files, "file", "files"),
            count(item.bytes, "byte", "bytes"),
            excluded_note(&item.excluded),
            duplicate_note(&item.duplicate_of),
            if item.removed_source {
                " (intake copy removed)"
            } else {
                ""
            }
        ),
        Outcome::WouldIngest => say!(
            "would ingest {name} as {id}: {}, {}{}{}",
            count(item.files, "file", "files"),
            count(item.bytes, "byte", "bytes"),
            excluded_note(&item.excluded),
            duplicate_note(&item.duplicate_of)
        ),
        Outcome::AlreadyArchived => say!(
            "skipped {name}: already archived as {}{}",
            match item.version {
                Some(v) => format!("version {v} of {id} (kept; the item was revised since)"),
                None => id.to_string(),
            },
            if item.removed_source {
                " (intake copy removed)"
            } else {
                ""
            }
        ),
        Outcome::Refused => {
            errln!("refused {name}:");
            for w in &item.warnings {
                errln!("  warning: {}", printable(w));
            }
            for p in &item.problems {
                errln!("  problem: {}", printable(p));
            }
        }
    }
}

/// The summary line: what was ingested, already archived, refused (hidden by
/// `--quiet` when all went well).
fn print_ingest_summary(root: &Path, r: &IngestReport) {
    let count = |o: Outcome| r.items.iter().filter(|i| i.outcome == o).count();
    let root = archive_name(root);
    let verb = if r.dry_run {
        "would ingest"
    } else {
        "ingested"
    };
    let done = if r.dry_run {
        count(Outcome::WouldIngest)
    } else {
        count(Outcome::Ingested)
    };
    if quiet() && r.is_ok() {
        return;
    }
    outln!(
        "{root}: {verb} {done}, already archived {}, refused {}{}",
        count(Outcome::AlreadyArchived),
        count(Outcome::Refused),
        if r.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
}

pub(super) fn run_show(args: ShowArgs) -> u8 {
    let archive = match open_archive(&args.root, "show") {
        Ok(a) => a,
        Err(code) => return code,
    };
    match show(&archive, &args.id) {
        Ok(report) => {
            if args.premis {
                out!("{}", cairn::ops::premis::render(&report));
            } else if args.json {
                print_json(&report);
            } else {
                print_show(&report);
            }
            exit::OK
        }
        Err(e) => error_exit("show", &e),
    }
}

fn print_show(r: &ShowReport) {
    let e = &r.entry;
    if let Some(t) = &r.withdrawn {
        super::life_cmds::print_tombstone(t);
    } else {
        outln!(
            "{}  ({}{})",
            e.id,
            e.bag,
            if r.bag_present { "" } else { ", MISSING" }
        );
    }
    outln!("  intake name: {}", printable(&e.intake_name));
    outln!("  archived:    {} by {}", e.archived, e.software);
    super::life_cmds::print_versions(r);
    outln!("Dublin Core:");
    for (term, v) in e.dublin_core.lines() {
        outln!("  {term}: {}", printable(v));
    }
    outln!(
        "Files ({}, Payload-Oxum {}):",
        e.files.len(),
        e.payload_oxum
    );
    for f in &e.files {
        outln!("  {}  {} bytes  {}", printable(&f.path), f.size, f.mime);
        super::format_cmds::print_file_format(f);
        for (alg, d) in f.digests.iter() {
            outln!("      {alg} {d}");
        }
    }
    outln!("Events ({}):", r.events.len());
    for ev in &r.events {
        outln!(
            "  {}  {}  {}: {}",
            ev.time,
            ev.event_type,
            ev.outcome,
            printable(&ev.detail)
        );
    }
}

pub(super) fn run_list(args: ListArgs) -> u8 {
    let archive = match open_archive(&args.root, "list") {
        Ok(a) => a,
        Err(code) => return code,
    };
    if args.withdrawn || args.status.as_deref() == Some("withdrawn") {
        return super::life_cmds::run_list_withdrawn(&archive, args.json);
    }
    if args.format.is_none() {
        if args.json {
            return stream_list_json(&archive, args.status.as_deref());
        }
        return stream_list(&archive, args.status.as_deref());
    }
    match list(&archive, chrono::Utc::now())
        .and_then(|items| super::format_cmds::filter_list(&archive, items, args.format.as_deref()))
        .map(|items| super::life_cmds::filter_status(items, args.status.as_deref()))
    {
        Ok(items) => {
            if args.json {
                print_json(&items);
            } else {
                for i in &items {
                    print_list_line(i);
                }
                note!("{}", count(items.len() as u64, "item", "items"));
            }
            exit::OK
        }
        Err(e) => error_exit("list", &e),
    }
}

/// `list` in text: each line printed as the item index yields it.
fn stream_list(archive: &Archive, status: Option<&str>) -> u8 {
    let mut n = 0u64;
    let listed = cairn::ops::show::list_each(archive, chrono::Utc::now(), |i| {
        if status.is_none_or(|s| i.status == s) {
            print_list_line(&i);
            n += 1;
        }
    });
    match listed {
        Ok(()) => {
            note!("{}", count(n, "item", "items"));
            exit::OK
        }
        Err(e) => error_exit("list", &e),
    }
}

/// `list --json`: the array written element by element as the item index yields them
/// (the same bytes as printing the whole list at once), so that the output does not
/// hold the list. An element that cannot be written as JSON stops the list there: the
/// array is left without its `]` (not valid JSON, so not taken for the whole list), the
/// error goes to stderr, exit 3. An error reading the index comes before any output.
fn stream_list_json(archive: &Archive, status: Option<&str>) -> u8 {
    let mut array = super::out::JsonArray::new();
    let mut failed = None;
    let listed = cairn::ops::show::list_each(archive, chrono::Utc::now(), |i| {
        if failed.is_none() && status.is_none_or(|s| i.status == s) {
            failed = array.push(&i).err();
        }
    });
    let failed = listed.and_then(|()| match failed {
        None => Ok(()),
        Some(e) => Err(cairn::Error::Internal(format!(
            "cannot write an item as JSON: {e}; the list stops there, unfinished"
        ))),
    });
    match failed {
        Ok(()) => {
            array.finish();
            exit::OK
        }
        Err(e) => {
            drop(array);
            error_exit("list", &e)
        }
    }
}

fn print_list_line(i: &cairn::ops::show::ListItem) {
    outln!(
        "{}\t{}\t{}\t{}\t{}",
        i.id,
        i.archived,
        count(i.files as u64, "file", "files"),
        count(i.bytes, "byte", "bytes"),
        printable(i.title.as_deref().unwrap_or("(untitled)"))
    );
}

pub(super) fn run_export(args: ExportArgs) -> u8 {
    let archive = match open_archive(&args.root, "export") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let deposit = match deposit_for(&args, &archive) {
        Ok(d) => d,
        Err(e) => return error_exit("export", &e),
    };
    match with_progress("export", || match &deposit {
        Some(d) => cairn::ops::transfer::export_deposit(
            &archive,
            &args.id,
            args.version,
            &args.zip,
            &SystemClock,
            d,
        ),
        None => cairn::ops::transfer::export_version(
            &archive,
            &args.id,
            args.version,
            &args.zip,
            args.force,
            &SystemClock,
        ),
    }) {
        Ok(r) => {
            if !r.forced_despite.is_empty() {
                errln!(
                    "cairn: export: {} exported with --force although it fails its checks ({}); the export event records the failure",
                    r.id,
                    cairn::units::count(r.forced_despite.len() as u64, "problem", "problems")
                );
            }
            if args.json {
                print_json(&r);
            } else {
                super::life_cmds::print_precheck(&r.precheck);
                say!(
                    "exported {} to {}: {} entries ({} stored, {} deflated), {} bytes, blake3 {}",
                    r.id,
                    r.zip.display(),
                    r.entries,
                    r.stored,
                    r.deflated,
                    r.size,
                    r.zip_blake3
                );
            }
            super::after_write::report(&r.after_write, "export", exit::OK)
        }
        Err(e) => error_exit("export", &e),
    }
}

/// The profile `export` applies: `--profile`, else cairn.toml's `[profiles] export`
/// (not with `--force`, which exports the archived bag as it is).
fn deposit_for(
    args: &ExportArgs,
    archive: &cairn::fs::archive::Archive,
) -> Result<Option<cairn::ops::bag_profile::Deposit>, cairn::error::Error> {
    let configured = archive.config.profiles.export.trim();
    // A configured file is relative to the archive root; a shipped name is a name.
    let configured_path = if cairn::bagit::profile::shipped(configured).is_some() {
        configured.to_string()
    } else {
        archive.root.join(configured).to_string_lossy().into_owned()
    };
    let name = match &args.profile {
        Some(n) => n.as_str(),
        None if !configured.is_empty() && !args.force => configured_path.as_str(),
        None if !args.info.is_empty() => {
            return Err(cairn::error::Error::Usage(
                "--info is for --profile (or `[profiles] export` in cairn.toml)".into(),
            ))
        }
        None => return Ok(None),
    };
    let mut info = Vec::new();
    for raw in &args.info {
        info.push(cairn::ops::create::parse_info_arg(raw)?);
    }
    Ok(Some(cairn::ops::bag_profile::Deposit {
        chosen: cairn::ops::bag_profile::load(name)?,
        info,
    }))
}

pub(super) fn run_import(args: ImportArgs) -> u8 {
    if let Err(code) = super::common::require_exists("import", "bag", &args.source) {
        return code;
    }
    let archive = match open_archive(&args.root, "import") {
        Ok(a) => a,
        Err(code) => return code,
    };
    if cairn::ops::ocfl_import::is_ocfl_object(&args.source) {
        return super::ocfl_import_cmd::run(&archive, args);
    }
    if args.version.is_some() {
        return error_exit(
            "import",
            &cairn::error::Error::Usage(format!(
                "--version is for an OCFL object, and {} holds no 0=ocfl_object_1.1",
                args.source.display()
            )),
        );
    }
    let report = match with_progress("import", || {
        cairn::ops::transfer::import(
            &archive,
            &args.source,
            &args.allow_duplicate_of,
            &SystemClock,
        )
    }) {
        Ok(r) => r,
        Err(e) => return error_exit("import", &e),
    };
    if args.json {
        print_json(&report);
    } else {
        for n in &report.recovered {
            note!("recovered: {n}");
        }
        for p in &report.problems {
            errln!("{}", finding_line("problem", p));
        }
        for r in &report.refused {
            errln!("problem: {}", printable(r));
        }
        if let Some(n) = &report.id_note {
            note!("{n}");
        }
        match (&report.id, &report.already_archived) {
            (_, Some(id)) => say!(
                "{} is already archived as {id} (the same payload, file for file and digest for digest); nothing was written",
                args.source.display()
            ),
            (Some(id), None) => say!(
                "imported {} as {id}: {}, {}{}",
                args.source.display(),
                count(report.files, "file", "files"),
                count(report.bytes, "byte", "bytes"),
                duplicate_note(&report.duplicate_of)
            ),
            (None, None) => errln!(
                "refused {}: {}; nothing was imported",
                args.source.display(),
                count(
                    (report.problems.len() + report.refused.len()) as u64,
                    "problem",
                    "problems"
                )
            ),
        }
    }
    let code = exit_code(&report);
    super::after_write::report(&report.after_write, "import", code)
}

/// `cairn config`: every setting in force and where it comes from.
pub(super) fn run_config(args: ConfigArgs) -> u8 {
    use cairn::config::{Source, SETTINGS};
    let root = match archive_root(&args.root, "config") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let (path, config, sources) = match Archive::load_config(&root, super::common::env()) {
        Ok(loaded) => loaded,
        Err(e) => return error_exit("config", &e),
    };
    let mut rows: Vec<(String, String, String, Source)> = SETTINGS
        .iter()
        .zip(&sources)
        .map(|(s, src)| {
            (
                format!("{}.{}", s.section, s.key),
                config.value_of(s),
                s.env_var(),
                *src,
            )
        })
        .collect();
    rows.extend(super::replica_cmds::config_rows(&config));
    if args.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(key, value, var, src)| {
                serde_json::json!({"setting": key, "value": value, "variable": var, "source": src})
            })
            .collect();
        print_json(&serde_json::json!({ "file": path, "settings": v }));
        return exit::OK;
    }
    outln!("# {}", path.display());
    for (key, value, var, src) in &rows {
        let from = match src {
            Source::Default => "default".to_string(),
            Source::File => "cairn.toml".to_string(),
            Source::Env => format!("environment {var}"),
        };
        outln!("{key} = {}  # {from}", printable(value));
    }
    exit::OK
}
