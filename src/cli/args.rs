//! The command line's shape: the clap definition of every command and its arguments,
//! with each command's help text (examples and the exit codes that apply). The runners
//! in the `*_cmds.rs` files take these structs; commands whose arguments belong to one
//! runner file (amend, replicate, serve…) define them there.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use cairn::digest::Algorithm;

pub(super) use super::common::{RootArg, EXIT_CODES_HELP};

/// The heading of the options every command takes, listed after each command's own.
pub(super) const GLOBAL: &str = "Global options";

/// Each command's example and the exit codes that apply to it.
pub(super) const INIT_HELP: &str = "\
Example:
  cairn init s21-archive

Exit codes:
  0  the archive was created
  2  bad usage, or cairn.toml already exists there
  3  could not run: I/O error, permission denied";
pub(super) const INGEST_HELP: &str = "\
Examples:
  cairn ingest --root s21-archive
  cairn ingest --root s21-archive --intake /media/scans --dry-run

Exit codes:
  0  every item was ingested or was already archived
  1  an item, or metadata.csv, was refused (the others were ingested), or the event log's chain is broken
  2  bad usage, or the --intake folder does not exist
  3  could not run: I/O error, permission denied, lock held";
pub(super) const SHOW_HELP: &str = "\
Example:
  cairn show --root s21-archive cairn-000006

Exit codes:
  0  shown
  2  bad usage, or no item with that identifier
  3  could not run: I/O error, permission denied";
pub(super) const LIST_HELP: &str = "\
Example:
  cairn list --root s21-archive --json

Exit codes:
  0  listed
  3  could not run: I/O error, permission denied";
pub(super) const FIXITY_HELP: &str = "\
Examples:
  cairn fixity --root s21-archive --due --max-time 6h
  cairn fixity --root s21-archive --id cairn-000006 --algorithms sha512

Exit codes:
  0  every checked bag passed
  1  a bag failed, or the event log's chain is broken (nothing was appended)
  2  bad usage, or no item with a given identifier
  3  could not run: I/O error, permission denied, another fixity run holds the lock";
pub(super) const AUDIT_HELP: &str = "\
Example:
  cairn audit --root s21-archive --json

Exit codes:
  0  the audit passed (never-checked and overdue bags are listed, not failures)
  1  a discrepancy, a broken chain, a head the log no longer extends, or a failed last check
  2  bad usage
  3  could not run: I/O error, permission denied";
pub(super) const VERIFY_HELP: &str = "\
Example:
  cairn verify copy/cairn-000006 --against s21-archive/manifests/cairn-000006.json

Exit codes:
  0  the bag is valid (and agrees with the register entry)
  1  a problem was found in the bag, or it disagrees with the entry
  2  bad usage, or the bag or the entry does not exist
  3  could not run: I/O error, permission denied";
pub(super) const EXPORT_HELP: &str = "\
Example:
  cairn export --root s21-archive cairn-000006 --zip tuol-sleng-note.zip

Exit codes:
  0  exported (with --force, also a bag that fails its checks)
  1  the bag fails its checks (made in full first; `cairn repair ID` mends it), or the event
     log's chain is broken: nothing exported
  2  bad usage, no item with that identifier, or the zip already exists
  3  could not run: I/O error, permission denied";
pub(super) const IMPORT_HELP: &str = "\
Examples:
  cairn import --root s21-archive tuol-sleng-note.zip
  cairn import --root s21-archive --version v2 ocfl-root/396/2ec/88d/cairn-000001

Exit codes:
  0  imported, or already archived (nothing written)
  1  the bag was refused: invalid, hostile zip, files still to fetch, or content the archive holds
     or held; or the OCFL object was: a damaged or hostile inventory, content missing or changed
  2  bad usage, or the bag does not exist
  3  could not run: I/O error, permission denied, lock held";
pub(super) const CONFIG_HELP: &str = "\
Example:
  CAIRN_FIXITY_RATE=100M cairn config --root s21-archive

Exit codes:
  0  shown
  3  could not run: cairn.toml or a CAIRN_* variable is unreadable or wrong";
pub(super) const CREATE_HELP: &str = "\
Examples:
  cairn bag create scans --output scans-bag
  cairn bag create scans --algorithm sha256 --info 'Source-Organization: DC-Cam'

Exit codes:
  0  the bag was created
  1  a file Cairn refuses to package (a symlink, a name BagIt cannot carry)
  2  bad usage, the source does not exist, DEST exists, or DEST's folder does not exist
  3  could not run: I/O error, permission denied";
