//! The web pages: compile-time checked templates (maud), server-rendered, no external
//! assets (the stylesheet is inline, the chart is inline SVG drawn here). Every value is
//! escaped by the template engine; `lang` attributes come from dc.language, so Khmer,
//! French and every other script are marked up in their language.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::snapshot::{Item, LineShown, Snapshot, Status};
use crate::ops::schedule::FixityDays;
use crate::vocab::Outcome;

const STYLE: &str = r#"
:root{--fg:#1d1d1f;--muted:#5b5b63;--line:#d9d9de;--bg:#fff;--ok:#1b6e3a;--fail:#b3261e;--warn:#8a5a00;--accent:#23446e}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,"Noto Sans","Noto Sans Khmer","Khmer OS",sans-serif;color:var(--fg);background:var(--bg)}
header{background:var(--accent);color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.5rem;align-items:baseline;flex-wrap:wrap}
header a{color:#fff}
header .brand{font-weight:700;font-size:1.1rem;text-decoration:none}
nav a{margin-right:1rem}
nav a[aria-current]{font-weight:700;text-decoration:none;border-bottom:2px solid #fff}
main{padding:1rem 1.2rem;max-width:80rem}
h1{font-size:1.5rem;margin:.4rem 0 1rem}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.85rem;color:var(--muted);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code,.digest{font-family:ui-monospace,monospace;font-size:.8rem}
.digest{word-break:break-all}
code.id{white-space:nowrap}
.nb{white-space:nowrap}
td code{overflow-wrap:break-word}
main{overflow-x:auto}
.qc-pass{color:var(--ok)}.qc-warn{color:var(--warn)}.qc-fail{color:var(--fail);font-weight:700}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:.5rem 0 1rem}
.card{border:1px solid var(--line);border-radius:6px;padding:.5rem .9rem;min-width:9rem}
.card .n{font-size:1.5rem;font-weight:700;display:block}
.status{display:inline-block;padding:0 .45rem;border-radius:3px;font-size:.85rem;border:1px solid}
.status-ok{color:var(--ok)}.status-failed{color:var(--fail);font-weight:700}
.status-overdue{color:var(--warn)}.status-never-checked{color:var(--muted)}
.restricted{color:var(--fail);font-weight:600}
.notice{border-left:4px solid var(--warn);padding:.4rem .8rem;background:#fff8e6}
.bad{border-left:4px solid var(--fail);padding:.4rem .8rem;background:#fdeceb}
.good{border-left:4px solid var(--ok);padding:.4rem .8rem;background:#eaf6ee}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.85rem;color:var(--muted)}
input,select,button{font:inherit;padding:.2rem .4rem}
dl.dc{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dl.dc dt{color:var(--muted);font-size:.9rem}
dl.dc dd{margin:0}
.pager a{margin-right:1rem}
"#;

/// The page frame.
pub fn layout(title: &str, current: &str, body: Markup) -> Markup {
    let link = |href: &str, label: &str| {
        html! {
            @if href == current {
                a href=(href) aria-current="page" { (label) }
            } @else {
                a href=(href) { (label) }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Cairn" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a.brand href="/" { "Cairn" }
                    nav aria-label="Main" {
                        (link("/", "Overview"))
                        (link("/items", "Items"))
                        (link("/events", "Events"))
                        (link("/audit", "Audit"))
                        a href="/oai?verb=Identify" { "OAI-PMH" }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub fn status_badge(s: Status) -> Markup {
    html! { span class={"status status-" (s.slug())} { (s.name()) } }
}

/// 1234567 → "1.2 MiB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

fn item_link(id: &str) -> Markup {
    html! { a href={"/items/" (id)} { code.id { (id) } } }
}

/// What the overview shows.
pub struct Overview<'a> {
    pub snap: &'a Snapshot,
    pub now: DateTime<Utc>,
    pub statuses: BTreeMap<Status, usize>,
}

pub fn overview(o: &Overview) -> Markup {
    let snap = o.snap;
    let (files, bytes, formats) = (snap.files, snap.bytes, &snap.formats);
    let last = snap.log.last.as_ref();
    let body = html! {
        h1 { "The archive at a glance" }
        div.cards {
            div.card { span.n { (snap.items.len()) } "items" }
            div.card { span.n { (files) } "files" }
            div.card { span.n { (human_bytes(bytes)) } (bytes) " bytes" }
            div.card { span.n { (formats.len()) } "formats" }
        }
        h2 { "Fixity status" }
        table {
            thead { tr { th { "Status" } th.num { "Items" } } }
            tbody {
                @for s in Status::ALL {
                    tr {
                        td { a href={"/items?status=" (s.slug())} { (status_badge(s)) } }
                        td.num { (o.statuses.get(&s).copied().unwrap_or(0)) }
                    }
                }
            }
        }
        h2 { "Fixity checks per day" }
        (fixity_chart(&snap.log.fixity_days, o.now))
        h2 { "Event log" }
        @if let Some(b) = &snap.log.broken {
            p.bad { "The chain is broken at line " (b.line) ": " (b.detail) ". See " a href="/audit" { "Audit" } "." }
        }
        table {
            tbody {
                tr { th { "Lines" } td { (snap.log.lines()) } }
                tr { th { "Head (BLAKE3 of the last line)" } td { code { (snap.log.head()) } } }
                @if let Some(e) = last {
                    tr { th { "Last event" } td { (e.time) " · " (e.event_type) " · " (e.outcome) " · " (item_link(&e.object)) } }
                }
            }
        }
        h2 { "Formats" }
        table {
            thead { tr { th { "Media type" } th.num { "Files" } th.num { "Bytes" } } }
            tbody {
                @for (mime, n, b) in formats {
                    tr { td { code { (mime) } } td.num { (n) } td.num { (human_bytes(*b)) } }
                }
            }
        }
        @if !snap.pending.is_empty() {
            p.notice { (snap.pending.len()) " register entries are not shown yet (their bag is not in place, or they could not be read); see " a href="/audit" { "Audit" } "." }
        }
    };
    layout("Overview", "/", body)
}

/// Fixity checks of the archive's bags per day, passed and failed stacked, over the
/// last 30 days (or up to the last day with a check, if later).
pub fn fixity_chart(days: &FixityDays, now: DateTime<Utc>) -> Markup {
    let days = &days.0;
    let end = days
        .keys()
        .next_back()
        .copied()
        .unwrap_or(now.date_naive())
        .max(now.date_naive());
    let span = 30i64;
    let start = end - chrono::Duration::days(span - 1);
    let series: Vec<(NaiveDate, u32, u32)> = (0..span)
        .map(|i| {
            let d = start + chrono::Duration::days(i);
            let (p, f) = days.get(&d).copied().unwrap_or_default();
            (d, p, f)
        })
        .collect();
    let max = series
        .iter()
        .map(|(_, p, f)| p + f)
        .max()
        .unwrap_or(0)
        .max(1);
    let (passed, failed): (u32, u32) = series
        .iter()
        .fold((0, 0), |(a, b), (_, p, f)| (a + p, b + f));
    let (w, h, left, bottom, top) = (720.0f64, 200.0f64, 40.0f64, 30.0f64, 10.0f64);
    let bar = (w - left) / span as f64;
    let scale = (h - bottom - top) / f64::from(max);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px" role="img" aria-labelledby="chart-title"><title id="chart-title">Fixity checks per day from {start} to {end}: {passed} passed, {failed} failed</title>"##
    );
    let base = h - bottom;
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{base}" x2="{w}" y2="{base}" stroke="#888"/><line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#888"/><text x="{}" y="{}" font-size="11" text-anchor="end">{max}</text><text x="{}" y="{base}" font-size="11" text-anchor="end">0</text>"##,
        left - 4.0,
        top + 10.0,
        left - 4.0
    );
    for (i, (d, p, f)) in series.iter().enumerate() {
        let x = left + i as f64 * bar + 1.0;
        let bw = (bar - 2.0).max(1.0);
        let ph = f64::from(*p) * scale;
        let fh = f64::from(*f) * scale;
        if *p > 0 {
            let _ = write!(
                svg,
                r##"<rect x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{ph:.1}" fill="#2e8b57"><title>{d}: {p} passed</title></rect>"##,
                base - ph
            );
        }
        if *f > 0 {
            let _ = write!(
                svg,
                r##"<rect x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{fh:.1}" fill="#c0392b"><title>{d}: {f} failed</title></rect>"##,
                base - ph - fh
            );
        }
        // Every seventh day, counted back from the last, so the labels never overlap;
        // the last day's label ends at its bar's right edge, inside the chart (centred
        // under the bar, it ran past the drawing's right side and was clipped).
        if (span - 1 - i as i64) % 7 == 0 {
            let (at, anchor) = if i as i64 == span - 1 {
                (x + bw, "end")
            } else {
                (x + bw / 2.0, "middle")
            };
            let _ = write!(
                svg,
                r##"<text x="{at:.1}" y="{}" font-size="10" text-anchor="{anchor}">{}</text>"##,
                h - 12.0,
                d.format("%m-%d")
            );
        }
    }
    let _ = write!(
        svg,
        r##"<rect x="{}" y="{}" width="10" height="10" fill="#2e8b57"/><text x="{}" y="{}" font-size="11">passed</text><rect x="{}" y="{}" width="10" height="10" fill="#c0392b"/><text x="{}" y="{}" font-size="11">failed</text></svg>"##,
        w - 150.0,
        top,
        w - 136.0,
        top + 9.0,
        w - 80.0,
        top,
        w - 66.0,
        top + 9.0
    );
    html! {
        figure {
            (PreEscaped(svg))
            figcaption { (passed) " passed and " (failed) " failed in the 30 days to " (end) "." }
        }
    }
}

/// The /items page.
pub struct ItemsPage<'a> {
    pub rows: Vec<(&'a Item, Status)>,
    pub total: usize,
    pub q: &'a str,
    pub status: Option<Status>,
    pub page: usize,
    pub pages: usize,
}

pub fn items(p: &ItemsPage) -> Markup {
    let query = |page: usize| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if !p.q.is_empty() {
            s.append_pair("q", p.q);
        }
        if let Some(st) = p.status {
            s.append_pair("status", st.slug());
        }
        s.append_pair("page", &page.to_string());
        format!("/items?{}", s.finish())
    };
    let body = html! {
        h1 { "Items" }
        form.filters method="get" action="/items" role="search" {
            label { "Search titles and every Dublin Core term"
                input type="search" name="q" value=(p.q) maxlength="200";
            }
            label { "Fixity status"
                select name="status" {
                    option value="" { "any" }
                    @for s in Status::ALL {
                        option value=(s.slug()) selected[p.status == Some(s)] { (s.name()) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        p { (crate::units::count(p.total as u64, "item matches", "items match")) ", the last changed last." }
        table {
            thead { tr { th { "Identifier" } th { "Title" } th { "Archived" } th { "Updated" } th.num { "Files" } th.num { "Size" } th { "Fixity" } } }
            tbody {
                @for (item, status) in &p.rows {
                    tr {
                        td { (item_link(&item.id)) }
                        td lang=[item.lang.as_deref()] {
                            (item.title)
                            @if item.restricted { " " span.restricted lang="en" { "(restricted)" } }
                        }
                        td { (day(&item.archived)) }
                        td { (item.updated.as_deref().map(day).unwrap_or("—")) }
                        td.num { (item.file_count) }
                        td.num { (human_bytes(item.bytes)) }
                        td { (status_badge(*status)) }
                    }
                }
            }
        }
        @if p.pages > 1 {
            p.pager {
                @if p.page > 1 { a href=(query(p.page - 1)) rel="prev" { "← previous" } }
                "page " (p.page) " of " (p.pages)
                @if p.page < p.pages { " " a href=(query(p.page + 1)) rel="next" { "next →" } }
            }
        }
    };
    layout("Items", "/items", body)
}

pub fn item(
    item: &Item,
    history: &super::reader::ItemHistory,
    snap: &Snapshot,
    now: DateTime<Utc>,
    serve_files: bool,
    restricted_digests: bool,
    oai_identifier: &str,
) -> Markup {
    let (events, kept) = (&history.events, &history.kept);
    // A digest confirms a guess of a short file's content: a restricted item's are
    // shown only where `serve.restricted_digests` says so.
    let digests = !item.restricted || restricted_digests;
    let status = snap.status(&item.id, now);
    let checks = snap.checks(&item.id);
    let damage = super::reader::Damage::of(events);
    let damaged = |path: &str| {
        damage
            .archive
            .as_ref()
            .is_some_and(|d| d.paths.contains(path))
    };
    let body = html! {
        h1 lang=[item.lang.as_deref()] { (item.title) }
        p {
            code.id { (item.id) } " · archived " (item.archived) " · fixity " (status_badge(status))
            @if let Some((t, ok)) = checks.last_fixity {
                " (last check " (t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) ", " (if ok { "passed" } else { "FAILED" }) ")"
            }
        }
        (super::reader::damage_notice(&item.id, &damage))
        @if item.restricted {
            p.notice.restricted { "Restricted: its description is public, its files are not served." }
        }
        h2 { "Dublin Core" }
        dl.dc lang=[item.lang.as_deref()] {
            @for (term, value) in &item.dc.entries {
                dt lang="en" { (term.name()) }
                dd { (value) }
            }
        }
        p { "OAI-PMH: " a href={"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=" (form_urlencoded::byte_serialize(oai_identifier.as_bytes()).collect::<String>())} { "this record as oai_dc" } }
        (super::reader::versions_section(&item.id, item.version, item.entry_version, &item.archived, item.updated.as_deref(), kept))
        h2 { "Files (" (item.files.len()) ", " (human_bytes(item.bytes)) ")" }
        table {
            thead { tr { th { "Path" } th.num { "Size" } th { "Format" } th { "Scan QC" } th { "Digests" } } }
            tbody {
                @for (i, f) in item.files.iter().enumerate() {
                    tr {
                        td {
                            @if serve_files && !item.restricted {
                                a href={"/items/" (item.id) "/files/" (i)} { code { (super::reader::unbroken_words(&f.path)) } }
                            } @else {
                                code { (super::reader::unbroken_words(&f.path)) }
                            }
                            @if damaged(&f.path) { " " span.status.status-failed { "damaged" } }
                        }
                        td.num { (f.size) }
                        td { (super::reader::format_cell(f)) }
                        td { (super::reader::qc_cell(f)) }
                        td {
                            @if digests {
                                @for (alg, d) in f.digests.iter() {
                                    div { (alg.name()) ": " span.digest { (d.to_hex()) } }
                                }
                            } @else {
                                span lang="en" { "not shown (restricted)" }
                            }
                        }
                    }
                }
            }
        }
        (super::reader::kept_section(&item.id, kept, serve_files && !item.restricted))
        h2 { "Events" }
        (events_table(events, false))
    };
    layout(&item.title, "/items", body)
}

pub fn events_table(events: &[LineShown], with_object: bool) -> Markup {
    html! {
        table {
            thead { tr { th.num { "#" } th { "Time" } th { "Type" } th { "Outcome" } @if with_object { th { "Item" } } th { "Detail" } } }
            tbody {
                @for shown in events {
                    @match shown {
                        LineShown::Event(e) => {
                            tr {
                                td.num { (e.seq) }
                                td.nb { (e.time) }
                                td { (e.event_type) }
                                td { @if Outcome::Success.is(&e.outcome) { span.status.status-ok { (Outcome::Success.as_str()) } } @else { span.status.status-failed { (e.outcome) } } }
                                @if with_object { td { @if !e.object.is_empty() { (item_link(&e.object)) } } }
                                td { (super::reader::unbroken_words(&e.detail)) }
                            }
                        }
                        LineShown::Changed(line, why) => {
                            tr.bad {
                                td.num { (line) }
                                td colspan=(if with_object { 5 } else { 4 }) {
                                    span.status.status-failed { "changed" } " Line " (line) " of the event log: " (why) ". Run " code { "cairn audit" } "."
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The /events filters, as given.
#[derive(Debug, Default, serde::Deserialize)]
pub struct EventFilters {
    #[serde(default)]
    pub id: String,
    #[serde(default, rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub page: Option<usize>,
}

pub fn events(
    f: &EventFilters,
    notes: &[String],
    rows: &[LineShown],
    total: usize,
    page: usize,
    pages: usize,
    types: &[&str],
) -> Markup {
    let query = |page: usize| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("id", &f.id),
            ("type", &f.event_type),
            ("outcome", &f.outcome),
            ("since", &f.since),
            ("until", &f.until),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        s.append_pair("page", &page.to_string());
        format!("/events?{}", s.finish())
    };
    let body = html! {
        h1 { "Events" }
        form.filters method="get" action="/events" {
            label { "Item" input type="text" name="id" value=(f.id) maxlength="200"; }
            label { "Type"
                select name="type" {
                    option value="" { "any" }
                    @for t in types { option value=(t) selected[f.event_type == *t] { (t) } }
                }
            }
            label { "Outcome"
                select name="outcome" {
                    option value="" { "any" }
                    @for o in [Outcome::Success.as_str(), Outcome::Failure.as_str()] { option value=(o) selected[f.outcome == o] { (o) } }
                }
            }
            label { "Since (UTC, YYYY-MM-DD or full time)" input type="text" name="since" value=(f.since) maxlength="40"; }
            label { "Until" input type="text" name="until" value=(f.until) maxlength="40"; }
            button type="submit" { "Filter" }
        }
        @for n in notes { p.notice { (n) } }
        p { (crate::units::count(total as u64, "event matches", "events match")) ", newest first." }
        (events_table(rows, true))
        @if pages > 1 {
            p.pager {
                @if page > 1 { a href=(query(page - 1)) rel="prev" { "← newer" } }
                "page " (page) " of " (pages)
                @if page < pages { " " a href=(query(page + 1)) rel="next" { "older →" } }
            }
        }
    };
    layout("Events", "/events", body)
}

/// What /audit shows.
pub struct AuditView<'a> {
    pub snap: &'a Snapshot,
    pub failed: Vec<(&'a str, String)>,
    pub overdue: Vec<(&'a str, Option<String>)>,
    pub never_checked: Vec<&'a str>,
    pub bags_without_entry: Vec<String>,
    pub now: DateTime<Utc>,
}

const LIST_CAP: usize = 500;

pub fn audit(a: &AuditView) -> Markup {
    let snap = a.snap;
    let sound = snap.log.broken.is_none()
        && a.failed.is_empty()
        && a.bags_without_entry.is_empty()
        && snap.pending.is_empty();
    let body = html! {
        h1 { "Audit" }
        @if sound {
            p.good { "Sound: the event log's chain holds, no fixity check has failed, and every bag and register entry has its counterpart." }
        } @else {
            p.bad { "Problems found: see below." }
        }
        p { "As of " (a.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) ", from the register and the event log. For the full audit (every tag manifest re-hashed against the register), run " code { "cairn audit" } "." }
        h2 { "Event log chain" }
        table { tbody {
            tr { th { "Length" } td { (snap.log.lines()) " lines" } }
            tr { th { "Head" } td { code { (snap.log.head()) } } }
            tr { th { "Chain" } td {
                @if let Some(b) = &snap.log.broken {
                    span.status.status-failed { "broken at line " (b.line) } " " (b.detail)
                } @else {
                    span.status.status-ok { "intact" } " (every line's prev is the BLAKE3 of the line before)"
                }
            } }
        } }
        p { "Record the head; " code { "cairn audit --since-head HEAD" } " later proves the log was only appended to." }
        h2 { "Failed fixity checks (" (a.failed.len()) ")" }
        @if a.failed.is_empty() { p { "None." } } @else {
            table { thead { tr { th { "Item" } th { "Last check" } } } tbody {
                @for (id, t) in &a.failed { tr { td { (item_link(id)) } td { (t) } } }
            } }
        }
        h2 { "Overdue checks (" (a.overdue.len()) ")" }
        p { "Last check older than " (snap.interval_days) " days (fixity.interval_days)." }
        @if a.overdue.is_empty() { p { "None." } } @else {
            table { thead { tr { th { "Item" } th { "Last check" } } } tbody {
                @for (id, t) in a.overdue.iter().take(LIST_CAP) { tr { td { (item_link(id)) } td { (t.as_deref().unwrap_or("never")) } } }
            } }
            @if a.overdue.len() > LIST_CAP { p { "… and " (a.overdue.len() - LIST_CAP) " more: " a href="/items?status=overdue" { "all overdue items" } } }
        }
        h2 { "Never checked by fixity (" (a.never_checked.len()) ")" }
        @if a.never_checked.is_empty() { p { "None." } } @else {
            p { @for id in a.never_checked.iter().take(LIST_CAP) { (item_link(id)) " " } }
            @if a.never_checked.len() > LIST_CAP { p { "… and " (a.never_checked.len() - LIST_CAP) " more: " a href="/items?status=never-checked" { "all of them" } } }
        }
        h2 { "Register and bags" }
        @if snap.pending.is_empty() && a.bags_without_entry.is_empty() {
            p { "Every register entry has its bag, and every bag its register entry." }
        }
        @if !snap.pending.is_empty() {
            table { thead { tr { th { "Register entry" } th { "Not shown because" } } } tbody {
                @for (id, why) in &snap.pending { tr { td { code.id { (id) } } td { (why) } } }
            } }
        }
        @if !a.bags_without_entry.is_empty() {
            p.bad { "Bags in archive/ that the register does not know (an ingest may be committing right now):" }
            ul { @for id in &a.bags_without_entry { li { code.id { (id) } } } }
        }
    };
    layout("Audit", "/audit", body)
}

pub fn not_found(what: &str) -> Markup {
    layout(
        "Not found",
        "",
        html! { h1 { "Not found" } p { (what) } p { a href="/items" { "All items" } } },
    )
}

/// The day of an RFC 3339 time as the register writes it (`2026-12-07T04:13:10Z`).
fn day(time: &str) -> &str {
    time.get(..10).unwrap_or(time)
}

/// The page a withdrawn item's address answers with (410 Gone): when, why, and what
/// became of its bag; never its files.
pub fn tombstone_page(t: &crate::fs::lifecycle::Tombstone) -> Markup {
    let title = t
        .dublin_core
        .read_record()
        .ok()
        .and_then(|dc| dc.title().map(str::to_string))
        .unwrap_or_else(|| t.id.clone());
    let disposition = match t.disposition.as_str() {
        "quarantined" => "quarantined: its bag is kept apart, out of the archive's holdings",
        "purged" => "purged: its files were deleted",
        other => other,
    };
    let lang = t
        .dublin_core
        .read_record()
        .ok()
        .and_then(|dc| super::snapshot::item_lang(&dc));
    layout(
        &title,
        "/items",
        html! {
            h1 lang=[lang.as_deref()] { (title) }
            p.bad role="status" {
                strong { "Withdrawn. " }
                code.id { (t.id) } " was withdrawn from the archive on " (t.withdrawn) "."
            }
            table { tbody {
                tr { th { "Identifier" } td { code.id { (t.id) } } }
                tr { th { "Withdrawn" } td { (t.withdrawn) } }
                tr { th { "Reason" } td { (t.reason) } }
                tr { th { "Disposition" } td { (disposition) } }
                tr { th { "Archived" } td { (t.archived) } }
            } }
            p { "Its files are not served. " a href="/items" { "All items" } }
        },
    )
}
