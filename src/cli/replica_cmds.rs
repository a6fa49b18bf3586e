//! The replica commands: replicate, repair, restore; `fixity --replica` and `audit
//! --replicas` (called from check_cmds.rs); replication after ingest and import.

use std::path::PathBuf;

use clap::Args;

use cairn::clock::SystemClock;
use cairn::fs::archive::Archive;
use cairn::ops::repair::{repair, RepairOptions, RepairReport};
use cairn::ops::replica_check::{
    audit_replicas, replica_fixity, ReplicaFixityOptions, ReplicaFixityReport, ReplicaInventory,
};
use cairn::ops::replica_root::init;
use cairn::ops::replicate::{replicate, ReplicateOptions};
use cairn::ops::restore::restore;
use cairn::units::count;
use cairn::Error;

use super::common::{note, open_archive, print_json, printable, say, RootArg};
use super::outcome::{error_exit, exit_code};
use super::progress::with_progress;

pub(super) const REPLICATE_HELP: &str = "\
Examples:
  cairn replicate --root s21-archive --init nas
  cairn replicate --root s21-archive
  cairn replicate --root s21-archive --to offsite --id cairn-000006

Exit codes:
  0  every object is on every replica, verified
  1  a conflict (a replica holds other bytes; never overwritten) or a damaged archive file (not sent)
  2  bad usage, no such replica or item
  3  could not run: a replica unreachable, its root missing (not mounted?) or without
     this archive's marker (`--init NAME`), refused credentials, disk full, lock held";
pub(super) const REPAIR_HELP: &str = "\
Examples:
  cairn repair --root s21-archive cairn-000006 --dry-run
  cairn repair --root s21-archive cairn-000006 --from nas
  cairn repair --root s21-archive --remove-unexpected

Exit codes:
  0  every copy is good now (or already was; with --dry-run, the plan was printed)
  1  a damaged file has no good copy anywhere: nothing was changed; or stray objects
     on a replica were listed, not removed (--remove-unexpected removes them)
  2  bad usage, no such replica or item
  3  could not run: a replica unreachable or without this archive's marker, I/O error,
     lock held";
pub(super) const RESTORE_HELP: &str = "\
Example:
  cairn restore --root s21-archive --from offsite /srv/s21-restored

Exit codes:
  0  the archive root was rebuilt at DIR, every file verified against its register entry
  1  a file on the replica does not match its register entry: nothing left at DIR
  2  bad usage, no such replica, or DIR exists
  3  could not run: the replica unreachable, I/O error";

#[derive(Args)]
pub(super) struct ReplicateArgs {
    #[command(flatten)]
    root: RootArg,
    /// Only this replica (repeatable) [default: every [[replica]] in cairn.toml].
    #[arg(long, value_name = "NAME")]
    to: Vec<String>,
    /// Only these items (`--id A B` or `--id A --id B`) [default: every registered item].
    #[arg(long, value_name = "ID", num_args = 1..)]
    id: Vec<String>,
    /// Mark the replica NAME's root (which must exist) as this archive's replica and
    /// record it in the archive; nothing is copied. Every command refuses a replica
    /// root without this archive's marker.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["to", "id"])]
    init: Option<String>,
    /// Print a JSON report on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(super) struct RepairArgs {
    /// The item's identifier [default: none; only stray objects on the replicas are
    /// looked for].
    id: Option<String>,
    #[command(flatten)]
    root: RootArg,
    /// Take good copies only from this replica (and repair only it and the archive).
    #[arg(long, value_name = "NAME")]
    from: Option<String>,
    /// Find and report what would be repaired; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Delete the stray objects found on the replicas (objects no registered item or
    /// kept version explains, as `fixity --replica` reports them), after listing them.
    #[arg(long)]
    remove_unexpected: bool,
    /// Print a JSON report on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(super) struct RestoreArgs {
    /// The replica to restore from: a [[replica]] in the cairn.toml at --root (only that
    /// file is read: a copy kept for the purpose, in a folder of its own, will do).
    #[arg(long, value_name = "NAME")]
    from: String,
    /// Where to rebuild the archive root (must not exist).
    dir: PathBuf,
    #[command(flatten)]
    root: RootArg,
    /// Print a JSON report on stdout.
    #[arg(long)]
    json: bool,
}