pub(super) const VALIDATE_HELP: &str = "\
Example:
  cairn bag validate s21-archive/archive/cairn-000006

Exit codes:
  0  the bag is valid (warnings may have been printed)
  1  the bag is invalid
  2  bad usage, or the bag does not exist
  3  could not run: I/O error, permission denied";

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Digital-archive ingestion and preservation with BagIt bags (RFC 8493)",
    after_help = EXIT_CODES_HELP
)]
pub(super) struct Cli {
    /// More log output on stderr (-v info, with each ingest's and fixity run's summary
    /// line; -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub(super) verbose: u8,

    /// Hide routine output (for cron): no progress bar, no report when all is well.
    /// Evidence is never hidden: damage, refusals, warnings about the data and failures
    /// still reach stderr, naming what and where, and the exit code says the same.
    #[arg(
        short,
        long,
        global = true,
        help_heading = GLOBAL,
        env = "CAIRN_QUIET",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub(super) quiet: bool,

    /// Log lines on stderr as text, or as one JSON object per line (for log shippers;
    /// no progress bar is drawn then).
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        value_enum,
        env = "CAIRN_LOG_FORMAT",
        default_value_t = LogFormat::Text,
        value_name = "FORMAT"
    )]
    pub(super) log_format: LogFormat,

    /// `--root` before the command (`cairn --root arc list`): clap hands its value to the
    /// command's own `--root`. Hidden: each command that takes it lists its own.
    #[arg(
        long,
        global = true,
        hide = true,
        env = "CAIRN_ROOT",
        value_name = "DIR"
    )]
    pub(super) root: Option<PathBuf>,

    /// `--json` before the command, likewise.
    #[arg(long, global = true, hide = true)]
    pub(super) json: bool,

    #[command(subcommand)]
    pub(super) command: Command,
}

/// The options that may stand before the command as well as after it, but that only
/// some commands take: `cairn --json serve` names an option `serve` does not have.
pub(super) const PLACED_ANYWHERE: [&str; 2] = ["root", "json"];

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
pub(super) enum Command {
    /// Create and validate BagIt bags.
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Bag(BagCommand),

    /// Create an archive: cairn.toml (every setting, commented), intake/, archive/,
    /// manifests/. Refuses to overwrite an existing cairn.toml.
    #[command(after_help = INIT_HELP)]
    Init(InitArgs),

    /// Ingest every item waiting in intake/: each becomes a verified bag in archive/,
    /// with a register entry and events in manifests/.
    ///
    /// Each folder directly under intake/ is one item; a lone file is an item of one
    /// file. Metadata comes from intake/metadata.csv and/or a cairn.dc.json inside the
    /// item. A refused item is reported and skipped; the others are ingested (exit 1).
    #[command(after_help = INGEST_HELP)]
    Ingest(IngestArgs),

    /// Show an item: its Dublin Core record, files, digests and events.
    #[command(after_help = SHOW_HELP)]
    Show(ShowArgs),

    /// List the items in the archive.
    #[command(after_help = LIST_HELP)]
    List(ListArgs),

    /// Check bags' fixity (what cron runs): every checksum, and each bag against its
    /// register entry; log a "fixity check" event for each.
    ///
    /// Without --all or --id, checks the bags that are due (last check older than
    /// fixity.interval_days in cairn.toml), oldest first; with --max-bytes or
    /// --max-time it goes on with the next-oldest until the budget is spent (a rolling
    /// check). A run started while another fixity run holds manifests/.fixity.lock
    /// exits 3 at once and checks nothing.
    #[command(after_help = FIXITY_HELP)]
    Fixity(FixityArgs),

    /// Audit the archive's record: the event log's chain, archive/ against manifests/,
    /// and which bags are unchecked, overdue or failed.
    #[command(after_help = AUDIT_HELP)]
    Audit(AuditArgs),

