//! `report`: the archive at a glance, for a manager or an auditor: items, versions,
//! files, bytes, formats (MIME type and PRONOM), each item's last fixity result and
//! status, the failures, the withdrawn items, and the event log's head. The log is read
//! streaming ([`crate::ops::events::query`]); only fixity checks are kept, for the chart.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::register::RegisterEntry;
use crate::ops::events::{query, EventFilter};
use crate::ops::schedule::FixityDays;
use crate::ops::show::{list, list_withdrawn, ListItem, WithdrawnItem};
use crate::vocab::Outcome;

/// A CSV cell as a spreadsheet will read it as text, never as a formula: a value that
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote in
/// front (OWASP, "CSV Injection"). Every text cell of `report --csv` and
/// `events --csv` goes through it; a title `=HYPERLINK(...)` is written `'=HYPERLINK(...)`.
pub fn spreadsheet_cell(value: &str) -> Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// Files of one format.
#[derive(Debug, Clone, Serialize)]
pub struct FormatCount {
    pub mime: String,
    /// The PRONOM PUID, when the format was identified.
    pub puid: Option<String>,
    pub name: Option<String>,
    pub files: u64,
    pub bytes: u64,
}

/// The event log as the report read it.
#[derive(Debug, Clone, Serialize)]
pub struct LogHead {
    pub lines: u64,
    /// BLAKE3 of the last line: commits to the whole log.
    pub head: String,
    pub broken: Option<String>,
}

/// A failed check or change in the log.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub time: String,
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub detail: String,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated: String,
    pub items: usize,
    pub versions: usize,
    pub files: u64,
    pub bytes: u64,
    /// Items per status (ok, failed, overdue, never-checked).
    pub status: BTreeMap<&'static str, usize>,
    pub formats: Vec<FormatCount>,
    pub item_list: Vec<ListItem>,
    /// Every failure event in the log, latest first.
    pub failures: Vec<Failure>,
    /// Every warning event in the log (a format identification that found damaged
    /// headers, say), latest first: not failures, listed apart.
    pub warnings: Vec<Failure>,
    pub withdrawn: Vec<WithdrawnItem>,
    /// The scan quality control recorded at ingest and revise (files with a
    /// validation or a `[qc]` judgement in the register); absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qc: Option<QcReport>,
    pub log: LogHead,
    /// Fixity checks of the archive's bags per day (for the chart); not in the JSON.
    #[serde(skip)]
    pub fixity_days: FixityDays,
}

/// One file's quality control as the register records it.
#[derive(Debug, Clone, Serialize)]
pub struct QcFile {
    pub id: String,
    /// Bag path (`data/...`).
    pub path: String,
    pub size: u64,
    /// The file's kind (tiff, jpeg, jp2, png, pdf), when measured or validated.
    pub kind: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Horizontal resolution in pixels per inch (from the header's unit).
    pub ppi: Option<f64>,
    /// Bits per sample, as the header gives them (`8,8,8`).
    pub depth: Option<String>,
    /// Photometric interpretation or colour space.
    pub colour: Option<String>,
    pub compression: Option<String>,
    /// Whether an ICC profile is embedded.
    pub icc: Option<bool>,
    /// valid, not valid, not well-formed, or not validated.
    pub status: String,
    pub findings: Vec<crate::qc::Finding>,
    /// The profile that judged the file, and its outcome (pass, warn).
    pub profile: Option<String>,
    pub judgement: Option<crate::qc::profile::Outcome>,
    /// The profile's rules that did not pass, each with what was measured.
    pub flagged: Vec<String>,
}

/// Totals of the QC section.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QcTotals {
    pub files: u64,
    pub valid: u64,
    pub not_valid: u64,
    pub not_well_formed: u64,
    pub not_validated: u64,
    pub pass: u64,
    pub warn: u64,
    pub fail: u64,
    pub findings: u64,
}

