//! The life of an item after ingest: amend, withdraw (docs/lifecycle.md).

use std::path::PathBuf;

use clap::Args;

use cairn::clock::SystemClock;
use cairn::ops::amend::{amend, edits_from_csv, parse_set, parse_unset, AmendOptions, Edit};
use cairn::ops::withdraw::{withdraw, WithdrawOptions};
use cairn::units::count;

use super::common::{note, open_archive, print_json, printable, say, RootArg};
use super::outcome::{error_exit, exit};

pub(super) const AMEND_HELP: &str = "\
Examples:
  cairn amend --root s21-archive cairn-000006 --set dc.date=1977-03 --reason 'date read from the stamp'
  cairn amend --root s21-archive --from-csv corrections.csv --reason 'catalogue review 2026'

Exit codes:
  0  amended, or the record already said so (nothing written)
  1  the new record breaks the metadata rules, or the current bag is damaged (checked in
     full first; `cairn repair ID` mends it): nothing changed
  2  bad usage, an unknown or withdrawn identifier, an empty --reason
  3  could not run: I/O error, permission denied, lock held, the bag fails verification";

pub(super) const WITHDRAW_HELP: &str = "\
Examples:
  cairn withdraw --root s21-archive cairn-000006 --reason 'donor withdrew the deposit'
  cairn withdraw --root s21-archive cairn-000006 --reason 'court order 12/2026' --purge --yes

Exit codes:
  0  withdrawn: the bag is in archive/.quarantine/ (or purged), a tombstone is left
  2  bad usage, an unknown or already withdrawn identifier, an empty --reason, --purge without --yes
  3  could not run: I/O error, permission denied, lock held";

#[derive(Args)]
pub(super) struct AmendArgs {
    /// The item's identifier (or --from-csv for several items).
    #[arg(required_unless_present = "from_csv", conflicts_with = "from_csv")]
    id: Option<String>,
    /// Replace every value of TERM with VALUE (repeat the term for several values).
    #[arg(long, value_name = "TERM=VALUE")]
    set: Vec<String>,
    /// Remove every value of TERM.
    #[arg(long, value_name = "TERM")]
    unset: Vec<String>,
    /// A metadata.csv of corrections: the first column (`filename` or `id`) names each
    /// item's identifier, the other columns replace its terms (blank cells change
    /// nothing). Every row is checked before any item is changed.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["set", "unset"])]
    from_csv: Option<PathBuf>,
    /// Why the record is corrected (kept in the event log).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Who asks, for the event log [default: $USER].
    #[arg(long, env = "CAIRN_OPERATOR", value_name = "NAME")]
    operator: Option<String>,
    #[command(flatten)]
    root: RootArg,
    /// Print a JSON report on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(super) struct WithdrawArgs {
    /// The item's identifier.
    id: String,
    /// Why the item is withdrawn (kept in its tombstone and the event log).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Delete the bag's bytes instead of moving it to archive/.quarantine/ (needs --yes).
    #[arg(long)]
    purge: bool,
    /// Confirm --purge: the bytes cannot be brought back by Cairn.
    #[arg(long, requires = "purge")]
    yes: bool,
    /// Who asks, for the tombstone and the event log [default: $USER].
    #[arg(long, env = "CAIRN_OPERATOR", value_name = "NAME")]
    operator: Option<String>,
    #[command(flatten)]
    root: RootArg,
    /// Print a JSON report on stdout.
    #[arg(long)]
    json: bool,
}