    /// Verify a copy of a bag anywhere: full validation, and with --against, agreement
    /// with a register entry (manifests/ID.json).
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),

    /// The archive's signing key for checkpoints.
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Key(super::tlog_cmds::KeyCommand),

    /// Sign a checkpoint of the event log (a C2SP signed note: the archive's name, the
    /// number of events, the Merkle root) and keep it in manifests/checkpoints/.
    ///
    /// Prints the checkpoint on stdout: send it somewhere the archive's operators cannot
    /// reach. `cairn audit --checkpoint FILE --key PUBKEY` later proves that the log
    /// still extends it (docs/auditing.md).
    #[command(after_help = EXIT_CODES_HELP)]
    Checkpoint(super::tlog_cmds::CheckpointArgs),

    /// Prove that an item's ingestion event (or any event, --event N) is in the event
    /// log's Merkle tree: a small JSON file anyone can check with `cairn verify-proof`.
    #[command(after_help = EXIT_CODES_HELP)]
    Proof(super::tlog_cmds::ProofArgs),

    /// Check a proof from `cairn proof` offline, with no access to the archive: the
    /// event is in the tree, the tree is the checkpoint's, and (with --key) the
    /// checkpoint is signed by the archive's key.
    #[command(after_help = EXIT_CODES_HELP)]
    VerifyProof(super::tlog_cmds::VerifyProofArgs),

    /// Export a bag as a zip file: one top-level folder named after the bag,
    /// deterministic (the same bag gives the same bytes), Zip64 where needed.
    #[command(after_help = EXPORT_HELP)]
    Export(ExportArgs),

    /// Import a bag made elsewhere (a zip file or a folder): validated first, then
    /// committed as ingest commits, with a register entry and events.
    #[command(after_help = IMPORT_HELP)]
    Import(ImportArgs),

    /// Correct an item's descriptive metadata (Dublin Core): a new register entry
    /// version and a "metadata modification" event; the payload is never touched.
    ///
    /// The new record is checked as at ingest. The bag's metadata/dc.xml, dc.json,
    /// bag-info.txt and tag manifests are rewritten in a new bag that replaces the old
    /// one in one step; the superseded register entry is kept in
    /// manifests/history/ID/.
    #[command(after_help = super::life_cmds::AMEND_HELP)]
    Amend(super::life_cmds::AmendArgs),

    /// Withdraw (deaccession) an item: its bag leaves archive/ for
    /// archive/.quarantine/ (or is purged), a tombstone is left in manifests/withdrawn/
    /// and a "deaccession" event is logged. The identifier is never used again.
    #[command(after_help = super::life_cmds::WITHDRAW_HELP)]
    Withdraw(super::life_cmds::WithdrawArgs),

    /// Make a new version of an item from a folder holding its complete new content:
    /// a complete bag, unchanged files hard-linked; earlier versions are kept, unchanged.
    ///
    /// A "modification" event lists the files added, removed and changed. A folder that
    /// holds exactly the current version changes nothing (exit 0).
    #[command(after_help = super::life_cmds::REVISE_HELP)]
    Revise(super::life_cmds::ReviseArgs),

    /// The archive as an OCFL 1.1 storage root (docs/ocfl.md).
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Ocfl(super::ocfl_cmd::OcflCommand),

    /// The archive at a glance: items, versions, files, bytes, formats, each item's
    /// fixity status, the failures, the withdrawn items, the event log's head.
    #[command(after_help = super::life_cmds::REPORT_HELP)]
    Report(super::life_cmds::ReportArgs),

    /// Query the event log: one item's history, every failure since a date. Streams the
    /// log (memory does not grow with it) and checks its chain on the way; one item's
    /// history (--id) is read through the event index instead.
    #[command(after_help = super::events_cmd::EVENTS_HELP)]
    Events(super::events_cmd::EventsArgs),

    /// Identify files' formats (PRONOM PUIDs, from byte signatures as DROID and
    /// siegfried do) and read their technical metadata from their headers.
    ///
    /// Reads at most 64 KiB from each end of a file (and a ZIP's listed members). The
    /// basis says what the identification rests on: signature, container, text,
    /// extension (no signature matched and only one format uses the extension), none.
    #[command(after_help = EXIT_CODES_HELP)]
    Identify(super::format_cmds::IdentifyArgs),

    /// The PRONOM signature files in force, and `formats update FILE` to install a
    /// newer one into the archive.
    #[command(after_help = EXIT_CODES_HELP)]
    Formats(super::format_cmds::FormatsArgs),

    /// Check scans (a delivery before intake) as a preservation master should be:
    /// validated (TIFF, JPEG, JP2, PNG, PDF) and judged by a digitisation profile.
    ///
    /// Each file is identified, its headers measured (resolution, bit depth, colour,
    /// compression, ICC profile, size) and validated, then judged by the profile
    /// (--profile, else the archive's qc.profile). Without a profile, a file fails when
    /// it is not well-formed or not valid.
    #[command(after_help = super::qc_cmd::QC_HELP)]
    Qc(super::qc_cmd::QcArgs),
    /// Serve the archive over HTTP: OAI-PMH 2.0 at /oai for harvesters, and pages for
    /// readers and auditors (/, /items, /events, /audit).
    ///
    /// Prints the address it listens on, then serves until interrupted (Ctrl-C,
    /// SIGTERM). It reads the register and the event log, and sees what ingest and
    /// fixity add while it runs; no request changes the archive, unless the archive has
    /// accounts (`cairn user`): then archivists who log in may amend and withdraw items.
    #[command(after_help = EXIT_CODES_HELP)]
    Serve(super::serve_cmd::ServeArgs),

    /// The accounts of `cairn serve` (users.json beside cairn.toml): `user add NAME
    /// --role reader|auditor|archivist|admin`, `user passwd`, `user remove`, `user list`.
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    User(super::user_cmd::UserCommand),

    /// Copy every item (its bag files and register entry), the event log and its head
    /// to each replica: streamed, each object read back and verified, never overwriting
    /// an object that differs (a conflict, exit 1). A rerun copies only what is missing.
    #[command(after_help = super::replica_cmds::REPLICATE_HELP)]
    Replicate(super::replica_cmds::ReplicateArgs),

    /// Repair an item: every damaged or missing file, in the archive or on a replica, is
    /// rewritten from a copy whose digest matches the register (staged, verified,
    /// atomic), and a recovery event names the source. With no good copy, changes nothing.
    #[command(after_help = super::replica_cmds::REPAIR_HELP)]
    Repair(super::replica_cmds::RepairArgs),

    /// Disaster recovery: rebuild a whole archive root at DIR (bags, register, event
    /// log) from one replica alone, every file verified against its register entry.
    #[command(after_help = super::replica_cmds::RESTORE_HELP)]
    Restore(super::replica_cmds::RestoreArgs),

    /// The item index (a cache of what start-up needs of each item): `index rebuild`.
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Index(super::index_cmd::IndexCommand),

    /// Show the settings in force (cairn.toml, CAIRN_* environment variables, defaults)
    /// and where each comes from.
    #[command(after_help = CONFIG_HELP)]
    Config(ConfigArgs),

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// For example: `cairn completions bash > /etc/bash_completion.d/cairn`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },

    /// Print the manual page (roff) for cairn and each of its commands.
    ///
    /// For example: `cairn man > cairn.1 && man ./cairn.1`.
    Man,
}

