//! `cairn report --html`: the report as one self-contained HTML file (no network, no
//! script), readable on a phone, with the fixity chart the serve pages draw
//! ([`cairn::serve::pages::fixity_chart`], inline SVG).

use maud::{html, PreEscaped, DOCTYPE};

use cairn::ops::report::Report;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;line-height:1.4;color:#222}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}\
table{border-collapse:collapse;width:100%;font-size:.9rem;display:block;overflow-x:auto}\
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}\
.cards{display:flex;flex-wrap:wrap;gap:.5rem}.card{border:1px solid #ccc;border-radius:.4rem;padding:.5rem .8rem}\
.n{font-size:1.3rem;font-weight:bold;display:block}.failed{color:#c0392b;font-weight:bold}\
code{word-break:break-all}";

pub(super) fn render(r: &Report, archive: &str) -> String {
    let now = chrono::DateTime::parse_from_rfc3339(&r.generated)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    let chart = cairn::serve::pages::fixity_chart(&r.fixity_days, now);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Cairn report: " (archive) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Cairn report: " (archive) }
                p { "Generated " (r.generated) " by " (cairn::agent()) "." }
                div.cards {
                    div.card { span.n { (r.items) } "items" }
                    div.card { span.n { (r.versions) } "versions kept" }
                    div.card { span.n { (r.files) } "files" }
                    div.card { span.n { (r.bytes) } "bytes" }
                    div.card { span.n { (r.withdrawn.len()) } "withdrawn" }
                    @for (s, n) in &r.status {
                        div.card { span.n class=[(*s == "failed" && *n > 0).then_some("failed")] { (n) } (s) }
                    }
                }
                h2 { "Fixity checks over time" }
                (chart)
                h2 { "Items" }
                table {
                    thead { tr { th { "ID" } th { "Title" } th { "Status" } th { "Content version" } th { "Record version" } th { "Files" } th { "Bytes" } th { "Last fixity check" } } }
                    tbody {
                        @for i in &r.item_list {
                            tr {
                                td { code { (i.id) } }
                                td { (i.title.as_deref().unwrap_or("(untitled)")) }
                                td class=[(i.status == "failed").then_some("failed")] { (i.status) }
                                td { (i.content_version) }
                                td { (i.entry_version) }
                                td { (i.files) }
                                td { (i.bytes) }
                                td { (i.last_fixity.as_deref().unwrap_or("never")) " " (i.last_fixity_outcome.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
                h2 { "Formats" }
                table {
                    thead { tr { th { "MIME type" } th { "PRONOM" } th { "Files" } th { "Bytes" } } }
                    tbody {
                        @for f in &r.formats {
                            tr {
                                td { (f.mime) }
                                td { (f.puid.as_deref().unwrap_or("")) " " (f.name.as_deref().unwrap_or("")) }
                                td { (f.files) }
                                td { (f.bytes) }
                            }
                        }
                    }
                }
                @for (heading, list) in [("Failures", &r.failures), ("Warnings", &r.warnings)] {
                    h2 { (heading) " in the event log (" (list.len()) ")" }
                    @if list.is_empty() {
                        p { "None." }
                    } @else {
                        table {
                            thead { tr { th { "Time" } th { "Item" } th { "Event" } th { "Detail" } } }
                            tbody {
                                @for f in list {
                                    tr { td { (f.time) } td { code { (f.id) } } td { (f.event_type) } td { (f.detail) } }
                                }
                            }
                        }
                    }
                }
                @if let Some(qc) = &r.qc {
                    h2 { "Quality control" }
                    p {
                        (qc.totals.files) " files validated at ingest or revise: " (qc.totals.valid) " valid, " (qc.totals.not_valid) " not valid, "
                        (qc.totals.not_well_formed) " not well-formed, " (qc.totals.not_validated) " not validated; profile: "
                        (qc.totals.pass) " pass, " (qc.totals.warn) " warn, " (qc.totals.fail) " fail; " (qc.totals.findings) " findings."
                    }
                    table {
                        thead { tr { th { "Item" } th { "File" } th { "Size" } th { "ppi" } th { "Depth" } th { "Colour" } th { "Compression" } th { "ICC" } th { "Status" } th { "Findings" } th { "Profile" } } }
                        tbody {
                            @for f in &qc.files {
                                tr {
                                    td { code { (f.id) } }
                                    td { code { (f.path) } }
                                    td { (f.size) @if let (Some(w), Some(h)) = (f.width, f.height) { " (" (w) "×" (h) ")" } }
                                    td { @if let Some(p) = f.ppi { ((p * 10.0).round() / 10.0) } }
                                    td { (f.depth.as_deref().unwrap_or("")) }
                                    td { (f.colour.as_deref().unwrap_or("")) }
                                    td { (f.compression.as_deref().unwrap_or("")) }
                                    td { @match f.icc { Some(true) => "yes", Some(false) => "no", None => "" } }
                                    td class=[(f.status != "valid").then_some("failed")] { (f.status) }
                                    td { @for x in &f.findings { code { (x.code) } " " (x.message) br; } }
                                    td {
                                        @if let (Some(p), Some(j)) = (&f.profile, f.judgement) { (p) ": " (cairn::ops::commit::judgement_word(j)) }
                                        @for x in &f.flagged { br; (x) }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Withdrawn items (" (r.withdrawn.len()) ")" }
                @if r.withdrawn.is_empty() {
                    p { "None." }
                } @else {
                    table {
                        thead { tr { th { "ID" } th { "Withdrawn" } th { "Disposition" } th { "Reason" } } }
                        tbody {
                            @for w in &r.withdrawn {
                                tr { td { code { (w.id) } } td { (w.withdrawn) } td { (w.disposition) } td { (w.reason) } }
                            }
                        }
                    }
                }
                h2 { "Event log" }
                p {
                    (r.log.lines) " events; head (BLAKE3 of the last line, which commits to the whole log): "
                    code { (r.log.head) }
                    @if let Some(b) = &r.log.broken { span.failed { " The chain is broken: " (b) } }
                }
            }
        }
    }
    .into_string()
}
