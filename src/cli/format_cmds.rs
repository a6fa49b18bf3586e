//! The format commands: `identify` and `formats`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use cairn::fs::archive::Archive;
use cairn::ops::formats::{self, IdentifyReport};

use super::common::{print_json, printable, say, RootArg};
use super::outcome::{error_exit, exit, exit_code};

#[derive(Args)]
pub(super) struct IdentifyArgs {
    /// Files or folders (folders are walked, files in name order).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Use the signature files installed in this archive (with `cairn formats update`)
    /// [default: those built into Cairn].
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(super) struct FormatsArgs {
    #[command(subcommand)]
    command: Option<FormatsCommand>,
    #[command(flatten)]
    root: RootArg,
    /// Print JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum FormatsCommand {
    /// Show the signature files in force (the default).
    Show {
        #[command(flatten)]
        root: RootArg,
    },
    /// Install a newer DROID signature file (DROID_SignatureFile_VNNN.xml) or
    /// container signature file (container-signature-YYYYMMDD.xml) into the archive's
    /// manifests/formats/; it takes precedence over the one built into Cairn.
    Update {
        /// The signature file, as The National Archives publishes it.
        file: PathBuf,
        #[command(flatten)]
        root: RootArg,
    },
}

pub(super) fn run_identify(args: IdentifyArgs) -> u8 {
    let archive = match &args.root {
        Some(r) => match Archive::open_with(r, super::common::env()) {
            Ok(a) => Some(a),
            Err(e) => return error_exit("identify", &e),
        },
        None => None,
    };
    let id = match formats::load_identifier(archive.as_ref()) {
        Ok(i) => i,
        Err(e) => return error_exit("identify", &e),
    };
    let report = formats::identify(&id, &args.paths);
    if args.json {
        print_json(&report);
    } else {
        print_identify(&report);
    }
    for e in &report.errors {
        errln!("error: {}", printable(e));
    }
    exit_code(&report)
}

fn print_identify(r: &IdentifyReport) {
    for f in &r.files {
        let puid = f.format.puid.as_deref().unwrap_or("UNKNOWN");
        let mut name = f.format.name.clone();
        if !f.format.version.is_empty() {
            name.push_str(&format!(" {}", f.format.version));
        }
        say!(
            "{}  {puid}  {}  ({}: {})",
            printable(&f.path.to_string_lossy()),
            if name.is_empty() { "-".into() } else { name },
            f.format.basis.as_str(),
            f.format.detail
        );
        if let Some(t) = &f.techmd {
            say!("    {}", techmd_line(t));
        }
        for w in &f.warnings {
            errln!(
                "warning: {}: {}",
                printable(&f.path.to_string_lossy()),
                printable(w)
            );
        }
    }
}

pub(super) fn run_formats(args: FormatsArgs) -> u8 {
    let root = match &args.command {
        Some(FormatsCommand::Update { root, .. } | FormatsCommand::Show { root })
            if root.root.is_some() =>
        {
            root
        }
        _ => &args.root,
    };
    let archive = match super::common::open_archive(root, "formats") {
        Ok(a) => a,
        Err(code) => return code,
    };
    match args.command {
        None | Some(FormatsCommand::Show { .. }) => match formats::status(Some(&archive)) {
            Ok(s) => {
                if args.json {
                    print_json(&s);
                } else {
                    say!(
                        "signature file: {} (version {}, {})",
                        s.signature_file,
                        s.signature_version,
                        s.source
                    );
                    say!(
                        "container signature file: {} (version {})",
                        s.container_signature_file,
                        s.container_signature_version
                    );
                    say!(
                        "{} formats, {} byte signatures, {} container signatures; {} bytes read from each end of a file",
                        s.formats,
                        s.signatures,
                        s.container_signatures,
                        s.scan_bytes
                    );
                    say!(
                        "format profile of the archive ({} formats):",
                        s.profile.len()
                    );
                    for r in &s.profile {
                        say!(
                            "  {:<14} {:>8} files {:>14} bytes {:>6} items  {}",
                            r.puid,
                            r.files,
                            r.bytes,
                            r.items,
                            r.name
                        );
                    }
                }
                exit::OK
            }
            Err(e) => error_exit("formats", &e),
        },
        Some(FormatsCommand::Update { file, .. }) => match formats::update(&archive, &file) {
            Ok(r) => {
                if args.json {
                    print_json(&r);
                } else {
                    say!(
                        "installed {} (version {}); it is used from the next ingest on",
                        r.installed.display(),
                        r.version
                    );
                    for o in &r.replaced {
                        say!("removed the older {}", o.display());
                    }
                }
                exit::OK
            }
            Err(e) => error_exit("formats update", &e),
        },
    }
}

/// Technical metadata on one line: `64x48 px, 3 x 8 bits, LZW, RGB, 300 ppi, ...`.
pub(super) fn techmd_line(t: &cairn::techmd::TechMd) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let (Some(w), Some(h)) = (t.width, t.height) {
        parts.push(format!("{w}x{h} px"));
    }
    match (t.components, t.bits_per_sample.first()) {
        (Some(c), Some(b)) => parts.push(format!("{c} x {b} bits")),
        (Some(c), None) => parts.push(format!("{c} components")),
        _ => {}
    }
    if let Some(c) = &t.compression {
        parts.push(c.clone());
    }
    if let Some(r) = t.reversible {
        parts.push(if r { "reversible" } else { "irreversible" }.into());
    }
    if let Some(p) = &t.photometric {
        parts.push(p.clone());
    }
    if let (Some(x), Some(u)) = (t.x_resolution, &t.resolution_unit) {
        let x = (x * 100.0).round() / 100.0;
        if u == "none" {
            // No unit (JFIF density units 0, TIFF ResolutionUnit 1): a pixel aspect
            // ratio, not a resolution.
            parts.push(format!("aspect ratio {x} (no resolution unit)"));
        } else {
            parts.push(format!("{x} per {u}"));
        }
    }
    if t.icc_profile == Some(true) {
        parts.push("ICC profile".into());
    }
    if let Some(v) = &t.pdf_version {
        parts.push(format!("PDF {v}"));
    }
    if let Some(p) = t.pages {
        parts.push(format!("{p} page{}", if p == 1 { "" } else { "s" }));
    }
    if t.encrypted == Some(true) {
        parts.push("encrypted".into());
    }
    if let Some(a) = &t.pdfa {
        parts.push(format!("claims PDF/A-{a}"));
    }
    if let Some(d) = &t.capture_date {
        parts.push(format!("captured {d}"));
    }
    let device: Vec<&str> = [t.make.as_deref(), t.model.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if !device.is_empty() {
        parts.push(format!("device {}", device.join(" ")));
    }
    format!("{}: {}", t.kind, parts.join(", "))
}

/// The format lines of a file in `show`.
pub(super) fn print_file_format(f: &cairn::register::FileRecord) {
    if let Some(id) = &f.format {
        let mut name = id.name.clone();
        if !id.version.is_empty() {
            name.push_str(&format!(" {}", id.version));
        }
        outln!(
            "      format {}  {}  (basis: {})",
            id.puid.as_deref().unwrap_or("UNKNOWN"),
            if name.is_empty() { "-".into() } else { name },
            id.basis.as_str()
        );
    }
    if let Some(t) = &f.techmd {
        outln!("      {}", techmd_line(t));
        for w in &t.warnings {
            outln!("      warning: {}", printable(w));
        }
    }
}

/// `list --format PUID`: the items holding a file of that format.
pub(super) fn filter_list(
    archive: &Archive,
    items: Vec<cairn::ops::show::ListItem>,
    puid: Option<&str>,
) -> Result<Vec<cairn::ops::show::ListItem>, cairn::Error> {
    let Some(puid) = puid else {
        return Ok(items);
    };
    let ids = formats::ids_with_format(archive, puid)?;
    Ok(items.into_iter().filter(|i| ids.contains(&i.id)).collect())
}