#[derive(Args)]
pub(super) struct ConfigArgs {
    #[command(flatten)]
    pub(super) root: RootArg,
    /// Print JSON on stdout.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Args)]
pub(super) struct ExportArgs {
    /// The item's identifier.
    pub(super) id: String,
    /// Where to write the zip (must not exist); with --profile, NAME.tar writes a tar
    /// holding one folder NAME (APTrust).
    #[arg(long = "zip", value_name = "OUT.zip")]
    pub(super) zip: PathBuf,
    /// Export a bag that fails its checks anyway; the export event records the failure.
    #[arg(long)]
    pub(super) force: bool,
    /// Export this retained version (`cairn revise`) [default: the current one].
    #[arg(long, value_name = "N")]
    pub(super) version: Option<u32>,
    /// Export a deposit copy that meets a BagIt Profile (a JSON file, or a shipped one
    /// by name), with its tags and manifests; refuses, writing nothing, when it cannot
    /// [default: `[profiles] export` in cairn.toml].
    #[arg(long, value_name = "FILE|NAME", conflicts_with = "force")]
    pub(super) profile: Option<String>,
    /// With --profile: a bag-info.txt field for the deposit, 'Label: value'; repeatable.
    #[arg(short, long, value_name = "'LABEL: VALUE'")]
    pub(super) info: Vec<String>,
    #[command(flatten)]
    pub(super) root: RootArg,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Args)]
pub(super) struct ImportArgs {
    /// A zipped bag, a bag folder, or an OCFL object (a folder holding
    /// 0=ocfl_object_1.1; docs/ocfl.md).
    pub(super) source: PathBuf,
    /// Import the bag even though its content matches the item ID (current, an
    /// earlier version, withdrawn or purged); the ingestion event names ID. Repeatable.
    #[arg(long, value_name = "ID")]
    pub(super) allow_duplicate_of: Vec<String>,
    /// For an OCFL object: import only this version (vN) [default: every version].
    #[arg(long, value_name = "vN")]
    pub(super) version: Option<String>,
    #[command(flatten)]
    pub(super) root: RootArg,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Args)]
