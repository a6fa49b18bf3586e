//! The findings of the checks over the archive's record: data, not errors (an error is a
//! failure to run). A bag's fixity findings are [`crate::ops::bag_check::FixityFinding`],
//! a replica's [`ReplicaFinding`] (of `fixity --replica`, one item's in a [`ReplicaItemCheck`]); what `audit` finds in the
//! register, the log and the kept versions is a [`Discrepancy`].

use serde::Serialize;

/// Something in the archive's record that does not add up.
#[derive(Debug, Clone, Serialize)]
pub struct Discrepancy {
    pub kind: &'static str,
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    pub detail: String,
}

/// One object out of place on a replica.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReplicaFinding {
    /// The item (empty for an object of no registered item).
    pub id: String,
    pub key: String,
    /// `changed`, `missing`, `unexpected`, `size-mismatch`, or `outdated` (an earlier state
    /// of the item that `cairn replicate` brings up to date).
    pub kind: &'static str,
    pub detail: String,
}

/// One item's check on the replica.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaItemCheck {
    pub id: String,
    pub objects: u64,
    pub bytes: u64,
    pub findings: Vec<ReplicaFinding>,
}