pub(super) fn run_replicate(args: ReplicateArgs) -> u8 {
    let archive = match open_archive(&args.root, "replicate") {
        Ok(a) => a,
        Err(code) => return code,
    };
    if let Some(name) = &args.init {
        return run_init(&archive, name, args.json);
    }
    let opts = ReplicateOptions {
        to: args.to,
        ids: args.id,
    };
    run_replicate_with(&archive, &opts, args.json, "replicate")
}

fn run_init(archive: &Archive, name: &str, json: bool) -> u8 {
    let report = match init(archive, name, &SystemClock) {
        Ok(r) => r,
        Err(e) => return error_exit("replicate", &e),
    };
    if json {
        print_json(&report);
    } else {
        let what = match report.action {
            "initialised" => "marked as this archive's replica",
            "adopted" => {
                "already marked with this archive's name; adopted as this archive's replica"
            }
            _ => "already this archive's replica; nothing to do",
        };
        say!(
            "replica {} ({}): {what} ({})",
            report.replica,
            report.url,
            report.marker.uuid
        );
        note!(
            "next: `cairn replicate --to {}` copies the archive to it",
            report.replica
        );
    }
    0
}

fn run_replicate_with(archive: &Archive, opts: &ReplicateOptions, json: bool, context: &str) -> u8 {
    let report = match with_progress("replicate", || replicate(archive, opts, &SystemClock)) {
        Ok(r) => r,
        Err(e) => return error_exit(context, &e),
    };
    if json {
        print_json(&report);
    } else {
        super::after_write::print_replicate(&report);
    }
    super::after_write::checkpoint(&report.checkpoint, context, exit_code(&report))
}

pub(super) fn run_repair(args: RepairArgs) -> u8 {
    let archive = match open_archive(&args.root, "repair") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let opts = RepairOptions {
        id: args.id,
        from: args.from,
        dry_run: args.dry_run,
        remove_unexpected: args.remove_unexpected,
    };
    let report = match with_progress("repair", || repair(&archive, &opts, &SystemClock)) {
        Ok(r) => r,
        Err(e) => return error_exit("repair", &e),
    };
    if args.json {
        print_json(&report);
    } else {
        print_repair(&report);
    }
    super::after_write::report(&report.after_write, "repair", exit_code(&report))
}

fn print_repair(r: &RepairReport) {
    for a in &r.unrepairable {
        errln!(
            "problem: {}: {}: {}: no good copy anywhere (every copy is damaged or missing)",
            a.target,
            printable(&a.key),
            a.was
        );
    }
    if !r.unrepairable.is_empty() {
        errln!(
            "{}: nothing was changed: no copy in the archive (any kept version) or on any replica has the digest the register records. Restore the file from a backup outside Cairn's replicas; if the change was deliberate, record it with `cairn revise`",
            r.id
        );
        return;
    }
    for c in &r.cleared {
        say!(
            "removed the temporary file of a cut-short write: {}",
            printable(c)
        );
    }
    for u in &r.unexpected {
        if u.removed {
            say!(
                "removed: {}: {} ({}), which no registered item or kept version explains",
                u.replica,
                printable(&u.key),
                count(u.size, "byte", "bytes")
            );
        } else {
            errln!(
                "problem: {}: {}: unexpected: {}, which no registered item or kept version explains",
                u.replica,
                printable(&u.key),
                count(u.size, "byte", "bytes")
            );
        }
    }
    if r.unexpected.iter().any(|u| !u.removed) {
        errln!(
            "{} on the replicas listed above: `cairn repair{}{} --remove-unexpected` deletes them",
            count(
                r.unexpected.iter().filter(|u| !u.removed).count() as u64,
                "stray object",
                "stray objects"
            ),
            if r.id.is_empty() { "" } else { " " },
            r.id
        );
    }
    if r.id.is_empty() {
        if r.unexpected.is_empty() {
            say!("no stray object on the replicas");
        }
        return;
    }
    let verb = if r.dry_run {
        "would repair"
    } else {
        "repaired"
    };
    for a in &r.repaired {
        say!(
            "{verb}: {}: {} ({}) from {}",
            a.target,
            printable(&a.key),
            a.was,
            a.source
        );
    }
    if r.repaired.is_empty() {
        say!(
            "{}: every copy matches the register; nothing to repair",
            r.id
        );
    } else if !r.dry_run {
        say!(
            "{}: {} repaired and verified; a recovery event records each",
            r.id,
            count(r.repaired.len() as u64, "file", "files")
        );
    }
}