pub(super) struct FixityArgs {
    #[command(flatten)]
    pub(super) root: RootArg,
    /// Check the bags that are due (the default).
    #[arg(long, conflicts_with_all = ["all", "id"])]
    pub(super) due: bool,
    /// Check every bag.
    #[arg(long, conflicts_with = "id")]
    pub(super) all: bool,
    /// Check these bags: `--id A B` or `--id A --id B`.
    #[arg(long, value_name = "ID", num_args = 1..)]
    pub(super) id: Vec<String>,
    /// Only the bags in shard K of N (1-based), by a stable hash of the identifier.
    #[arg(long, value_name = "K/N")]
    pub(super) shard: Option<String>,
    /// Stop starting new bags once this many payload bytes were checked (e.g. 200G).
    #[arg(long, value_name = "SIZE")]
    pub(super) max_bytes: Option<String>,
    /// Stop starting new bags after this long (e.g. 6h, 90m).
    #[arg(long, value_name = "DURATION")]
    pub(super) max_time: Option<String>,
    /// Read at most this many bytes per second (e.g. 100M) [default: fixity.rate in
    /// cairn.toml, or no limit].
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub(super) rate: Option<String>,
    /// Algorithms to verify, comma-separated, or `all` for every manifest
    /// [default: fixity.algorithm in cairn.toml].
    #[arg(long, value_name = "LIST")]
    pub(super) algorithms: Option<String>,
    /// Check and report, and append nothing to the event log.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Pretend it is this time (RFC 3339) to see which bags a run would check then; only
    /// with --dry-run, so that no event with a pretend time reaches the log.
    #[arg(long, value_name = "TIME", requires = "dry_run")]
    pub(super) now: Option<String>,
    /// Check the copies on this replica instead of the archive's bags: every object
    /// read back and hashed against the register (changed, missing, unexpected,
    /// outdated). --due (the default), --all, --id and --shard choose items by their
    /// last check on this replica.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["algorithms", "now", "rate"])]
    pub(super) replica: Option<String>,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub(super) json: bool,
}

/// A log head: a BLAKE3 digest, 64 hex digits in either case (kept in lower case). A
/// malformed one is a usage error, not a log that "no longer extends" it.
fn parse_head(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t.to_ascii_lowercase())
    } else {
        Err(format!(
            "a log head is a BLAKE3 digest, 64 hex digits (as `cairn audit` prints it); this is {} characters long{}",
            t.chars().count(),
            if t.bytes().all(|b| b.is_ascii_hexdigit()) { "" } else { " and not all hex digits" }
        ))
    }
}

#[derive(Args)]
pub(super) struct AuditArgs {
    #[command(flatten)]
    pub(super) root: RootArg,
    /// A head digest recorded earlier (64 hex digits, as `cairn audit` and `cairn report`
    /// print it): prove the log still extends it.
    #[arg(long, value_name = "DIGEST", value_parser = parse_head)]
    pub(super) since_head: Option<String>,
    /// A signed checkpoint kept elsewhere: prove the log still extends it (needs --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub(super) checkpoint: Option<PathBuf>,
    /// The archive's public key (a file, or the key itself) to check --checkpoint with.
    #[arg(long, value_name = "PUBKEY", requires = "checkpoint")]
    pub(super) key: Option<String>,
    /// Pretend it is this time (RFC 3339), for the overdue list.
    #[arg(long, value_name = "TIME")]
    pub(super) now: Option<String>,
    /// Also compare each replica's listing with the register (names and sizes; no
    /// contents read): missing, unexpected and wrongly sized objects.
    #[arg(long)]
    pub(super) replicas: bool,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Args)]
pub(super) struct VerifyArgs {
    /// The bag folder.
    pub(super) bag: PathBuf,
    /// A register entry (manifests/ID.json) the bag must agree with.
    #[arg(long, value_name = "ID.json")]
    pub(super) against: Option<PathBuf>,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Args)]
pub(super) struct InitArgs {
    /// Where to create the archive [default: the current folder].
    pub(super) dir: Option<PathBuf>,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Args)]
