//! Hostile zipped bags: `cairn bag validate X.zip` and `cairn import X.zip` refuse every one
//! of them, name the entry and the reason, and write nothing anywhere but the archive's
//! staging folder (left empty).
//!
//! The corpus is written by `tests/make_hostile_zips.py` (Python standard library only):
//! each zip is an otherwise valid small bag under one top-level folder with one hostile
//! twist (zip slip, a symlink, duplicate or colliding names, a name that is not UTF-8,
//! bombs, an encrypted entry, truncation, a garbled central directory, a bad CRC, an
//! invalid bag, entries outside the top-level folder). The script prints, for each zip,
//! the problem kinds and entry names `cairn bag validate` must report.
//!
//! Each case runs in a fresh folder laid out as
//! `TMP/sentinel-outer/sentinel-inner/{zips,arch,cwd}`: whatever a zip slip could reach
//! (the folders around the zip, the archive root, the working folder) is inside TMP,
//! whose whole tree is snapshotted before and compared after. Absolute targets (`/abs`,
//! `/evil`, names with "evil" in the system's temporary folder) and /etc/passwd are
//! checked as well.

use crate::common;

use common::*;
use serde_json::Value;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/make_hostile_zips.py");

/// Every hostile zip, bombs included, must be refused within this.
const BUDGET: Duration = Duration::from_secs(20);

/// The largest hostile zip the script may write (the 2 GiB bomb is about 2 MB).
const MAX_CORPUS_FILE: u64 = 4 << 20;

// ---------------------------------------------------------------------------------------
// The corpus.

#[derive(Debug)]
struct Expect {
    kinds: Vec<String>,
    entries: Vec<String>,
    /// "exact", "contains" or "any".
    mode: String,
}

#[derive(Debug)]
struct Case {
    name: String,
    file: PathBuf,
    what: String,
    expect: Vec<Expect>,
    config: Value,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("manifest: expected an array, found {v}"))
        .iter()
        .map(|s| s.as_str().expect("manifest: a string").to_string())
        .collect()
}

/// Runs the script for one case into `out` and parses what it prints.
fn generate(out: &Path, name: &str) -> Case {
    let output = Command::new("python3")
        .arg(SCRIPT)
        .arg(out)
        .args(["--only", name])
        .output()
        .expect("python3 is needed to write the hostile corpus");
    assert!(
        output.status.success(),
        "make_hostile_zips.py --only {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    let cases = doc["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 1, "--only {name} should write one case");
    let c = &cases[0];
    let expect = c["expect"]
        .as_array()
        .expect("expect")
        .iter()
        .map(|e| Expect {
            kinds: strings(&e["kinds"]),
            entries: strings(&e["entries"]),
            mode: e["match"].as_str().expect("match").to_string(),
        })
        .collect::<Vec<_>>();
    assert!(!expect.is_empty(), "{name}: no expectation");
    let case = Case {
        name: c["name"].as_str().unwrap().to_string(),
        file: PathBuf::from(c["file"].as_str().unwrap()),
        what: c["what"].as_str().unwrap().to_string(),
        expect,
        config: c["config"].clone(),
    };
    let size = fs::metadata(&case.file)
        .unwrap_or_else(|e| panic!("{}: {e}", case.file.display()))
        .len();
    assert!(
        size <= MAX_CORPUS_FILE,
        "{name}: the hostile zip takes {size} bytes on disk"
    );
    case
}

