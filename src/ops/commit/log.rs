//! The events that record a bag added to the archive (ingest or import): pure, the
//! protocol appends them.

use std::collections::{BTreeMap, BTreeSet};

use crate::fs::events::NewEvent;
use crate::fs::register::{DigestMap, RegisterEntry};
use crate::vocab::{EventType, Outcome};

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
            EventType::MessageDigestCalculation,
            Outcome::Success,
            id,
            format!(
                "{} of {} files computed while copying{note}",
                algs.join(", "),
                entry.files.len()
            ),
        ),
        NewEvent::new(
            EventType::Validation,
            Outcome::Success,
            id,
            format!(
                "the staged bag was read back and validated in full before it was committed{note}"
            ),
        ),
        NewEvent::new(
            EventType::Ingestion,
            Outcome::Success,
            id,
            format!("{origin} archived as {}{note}", entry.bag),
        )
        .with_data(data),
    ];
    events.extend(identification_event(entry, note));
    events.extend(qc_events(entry.files.iter(), &entry.id, note));
    events
}

/// The "validation" events of files a `[qc]` profile judged: one per file, naming the
/// file (`data.file`, its bag path), the profile, the validation's status and finding
/// codes, and the profile's rules. Outcome `success` when the profile passed the file,
/// `warning` when it warned (a file it refused is never archived).
pub fn qc_events<'a>(
    files: impl Iterator<Item = &'a crate::fs::register::FileRecord>,
    id: &str,
    note: &str,
) -> Vec<NewEvent> {
    use crate::qc::profile::Outcome as Judged;
    let mut events = Vec::new();
    for f in files {
        let Some(judgement) = &f.qc else { continue };
        let outcome = match judgement.outcome {
            Judged::Pass => Outcome::Success,
            Judged::Warn | Judged::Fail => Outcome::Warning,
        };
        let status = match &f.validation {
            Some(v) => v.status(),
            None => "not validated",
        };
        let codes: Vec<&str> = f
            .validation
            .iter()
            .flat_map(|v| v.findings.iter().map(|x| x.code.as_str()))
            .collect();
        let mut detail = format!(
            "{} judged by the QC profile {}: {}; format {status}",
            f.path,
            judgement.profile,
            judgement_word(judgement.outcome),
        );
        if let Some(v) = &f.validation {
            detail.push_str(&format!(" ({})", v.kind));
        }
        if !codes.is_empty() {
            detail.push_str(&format!("; findings: {}", codes.join(", ")));
        }
        let flagged: Vec<String> = judgement
            .results
            .iter()
            .filter(|r| r.outcome != Judged::Pass)
            .map(|r| format!("{}: {}", r.rule, r.message))
            .collect();
        if !flagged.is_empty() {
            detail.push_str(&format!("; {}", flagged.join("; ")));
        }
        detail.push_str(note);
        events.push(
            NewEvent::new(EventType::Validation, outcome, id, detail).with_data(
                serde_json::json!({
                    "file": f.path,
                    "profile": judgement.profile,
                    "judgement": judgement.outcome,
                    "status": status,
                    "validation": f.validation,
                    "rules": judgement.results,
                }),
            ),
        );
    }
    events
}

/// A judgement's outcome in words.
pub fn judgement_word(o: crate::qc::profile::Outcome) -> &'static str {
    match o {
        crate::qc::profile::Outcome::Pass => "pass",
        crate::qc::profile::Outcome::Warn => "warn",
        crate::qc::profile::Outcome::Fail => "fail",
    }
}

/// The "format identification" event of an item whose entry records formats.
pub fn identification_event(entry: &RegisterEntry, note: &str) -> Option<NewEvent> {
    let registry = entry.format_registry.as_ref()?;
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mut warnings = Vec::new();
    let mut files = Vec::new();
    for f in &entry.files {
        let Some(id) = &f.format else { continue };
        let puid = id.puid.clone().unwrap_or_else(|| "UNKNOWN".into());
        *counts.entry(puid.clone()).or_default() += 1;
        if let Some(t) = &f.techmd {
            for w in &t.warnings {
                warnings.push(format!("{}: {w}", f.path));
            }
        }
        files.push(serde_json::json!({
            "path": f.path, "puid": id.puid, "basis": id.basis,
        }));
    }
    let summary: Vec<String> = counts.iter().map(|(p, n)| format!("{p} x{n}")).collect();
    let outcome = if warnings.is_empty() {
        Outcome::Success
    } else {
        Outcome::Warning
    };
    let mut detail = format!(
        "{} files identified with {registry}: {}",
        files.len(),
        summary.join(", ")
    );
    if !warnings.is_empty() {
        detail.push_str(&format!(
            "; {} warnings: {}",
            warnings.len(),
            warnings.join("; ")
        ));
    }
    detail.push_str(note);
    Some(
        NewEvent::new(EventType::FormatIdentification, outcome, &entry.id, detail).with_data(
            serde_json::json!({
                "format_registry": registry,
                "files": files,
                "warnings": warnings,
            }),
        ),
    )
}

