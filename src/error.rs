//! Failures to run. Problems found in a bag are not errors: they are findings in a
//! report. An `Error` means Cairn could not do what was asked.

use std::io;
use std::path::PathBuf;

/// Why an operation could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation failed on a path.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The input contains something Cairn refuses to package (a symlink, a device, a
    /// name that cannot round-trip). Nothing was written.
    #[error("refused {}: {reason}", path.display())]
    Refused { path: PathBuf, reason: String },

    /// The destination exists already; Cairn never overwrites.
    #[error("{} already exists; Cairn never overwrites. Choose another destination or remove it first", path.display())]
    AlreadyExists { path: PathBuf },

    /// An argument is not usable.
    #[error("{0}")]
    Usage(String),

    /// The configuration file is unusable.
    #[error("{}{}: {detail}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Config {
        path: PathBuf,
        line: Option<usize>,
        detail: String,
    },

    /// An environment variable that overrides a setting has an unusable value.
    #[error("environment variable {var}={}: {detail}", crate::quoted(value))]
    Env {
        var: String,
        value: String,
        detail: String,
    },

    /// Another Cairn process holds the archive lock.
    #[error("the archive is locked by another cairn process ({holder}); lock file {}. Try again when it has finished", path.display())]
    Locked { path: PathBuf, holder: String },

    /// The archive's own records are damaged or inconsistent.
    #[error("{}: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },

    /// A freshly written bag failed its read-back validation. Nothing was committed.
    #[error("the new bag at {} failed verification after writing: {detail}", path.display())]
    VerifyFailed { path: PathBuf, detail: String },

    /// A replica (docs/replicas.md) could not be reached, read or written: the message
    /// names the replica and the cause, never its credentials.
    #[error("replica {name}: {detail}")]
    Replica { name: String, detail: String },

    /// An invariant of Cairn's own code does not hold: a bug, never the user's fault
    /// (exit 3, not 2).
    #[error("internal error (a bug in Cairn; please report it): {0}")]
    Internal(String),
}

impl Error {
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// What kind of failure this is, for the CLI's exit code.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Io { .. }
            | Error::VerifyFailed { .. }
            | Error::Config { .. }
            | Error::Env { .. }
            | Error::Locked { .. }
            | Error::Replica { .. }
            | Error::Internal(_) => ErrorClass::Operational,
            Error::Corrupt { .. } => ErrorClass::Data,
            Error::Refused { .. } => ErrorClass::Data,
            Error::AlreadyExists { .. } | Error::Usage(_) => ErrorClass::Usage,
        }
    }
}

/// Broad classes of failure, which map onto exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The input data is unacceptable (exit 1).
    Data,
    /// The request itself is wrong (exit 2).
    Usage,
    /// Cairn could not run: I/O, permissions, locks (exit 3).
    Operational,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
