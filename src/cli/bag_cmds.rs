//! The bag commands: `bag create` and `bag validate`, on any folder or zip file (no
//! archive needed).

use cairn::bagit::{Mode, ValidateOptions, ValidateReport};
use cairn::ops::create::parse_info_arg;
use cairn::ops::{create_bag, validate_bag, CreateOptions, CreateReport};

use super::args::{CreateArgs, ValidateArgs};
use super::common::{ambient_root, finding_line, note, print_json, printable, require_exists, say};
use super::outcome::{combined, error_exit, exit, exit_code};
use super::progress::with_progress;

pub(super) fn run_create(args: CreateArgs) -> u8 {
    if let Err(code) = require_exists("bag create", "source", &args.src) {
        return code;
    }
    let mut opts = CreateOptions::new(chrono::Utc::now().date_naive());
    if !args.algorithms.is_empty() {
        opts.algorithms = args.algorithms.clone();
    }
    for raw in &args.info {
        match parse_info_arg(raw) {
            Ok(pair) => opts.info.push(pair),
            Err(e) => return error_exit("bag create", &e),
        }
    }
    let mut serialization_note = None;
    if let Some(name) = &args.profile {
        match prepare_profile(&args, name, &mut opts) {
            Ok(note) => serialization_note = note,
            Err(e) => return error_exit("bag create", &e),
        }
    }
    match with_progress("bag create", || {
        create_bag(&args.src, args.output.as_deref(), &opts)
    }) {
        Ok(report) => {
            if args.json {
                print_json(&report);
            } else {
                print_create(&report);
            }
            if let Some(n) = serialization_note {
                note!("cairn: {n}");
            }
            exit::OK
        }
        Err(e) => error_exit("bag create", &e),
    }
}

/// `bag create --profile`: the options that make a conformant bag, or the refusal.
fn prepare_profile(
    args: &CreateArgs,
    name: &str,
    opts: &mut CreateOptions,
) -> Result<Option<String>, cairn::error::Error> {
    use cairn::ops::bag_profile;
    let chosen = bag_profile::load(name)?;
    let defaults = bag_profile::config_tags_at(&ambient_root(), super::common::env())?;
    bag_profile::prepare_create(
        &chosen,
        &args.src,
        opts,
        !args.algorithms.is_empty(),
        &defaults,
        None,
    )
}

fn print_create(r: &CreateReport) {
    for c in &r.cleaned {
        note!(
            "cairn: removed {}, the unfinished staging folder of an interrupted `bag create --output`",
            c.display()
        );
    }
    if r.recovered {
        note!(
            "cairn: rolled back an interrupted in-place bagging of {} first",
            r.bag.display()
        );
    }
    for d in &r.empty_dirs {
        errln!(
            "warning: data/{}: empty-folder: kept in the bag, but manifests cannot list folders, so nothing protects it",
            printable(d)
        );
    }
    let algs: Vec<&str> = r.algorithms.iter().map(|a| a.name()).collect();
    say!(
        "created {}: {}, {} (Payload-Oxum {}), algorithms {}",
        r.bag.display(),
        cairn::units::count(r.files, "file", "files"),
        cairn::units::count(r.bytes, "byte", "bytes"),
        r.payload_oxum,
        algs.join(", ")
    );
}

