//! The findings of the checks over the archive's record: data, not errors (an error is a
//! failure to run). A bag's fixity findings are [`crate::ops::bag_check::FixityFinding`],
//! a replica's [`crate::ops::replica_check::ReplicaFinding`]; what `audit` finds in the
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