pub(super) struct IngestArgs {
    #[command(flatten)]
    pub(super) root: RootArg,
    /// Ingest from this folder instead of the configured intake/.
    #[arg(long, value_name = "DIR")]
    pub(super) intake: Option<PathBuf>,
    /// Check everything (metadata included) and report what would happen; write nothing.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Delete each intake item once its bag is committed, verified, registered and logged.
    #[arg(long)]
    pub(super) remove_source: bool,
    /// Archive an item even though its content matches the item ID (current, an
    /// earlier version, withdrawn or purged); the ingestion event names ID. Repeatable.
    #[arg(long, value_name = "ID")]
    pub(super) allow_duplicate_of: Vec<String>,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Args)]
pub(super) struct ShowArgs {
    /// The item's identifier.
    pub(super) id: String,
    #[command(flatten)]
    pub(super) root: RootArg,
    /// Print JSON on stdout.
    #[arg(long)]
    pub(super) json: bool,
    /// Print the item as a PREMIS 3.0 XML document on stdout (objects, events, agents).
    #[arg(long, conflicts_with = "json")]
    pub(super) premis: bool,
}

#[derive(Args)]
pub(super) struct ListArgs {
    #[command(flatten)]
    pub(super) root: RootArg,
    /// Only the items holding a file of this PRONOM format (a PUID such as fmt/353).
    #[arg(long, value_name = "PUID")]
    pub(super) format: Option<String>,
    /// List the withdrawn items (their tombstones) instead.
    #[arg(long, conflicts_with = "format")]
    pub(super) withdrawn: bool,
    /// Only the items of this fixity status (`withdrawn`: as --withdrawn).
    #[arg(long, value_name = "STATUS", value_parser = ["ok", "failed", "overdue", "never-checked", "withdrawn"])]
    pub(super) status: Option<String>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Subcommand)]
pub(super) enum BagCommand {
    /// Package a folder (or one file) as a BagIt 1.0 bag.
    ///
    /// With --output, SRC is left untouched and the bag is written at DEST, copying and
    /// hashing every file in one pass. Without it, SRC itself becomes the bag: its
    /// contents move under SRC/data/. An interrupted in-place run is rolled back by
    /// running the same command again.
    #[command(after_help = CREATE_HELP)]
    Create(CreateArgs),

    /// Validate a bag: structure, completeness and every checksum.
    ///
    /// Prints every problem on stderr, one per line: `problem: PATH: KIND: DETAIL`;
    /// warnings as `warning: PATH: KIND: DETAIL`.
    #[command(after_help = VALIDATE_HELP)]
    Validate(ValidateArgs),
}

#[derive(Args)]
pub(super) struct CreateArgs {
    /// The folder (or file) to package.
    pub(super) src: PathBuf,
    /// Write the bag here (must not exist) instead of converting SRC in place.
    #[arg(short, long, value_name = "DEST")]
    pub(super) output: Option<PathBuf>,
    /// Checksum algorithm; repeat for several [default: blake3 and sha512].
    #[arg(short, long = "algorithm", value_name = "NAME")]
    pub(super) algorithms: Vec<Algorithm>,
    /// An extra bag-info.txt field, 'Label: value'; repeatable, order kept.
    #[arg(short, long, value_name = "'LABEL: VALUE'")]
    pub(super) info: Vec<String>,
    /// Make a bag that meets a BagIt Profile (a JSON file, or a shipped one by name or
    /// by its identifier URL, never fetched): its algorithms, BagIt-Profile-Identifier,
    /// and the tags from --info and cairn.toml; refuses, writing nothing, when the bag
    /// would not conform.
    #[arg(long, value_name = "FILE|NAME|URL")]
    pub(super) profile: Option<String>,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Args)]
pub(super) struct ValidateArgs {
    /// The bag folder.
    pub(super) bag: PathBuf,
    /// Check structure and Payload-Oxum only (no checksums, no manifest comparison).
    #[arg(long, conflicts_with = "completeness_only")]
    pub(super) fast: bool,
    /// Check structure and completeness, skip checksums.
    #[arg(long)]
    pub(super) completeness_only: bool,
    /// Also judge the bag against a BagIt Profile: a JSON file, or a shipped one by
    /// name (aptrust, btr, bagit-profiles-foo, bagit-profiles-bar) or by its
    /// identifier URL (never fetched), or `auto`: the shipped one the bag's
    /// BagIt-Profile-Identifier names; exit 1 when it does not conform.
    #[arg(long, value_name = "FILE|NAME|URL|auto")]
    pub(super) profile: Option<String>,
    /// Print one JSON report on stdout instead of text.
    #[arg(long)]
    pub(super) json: bool,
}
