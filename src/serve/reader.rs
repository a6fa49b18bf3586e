//! What a reader sees of an item beyond its record (issue 32): a withdrawn item's
//! tombstone (answered 410 Gone), each file's format (PRONOM PUID and name) and scan QC
//! results as the register holds them, the damage the archive knows of (from the item's
//! own fixity checks and repairs in the event log), and its earlier versions with their
//! files.
//!
//! Nothing here is kept in the snapshot: formats and QC results are in the register
//! entry's file records it already holds; damage is worked out from the item's events,
//! which its page reads anyway; a tombstone and the earlier versions' register entries
//! are read from their files when the page is asked for.

use std::collections::{BTreeMap, BTreeSet};

use maud::{html, Markup};

use super::snapshot::LineShown;
use crate::fs::register::FileRecord;
use crate::vocab::{EventType, Outcome};

/// An earlier content version of an item, kept in archive/.versions/ID/NNNNNN with the
/// register entry it was published with (manifests/history/ID/).
#[derive(Debug, Clone)]
pub struct KeptVersion {
    pub version: u32,
    /// When that version's last register entry was published.
    pub published: String,
    /// Its files, as its register entry lists them (empty when `problem` says why).
    pub files: Vec<FileRecord>,
    /// Why it cannot be listed or opened (its entry missing, its folder refused).
    pub problem: Option<String>,
}

/// What an item page shows of the item's past: its events, in log order, and its kept
/// earlier content versions, oldest first.
#[derive(Debug, Default)]
pub struct ItemHistory {
    pub events: Vec<LineShown>,
    pub kept: Vec<KeptVersion>,
}

/// A fixity check that found damage, and what it named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DamageSeen {
    pub time: String,
    pub detail: String,
    /// The bag paths (or replica keys) the check named.
    pub paths: BTreeSet<String>,
}

/// The damage the item's events say is still there: the archive's own bag's, and each
/// replica's copy's (by replica name). A failed fixity check is damage until a later
/// check of the same copy passes or a repair of it is logged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Damage {
    pub archive: Option<DamageSeen>,
    pub replicas: BTreeMap<String, DamageSeen>,
}