/// The report's QC section: every file the register records a validation or a
/// judgement for, by item and path.
#[derive(Debug, Clone, Serialize)]
pub struct QcReport {
    pub totals: QcTotals,
    pub files: Vec<QcFile>,
}

/// A resolution in pixels per inch, from a header's value and unit.
fn ppi(value: Option<f64>, unit: Option<&str>) -> Option<f64> {
    let v = value?;
    match unit {
        Some("inch") => Some(v),
        Some("centimetre") => Some(v * 2.54),
        Some("metre") => Some(v * 0.0254),
        _ => None,
    }
}

/// The QC record of one file, if the register holds one.
fn qc_file(id: &str, f: &crate::fs::register::FileRecord) -> Option<QcFile> {
    use crate::qc::profile::Outcome as Judged;
    if f.validation.is_none() && f.qc.is_none() {
        return None;
    }
    let t = f.techmd.as_ref();
    Some(QcFile {
        id: id.to_string(),
        path: f.path.clone(),
        size: f.size,
        kind: t
            .map(|t| t.kind.clone())
            .or_else(|| f.validation.as_ref().map(|v| v.kind.clone())),
        width: t.and_then(|t| t.width),
        height: t.and_then(|t| t.height),
        ppi: t.and_then(|t| ppi(t.x_resolution, t.resolution_unit.as_deref())),
        depth: t.filter(|t| !t.bits_per_sample.is_empty()).map(|t| {
            t.bits_per_sample
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }),
        colour: t.and_then(|t| t.photometric.clone()),
        compression: t.and_then(|t| t.compression.clone()),
        icc: t.and_then(|t| t.icc_profile),
        status: f
            .validation
            .as_ref()
            .map_or("not validated", |v| v.status())
            .to_string(),
        findings: f
            .validation
            .as_ref()
            .map(|v| v.findings.clone())
            .unwrap_or_default(),
        profile: f.qc.as_ref().map(|j| j.profile.clone()),
        judgement: f.qc.as_ref().map(|j| j.outcome),
        flagged: f
            .qc
            .iter()
            .flat_map(|j| j.results.iter())
            .filter(|r| r.outcome != Judged::Pass)
            .map(|r| format!("{}: {}", r.rule, r.message))
            .collect(),
    })
}

/// The QC section from the QC records of the files (None when there are none).
fn qc_report(files: Vec<QcFile>) -> Option<QcReport> {
    use crate::qc::profile::Outcome as Judged;
    if files.is_empty() {
        return None;
    }
    let mut t = QcTotals::default();
    for f in &files {
        t.files += 1;
        match f.status.as_str() {
            "valid" => t.valid += 1,
            "not valid" => t.not_valid += 1,
            "not well-formed" => t.not_well_formed += 1,
            _ => t.not_validated += 1,
        }
        match f.judgement {
            Some(Judged::Pass) => t.pass += 1,
            Some(Judged::Warn) => t.warn += 1,
            Some(Judged::Fail) => t.fail += 1,
            None => {}
        }
        t.findings += f.findings.len() as u64;
    }
    Some(QcReport { totals: t, files })
}

