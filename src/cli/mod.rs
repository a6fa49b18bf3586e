//! The command-line interface: the arguments (`args.rs`), dispatch to the runners
//! (`*_cmds.rs`, one file per family of commands), logging, and the shared text and
//! JSON rendering helpers. `outcome.rs` is the one place where reports and errors
//! become exit codes.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

// First, so that its macros (out!, outln!, errln!) are in scope in every module below.
#[macro_use]
mod out;

mod after_write;
mod archive_cmds;
mod args;
mod bag_cmds;
mod check_cmds;
mod common;
mod events_cmd;
mod format_cmds;
mod index_cmd;
mod life_cmds;
mod ocfl_cmd;
mod ocfl_import_cmd;
mod outcome;
mod progress;
mod qc_cmd;
mod qc_html;
mod replica_cmds;
mod report_html;
mod serve_cmd;
mod tlog_cmds;
mod user_cmd;

use args::*;
pub use outcome::exit;

/// Parses the arguments. The options of [`PLACED_ANYWHERE`] are global to clap, so that
/// they may stand before the command or after it; given on the command line to a
/// command that does not take them, they are an error, as any unknown option is.
fn parse() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().try_get_matches_from(std::env::args_os())?;
    // The commands on the way to the one that runs, as declared (not yet built, so
    // without the global options clap copies into each).
    let declared = Cli::command();
    let mut path = vec![declared.clone()];
    let mut at = &matches;
    while let Some((name, sub)) = at.subcommand() {
        match path.last().and_then(|c| c.find_subcommand(name)).cloned() {
            Some(c) => path.push(c),
            None => break,
        }
        at = sub;
    }
    for id in PLACED_ANYWHERE {
        let typed = at.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
        let taken = path[1..]
            .iter()
            .any(|c| c.get_arguments().any(|a| a.get_id() == id));
        if typed && !taken {
            let names: Vec<&str> = path.iter().map(|c| c.get_name()).collect();
            // The error's usage line from the built command, which knows its full name.
            let mut leaf = Cli::command();
            leaf.build();
            for name in &names[1..] {
                if let Some(c) = leaf.find_subcommand(name).cloned() {
                    leaf = c;
                }
            }
            return Err(leaf.error(
                clap::error::ErrorKind::UnknownArgument,
                format!("`{}` does not take --{id}", names.join(" ")),
            ));
        }
    }
    Cli::from_arg_matches(&matches)
}

/// Parses arguments, runs the command, returns its exit code.
pub fn run() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            // clap names the flag; say so when the bad value came from its variable.
            let text = e.to_string();
            for (flag, var) in [
                ("--log-format", "CAIRN_LOG_FORMAT"),
                ("--root", "CAIRN_ROOT"),
                ("--quiet", "CAIRN_QUIET"),
            ] {
                let typed = std::env::args().any(|a| a.starts_with(flag));
                if !typed && text.contains(&format!("'{flag}")) && common::env().is_set(var) {
                    errln!("cairn: the value came from the environment variable {var}");
                }
            }
            return ExitCode::from(code);
        }
    };
    common::set_quiet(cli.quiet);
    init_logging(cli.verbose, cli.quiet, cli.log_format);
    progress::init(cli.quiet, cli.log_format == LogFormat::Json);
    // A panic is a bug in Cairn: say so in one line, without Rust's own report, and
    // exit 3 (could not run) rather than 101.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        // Not errln!: a write that fails inside the hook must not panic again.
        let _ = writeln!(
            std::io::stderr(),
            "cairn: internal error (a bug in Cairn{at}): {msg}. The command stopped; please report this with the command you ran"
        );
    }));
    let code = match std::panic::catch_unwind(|| dispatch(cli)) {
        Ok(code) => code,
        Err(payload) => match out::stopped(payload.as_ref()) {
            // A write that stopped the command (out.rs): a closed pipe, quietly.
            Some((code, line)) => {
                if let Some(line) = line {
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
                code
            }
            None => exit::OPERATIONAL,
        },
    };
    ExitCode::from(code)
}

fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        Command::Bag(BagCommand::Create(args)) => bag_cmds::run_create(args),
        Command::Bag(BagCommand::Validate(args)) => bag_cmds::run_validate(args),
        Command::Init(args) => archive_cmds::run_init(args),
        Command::Ingest(args) => archive_cmds::run_ingest(args),
        Command::Show(args) => archive_cmds::run_show(args),
        Command::List(args) => archive_cmds::run_list(args),
        Command::Fixity(args) => check_cmds::run_fixity(args),
        Command::Audit(args) => check_cmds::run_audit(args),
        Command::Verify(args) => check_cmds::run_verify(args),
        Command::Key(cmd) => tlog_cmds::run_key(cmd),
        Command::Checkpoint(args) => tlog_cmds::run_checkpoint(args),
        Command::Proof(args) => tlog_cmds::run_proof(args),
        Command::VerifyProof(args) => tlog_cmds::run_verify_proof(args),
        Command::Export(args) => archive_cmds::run_export(args),
        Command::Import(args) => archive_cmds::run_import(args),
        Command::Amend(args) => life_cmds::run_amend(args),
        Command::Withdraw(args) => life_cmds::run_withdraw(args),
        Command::Events(args) => events_cmd::run_events(args),
        Command::Revise(args) => life_cmds::run_revise(args),
        Command::Ocfl(cmd) => ocfl_cmd::run_ocfl(cmd),
        Command::Report(args) => life_cmds::run_report(args),
        Command::Config(args) => archive_cmds::run_config(args),
        Command::Index(cmd) => index_cmd::run_index(cmd),
        Command::Replicate(args) => replica_cmds::run_replicate(args),
        Command::Repair(args) => replica_cmds::run_repair(args),
        Command::Restore(args) => replica_cmds::run_restore(args),
        Command::Identify(args) => format_cmds::run_identify(args),
        Command::Formats(args) => format_cmds::run_formats(args),
        Command::Qc(args) => qc_cmd::run_qc(args),
        Command::Serve(args) => serve_cmd::run_serve(args),
        Command::User(cmd) => user_cmd::run_user(cmd),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Into memory first: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "cairn", &mut script);
            out::stdout_bytes(&script);
            exit::OK
        }
        Command::Man => run_man(),
    }
}

/// Log lines on stderr: RUST_LOG when set; else errors only with --quiet, warnings by
/// default, info with -v, debug with -vv.
fn init_logging(verbose: u8, quiet: bool, format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 if quiet => "error",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| progress::LogWriter)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_ansi(false)
            .try_init(),
    };
}

/// Renders the manual pages: cairn(1), then one section per command, in one roff
/// stream (so that `man ./cairn.1` shows everything).
fn run_man() -> u8 {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut out: Vec<u8> = Vec::new();
    // One page per command, nested ones included (cairn-bag-create), each with the
    // version in its header (the .TH line).
    let version = env!("CARGO_PKG_VERSION");
    let mut render = |c: clap::Command| {
        clap_mangen::Man::new(c.version(version))
            .source(format!("cairn {version}"))
            .render(&mut out)
    };
    fn pages(cmd: &clap::Command, prefix: &str, out: &mut Vec<(String, clap::Command)>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = format!("{prefix}-{}", sub.get_name());
            out.push((name.clone(), sub.clone()));
            pages(sub, &name, out);
        }
    }
    let mut all = Vec::new();
    pages(&cmd, "cairn", &mut all);
    let mut result = render(cmd.clone());
    for (name, sub) in all {
        // A command's page names the version in its header; commands take no
        // --version flag of their own (`export --version N` is another option).
        result = result.and_then(|_| render(sub.name(name).disable_version_flag(true)));
    }
    match result {
        Ok(()) => {
            out::stdout_bytes(&out);
            exit::OK
        }
        Err(e) => {
            errln!("cairn: man: {e}");
            exit::OPERATIONAL
        }
    }
}