pub(super) fn run_restore(args: RestoreArgs) -> u8 {
    // Only the configuration is read (the archive's folders may be gone: that is what
    // a restore is for).
    let root = match super::common::archive_root(&args.root, "restore") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let (path, config) = match Archive::load_config(&root, super::common::env()) {
        Ok((path, config, _)) => (path, config),
        Err(e) => return error_exit("restore", &e),
    };
    let Some(section) = config.replica.iter().find(|r| r.name == args.from) else {
        return error_exit(
            "restore",
            &Error::Usage(format!(
                "no replica named {} in {}",
                cairn::quoted(&args.from),
                path.display()
            )),
        );
    };
    if let Err(e) = cairn::ops::replica_root::check_restore_source(
        section,
        &root.join(&config.archive.manifests),
        &config.archive.name,
    ) {
        return error_exit("restore", &e);
    }
    // The archive's name, for a replica whose cairn.toml does not fix it: the one at
    // --root, else (when --root is the archive itself, not a kept copy of its
    // cairn.toml) the name that archive goes by.
    let name = if !config.archive.name.is_empty() {
        Some((config.archive.name.clone(), format!("{}", path.display())))
    } else {
        Archive::open_with(&root, super::common::env())
            .ok()
            .and_then(|a| cairn::ops::tlog::archive_name(&a).ok())
            .map(|n| (n, format!("the archive at {}", root.display())))
    };
    let report = match with_progress("restore", || {
        restore(section, &args.dir, name, &SystemClock)
    }) {
        Ok(r) => r,
        Err(e) => {
            let code = error_exit("restore", &e);
            let work = cairn::ops::restore::work_folder(&args.dir);
            if work.is_dir() && !args.dir.exists() {
                errln!(
                    "the restore so far is kept in {}: run the same command again to resume it (or delete that folder)",
                    work.display()
                );
            }
            return code;
        }
    };
    if args.json {
        print_json(&report);
    } else {
        for p in &report.problems {
            errln!("problem: {}", printable(p));
        }
        for n in &report.notes {
            errln!("note: {}", printable(n));
        }
        if report.problems.is_empty() {
            say!(
                "restored {} from replica {}: {}, {} ({}), {} between versions, {} in the event log (the last: the recovery)",
                args.dir.display(),
                report.replica,
                count(report.items, "item", "items"),
                count(report.files, "file", "files"),
                count(report.bytes, "byte", "bytes"),
                count(report.linked, "hard link", "hard links"),
                count(report.events, "event", "events")
            );
            if !report.name.is_empty() {
                note!(
                    "archive.name: {} (from {}): checkpoints signed before the disaster still name it",
                    printable(&report.name),
                    printable(&report.name_from)
                );
            }
            note!(
                "next: `cairn audit --root {}` checks it",
                args.dir.display()
            );
        } else {
            errln!("nothing was restored at {}", args.dir.display());
        }
    }
    exit_code(&report)
}