/// Reads the archive into a report at `now`.
pub fn report(archive: &Archive, now: chrono::DateTime<chrono::Utc>) -> Result<Report, Error> {
    let item_list = list(archive, now)?;
    let mut status: BTreeMap<&'static str, usize> = BTreeMap::new();
    for s in ["ok", "failed", "overdue", "never-checked"] {
        status.insert(s, 0);
    }
    let mut versions = 0;
    let mut formats: BTreeMap<(String, Option<String>), FormatCount> = BTreeMap::new();
    let mut qc_files = Vec::new();
    for item in &item_list {
        *status.entry(item.status).or_default() += 1;
        versions += archive.retained_bags(&item.id)?.len().max(1);
        let entry = RegisterEntry::read(&archive.register_path(&item.id))?;
        for f in &entry.files {
            qc_files.extend(qc_file(&entry.id, f));
            let puid = f.format.as_ref().and_then(|x| x.puid.clone());
            let c = formats
                .entry((f.mime.clone(), puid.clone()))
                .or_insert_with(|| FormatCount {
                    mime: f.mime.clone(),
                    puid,
                    name: f
                        .format
                        .as_ref()
                        .map(|x| x.name.clone())
                        .filter(|n| !n.is_empty()),
                    files: 0,
                    bytes: 0,
                });
            c.files += 1;
            c.bytes += f.size;
        }
    }
    let mut formats: Vec<FormatCount> = formats.into_values().collect();
    formats.sort_by(|a, b| b.files.cmp(&a.files).then(a.mime.cmp(&b.mime)));
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let mut fixity_days = FixityDays::default();
    let read = query(archive, &EventFilter::default(), |e| {
        // An outcome Cairn does not know (a newer Cairn's) counts as a failure: shown,
        // never hidden.
        let list = match Outcome::of(&e.outcome) {
            Some(Outcome::Success) => None,
            Some(Outcome::Warning) => Some(&mut warnings),
            Some(Outcome::Failure) | None => Some(&mut failures),
        };
        if let Some(list) = list {
            list.push(Failure {
                time: e.time.clone(),
                id: e.object.clone(),
                event_type: e.event_type.clone(),
                detail: e.detail.clone(),
            });
        }
        fixity_days.note(
            &e.event_type,
            &e.time,
            &e.outcome,
            e.data.get("replica").is_some(),
        );
        Ok(())
    })?;
    failures.reverse();
    warnings.reverse();
    Ok(Report {
        generated: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        items: item_list.len(),
        versions,
        files: item_list.iter().map(|i| i.files as u64).sum(),
        bytes: item_list.iter().map(|i| i.bytes).sum(),
        status,
        formats,
        item_list,
        failures,
        warnings,
        withdrawn: list_withdrawn(archive)?,
        qc: qc_report(qc_files),
        log: LogHead {
            lines: read.lines,
            head: read.head,
            broken: read.broken,
        },
        fixity_days,
    })
}

#[cfg(test)]
mod csv_tests {
    use super::spreadsheet_cell;

    #[test]
    fn formulas_are_neutralised() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(spreadsheet_cell(bad), format!("'{bad}"));
        }
        for good in ["", "Sample: letter", "a=b", "'quoted", "1977"] {
            assert_eq!(spreadsheet_cell(good), good);
        }
    }
}

#[cfg(test)]
mod qc_tests {
    use super::{ppi, qc_file, qc_report};
    use crate::fs::register::FileRecord;

    #[test]
    fn resolution_is_in_pixels_per_inch() {
        assert_eq!(ppi(Some(300.0), Some("inch")), Some(300.0));
        assert_eq!(ppi(Some(100.0), Some("centimetre")), Some(254.0));
        assert_eq!(ppi(Some(72.0), Some("none")), None);
        assert_eq!(ppi(None, Some("inch")), None);
    }

    #[test]
    fn only_files_with_a_qc_record_are_listed() {
        let mut rec = FileRecord {
            path: "data/a.tif".into(),
            size: 1,
            mime: "image/tiff".into(),
            digests: Default::default(),
            format: None,
            techmd: None,
            validation: None,
            qc: None,
            extra: Default::default(),
        };
        assert!(qc_file("x", &rec).is_none());
        assert!(qc_report(Vec::new()).is_none());
        rec.validation = Some(crate::qc::Validation {
            kind: "tiff".into(),
            ..Default::default()
        });
        let f = qc_file("x", &rec).expect("listed");
        assert_eq!(f.status, "valid");
        assert_eq!(f.kind.as_deref(), Some("tiff"));
        let r = qc_report(vec![f]).expect("a section");
        assert_eq!((r.totals.files, r.totals.valid, r.totals.pass), (1, 1, 0));
    }
}