/// The operator's name: --operator (or CAIRN_OPERATOR), else the login name.
fn operator(given: Option<String>) -> String {
    given
        .filter(|s| !s.trim().is_empty())
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

pub(super) fn run_amend(args: AmendArgs) -> u8 {
    let edits = match (&args.id, &args.from_csv) {
        (_, Some(csv)) => {
            if let Err(code) = super::common::require_exists("amend", "file", csv) {
                return code;
            }
            match edits_from_csv(csv) {
                Ok(e) => e,
                Err(e) => return error_exit("amend", &e),
            }
        }
        (Some(id), None) => {
            let set = match parse_set(&args.set) {
                Ok(s) => s,
                Err(e) => return error_exit("amend", &e),
            };
            let unset = match parse_unset(&args.unset) {
                Ok(u) => u,
                Err(e) => return error_exit("amend", &e),
            };
            if set.is_empty() && unset.is_empty() {
                return error_exit(
                    "amend",
                    &cairn::Error::Usage(
                        "nothing to change: give --set TERM=VALUE or --unset TERM".into(),
                    ),
                );
            }
            // Where the edit came from, as the refusal names it.
            let origin = match (set.is_empty(), unset.is_empty()) {
                (false, true) => "--set",
                (true, false) => "--unset",
                _ => "--set/--unset",
            };
            vec![Edit {
                id: id.clone(),
                set,
                unset,
                origin: origin.into(),
            }]
        }
        (None, None) => {
            return error_exit(
                "amend",
                &cairn::Error::Usage("give an identifier or --from-csv".into()),
            )
        }
    };
    let archive = match open_archive(&args.root, "amend") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let opts = AmendOptions {
        edits,
        reason: args.reason,
        operator: operator(args.operator),
        data: Default::default(),
    };
    let report = match amend(&archive, &opts, &SystemClock) {
        Ok(r) => r,
        Err(e) => return error_exit("amend", &e),
    };
    if args.json {
        print_json(&report);
    } else {
        for n in &report.recovered {
            note!("recovered: {n}");
        }
        for item in &report.items {
            if let Some(pre) = &item.precheck {
                print_precheck(pre);
            }
            if item.outcome == "amended" {
                say!(
                    "amended {}: {} (register entry version {})",
                    item.id,
                    item.terms.join(", "),
                    item.entry_version
                );
            } else {
                say!(
                    "unchanged {}: the record already says so; nothing was written",
                    item.id
                );
            }
        }
    }
    super::after_write::report(&report.after_write, "amend", exit::OK)
}

/// The check a change started from, as a routine note (`--quiet` hides it; a damaged
/// bag is a refusal, printed as an error).
pub(super) fn print_precheck(pre: &cairn::ops::bag_check::Precheck) {
    if pre.intact() {
        note!(
            "checked {} in {} first: {}, {} match its manifests and register entry",
            pre.what,
            pre.depth,
            count(pre.files, "file", "files"),
            count(pre.bytes, "byte", "bytes")
        );
    }
}

pub(super) fn run_withdraw(args: WithdrawArgs) -> u8 {
    if args.purge && !args.yes {
        return error_exit(
            "withdraw",
            &cairn::Error::Usage(
                "--purge deletes the bag's bytes for good; add --yes to confirm, or leave out --purge to keep the bag in quarantine".into(),
            ),
        );
    }
    let archive = match open_archive(&args.root, "withdraw") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let opts = WithdrawOptions {
        id: args.id,
        reason: args.reason,
        operator: operator(args.operator),
        purge: args.purge,
    };
    let report = match withdraw(&archive, &opts, &SystemClock) {
        Ok(r) => r,
        Err(e) => return error_exit("withdraw", &e),
    };
    if args.json {
        print_json(&report);
    } else {
        for n in &report.recovered {
            note!("recovered: {n}");
        }
        let t = &report.tombstone;
        match &t.location {
            Some(l) => say!(
                "withdrew {}: its bag is in quarantine at {l}; tombstone {}",
                t.id,
                report.tombstone_path
            ),
            None => say!(
                "withdrew {}: its bag's bytes were deleted; tombstone {}",
                t.id,
                report.tombstone_path
            ),
        }
        say!("  reason: {}", printable(&t.reason));
    }
    super::after_write::report(&report.after_write, "withdraw", exit::OK)
}

/// `show` of a withdrawn item: its tombstone first.
pub(super) fn print_tombstone(t: &cairn::fs::lifecycle::Tombstone) {
    outln!("{}  (WITHDRAWN)", t.id);
    outln!(
        "  withdrawn:   {} by {} ({})",
        t.withdrawn,
        printable(&t.operator),
        t.software
    );
    outln!("  reason:      {}", printable(&t.reason));
    match &t.location {
        Some(l) => outln!("  bag:         quarantined at {l}"),
        None => outln!("  bag:         purged (its bytes were deleted)"),
    }
    outln!("  Payload-Oxum {}", t.payload_oxum);
    for (name, digests) in &t.tag_manifests {
        for (alg, d) in digests.iter() {
            outln!("  {name} {} {}", alg.name(), d.to_hex());
        }
    }
    outln!("Last register entry (version {}):", t.entry_version);
}

/// `show`: the register entry's versions, when there is more than one.
pub(super) fn print_versions(r: &cairn::ops::show::ShowReport) {
    if r.versions.len() > 1 {
        let listed: Vec<String> = r
            .versions
            .iter()
            .map(|(v, bag)| format!("{v} ({bag})"))
            .collect();
        outln!("  content versions: {}", listed.join(", "));
    }
    if r.history.is_empty() {
        return;
    }
    let e = &r.entry;
    if r.withdrawn.is_none() {
        outln!(
            "  record version:   {}, published {}",
            e.entry_version,
            e.updated.as_deref().unwrap_or(&e.archived)
        );
    }
    let earlier: Vec<_> = r
        .history
        .iter()
        .filter(|v| v.entry_version != e.entry_version)
        .collect();
    if earlier.is_empty() {
        return;
    }
    outln!("  earlier record versions (manifests/history/{}/):", e.id);
    for v in earlier {
        outln!("    {}  published {}", v.entry_version, v.published);
    }
}

pub(super) fn run_list_withdrawn(archive: &cairn::fs::archive::Archive, json: bool) -> u8 {
    match cairn::ops::show::list_withdrawn(archive) {
        Ok(items) => {
            if json {
                print_json(&items);
            } else {
                for i in &items {
                    outln!(
                        "{}\t{}\t{}\t{}\t{}",
                        i.id,
                        i.withdrawn,
                        i.disposition,
                        printable(i.title.as_deref().unwrap_or("(untitled)")),
                        printable(&i.reason)
                    );
                }
                note!("{} withdrawn items", items.len());
            }
            exit::OK
        }
        Err(e) => error_exit("list", &e),
    }
}

/// `list --status`: only the items of that status.
pub(super) fn filter_status(
    items: Vec<cairn::ops::show::ListItem>,
    status: Option<&str>,
) -> Vec<cairn::ops::show::ListItem> {
    match status {
        Some(s) => items.into_iter().filter(|i| i.status == s).collect(),
        None => items,
    }
}

pub(super) const REVISE_HELP: &str = "\
Example:
  cairn revise --root s21-archive cairn-000006 --from corrected/ --reason 'a forgotten page found'

Exit codes:
  0  revised, or the folder holds exactly the current version (nothing written)
  1  the folder holds a symbolic link or a name Cairn refuses at ingest, or the current bag is
     damaged (checked in full first; `cairn repair ID` mends it, --accept-damage goes on
     anyway): nothing changed
  2  bad usage, an unknown or withdrawn identifier, an empty --reason, no such folder
  3  could not run: I/O error, permission denied, lock held, the bag fails verification";

#[derive(Args)]
pub(super) struct ReviseArgs {
    /// The item's identifier.
    id: String,
    /// The folder holding the item's complete new content.
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// Why the item is revised (kept in the event log).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Who asks, for the event log [default: $USER].
    #[arg(long, env = "CAIRN_OPERATOR", value_name = "NAME")]
    operator: Option<String>,
    /// Revise the item although its current bag fails its check against the register
    /// (damaged files become the new version's as given in --from): the decision is
    /// logged as its own "validation" event (outcome warning) naming the damaged files.
    #[arg(long)]
    accept_damage: bool,
    #[command(flatten)]
    root: RootArg,
    /// Print a JSON report on stdout.
    #[arg(long)]
    json: bool,
}

pub(super) fn run_revise(args: ReviseArgs) -> u8 {
    use cairn::ops::revise::{revise, ReviseOptions};
    let archive = match open_archive(&args.root, "revise") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let opts = ReviseOptions {
        id: args.id,
        from: args.from,
        reason: args.reason,
        operator: operator(args.operator),
        accept_damage: args.accept_damage,
        data: Default::default(),
    };
    let r = match revise(&archive, &opts, &SystemClock) {
        Ok(r) => r,
        Err(e) => return error_exit("revise", &e),
    };
    if args.json {
        print_json(&r);
    } else {
        for n in &r.recovered {
            note!("recovered: {n}");
        }
        print_precheck(&r.precheck);
        if let Some(damage) = &r.accepted_damage {
            errln!(
                "warning: {}: damaged ({damage}); revised anyway with --accept-damage, the decision logged as a \"validation\" event",
                r.id
            );
        }
        for w in &r.warnings {
            errln!("warning: {w}");
        }
        if r.outcome == "revised" {
            say!(
                "revised {}: version {} ({} added, {} removed, {} changed, {} unchanged and stored once); version {} kept in archive/.versions/{}/",
                r.id,
                r.version,
                r.added.len(),
                r.removed.len(),
                r.changed.len(),
                r.unchanged,
                r.version - 1,
                r.id
            );
            for (sign, list) in [("+", &r.added), ("-", &r.removed), ("~", &r.changed)] {
                for p in list {
                    say!("  {sign} {}", printable(p));
                }
            }
        } else {
            say!(
                "unchanged {}: the folder holds exactly version {}; no new version was made",
                r.id,
                r.version
            );
        }
    }
    super::after_write::report(&r.after_write, "revise", exit::OK)
}

pub(super) const REPORT_HELP: &str = "\
Examples:
  cairn report --root s21-archive
  cairn report --root s21-archive --html s21-report.html

Exit codes:
  0  reported (failures in the archive are reported, not an error)
  2  bad usage, or the --html file already exists
  3  could not run: I/O error, permission denied";

#[derive(Args)]
pub(super) struct ReportArgs {
    #[command(flatten)]
    root: RootArg,
    /// Print the report as JSON on stdout.
    #[arg(long, conflicts_with_all = ["csv", "html"])]
    json: bool,
    /// Print one CSV row per item on stdout (status, version, last fixity check).
    #[arg(long, conflicts_with = "html")]
    csv: bool,
    /// Write the report as one self-contained HTML file (no network; a chart of fixity
    /// checks over time); the file must not exist.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// The report's QC section, as text: totals, then a line per file.
fn print_report_qc(qc: &cairn::ops::report::QcReport) {
    let t = &qc.totals;
    outln!(
        "quality control: {} validated at ingest or revise: {} valid, {} not valid, {} not well-formed, {} not validated; profile: {} pass, {} warn, {} fail; {} findings",
        count(t.files, "file", "files"),
        t.valid,
        t.not_valid,
        t.not_well_formed,
        t.not_validated,
        t.pass,
        t.warn,
        t.fail,
        t.findings
    );
    for f in &qc.files {
        let mut measures = Vec::new();
        if let (Some(w), Some(h)) = (f.width, f.height) {
            measures.push(format!("{w}x{h}"));
        }
        if let Some(p) = f.ppi {
            measures.push(format!("{} ppi", (p * 10.0).round() / 10.0));
        }
        if let Some(d) = &f.depth {
            measures.push(format!("{d} bits"));
        }
        measures.extend(f.colour.clone());
        measures.extend(f.compression.as_ref().map(|c| format!("compression {c}")));
        if let Some(icc) = f.icc {
            measures.push(if icc { "ICC" } else { "no ICC" }.to_string());
        }
        measures.push(count(f.size, "byte", "bytes"));
        let judged = match (&f.profile, f.judgement) {
            (Some(p), Some(j)) => format!("; {p}: {}", cairn::ops::commit::judgement_word(j)),
            _ => String::new(),
        };
        outln!(
            "  {}  {}  {}: {}{judged}",
            f.id,
            printable(&f.path),
            f.status,
            measures.join(", ")
        );
        for x in &f.findings {
            outln!(
                "    {} {}: {}",
                x.code,
                x.severity.as_str(),
                printable(&x.message)
            );
        }
        for x in &f.flagged {
            outln!("    {}", printable(x));
        }
    }
}

pub(super) fn run_report(args: ReportArgs) -> u8 {
    let archive = match open_archive(&args.root, "report") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let r = match cairn::ops::report::report(&archive, chrono::Utc::now()) {
        Ok(r) => r,
        Err(e) => return error_exit("report", &e),
    };
    if args.json {
        print_json(&r);
        return exit::OK;
    }
    if args.csv {
        let mut w = csv::Writer::from_writer(super::out::checked());
        let _ = w.write_record([
            "id",
            "title",
            "status",
            "record_version",
            "content_version",
            "archived",
            "updated",
            "files",
            "bytes",
            "last_check",
            "last_fixity",
            "last_fixity_outcome",
        ]);
        for i in &r.item_list {
            let cell = cairn::ops::report::spreadsheet_cell;
            let _ = w.write_record([
                &*cell(i.id.as_str()),
                &*cell(i.title.as_deref().unwrap_or("")),
                i.status,
                &i.entry_version.to_string(),
                &i.content_version.to_string(),
                &i.archived,
                i.updated.as_deref().unwrap_or(""),
                &i.files.to_string(),
                &i.bytes.to_string(),
                i.last_check.as_deref().unwrap_or(""),
                i.last_fixity.as_deref().unwrap_or(""),
                i.last_fixity_outcome.as_deref().unwrap_or(""),
            ]);
        }
        let _ = w.flush();
        return exit::OK;
    }
    if let Some(path) = &args.html {
        let html = super::report_html::render(&r, &super::common::archive_name(&archive.root));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, html.as_bytes()));
        return match written {
            Ok(()) => {
                say!("wrote {}", path.display());
                exit::OK
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => error_exit(
                "report",
                &cairn::Error::AlreadyExists { path: path.clone() },
            ),
            Err(e) => error_exit("report", &cairn::Error::io("write", path, e)),
        };
    }
    outln!(
        "{} ({} withdrawn), {}, {}, {}",
        count(r.items as u64, "item", "items"),
        r.withdrawn.len(),
        count(r.versions as u64, "content version", "content versions"),
        count(r.files, "file", "files"),
        count(r.bytes, "byte", "bytes")
    );
    let status: Vec<String> = r.status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    outln!("fixity: {}", status.join(", "));
    outln!("formats:");
    for f in &r.formats {
        outln!(
            "  {:>6} files  {:>12} bytes  {}{}",
            f.files,
            f.bytes,
            f.puid
                .as_deref()
                .map(|p| format!("{p} "))
                .unwrap_or_default(),
            f.name.as_deref().unwrap_or(&f.mime)
        );
    }
    for (what, list) in [("failures", &r.failures), ("warnings", &r.warnings)] {
        outln!("{what} in the event log: {}", list.len());
        for f in list.iter().take(10) {
            outln!(
                "  {}  {}  {}: {}",
                f.time,
                f.id,
                f.event_type,
                printable(&f.detail)
            );
        }
    }
    if let Some(qc) = &r.qc {
        print_report_qc(qc);
    }
    outln!(
        "event log: {} lines, head {}{}",
        r.log.lines,
        r.log.head,
        r.log
            .broken
            .as_deref()
            .map(|b| format!("; chain broken at {b}"))
            .unwrap_or_default()
    );
    exit::OK
}