/// `cairn fixity --replica NAME`.
pub(super) fn run_replica_fixity(archive: &Archive, opts: &ReplicaFixityOptions, json: bool) -> u8 {
    let report = match with_progress("fixity", || replica_fixity(archive, opts, &SystemClock)) {
        Ok(r) => r,
        Err(e) => return error_exit("fixity", &e),
    };
    if json {
        print_json(&report);
    } else {
        print_replica_fixity(&report);
    }
    super::after_write::report(&report.after_write, "fixity", exit_code(&report))
}

fn print_replica_fixity(r: &ReplicaFixityReport) {
    for f in r
        .checked
        .iter()
        .flat_map(|c| &c.findings)
        .chain(&r.unexpected)
    {
        errln!(
            "problem: {}: {}: {}: {}",
            r.replica,
            printable(&f.key),
            f.kind,
            printable(&f.detail)
        );
    }
    let failed = r.checked.iter().filter(|c| !c.findings.is_empty()).count();
    // The summary says what failed, on which copy, whatever --quiet says when there is
    // something to say: objects that belong to no checked item count too.
    let stray = if r.unexpected.is_empty() {
        String::new()
    } else {
        format!(
            ", {} of no checked item",
            count(r.unexpected.len() as u64, "object", "objects")
        )
    };
    let line = format!(
        "replica {} ({}): {} checked, {} failed{stray}{}: {}",
        r.replica,
        r.url,
        count(r.checked.len() as u64, "item", "items"),
        failed,
        if r.not_reached > 0 {
            format!("; {} not reached within the budget", r.not_reached)
        } else {
            String::new()
        },
        if r.is_ok() { "passed" } else { "FAILED" }
    );
    if r.is_ok() {
        say!("{line}");
    } else {
        outln!("{line}");
    }
}

/// `cairn audit --replicas`: prints each replica's inventory; returns the exit code.
pub(super) fn run_audit_replicas(
    archive: &Archive,
    json: bool,
) -> Result<Vec<ReplicaInventory>, u8> {
    let inventories = audit_replicas(archive).map_err(|e| error_exit("audit", &e))?;
    if !json {
        for inv in &inventories {
            for f in &inv.findings {
                errln!(
                    "problem: replica {}: {}: {}: {}",
                    inv.replica,
                    printable(&f.key),
                    f.kind,
                    printable(&f.detail)
                );
            }
            if inv.findings.is_empty() {
                say!(
                    "replica {} ({}): {}, in step with the register",
                    inv.replica,
                    inv.url,
                    count(inv.objects, "object", "objects"),
                );
            } else {
                outln!(
                    "replica {} ({}): {}, {}",
                    inv.replica,
                    inv.url,
                    count(inv.objects, "object", "objects"),
                    count(inv.findings.len() as u64, "discrepancy", "discrepancies")
                );
            }
        }
    }
    Ok(inventories)
}

/// `cairn config`: each replica's url, endpoint and region, and where each comes from
/// (credentials are never shown).
pub(super) fn config_rows(
    config: &cairn::config::Config,
) -> Vec<(String, String, String, cairn::config::Source)> {
    use cairn::config::Source;
    let mut rows = Vec::new();
    for r in &config.replica {
        let prefix = cairn::replica::ReplicaSection::env_prefix(&r.name);
        for (key, value) in [
            ("url", &r.url),
            ("endpoint", &r.endpoint),
            ("region", &r.region),
        ] {
            let var = format!("{prefix}{}", key.to_ascii_uppercase());
            let source = if super::common::env().is_set(&var) {
                Source::Env
            } else if key == "url" || !value.is_empty() {
                Source::File
            } else {
                Source::Default
            };
            rows.push((
                format!("replica.{}.{key}", r.name),
                cairn::quoted(value),
                var,
                source,
            ));
        }
    }
    rows
}
