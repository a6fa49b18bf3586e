//! `cairn ocfl export DIR`: the archive as an OCFL 1.1 storage root (docs/ocfl.md).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::common::{open_archive, print_json, printable, say, RootArg};
use super::outcome::{error_exit, exit};

pub(super) const OCFL_EXPORT_HELP: &str = "\
Example:
  cairn ocfl export --root s21-archive /mnt/ocfl-root
  cairn ocfl export --root s21-archive --layout 0004 /mnt/ocfl-root

Exit codes:
  0  the storage root holds every item's versions (created, updated or already there)
  1  an item was skipped: a file no longer has its registered digest (`cairn fixity --id`
     names the damage), or its object in the root differs from the archive's item
  2  bad usage: the folder is neither empty nor an OCFL root in a layout Cairn writes, or
     --layout differs from the root's
  3  could not run: another export holds the root, I/O error";

#[derive(Subcommand)]
pub(super) enum OcflCommand {
    /// Write (or bring up to date) an OCFL 1.1 storage root: every item an object,
    /// every register entry version an OCFL version, a withdrawal a last version
    /// without the content.
    ///
    /// Layout: extension 0003-hash-and-id-n-tuple-storage-layout (or 0004). Each version holds the
    /// payload (data/), metadata/dc.xml and dc.json, and cairn/register-entry.json and
    /// cairn/premis.xml; content is stored once per sha512. A rerun adds only what is
    /// missing; a run that was killed is finished by the next (docs/ocfl.md).
    #[command(after_help = OCFL_EXPORT_HELP)]
    Export(OcflExportArgs),
}

#[derive(Args)]
pub(super) struct OcflExportArgs {
    /// The storage root (created when absent; an empty folder or a root Cairn wrote).
    pub(super) dir: PathBuf,
    /// The storage layout extension of a new root: 0003
    /// (0003-hash-and-id-n-tuple-storage-layout, object roots named by the identifier
    /// itself) or 0004 (0004-hashed-n-tuple-storage-layout, named by the identifier's
    /// sha256). An existing root keeps its own [default: 0003].
    #[arg(long, value_name = "EXTENSION", value_parser = parse_layout)]
    pub(super) layout: Option<cairn::ocfl::Layout>,
    #[command(flatten)]
    pub(super) root: RootArg,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub(super) json: bool,
}

fn parse_layout(text: &str) -> Result<cairn::ocfl::Layout, String> {
    use cairn::ocfl::Layout;
    Layout::ALL
        .into_iter()
        .find(|l| l.name() == text || l.name().get(..4) == Some(text))
        .ok_or_else(|| {
            format!(
                "not a layout Cairn writes: {text:?} (0004-hashed-n-tuple-storage-layout or 0003-hash-and-id-n-tuple-storage-layout; 0004 or 0003 for short)"
            )
        })
}

pub(super) fn run_ocfl(cmd: OcflCommand) -> u8 {
    match cmd {
        OcflCommand::Export(args) => run_export(args),
    }
}

fn run_export(args: OcflExportArgs) -> u8 {
    let archive = match open_archive(&args.root, "ocfl export") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let r = match cairn::ops::ocfl::export(&archive, &args.dir, args.layout) {
        Ok(r) => r,
        Err(e) => return error_exit("ocfl export", &e),
    };
    // Problems reach stderr whatever the output mode.
    for o in &r.objects {
        if let Some(p) = &o.problem {
            errln!("cairn: ocfl export: {} skipped: {}", o.id, printable(p));
        }
    }
    if args.json {
        print_json(&r);
    } else {
        for o in &r.objects {
            match o.status {
                "created" | "updated" => say!(
                    "{} {}: v{}..v{} ({} written, {} bytes; {} deduplicated)",
                    o.status,
                    o.id,
                    o.versions_before + 1,
                    o.versions,
                    cairn::units::count(o.files_written, "file", "files"),
                    o.bytes_written,
                    o.files_deduplicated
                ),
                _ => {
                    if let Some(n) = &o.note {
                        say!("{} {}: {}", o.status, o.id, n);
                    }
                }
            }
        }
        say!(
            "{}: {} created, {} updated, {} unchanged, {} skipped; {} added, {} ({} bytes) written, {} deduplicated",
            printable(&r.root.display().to_string()),
            r.created,
            r.updated,
            r.unchanged,
            r.skipped,
            cairn::units::count(r.versions_added, "version", "versions"),
            cairn::units::count(r.files_written, "file", "files"),
            r.bytes_written,
            r.files_deduplicated
        );
    }
    if r.problems > 0 {
        exit::DATA
    } else {
        exit::OK
    }
}
