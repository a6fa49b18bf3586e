//! `cairn qc --html`: the report as one self-contained HTML file (no network, no
//! script), as `cairn report --html` is: per file its measures, findings and outcome,
//! and the totals, with a thumbnail of each TIFF, JPEG and PNG the pure-Rust decoders
//! read ([`cairn::ops::qc::thumbnail`]), inline as a `data:` URI. [`measures`] is shared with
//! the text output (`qc_cmd.rs`).

use maud::{html, PreEscaped, DOCTYPE};

use cairn::ops::qc::{QcFile, QcReport};
use cairn::qc::profile::{self, Outcome};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem;line-height:1.4;color:#222}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}\
table{border-collapse:collapse;width:100%;font-size:.9rem;display:block;overflow-x:auto}\
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}\
.cards{display:flex;flex-wrap:wrap;gap:.5rem}.card{border:1px solid #ccc;border-radius:.4rem;padding:.5rem .8rem}\
.n{font-size:1.3rem;font-weight:bold;display:block}.fail{color:#c0392b;font-weight:bold}.warn{color:#a66300}\
ul{margin:0;padding-left:1rem}img{max-width:160px;max-height:160px;display:block}code{word-break:break-all}";

pub(super) fn render(r: &QcReport) -> String {
    let t = &r.totals;
    let class = |o: Outcome| match o {
        Outcome::Pass => None,
        Outcome::Warn => Some("warn"),
        Outcome::Fail => Some("fail"),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Cairn QC report" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Cairn QC report" }
                p {
                    "Profile: " (r.profile.as_deref().unwrap_or("none (validation only)"))
                    ". Made by " (cairn::agent()) "."
                }
                div.cards {
                    div.card { span.n { (t.files) } "files" }
                    div.card { span.n { (t.valid) } "valid" }
                    div.card { span.n { (t.not_valid) } "not valid" }
                    div.card { span.n { (t.not_well_formed) } "not well-formed" }
                    div.card { span.n { (t.not_validated) } "not validated" }
                    div.card { span.n { (t.pass) } "passed" }
                    div.card { span class=(if t.warn > 0 { "n warn" } else { "n" }) { (t.warn) } "with warnings" }
                    div.card { span class=(if t.fail > 0 { "n fail" } else { "n" }) { (t.fail) } "failed" }
                }
                h2 { "Files" }
                table {
                    thead { tr {
                        th { "Preview" } th { "File" } th { "Format" } th { "Size" } th { "Status" } th { "ppi" }
                        th { "Depth" } th { "Colour" } th { "Compression" } th { "ICC" }
                        th { "Findings" } th { "Outcome" }
                    } }
                    tbody {
                        @for f in &r.files {
                            @let m = measures(f);
                            tr {
                                td {
                                    @if let Some(uri) = thumbnail_uri(f) {
                                        img src=(uri) alt="" loading="lazy";
                                    }
                                }
                                td { code { (f.path.to_string_lossy()) } }
                                td { (f.puid.as_deref().unwrap_or("UNKNOWN")) " " (f.format) }
                                td { (f.size) }
                                td { (f.status) }
                                @for x in &m { td { (x) } }
                                td {
                                    ul {
                                        @if let Some(j) = &f.judgement {
                                            @for rr in j.results.iter().filter(|x| x.outcome != Outcome::Pass) {
                                                li class=[class(rr.outcome)] { (rr.rule) ": " (rr.message) }
                                            }
                                        }
                                        @if let Some(v) = &f.validation {
                                            @for x in &v.findings {
                                                li { code { (x.code) } " (" (x.severity.as_str()) ")"
                                                    @if let Some(o) = x.offset { " at byte " (o) }
                                                    ": " (x.message) }
                                            }
                                        }
                                    }
                                }
                                td class=[class(f.outcome)] { (f.outcome.as_str()) }
                            }
                        }
                    }
                }
                @if !r.errors.is_empty() {
                    h2 { "Could not be read (" (r.errors.len()) ")" }
                    ul { @for e in &r.errors { li.fail { (e) } } }
                }
            }
        }
    }
    .into_string()
}

/// The measures of a file, in the order of the text line: ppi, depth, colour,
/// compression, ICC (`-` where not measured).
pub(super) fn measures(f: &QcFile) -> [String; 5] {
    let dash = || "-".to_string();
    let Some(t) = &f.techmd else {
        return [dash(), dash(), dash(), dash(), dash()];
    };
    let ppi = match profile::ppi(t) {
        Ok(p) => format!("{} ppi", (p * 100.0).round() / 100.0),
        Err(_) if t.resolution_unit.as_deref() == Some("none") => "no unit".into(),
        Err(_) => dash(),
    };
    let depth = if t.bits_per_sample.is_empty() {
        dash()
    } else {
        let b: Vec<String> = t.bits_per_sample.iter().map(|b| b.to_string()).collect();
        format!("{} bits", b.join(","))
    };
    let colour = profile::colour(t).map_or_else(dash, str::to_string);
    let compression = profile::compression(t).map_or_else(dash, str::to_string);
    let icc = match t.icc_profile {
        Some(true) => "ICC".into(),
        Some(false) => "no ICC".into(),
        None => dash(),
    };
    [ppi, depth, colour, compression, icc]
}

/// The file's thumbnail as a `data:` URI, when it has one.
fn thumbnail_uri(f: &QcFile) -> Option<String> {
    use base64::Engine;
    let png = cairn::ops::qc::thumbnail(f)?;
    Some(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}
