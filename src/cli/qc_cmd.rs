//! `cairn qc`: a batch of scans checked against the digitisation profile, as text, JSON
//! or a self-contained HTML page with thumbnails (`qc_html.rs`).

use std::path::{Path, PathBuf};

use clap::Args;

use cairn::fs::archive::Archive;
use cairn::ops::formats;
use cairn::ops::qc::QcReport;
use cairn::qc::profile::Outcome;

use super::common::{print_json, printable, require_exists, say, RootArg};
use super::outcome::{error_exit, exit_code};

pub(super) const QC_HELP: &str = "\
Examples:
  cairn qc delivery/ --profile fadgi-3-star-text
  cairn qc delivery/ --json > qc.json
  cairn qc delivery/ --html qc.html

Exit codes:
  0  every file passed (warnings may have been printed)
  1  a file failed the profile (or, without one, is not well-formed or not valid)
  2  bad usage: an unknown profile, a path that names nothing, the --html file exists
  3  could not run: a file could not be read";

#[derive(Args)]
pub(super) struct QcArgs {
    /// Files or folders (folders are walked, files in name order).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The profile: a preset (fadgi-3-star-text, fadgi-4-star-text, metamorfoze-light)
    /// or one of the archive's [qc.profiles] [default: the archive's qc.profile; none
    /// outside an archive].
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Also write the report as one self-contained HTML file; the file must not exist.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    // The archive whose cairn.toml ([qc]) and installed signature files are used:
    // --root, else the archive holding the current folder, if any; else the built-in
    // signature files and no profile.
    #[command(flatten)]
    root: RootArg,
}

pub(super) fn run_qc(args: QcArgs) -> u8 {
    for p in &args.paths {
        if let Err(code) = require_exists("qc", "file or folder", p) {
            return code;
        }
    }
    let root = args
        .root
        .root
        .clone()
        .or_else(|| Archive::find_root(Path::new(".")));
    let archive = match root {
        Some(r) => match Archive::open_with(&r, super::common::env()) {
            Ok(a) => Some(a),
            Err(e) => return error_exit("qc", &e),
        },
        None => None,
    };
    let section = archive
        .as_ref()
        .map(|a| a.config.qc.clone())
        .unwrap_or_default();
    let profile = match section.profile(args.profile.as_deref()) {
        Ok(p) => p,
        Err(e) => return error_exit("qc", &cairn::Error::Usage(format!("--profile: {e}"))),
    };
    let load = || formats::load_identifier(archive.as_ref());
    let report = match cairn::ops::qc::run(load, profile.as_ref(), &args.paths) {
        Ok(r) => r,
        Err(e) => return error_exit("qc", &e),
    };
    if args.json {
        print_json(&report);
    } else {
        print_text(&report);
    }
    for e in &report.errors {
        errln!("error: {}", printable(e));
    }
    if let Some(path) = &args.html {
        let html = super::qc_html::render(&report);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, html.as_bytes()));
        match written {
            Ok(()) => {
                if !args.json {
                    say!("wrote {}", path.display());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return error_exit("qc", &cairn::Error::AlreadyExists { path: path.clone() })
            }
            Err(e) => return error_exit("qc", &cairn::Error::io("write", path, e)),
        }
    }
    exit_code(&report)
}

/// Per file one line, then its findings indented; the summary line last.
fn print_text(r: &QcReport) {
    for f in &r.files {
        let line = format!(
            "{}  {}  {}  {}  {}",
            printable(&f.path.to_string_lossy()),
            f.puid.as_deref().unwrap_or("UNKNOWN"),
            f.status,
            super::qc_html::measures(f).join("  "),
            f.outcome.as_str()
        );
        if f.outcome == Outcome::Pass {
            say!("{line}");
        } else {
            outln!("{line}");
        }
        let show = |s: &str| {
            if f.outcome == Outcome::Pass {
                say!("    {s}");
            } else {
                outln!("    {s}");
            }
        };
        if let Some(j) = &f.judgement {
            for rr in j.results.iter().filter(|x| x.outcome != Outcome::Pass) {
                show(&format!(
                    "{} {}: {}",
                    rr.outcome.as_str(),
                    rr.rule,
                    printable(&rr.message)
                ));
            }
        }
        if let Some(v) = &f.validation {
            for x in &v.findings {
                let at = x
                    .offset
                    .map(|o| format!(" at byte {o}"))
                    .unwrap_or_default();
                show(&format!(
                    "{} {}{at}: {}",
                    x.severity.as_str(),
                    x.code,
                    printable(&x.message)
                ));
            }
        }
    }
    let line = summary(r);
    if r.passed {
        say!("{line}");
    } else {
        outln!("{line}");
    }
}

/// `N files (V valid, ...): P passed, W with warnings, F failed (profile NAME)`.
pub(super) fn summary(r: &QcReport) -> String {
    let t = &r.totals;
    format!(
        "{} file{} ({} valid, {} not valid, {} not well-formed, {} not validated): {} passed, {} with warnings, {} failed ({})",
        t.files,
        if t.files == 1 { "" } else { "s" },
        t.valid,
        t.not_valid,
        t.not_well_formed,
        t.not_validated,
        t.pass,
        t.warn,
        t.fail,
        match &r.profile {
            Some(p) => format!("profile {p}"),
            None => "no profile: validation only".into(),
        }
    )
}
