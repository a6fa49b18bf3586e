//! What `cairn repair` did, as data: the files repaired or left unrepairable, the stray
//! objects found on replicas, and the `recovery` event a repair appends. A leaf, shared
//! by `repair` and the OCFL replica's repair (`ocfl_replica`), which `repair` calls.

use serde::Serialize;

use crate::fs::events::NewEvent;
use crate::ops::after_write::AfterWrite;
use crate::vocab::{EventType, Outcome};

/// One file repaired (or to repair).
#[derive(Debug, Clone, Serialize)]
pub struct RepairAction {
    /// `archive` or the replica's name.
    pub target: String,
    pub key: String,
    /// `missing` or `changed`.
    pub was: &'static str,
    /// `archive` or the replica's name; empty when there is no good copy.
    pub source: String,
    /// Where in `source` the good bytes were found (a key relative to the archive
    /// root or the replica's root); empty when there is no good copy.
    pub source_key: String,
}

/// One object on a replica that no registered item or kept version explains.
#[derive(Debug, Clone, Serialize)]
pub struct StrayObject {
    pub replica: String,
    pub key: String,
    pub size: u64,
    /// Whether it was deleted (`--remove-unexpected`).
    pub removed: bool,
}

/// The report of [`repair`].
#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    /// The item repaired; empty when only stray objects were looked for.
    pub id: String,
    pub dry_run: bool,
    pub repaired: Vec<RepairAction>,
    /// Damaged files with no good copy anywhere: nothing was changed.
    pub unrepairable: Vec<RepairAction>,
    /// Stray objects on the replicas (deleted when `removed`).
    pub unexpected: Vec<StrayObject>,
    /// Temporary files of cut-short writes deleted from folder replicas.
    pub cleared: Vec<String>,
    /// What the write policy did afterwards ([`crate::ops::after_write`]).
    #[serde(skip)]
    pub after_write: AfterWrite,
}

impl RepairReport {
    /// Every damaged file had a good copy, and no stray object is left on a replica.
    pub fn is_ok(&self) -> bool {
        self.unrepairable.is_empty() && self.unexpected.iter().all(|u| u.removed && !self.dry_run)
    }
}

/// What a recovery event says of one file: its key, what was wrong, its source.
pub(crate) fn describe(a: &RepairAction) -> String {
    if a.source_key == a.key {
        format!("{} ({}, from {})", a.key, a.was, a.source)
    } else {
        format!("{} ({}, from {} {})", a.key, a.was, a.source, a.source_key)
    }
}

pub(crate) fn recovery_event(id: &str, report: &RepairReport, targets: &str) -> NewEvent {
    let files: Vec<&RepairAction> = report
        .repaired
        .iter()
        .filter(|a| targets.split(", ").any(|t| t == a.target))
        .collect();
    NewEvent::new(
        EventType::Recovery,
        Outcome::Success,
        id,
        format!(
            "repaired {} files in {targets} from good copies whose digests match the register: {}",
            files.len(),
            files
                .iter()
                .map(|a| describe(a))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    )
    .with_data(serde_json::json!({ "target": targets, "files": files }))
}
