//! The one place where a command's result becomes its exit code (README, "Exit codes";
//! principle 7): a failure to run ([`Error`], by its [`ErrorClass`]) in [`error_exit`],
//! and every report's outcome through the [`Outcome`] trait, whose implementations for
//! the ops' reports are all here. The runners call [`exit_code`] and decide nothing
//! themselves.

use cairn::bagit::ValidateReport;
use cairn::ops::audit::AuditReport;
use cairn::ops::bag_check::BagCheck;
use cairn::ops::fixity::{BagOutcome, FixityReport};
use cairn::ops::formats::IdentifyReport;
use cairn::ops::ingest::IngestReport;
use cairn::ops::qc::QcReport;
use cairn::ops::repair::RepairReport;
use cairn::ops::replica_check::{ReplicaFixityReport, ReplicaInventory};
use cairn::ops::replicate::ReplicateReport;
use cairn::ops::restore::RestoreReport;
use cairn::ops::tlog::ProofVerdict;
use cairn::ops::transfer::ImportReport;
use cairn::{Error, ErrorClass};

/// Exit codes, the same for every command.
pub mod exit {
    /// Success; the bag or archive is valid.
    pub const OK: u8 = 0;
    /// The command ran and found a problem in the data (invalid bag, refused input).
    pub const DATA: u8 = 1;
    /// Bad usage (clap's own code for argument errors).
    pub const USAGE: u8 = 2;
    /// Could not run: I/O error, permission denied, lock held.
    pub const OPERATIONAL: u8 = 3;
}

/// What a report says about the run, for its exit code.
pub(super) trait Outcome {
    /// The command found a problem in the data (exit 1).
    fn problem_found(&self) -> bool;

    /// Something could not be checked or done (exit 3).
    fn could_not_run(&self) -> bool {
        false
    }

    /// A problem found outranks a failure to run: what was found is the news.
    fn exit_code(&self) -> u8 {
        if self.problem_found() {
            exit::DATA
        } else if self.could_not_run() {
            exit::OPERATIONAL
        } else {
            exit::OK
        }
    }
}

/// The exit code of a command that ran and produced `report`.
pub(super) fn exit_code(report: &impl Outcome) -> u8 {
    report.exit_code()
}

/// The exit code of a run made of two steps (ingest, then replication of what it
/// ingested): the same rule as [`Outcome::exit_code`], a problem found (1) outranks a
/// failure to run (3), which outranks bad usage (2); success only when both succeeded.
pub(super) fn combined(a: u8, b: u8) -> u8 {
    let rank = |c: u8| match c {
        exit::DATA => 3,
        exit::OPERATIONAL => 2,
        exit::USAGE => 1,
        _ => 0,
    };
    if rank(a) >= rank(b) {
        a
    } else {
        b
    }
}

/// Prints a failure to run, with its chain of causes, and returns its exit code.
pub(super) fn error_exit(context: &str, e: &Error) -> u8 {
    let mut msg = format!("cairn: {context}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(&format!(": {text}"));
        }
        source = s.source();
    }
    errln!("{msg}");
    match e.class() {
        ErrorClass::Data => exit::DATA,
        ErrorClass::Usage => exit::USAGE,
        ErrorClass::Operational => exit::OPERATIONAL,
    }
}

/// `cairn ingest`: an item refused or failed.
impl Outcome for IngestReport {
    fn problem_found(&self) -> bool {
        !self.is_ok()
    }
}

/// `cairn import`: the bag was neither imported nor already archived.
impl Outcome for ImportReport {
    fn problem_found(&self) -> bool {
        !(self.imported || self.already_archived.is_some())
    }
}

/// `cairn import` of an OCFL object: refused when its first version was not imported.
impl Outcome for cairn::ops::ocfl_import::OcflImportReport {
    fn problem_found(&self) -> bool {
        !(self.imported || self.already_archived.is_some())
    }
}

/// `cairn fixity`: a bag failed its check or the event log is broken; a bag that could
/// not be read is a failure to run.
impl Outcome for FixityReport {
    fn problem_found(&self) -> bool {
        self.checked.iter().any(|b| b.outcome == BagOutcome::Failed) || self.log_broken.is_some()
    }

    fn could_not_run(&self) -> bool {
        self.has_errors()
    }
}

/// `cairn audit` without `--replicas`.
impl Outcome for AuditReport {
    fn problem_found(&self) -> bool {
        !self.is_ok()
    }
}

/// `cairn audit --replicas`: the archive's audit and each replica's inventory.
pub(super) struct AuditWithReplicas<'a>(pub &'a AuditReport, pub &'a [ReplicaInventory]);

impl Outcome for AuditWithReplicas<'_> {
    fn problem_found(&self) -> bool {
        !self.0.is_ok() || self.1.iter().any(|r| !r.findings.is_empty())
    }
}

/// `cairn verify`: a problem in the bag (or against its register entry); a file that
/// could not be read is a failure to run.
impl Outcome for BagCheck {
    fn problem_found(&self) -> bool {
        !self.findings.is_empty()
    }

    fn could_not_run(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// `cairn bag validate`: unlike the others, a failure to read part of the bag outranks
/// what was found, since the bag could not be judged whole.
impl Outcome for ValidateReport {
    fn problem_found(&self) -> bool {
        !self.valid
    }

    fn could_not_run(&self) -> bool {
        !self.errors.is_empty()
    }

    fn exit_code(&self) -> u8 {
        if self.could_not_run() {
            exit::OPERATIONAL
        } else if self.problem_found() {
            exit::DATA
        } else {
            exit::OK
        }
    }
}

/// `cairn verify-proof`.
impl Outcome for ProofVerdict {
    fn problem_found(&self) -> bool {
        !self.ok
    }
}

/// `cairn replicate`.
impl Outcome for ReplicateReport {
    fn problem_found(&self) -> bool {
        !self.is_ok()
    }
}

/// `cairn repair`.
impl Outcome for RepairReport {
    fn problem_found(&self) -> bool {
        !self.is_ok()
    }
}

/// `cairn restore`.
impl Outcome for RestoreReport {
    fn problem_found(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// `cairn fixity --replica`.
impl Outcome for ReplicaFixityReport {
    fn problem_found(&self) -> bool {
        !self.is_ok()
    }
}

/// `cairn identify`: identifying finds no problem in data; a path that could not be read
/// is a failure to run.
impl Outcome for IdentifyReport {
    fn problem_found(&self) -> bool {
        false
    }

    fn could_not_run(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// `cairn qc`: a file failed; a path that could not be read is a failure to run.
impl Outcome for QcReport {
    fn problem_found(&self) -> bool {
        !self.passed
    }

    fn could_not_run(&self) -> bool {
        !self.errors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::{combined, exit};

    #[test]
    fn a_problem_found_outranks_a_failure_to_run() {
        assert_eq!(combined(exit::DATA, exit::OPERATIONAL), exit::DATA);
        assert_eq!(combined(exit::OPERATIONAL, exit::DATA), exit::DATA);
        assert_eq!(combined(exit::OK, exit::OPERATIONAL), exit::OPERATIONAL);
        assert_eq!(combined(exit::USAGE, exit::OPERATIONAL), exit::OPERATIONAL);
        assert_eq!(combined(exit::OK, exit::OK), exit::OK);
    }
}