impl Damage {
    /// Folds the item's events, in log order.
    pub fn of(events: &[LineShown]) -> Damage {
        let mut out = Damage::default();
        for shown in events {
            let LineShown::Event(e) = shown else { continue };
            let failed = !Outcome::Success.is(&e.outcome);
            if EventType::FixityCheck.is(&e.event_type) {
                let seen = failed.then(|| DamageSeen {
                    time: e.time.clone(),
                    detail: e.detail.clone(),
                    paths: named_paths(&e.data),
                });
                match e.data.get("replica") {
                    Some(r) => {
                        let name = r.as_str().unwrap_or("?").to_string();
                        match seen {
                            Some(s) => {
                                out.replicas.insert(name, s);
                            }
                            None => {
                                out.replicas.remove(&name);
                            }
                        }
                    }
                    None => out.archive = seen,
                }
            } else if EventType::Recovery.is(&e.event_type) && !failed {
                let target = e.data.get("target").and_then(|t| t.as_str()).unwrap_or("");
                for t in target.split(", ") {
                    if t == "archive" {
                        out.archive = None;
                    } else {
                        out.replicas.remove(t);
                    }
                }
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.archive.is_none() && self.replicas.is_empty()
    }
}

/// The files a fixity check's data names: `failures[].path` (the archive's bag) or
/// `findings[].key` (a replica's objects).
fn named_paths(data: &serde_json::Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (list, key) in [("failures", "path"), ("findings", "key")] {
        if let Some(items) = data.get(list).and_then(|v| v.as_array()) {
            for f in items {
                if let Some(p) = f.get(key).and_then(|p| p.as_str()) {
                    if !p.is_empty() {
                        out.insert(p.to_string());
                    }
                }
            }
        }
    }
    out
}

/// The damage warning at the top of an item page (nothing when none is known).
pub fn damage_notice(id: &str, damage: &Damage) -> Markup {
    let paths = |s: &DamageSeen| {
        html! {
            @if !s.paths.is_empty() {
                ul { @for p in &s.paths { li { code { (p) } } } }
            }
        }
    };
    html! {
        @if let Some(s) = &damage.archive {
            div.bad role="alert" {
                @if s.paths.is_empty() {
                    // A bag that could not be checked: no file is named as damaged.
                    strong { "Fixity check failed: " }
                    "the archive's copy could not be checked on " (s.time) " (" (s.detail) "). "
                    code { "cairn fixity --id " (id) } " checks it again."
                } @else {
                    strong { "Damage: " }
                    "the archive's copy failed its fixity check of " (s.time) " (" (s.detail) "). "
                    "The files below may not be as they were archived until "
                    code { "cairn repair " (id) } " restores them from a good copy."
                    (paths(s))
                }
            }
        }
        @for (name, s) in &damage.replicas {
            div.notice role="status" {
                strong { "Replica damaged: " }
                "the copy on replica " code { (name) } " failed its check of " (s.time) " (" (s.detail) ")."
                (paths(s))
            }
        }
    }
}

/// A file's format: its media type, and its PRONOM PUID and format name when the
/// register holds an identification.
pub fn format_cell(f: &FileRecord) -> Markup {
    html! {
        code.nb { (f.mime) }
        @if let Some(id) = &f.format {
            @if let Some(puid) = &id.puid {
                br;
                code.id.puid { (puid) }
                @if !id.name.is_empty() {
                    " " (id.name)
                    @if !id.version.is_empty() { " " (id.version) }
                }
            } @else {
                br; span lang="en" { "format not identified" }
            }
        }
    }
}

/// A file's scan QC: its validation's findings and its profile judgement's rules that
/// did not pass, as the register recorded them at ingest or revise ("—" when it
/// holds none).
pub fn qc_cell(f: &FileRecord) -> Markup {
    html! {
        @if f.validation.is_none() && f.qc.is_none() {
            "—"
        }
        @if let Some(v) = &f.validation {
            div {
                (v.kind) ": "
                @if !v.well_formed() {
                    span.status.status-failed { "not well-formed" }
                } @else if !v.valid() {
                    span.status.status-failed { "not valid" }
                } @else {
                    span.status.status-ok { "valid" }
                }
            }
            @for finding in &v.findings {
                div.qc { code.id { (finding.code) } " (" (finding.severity.as_str()) "): " (finding.message) }
            }
        }
        @if let Some(j) = &f.qc {
            div {
                "profile " code.id { (j.profile) } ": "
                span class={"status qc-" (j.outcome.as_str())} { (j.outcome.as_str()) }
            }
            @for r in j.results.iter().filter(|r| r.outcome != crate::qc::profile::Outcome::Pass) {
                div.qc { code.id { (r.rule) } " (" (r.outcome.as_str()) "): " (r.message) }
            }
        }
    }
}

/// The Versions paragraph: the current content and record versions, and how many
/// earlier content versions are kept (listed by [`kept_section`]).
pub fn versions_section(
    id: &str,
    current: u32,
    entry_version: u32,
    archived: &str,
    updated: Option<&str>,
    kept: &[KeptVersion],
) -> Markup {
    html! {
        h2 { "Versions" }
        p {
            "Content version " (current) ", record version " (entry_version) "; archived " (archived)
            @if let Some(u) = updated { ", last changed " (u) }
            "."
            @if current > 1 || entry_version > 1 {
                " Earlier versions are kept in the archive: " code { "cairn show " (id) } " lists them."
            }
            @if !kept.is_empty() {
                " " a href="#kept" { "The earlier content versions' files" } " are listed below the current ones."
            }
        }
        @if kept.is_empty() && current > 1 {
            p.notice { "Earlier content versions are not in the archive's archive/.versions/ folder." }
        }
    }
}

/// Each kept earlier content version, newest first, with its files (links to them
/// where the current files are served).
pub fn kept_section(id: &str, kept: &[KeptVersion], links: bool) -> Markup {
    html! {
        @if !kept.is_empty() {
            h2 #kept { "Earlier versions (" (kept.len()) ")" }
        }
        @for k in kept.iter().rev() {
            section.version {
                h3 { "Version " (k.version) @if !k.published.is_empty() { " (published " (k.published) ")" } }
                @if let Some(why) = &k.problem {
                    p.bad { (why) }
                } @else {
                    table {
                        thead { tr { th { "Path" } th.num { "Size" } th { "Format" } } }
                        tbody {
                            @for (i, f) in k.files.iter().enumerate() {
                                tr {
                                    td {
                                        @if links {
                                            a href={"/items/" (id) "/versions/" (k.version) "/files/" (i)} { code { (unbroken_words(&f.path)) } }
                                        } @else {
                                            code { (unbroken_words(&f.path)) }
                                        }
                                    }
                                    td.num { (f.size) }
                                    td { (format_cell(f)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `text` with every hyphenated word (letters, digits, `.` and `_` joined by `-`: an
/// identifier such as cairn-000004, a file name such as portrait-placeholder-001.png)
/// kept on one line; the text breaks only at spaces, slashes and other punctuation.
/// A browser otherwise breaks such a word at its hyphens.
pub fn unbroken_words(text: &str) -> Markup {
    let word = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.');
    let mut pieces: Vec<(bool, &str)> = Vec::new();
    let mut start = 0;
    let mut in_word = None;
    for (i, c) in text.char_indices() {
        let w = word(c);
        if in_word.is_some_and(|was| was != w) {
            pieces.push((in_word == Some(true), &text[start..i]));
            start = i;
        }
        in_word = Some(w);
    }
    pieces.push((in_word == Some(true), &text[start..]));
    html! {
        @for (is_word, piece) in pieces {
            @if is_word && piece.trim_matches('-').contains('-') {
                span.nb { (piece) }
            } @else {
                (piece)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::events::Event;

    fn ev(event_type: &str, outcome: &str, data: serde_json::Value) -> LineShown {
        LineShown::Event(Box::new(Event {
            seq: 1,
            id: String::new(),
            event_type: event_type.into(),
            time: "2026-12-07T00:00:00Z".into(),
            outcome: outcome.into(),
            detail: "d".into(),
            object: "x".into(),
            agent: String::new(),
            data,
            prev: String::new(),
        }))
    }

    #[test]
    fn hyphenated_words_are_kept_whole() {
        let out =
            unbroken_words("moved to archive/.quarantine/cairn-000004: dup of cairn-000001 -- ok")
                .into_string();
        assert_eq!(
            out,
            "moved to archive/.quarantine/<span class=\"nb\">cairn-000004</span>: dup of <span class=\"nb\">cairn-000001</span> -- ok"
        );
        assert_eq!(unbroken_words("ទួលស្លែង <a>").into_string(), "ទួលស្លែង &lt;a&gt;");
        assert_eq!(unbroken_words("").into_string(), "");
    }

    #[test]
    fn damage_lasts_until_a_pass_or_a_repair() {
        let bad = serde_json::json!({"failures": [{"path": "data/a.tif"}]});
        let events = vec![ev("fixity check", "failure", bad.clone())];
        let d = Damage::of(&events);
        assert_eq!(
            d.archive
                .as_ref()
                .map(|s| s.paths.iter().cloned().collect()),
            Some(vec!["data/a.tif".to_string()])
        );
        let mut healed = events.clone();
        healed.push(ev(
            "recovery",
            "success",
            serde_json::json!({"target": "archive"}),
        ));
        assert!(Damage::of(&healed).is_empty());
        let mut passed = events.clone();
        passed.push(ev("fixity check", "success", serde_json::Value::Null));
        assert!(Damage::of(&passed).is_empty());
        // A replica's failure is the replica's, not the archive's.
        let r = vec![ev(
            "fixity check",
            "failure",
            serde_json::json!({"replica": "s3", "findings": [{"key": "k"}]}),
        )];
        let d = Damage::of(&r);
        assert!(d.archive.is_none() && d.replicas.contains_key("s3"));
    }
}