/// The key of an event's data that records the register files the event's change wrote:
/// an object of the file's name in the archive (`manifests/ID.json`,
/// `manifests/history/ID/000001.json`, `manifests/withdrawn/ID.json`) to the BLAKE3 (hex)
/// of its bytes, or `null` for a file the change removed. `cairn audit` checks every
/// register file against the last digest the log holds for it.
pub const REGISTER_FILES: &str = "register_files";

/// A register file's name as events record it: `manifests/` and its path inside the
/// manifests folder.
pub fn register_file_name(archive: &crate::fs::archive::Archive, path: &std::path::Path) -> String {
    let rel = path.strip_prefix(&archive.manifests).unwrap_or(path);
    crate::fs::layout::manifests_key(&rel.to_string_lossy())
}

/// BLAKE3 (hex) of bytes, as [`REGISTER_FILES`] records it.
pub fn register_digest(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Adds `files` (name → digest, `None` for removed) to `event`'s data under
/// [`REGISTER_FILES`]; data that is not an object is kept under `value`.
pub fn record_register_files(event: &mut NewEvent, files: Vec<(String, Option<String>)>) {
    let mut data = data_object(std::mem::take(&mut event.data));
    let files: serde_json::Map<String, serde_json::Value> = files
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                v.map_or(serde_json::Value::Null, serde_json::Value::String),
            )
        })
        .collect();
    data.insert(REGISTER_FILES.into(), serde_json::Value::Object(files));
    event.data = serde_json::Value::Object(data);
}

/// Records, in the first event of `events` of type `event_type` about `id`, the digest
/// of the register entry now at `path` (read back from disk: the bytes the register
/// holds). Nothing when no such event is among them.
pub fn record_entry_written(
    archive: &crate::fs::archive::Archive,
    events: &mut [NewEvent],
    event_type: crate::vocab::EventType,
    id: &str,
    path: &std::path::Path,
) -> Result<(), crate::error::Error> {
    let Some(event) = events
        .iter_mut()
        .find(|e| event_type.is(&e.event_type) && e.object == id)
    else {
        return Ok(());
    };
    let bytes = crate::fs::read_file(path)?;
    record_register_files(
        event,
        vec![(
            register_file_name(archive, path),
            Some(register_digest(&bytes)),
        )],
    );
    Ok(())
}

/// An event's data as an object to add members to: `null` becomes an empty object, any
/// other value that is not an object is kept under `value`.
pub(crate) fn data_object(data: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match data {
        serde_json::Value::Object(m) => m,
        serde_json::Value::Null => serde_json::Map::new(),
        other => {
            let mut m = serde_json::Map::new();
            m.insert("value".into(), other);
            m
        }
    }
}

#[cfg(test)]
mod qc_event_tests {
    use super::qc_events;
    use crate::fs::register::FileRecord;
    use crate::qc::profile::{Judgement, Outcome as Judged, RuleResult};
    use crate::qc::{Finding, Severity, Validation};

    fn record(path: &str, outcome: Option<Judged>) -> FileRecord {
        FileRecord {
            path: path.into(),
            size: 10,
            mime: "image/tiff".into(),
            digests: Default::default(),
            format: None,
            techmd: None,
            validation: outcome.map(|_| Validation {
                kind: "tiff".into(),
                pages: Some(1),
                findings: vec![Finding {
                    code: "TIFF-X".into(),
                    severity: Severity::NotValid,
                    offset: Some(8),
                    message: "m".into(),
                }],
            }),
            qc: outcome.map(|o| Judgement {
                profile: "p".into(),
                outcome: o,
                results: vec![RuleResult {
                    rule: "icc".into(),
                    outcome: o,
                    message: "no ICC profile".into(),
                }],
            }),
            extra: Default::default(),
        }
    }

    #[test]
    fn one_event_per_judged_file_warn_is_a_warning() {
        let files = [
            record("data/a.tif", Some(Judged::Pass)),
            record("data/b.txt", None),
            record("data/c.tif", Some(Judged::Warn)),
        ];
        let ev = qc_events(files.iter(), "item-1", " (note)");
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].outcome, "success");
        assert_eq!(ev[0].data["file"], "data/a.tif");
        assert!(!ev[0].detail.contains("icc:"), "{}", ev[0].detail);
        assert_eq!(ev[1].outcome, "warning");
        assert_eq!(ev[1].object, "item-1");
        assert_eq!(
            ev[1].detail,
            "data/c.tif judged by the QC profile p: warn; format not valid (tiff); findings: TIFF-X; icc: no ICC profile (note)"
        );
        assert_eq!(ev[1].data["judgement"], "warn");
        assert_eq!(ev[1].data["status"], "not valid");
    }
}
