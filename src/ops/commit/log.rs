//! The events that record a bag added to the archive (ingest or import): pure, the
//! protocol appends them.

use std::collections::{BTreeMap, BTreeSet};

use crate::fs::events::NewEvent;
use crate::fs::register::{DigestMap, RegisterEntry};

/// The PREMIS-style events of one addition: message digest calculation, validation,
/// ingestion. `note` ends every detail (a recovery says so); `origin` replaces the
/// default description of where the item came from (an import); `extra` adds to the
/// ingestion event's data.
pub fn addition_events(
    entry: &RegisterEntry,
    note: &str,
    origin: Option<String>,
    extra: serde_json::Value,
) -> Vec<NewEvent> {
    let algs: BTreeSet<&str> = entry
        .files
        .iter()
        .flat_map(|f| f.digests.iter().map(|(a, _)| a.name()))
        .collect();
    let algs: Vec<&str> = algs.into_iter().collect();
    let id = entry.id.as_str();
    let tag_manifests: BTreeMap<&String, &DigestMap> = entry
        .tag_files
        .iter()
        .filter(|(n, _)| n.starts_with("tagmanifest-"))
        .collect();
    let mut data = serde_json::json!({
        "intake_name": entry.intake_name,
        "bag": entry.bag,
        "payload_oxum": entry.payload_oxum,
        "tag_manifests": tag_manifests,
    });
    if let (Some(d), serde_json::Value::Object(more)) = (data.as_object_mut(), extra) {
        d.extend(more);
    }
    let origin =
        origin.unwrap_or_else(|| format!("intake item {}", crate::quoted(&entry.intake_name)));
    let mut events = vec![
        NewEvent::new(
            "message digest calculation",
            "success",
            id,
            format!(
                "{} of {} files computed while copying{note}",
                algs.join(", "),
                entry.files.len()
            ),
        ),
        NewEvent::new(
            "validation",
            "success",
            id,
            format!(
                "the staged bag was read back and validated in full before it was committed{note}"
            ),
        ),
        NewEvent::new(
            "ingestion",
            "success",
            id,
            format!("{origin} archived as {}{note}", entry.bag),
        )
        .with_data(data),
    ];
    events.extend(crate::ops::formats::identification_event(entry, note));
    events
}
