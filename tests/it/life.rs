//! Helpers for the life-of-an-item tests (amend, withdraw): a small archive, running the
//! real binary, and the checks every change must pass (cairn bag validate, bagit.py
//! --validate, fixity --all, audit).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common;

/// The output of one run.
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn describe(&self) -> String {
        format!(
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.describe()))
    }
}

/// Runs `cairn ARGS --root ROOT` (the root appended), with `env` set.
pub fn cairn_at<I, S>(root: &Path, args: I, env: &[(&str, &str)]) -> Out
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = common::cairn();
    cmd.args(args).arg("--root").arg(root).stdin(Stdio::null());
    cmd.env("CAIRN_OPERATOR", "test-archivist");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("cairn runs");
    Out {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs and expects exit `code`.
pub fn expect<I, S>(root: &Path, args: I, code: i32) -> Out
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let out = cairn_at(root, &args, &[]);
    assert_eq!(out.code, Some(code), "cairn {args:?}\n{}", out.describe());
    out
}

/// `cairn init ROOT`: an empty archive.
pub fn init(root: &Path) {
    let out = common::cairn()
        .arg("init")
        .arg(root)
        .output()
        .expect("init");
    assert!(out.status.success(), "{out:?}");
}

/// An archive of three items: cairn-000001 (a folder of `pages` files in two
/// subfolders), cairn-000002 and cairn-000003 (one file each).
pub fn make_archive(root: &Path, pages: usize) {
    init(root);
    let intake = root.join("intake");
    for j in 0..pages {
        let dir = intake.join("a-register").join(format!("part-{}", j % 2));
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(
            dir.join(format!("page-{j:04}.txt")),
            format!("Sample: page {j} of a synthetic prisoner register; no real record.\n"),
        )
        .expect("write");
    }
    fs::write(
        intake.join("b-note.txt"),
        "Sample: synthetic note on Tuol Sleng\n",
    )
    .expect("write");
    fs::write(
        intake.join("c-letter.txt"),
        "Sample: synthetic letter, no real record\n",
    )
    .expect("write");
    fs::write(
        intake.join("metadata.csv"),
        "filename,dc.title,dc.date,dc.type,dc.language\n\
         a-register,Sample: synthetic prisoner register,1977,Text,en\n\
         b-note.txt,Sample: note on Tuol Sleng,1979-01,Text,en\n\
         c-letter.txt,Sample: letter,1978,Text,en\n",
    )
    .expect("write csv");
    expect(root, ["ingest"], 0);
}

/// How to run bagit.py, or `None` (with a skip notice) when it is not installed.
pub fn bagit_py() -> Option<Vec<String>> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("bagit.py");
            if candidate.is_file() {
                return Some(vec![candidate.to_string_lossy().into_owned()]);
            }
        }
    }
    let importable = std::process::Command::new("python3")
        .args(["-c", "import bagit"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if importable {
        return Some(vec!["python3".into(), "-m".into(), "bagit".into()]);
    }
    common::skip("bagit.py not installed (`python3 -m pip install bagit`)");
    None
}

/// The bags in archive/ (not hidden folders).
pub fn bags(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(root.join("archive"))
        .expect("read archive")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .starts_with('.')
        })
        .collect();
    out.sort();
    out
}

/// Every check an auditor would run passes: each bag validates with Cairn and
/// bagit.py, `fixity --all` and `audit` exit 0.
pub fn all_checks_pass(root: &Path, context: &str) {
    let py = bagit_py();
    for bag in bags(root) {
        bag_validates(&bag, context);
        if let Some(py) = &py {
            let out = std::process::Command::new(&py[0])
                .args(&py[1..])
                .arg("--validate")
                .arg(&bag)
                .output()
                .expect("bagit.py runs");
            assert!(
                out.status.success(),
                "{context}: bagit.py --validate {}: {}",
                bag.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let f = cairn_at(root, ["fixity", "--all"], &[]);
    assert_eq!(f.code, Some(0), "{context}: fixity --all\n{}", f.describe());
    let a = cairn_at(root, ["audit"], &[]);
    assert_eq!(a.code, Some(0), "{context}: audit\n{}", a.describe());
}

/// `cairn bag validate BAG` exits 0.
pub fn bag_validates(bag: &Path, context: &str) {
    let out = common::cairn()
        .args(["bag", "validate"])
        .arg(bag)
        .output()
        .expect("validate");
    assert!(
        out.status.success(),
        "{context}: cairn bag validate {}: {}",
        bag.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The events of the log, after checking its chain.
pub fn events(root: &Path, context: &str) -> Vec<serde_json::Value> {
    let log = fs::read(root.join("manifests/events.jsonl")).unwrap_or_default();
    common::check_event_chain(&log, context)
}

/// The events of one type about one object.
pub fn events_of(root: &Path, id: &str, kind: &str) -> Vec<serde_json::Value> {
    events(root, id)
        .into_iter()
        .filter(|e| e["object"] == id && e["type"] == kind)
        .collect()
}

/// The register entry of `id` as JSON.
pub fn entry(root: &Path, id: &str) -> serde_json::Value {
    let bytes = fs::read(root.join(format!("manifests/{id}.json"))).expect("entry");
    serde_json::from_slice(&bytes).expect("entry JSON")
}

/// Every file of the archive (cairn.toml, archive/, manifests/) with its bytes, except
/// the lock files and the Merkle tree cache.
pub fn state(root: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut all = common::file_bytes(root);
    all.retain(|p, _| {
        let s = p.to_string_lossy();
        !s.contains("/.lock") && !s.contains("/.events.lock") && !s.contains("tlog")
    });
    all
}