pub(super) fn run_validate(args: ValidateArgs) -> u8 {
    if let Err(code) = require_exists("bag validate", "bag", &args.bag) {
        return code;
    }
    let mode = if args.fast {
        Mode::Fast
    } else if args.completeness_only {
        Mode::Completeness
    } else {
        Mode::Full
    };
    let opts = ValidateOptions {
        mode,
        only_algorithms: None,
        keep_digests: false,
    };
    let limits =
        match cairn::ops::bag_validate::zip_limits_at(&ambient_root(), super::common::env()) {
            Ok(l) => l,
            Err(e) => return error_exit("bag validate", &e),
        };
    if let Some(name) = &args.profile {
        return run_validate_profile(&args, name, &opts, limits);
    }
    let report = match with_progress("bag validate", || validate_bag(&args.bag, &opts, limits)) {
        Ok(r) => r,
        Err(e) => return error_exit("bag validate", &e),
    };
    if args.json {
        print_json(&report);
    } else {
        print_validate(&args.bag, &report);
    }
    exit_code(&report)
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn print_validate(bag: &std::path::Path, r: &ValidateReport) {
    // Warnings are findings: shown under --quiet too.
    for w in &r.warnings {
        errln!("{}", finding_line("warning", w));
    }
    for p in &r.problems {
        errln!("{}", finding_line("problem", p));
    }
    for e in &r.errors {
        errln!("{}", finding_line("error", e));
    }
    let version = r.version.as_deref().unwrap_or("unknown");
    let algs: Vec<&str> = r.algorithms.iter().map(|a| a.name()).collect();
    if r.valid {
        let holes = if r.holes > 0 {
            format!(", {} still to fetch", plural(r.holes as usize, "file"))
        } else {
            String::new()
        };
        let algs = if algs.is_empty() {
            " (checksums not checked)".to_string()
        } else {
            format!(", algorithms {}", algs.join(", "))
        };
        say!(
            "{}: valid BagIt {version} bag: {}, {} bytes{algs}{holes}",
            bag.display(),
            plural(r.files as usize, "file"),
            r.bytes,
        );
    } else if !r.errors.is_empty() {
        errln!(
            "{}: could not be fully checked: {}, {}",
            bag.display(),
            plural(r.errors.len(), "read error"),
            plural(r.problems.len(), "problem")
        );
    } else {
        errln!(
            "{}: INVALID: {}",
            bag.display(),
            plural(r.problems.len(), "problem")
        );
    }
}

/// `bag validate --profile`: the RFC 8493 report with the profile's verdict beside it
/// (`"profile"` in `--json`); exit 1 when either finds a problem.
fn run_validate_profile(
    args: &ValidateArgs,
    name: &str,
    opts: &ValidateOptions,
    limits: cairn::fs::zip::ZipLimits,
) -> u8 {
    let chosen = match cairn::ops::bag_profile::load_for_bag(name, &args.bag, limits) {
        Ok(c) => c,
        Err(e) => return error_exit("bag validate", &e),
    };
    let run = with_progress("bag validate", || {
        cairn::ops::bag_profile::validate_with_profile(&args.bag, opts, limits, &chosen)
    });
    let (report, verdict) = match run {
        Ok(r) => r,
        Err(e) => return error_exit("bag validate", &e),
    };
    if args.json {
        #[derive(serde::Serialize)]
        struct WithProfile<'a> {
            #[serde(flatten)]
            report: &'a ValidateReport,
            profile: &'a cairn::ops::bag_profile::ProfileReport,
        }
        print_json(&WithProfile {
            report: &report,
            profile: &verdict,
        });
    } else {
        print_validate(&args.bag, &report);
        print_verdict(&args.bag, &verdict);
    }
    let profile_code = if verdict.conforms {
        exit::OK
    } else {
        exit::DATA
    };
    combined(exit_code(&report), profile_code)
}

fn print_verdict(bag: &std::path::Path, v: &cairn::ops::bag_profile::ProfileReport) {
    for p in &v.problems {
        let kind = p.kind.code();
        let path = if p.path.is_empty() {
            "."
        } else {
            p.path.as_str()
        };
        errln!(
            "problem: {}: profile-{kind}: {}",
            printable(path),
            printable(&p.detail)
        );
    }
    if v.conforms {
        say!(
            "{}: conforms to profile {} ({})",
            bag.display(),
            v.name,
            v.identifier
        );
    } else {
        errln!(
            "{}: does NOT conform to profile {}: {}",
            bag.display(),
            v.name,
            plural(v.problems.len(), "problem")
        );
    }
}