fn script_case_names() -> Vec<String> {
    let output = Command::new("python3")
        .args([SCRIPT, "--list"])
        .output()
        .expect("python3");
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Matching problems.

/// How the CLI prints a name in a text finding (src/cli: control characters and, when
/// anything is escaped, backslashes, as Rust's `escape_default`).
fn printable(s: &str) -> String {
    if s.chars().any(|c| c.is_control() || c == '\\') {
        s.chars()
            .map(|c| {
                if c.is_control() || c == '\\' {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        s.to_string()
    }
}

/// The forms a name may take on stderr: as it is, and as printed escaped.
fn forms(name: &str) -> Vec<String> {
    let mut out = vec![name.to_string()];
    let p = printable(name);
    if p != name {
        out.push(p);
    }
    out
}

fn matches(e: &Expect, d: &Diag) -> bool {
    e.kinds.contains(&d.kind) && path_matches(e, &d.path, &d.detail)
}

fn path_matches(e: &Expect, path: &str, detail: &str) -> bool {
    match e.mode.as_str() {
        "any" => true,
        "exact" => e.entries.iter().any(|n| forms(n).iter().any(|f| f == path)),
        "mentions" => e.entries.iter().any(|n| {
            forms(n)
                .iter()
                .any(|f| f == path || detail.contains(f.as_str()))
        }),
        "contains" => e
            .entries
            .iter()
            .any(|n| forms(n).iter().any(|f| path.contains(f.as_str()))),
        other => panic!("unknown match mode {other}"),
    }
}

fn describe_expect(e: &Expect) -> String {
    let names = if e.mode == "any" {
        "any path".to_string()
    } else {
        format!("{} {:?}", e.mode, e.entries)
    };
    format!("a problem of kind {:?} at {names}", e.kinds)
}

/// Does the text of a refusal (import's stderr) name the entry and the reason?
fn text_names(e: &Expect, text: &str) -> bool {
    let entry = e.mode == "any"
        || e.entries
            .iter()
            .any(|n| forms(n).iter().any(|f| text.contains(f.as_str())));
    entry && e.kinds.iter().any(|k| text.contains(k.as_str()))
}

// ---------------------------------------------------------------------------------------
// Running cairn.

fn run(cwd: &Path, env: &[(&str, &OsStr)], args: &[&OsStr]) -> (Run, Duration) {
    let cmdline = std::iter::once("cairn".to_string())
        .chain(args.iter().map(|a| format!("{a:?}")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = cairn_cmd();
    cmd.timeout(BUDGET);
    cmd.env_remove("CAIRN_ROOT").env_remove("CAIRN_FAILPOINT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).current_dir(cwd);
    let start = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmdline}: {e}"));
    let elapsed = start.elapsed();
    (
        Run {
            cmdline,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        elapsed,
    )
}

/// Sets `key = value` in `[section]` of a cairn.toml, replacing the key (commented or
/// not) when the section has it, adding the section when it is missing.
fn set_config(path: &Path, section: &str, key: &str, value: &Value) {
    let text = fs::read_to_string(path).unwrap();
    let rendered = match value {
        Value::String(s) => format!("{key} = {s:?}"),
        other => format!("{key} = {other}"),
    };
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let header = format!("[{section}]");
    match lines.iter().position(|l| l.trim() == header) {
        Some(at) => {
            let end = lines[at + 1..]
                .iter()
                .position(|l| l.trim_start().starts_with('['))
                .map_or(lines.len(), |p| at + 1 + p);
            let existing = (at + 1..end).find(|&i| {
                let l = lines[i].trim_start().trim_start_matches('#').trim_start();
                l.starts_with(key) && l[key.len()..].trim_start().starts_with('=')
            });
            match existing {
                Some(i) => lines[i] = rendered,
                None => lines.insert(at + 1, rendered),
            }
        }
        None => {
            lines.push(header);
            lines.push(rendered);
        }
    }
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Paths outside the test folder where an escaping entry could land.
fn outside_traces() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in ["/abs", "/evil", "/evil.txt", "/C:\\evil"] {
        if fs::symlink_metadata(p).is_ok() {
            out.push(PathBuf::from(p));
        }
    }
    for dir in [std::env::temp_dir(), PathBuf::from("/")] {
        if let Ok(rd) = fs::read_dir(&dir) {
            for e in rd.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .to_lowercase()
                    .contains("evil")
                {
                    out.push(e.path());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

// ---------------------------------------------------------------------------------------
// One case.

fn check_case(name: &str) {
    let tmp = fresh_dir(&format!("ziph-{name}"));
    let sentinel = tmp.path().join("sentinel-outer").join("sentinel-inner");
    let zips = sentinel.join("zips");
    let arch = sentinel.join("arch");
    let cwd = sentinel.join("cwd");
    for d in [&zips, &cwd] {
        fs::create_dir_all(d).unwrap();
    }
    // Files beside every folder a slip could climb to, so that an overwrite shows.
    write_file(tmp.path(), "sentinel-outer/evil.txt.keep", b"outer\n");
    write_file(tmp.path(), "sentinel-outer/sentinel-inner/keep", b"inner\n");

    let case = generate(&zips, name);
    assert_eq!(case.name, name);
    let zip = case.file.clone();
    assert!(
        zip.starts_with(&zips),
        "the script wrote outside its folder"
    );

    let (init, _) = run(&cwd, &[], &[OsStr::new("init"), arch.as_os_str()]);
    init.assert_code(0);
    if let Some(sections) = case.config.as_object() {
        for (section, keys) in sections {
            for (key, value) in keys.as_object().expect("config section") {
                set_config(&arch.join("cairn.toml"), section, key, value);
            }
        }
    }

    let passwd_before = fs::read("/etc/passwd").ok();
    let traces_before = outside_traces();
    let staging_key = PathBuf::from("sentinel-outer/sentinel-inner/arch/archive/.staging");
    let lock_key = PathBuf::from("sentinel-outer/sentinel-inner/arch/manifests/.lock");
    let tree = |label: &str, failures: &mut Vec<String>| {
        let mut snap = snapshot(tmp.path());
        let staged: Vec<&PathBuf> = snap
            .keys()
            .filter(|k| k.starts_with(&staging_key) && **k != staging_key)
            .collect();
        if !staged.is_empty() {
            failures.push(format!(
                "after {label}: archive/.staging is not empty: {staged:?}"
            ));
        }
        if let Some(node) = snap.remove(&staging_key) {
            if node != Node::Dir {
                failures.push(format!("after {label}: archive/.staging is not a folder"));
            }
        }
        snap.remove(&lock_key);
        snap
    };
    let mut failures: Vec<String> = Vec::new();
    let before = tree("setup", &mut failures);
    let archive_before: Vec<String> = bag_folders(&arch);
    let manifests_before = snapshot(&arch.join("manifests"));

    // 1. cairn bag validate X.zip, inside the archive (so its cairn.toml limits apply).
    let (v, v_time) = run(
        &arch,
        &[("CAIRN_ROOT", arch.as_os_str())],
        &[OsStr::new("bag"), OsStr::new("validate"), zip.as_os_str()],
    );
    if v.code != Some(1) {
        failures.push(format!("validate: exit {:?}, expected 1", v.code));
    }
    if v_time > BUDGET {
        failures.push(format!("validate took {v_time:?} (budget {BUDGET:?})"));
    }
    for e in &case.expect {
        let hit = v.problems().iter().any(|d| matches(e, d));
        if !hit {
            failures.push(format!("validate: expected {}", describe_expect(e)));
        }
    }
    // The same findings in the JSON report, with exact names.
    let (vj, _) = run(
        &arch,
        &[("CAIRN_ROOT", arch.as_os_str())],
        &[
            OsStr::new("bag"),
            OsStr::new("validate"),
            OsStr::new("--json"),
            zip.as_os_str(),
        ],
    );
    match serde_json::from_str::<Value>(&vj.stdout) {
        Err(e) => failures.push(format!(
            "validate --json: stdout is not a JSON report ({e}); exit {:?}, stderr: {}",
            vj.code,
            vj.stderr.trim_end()
        )),
        Ok(report) => {
            if report["valid"] != Value::Bool(false) {
                failures.push(format!("validate --json: valid is {}", report["valid"]));
            }
            let problems: Vec<Diag> = report["problems"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| Diag {
                            path: p["path"].as_str().unwrap_or_default().to_string(),
                            kind: p["kind"].as_str().unwrap_or_default().to_string(),
                            detail: p["detail"].as_str().unwrap_or_default().to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            for e in &case.expect {
                if !problems.iter().any(|d| matches(e, d)) {
                    failures.push(format!("validate --json: expected {}", describe_expect(e)));
                }
            }
        }
    }
    let after_validate = tree("validate", &mut failures);
    let diff = snapshot_diff(&before, &after_validate);
    if !diff.is_empty() {
        failures.push(format!("validate changed files:\n{diff}"));
    }

    // 2. cairn import X.zip --root ARCH, from another folder.
    let (i, i_time) = run(
        &cwd,
        &[],
        &[
            OsStr::new("import"),
            zip.as_os_str(),
            OsStr::new("--root"),
            arch.as_os_str(),
        ],
    );
    if i.code != Some(1) {
        failures.push(format!("import: exit {:?}, expected 1", i.code));
    }
    if i_time > BUDGET {
        failures.push(format!("import took {i_time:?} (budget {BUDGET:?})"));
    }
    for e in &case.expect {
        if !text_names(e, &i.stderr) {
            failures.push(format!(
                "import: stderr does not name the entry and reason of {}",
                describe_expect(e)
            ));
        }
    }
    let after_import = tree("import", &mut failures);
    let diff = snapshot_diff(&before, &after_import);
    if !diff.is_empty() {
        failures.push(format!(
            "import wrote outside archive/.staging (or left it non-empty):\n{diff}"
        ));
    }
    let archive_after = bag_folders(&arch);
    if archive_after != archive_before {
        failures.push(format!(
            "archive/ holds {archive_after:?} after a refused import (was {archive_before:?})"
        ));
    }
    let mut manifests_after = snapshot(&arch.join("manifests"));
    manifests_after.remove(Path::new(".lock"));
    let diff = snapshot_diff(&manifests_before, &manifests_after);
    if !diff.is_empty() {
        failures.push(format!("manifests/ changed by a refused import:\n{diff}"));
    }

    let traces_after = outside_traces();
    let new_traces: Vec<&PathBuf> = traces_after
        .iter()
        .filter(|p| !traces_before.contains(p))
        .collect();
    if !new_traces.is_empty() {
        failures.push(format!("new files outside the test folder: {new_traces:?}"));
    }
    if fs::read("/etc/passwd").ok() != passwd_before {
        failures.push("/etc/passwd changed".to_string());
    }

    if !failures.is_empty() {
        let mut msg = format!(
            "hostile zip {name} ({}): {} failure(s)\n",
            case.what,
            failures.len()
        );
        for f in &failures {
            msg.push_str(&format!("- {f}\n"));
        }
        msg.push_str(&format!(
            "\n[validate, {v_time:?}]\n{}\n\n[import, {i_time:?}]\n{}\n",
            v.describe(),
            i.describe()
        ));
        panic!("{msg}");
    }
}

/// The bag folders in ARCH/archive (hidden ones and README files left out).
fn bag_folders(arch: &Path) -> Vec<String> {
    let mut ids: Vec<String> = fs::read_dir(arch.join("archive"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && !n.starts_with("README"))
        .collect();
    ids.sort();
    ids
}

// ---------------------------------------------------------------------------------------
// The tests: one per case of the corpus.

macro_rules! hostile_cases {
    ($($test:ident => $name:literal,)*) => {
        /// The cases this file tests, in the script's order.
        const CASES: &[&str] = &[$($name),*];
        $(
            #[test]
            fn $test() {
                check_case($name);
            }
        )*
    };
}

hostile_cases! {
    zip_slip_dotdot => "slip-dotdot",
    zip_slip_absolute => "slip-absolute",
    zip_slip_drive_letter => "slip-drive-letter",
    zip_slip_backslashes => "slip-backslash",
    zip_slip_through_data => "slip-data-dotdot",
    symlink_entry => "symlink",
    duplicate_entry_names => "duplicate-entry",
    names_colliding_after_case_folding => "case-collision",
    names_colliding_after_unicode_normalisation => "nfc-nfd-collision",
    name_not_utf8_without_the_utf8_flag => "name-not-utf8",
    bomb_2gib_of_zeros => "bomb-2gib-zeros",
    bomb_entry_larger_than_it_declares => "bomb-size-liar",
    bomb_too_many_entries => "bomb-many-entries",
    encrypted_entry => "encrypted",
    truncated_archive => "truncated",
    corrupt_central_directory => "corrupt-central-directory",
    bad_crc => "bad-crc",
    well_formed_zip_of_an_invalid_bag => "invalid-bag",
    two_top_level_folders => "two-top-folders",
    file_beside_the_top_level_folder => "file-at-root",
    bag_without_a_top_level_folder => "bag-at-root",
}

/// Every case the script can write has a test here, and the other way round.
#[test]
fn every_corpus_case_is_tested() {
    let script = script_case_names();
    let tested: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
    assert_eq!(script, tested);
}

/// The matcher is not vacuous: it tells the expected line from a near miss.
#[test]
fn matcher_accepts_the_printed_form_and_rejects_near_misses() {
    let e = Expect {
        kinds: vec!["zip-path-escapes".into()],
        entries: vec!["bag\\..\\..\\evil".into()],
        mode: "exact".into(),
    };
    assert!(path_matches(&e, "bag\\..\\..\\evil", ""));
    assert!(path_matches(&e, "bag\\\\..\\\\..\\\\evil", ""));
    assert!(!path_matches(&e, "bag", ""));
    assert!(!path_matches(&e, "bag", "bag\\..\\..\\evil"));
    let run = Run {
        cmdline: String::new(),
        code: Some(1),
        stdout: String::new(),
        stderr: "problem: bag\\\\..\\\\..\\\\evil: zip-path-escapes: leaves the bag\n".into(),
    };
    let d = &run.problems()[0];
    assert!(matches(&e, d));
    assert!(text_names(&e, &run.stderr));
    assert!(!text_names(&e, "problem: bag: zip-layout: x\n"));
}
