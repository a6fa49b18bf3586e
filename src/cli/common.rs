//! What every command file shares, and the leaf they all import: opening the archive
//! a command names, `--quiet` and the `say!` / `note!` macros behind it, the rendering
//! of names and findings on one line, JSON on stdout, and the arguments and help text
//! common to every command. It imports no command file, so the `*_cmds.rs` files depend
//! on it and on each other in one direction only.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;

use cairn::bagit::Finding;
use cairn::fs::archive::Archive;
use cairn::Error;

use super::outcome::error_exit;

pub(super) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success; the bag is valid (warnings may have been printed)
  1  a problem was found in the data: an invalid bag, or input Cairn refuses to package
  2  bad usage: unknown option, missing argument, unusable value, a name that does not exist
  3  could not run: I/O error, permission denied, lock held, internal error";

#[derive(Args)]
pub(super) struct RootArg {
    /// The archive's folder (where cairn.toml is) [default: the current folder].
    #[arg(long, env = "CAIRN_ROOT", value_name = "DIR")]
    pub(super) root: Option<PathBuf>,
}

/// The `CAIRN_*` (and `AWS_*`) variables of the process, read once, here: the library
/// reads no environment, and every command hands this to it (`Archive::open_with`,
/// `Config::load`).
pub(super) fn env() -> &'static cairn::config::Env {
    static ENV: std::sync::OnceLock<cairn::config::Env> = std::sync::OnceLock::new();
    ENV.get_or_init(cairn::config::Env::from_process)
}

/// Opens the archive `--root` (or CAIRN_ROOT) names; without either, the one that holds
/// the current folder, found by searching upwards for cairn.toml. When there is none,
/// the message says where Cairn looked and what to run.
pub(super) fn open_archive(root: &RootArg, context: &str) -> Result<Archive, u8> {
    let dir = archive_root(root, context)?;
    Archive::open_with(&dir, env()).map_err(|e| error_exit(context, &e))
}

/// The archive's folder: `--root` (or CAIRN_ROOT), else found upwards from here.
pub(super) fn archive_root(root: &RootArg, context: &str) -> Result<PathBuf, u8> {
    Ok(match &root.root {
        Some(dir) => dir.clone(),
        None => match Archive::find_root(Path::new(".")) {
            Some(dir) => dir,
            None => {
                let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                return Err(error_exit(
                    context,
                    &cairn::Error::Config {
                        path: here.join("cairn.toml"),
                        line: None,
                        detail: "not found, nor in any folder above: this is not inside a Cairn archive. \
                                 Run `cairn init DIR` to make one, or point --root (or CAIRN_ROOT) at the archive"
                            .into(),
                    },
                ));
            }
        },
    })
}

/// The archive's name for summaries: its folder's name, also when it was given as `.`.
pub(super) fn archive_name(root: &Path) -> String {
    std::fs::canonicalize(root)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| root.display().to_string())
}

/// For commands that name no archive (`bag validate`, `verify`): the archive whose
/// configuration (zip limits) still applies, at CAIRN_ROOT or else in the current
/// folder.
pub(super) fn ambient_root() -> PathBuf {
    env()
        .get_os("CAIRN_ROOT")
        .map(PathBuf::from)
        .or_else(|| cairn::fs::archive::Archive::find_root(std::path::Path::new(".")))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Set once from `--quiet`: print nothing but errors.
static QUIET: AtomicBool = AtomicBool::new(false);

pub(super) fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Sets [`quiet`], once, from the parsed arguments.
pub(super) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// A line to stdout unless `--quiet`: for reports of what went well.
macro_rules! say {
    ($($arg:tt)*) => {
        if !$crate::cli::common::quiet() {
            $crate::cli::out::outln!($($arg)*);
        }
    };
}
/// A line to stderr unless `--quiet`: for routine notes, never for evidence (damage,
/// refusals, tampering: those are `errln!`, shown whatever --quiet says).
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::cli::common::quiet() {
            $crate::cli::out::errln!($($arg)*);
        }
    };
}
pub(crate) use {note, say};

/// The rule for a name that does not exist (README, "Exit codes"): an item identifier or
/// a path given on the command line that names nothing is a usage error, exit 2, with
/// one message for every command.
pub(super) fn require_exists(context: &str, what: &str, path: &std::path::Path) -> Result<(), u8> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(error_exit(
            context,
            &Error::Usage(format!(
                "no {what} {}: no such file or folder",
                cairn::quoted(&path.display().to_string())
            )),
        )),
        _ => Ok(()),
    }
}

/// Escapes control characters (a file name may hold a newline) so that every finding
/// stays on one line.
///
/// A backslash is escaped too whenever anything is, so a name holding the two
/// characters `\` `n` never prints like one holding a newline.
pub(super) fn printable(s: &str) -> String {
    if s.chars().any(|c| c.is_control() || c == '\\') {
        s.chars()
            .map(|c| {
                if c.is_control() || c == '\\' {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        s.to_string()
    }
}

pub(super) fn finding_line(label: &str, f: &Finding) -> String {
    format!(
        "{label}: {}: {}: {}",
        printable(&f.path),
        f.kind,
        printable(&f.detail)
    )
}

pub(super) fn print_json<T: serde::Serialize>(value: &T) {
    super::out::json(value);
}
