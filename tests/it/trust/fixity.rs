//! Issue 12, false alarms: fixity, audit and verify on bags Cairn did not make (bagit.py's
//! `--sha256`, `--sha512`, `--md5` and default bags, brought in with `cairn import`) and on
//! items ingested with sha256-only and sha512-only settings raise no alarm; then one fault
//! injected per bag is caught and blamed on the file that changed. Drives the real binary.
//!
//! Needs bagit.py (`pip install bagit`; `scripts/test` installs it): without it the test
//! prints `skipped: ...` on stderr, and fails when `CAIRN_REQUIRE_ALL=1` (CI).

use crate::common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// bagit.py on PATH, or `python3 -m bagit`; `None` (after the skip notice) when neither.
fn bagit_py() -> Option<Vec<String>> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("bagit.py");
            if candidate.is_file() {
                return Some(vec![candidate.to_string_lossy().into_owned()]);
            }
        }
    }
    let importable = Command::new("python3")
        .args(["-c", "import bagit"])
        .output()
        .is_ok_and(|o| o.status.success());
    if importable {
        return Some(vec!["python3".into(), "-m".into(), "bagit".into()]);
    }
    skip("bagit.py (pip install bagit) is not installed");
    None
}

/// Makes a bagit.py bag in place of `dir` (two payload files, one in a subfolder).
fn bagit_py_bag(py: &[String], dir: &Path, flags: &[&str], tag: &str) {
    write_file(dir, "a.txt", format!("first file of {tag}\n").as_bytes());
    write_file(
        dir,
        "sub/b.txt",
        format!("second file of {tag}\n").as_bytes(),
    );
    let out = Command::new(&py[0])
        .args(&py[1..])
        .args(flags)
        .arg(dir)
        .output()
        .expect("run bagit.py");
    assert!(out.status.success(), "bagit.py {flags:?}: {out:?}");
}

/// One intake folder holding one item and its metadata.csv.
fn intake_with(root: &Path, name: &str, item: &str) -> PathBuf {
    let intake = root.join(name);
    write_file(
        &intake,
        format!("{item}/a.txt"),
        format!("{item} text\n").as_bytes(),
    );
    write_file(&intake, format!("{item}/pages/p1.txt"), b"page one\n");
    write_file(
        &intake,
        "metadata.csv",
        format!("filename,dc.title,dc.date\n{item},Sample item {item},1978\n").as_bytes(),
    );
    intake
}

fn cairn_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = cairn_cmd();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run cairn");
    Run {
        cmdline: format!("cairn {}", args.join(" ")),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e})\n{}", run.describe()))
}

/// (kind, path) of every finding of bag `id` in a `fixity --json` report.
fn findings_of(report: &Value, id: &str) -> Vec<(String, String)> {
    report["checked"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["id"] == id)
        .flat_map(|b| b["findings"].as_array().unwrap().iter())
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or_default().to_string(),
                f["path"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

struct Archive {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    /// id, what it is
    items: Vec<(String, &'static str)>,
}

fn build_archive() -> Option<Archive> {
    let py = bagit_py()?;
    let tmp = fresh_dir("trust-fixity");
    let root = tmp.path().join("arch");
    let r = run_cairn(["init".as_ref(), root.as_os_str()]);
    r.assert_code(0);
    let root_s = root.to_str().unwrap().to_string();
    let mut items = Vec::new();
    for (label, flags) in [
        ("bagit-sha256", &["--sha256"][..]),
        ("bagit-sha512", &["--sha512"][..]),
        ("bagit-md5", &["--md5"][..]),
        ("bagit-default", &[][..]),
    ] {
        let dir = tmp.path().join(label);
        bagit_py_bag(&py, &dir, flags, label);
        let r = run_cairn(["import", "--root", &root_s, "--json", dir.to_str().unwrap()]);
        r.assert_code(0);
        let id = json(&r)["id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                panic!("no id in the import report\n{}", r.describe());
            });
        items.push((id, label));
    }
    for (label, alg) in [("ingest-sha256", "sha256"), ("ingest-sha512", "sha512")] {
        let intake = intake_with(tmp.path(), &format!("intake-{alg}"), label);
        let r = cairn_env(
            &[
                "ingest",
                "--root",
                &root_s,
                "--intake",
                intake.to_str().unwrap(),
            ],
            &[("CAIRN_INGEST_ALGORITHMS", alg)],
        );
        r.assert_code(0);
        let manifest = format!("manifest-{alg}.txt");
        let id = fs::read_dir(root.join("archive"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|id| !items.iter().any(|(i, _)| i == id))
            .find(|id| root.join("archive").join(id).join(&manifest).is_file())
            .unwrap_or_else(|| panic!("no {label} bag in the archive\n{}", r.describe()));
        let other = if alg == "sha256" { "sha512" } else { "sha256" };
        assert!(!root
            .join("archive")
            .join(&id)
            .join(format!("manifest-{other}.txt"))
            .exists());
        assert!(!root
            .join("archive")
            .join(&id)
            .join("manifest-blake3.txt")
            .exists());
        items.push((id, label));
    }
    Some(Archive {
        _tmp: tmp,
        root,
        items,
    })
}

#[test]
fn bags_cairn_did_not_make_raise_no_false_alarm_and_each_fault_is_blamed_on_its_file() {
    let Some(a) = build_archive() else { return };
    let root = a.root.to_str().unwrap();

    // No alarm: fixity (default setting, blake3 preferred), audit, verify --against.
    let r = run_cairn(["fixity", "--root", root, "--all", "--json"]);
    r.assert_code(0);
    let report = json(&r);
    let expected_alg = |label: &str| match label {
        "bagit-sha256" | "ingest-sha256" => "sha256",
        "bagit-md5" => "md5",
        _ => "sha512",
    };
    for (id, label) in &a.items {
        let bag = report["checked"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} ({label}) not checked\n{}", r.describe()));
        assert_eq!(bag["outcome"], "passed", "{label}\n{}", r.describe());
        assert_eq!(
            bag["algorithms"],
            serde_json::json!([expected_alg(label)]),
            "{label}: fixity must check with the strongest algorithm the bag has"
        );
    }
    // The text report says which algorithm it used.
    let r = run_cairn(["fixity", "--root", root, "--all"]);
    r.assert_code(0);
    for (id, label) in &a.items {
        let line = r
            .stdout
            .lines()
            .find(|l| l.contains(id.as_str()))
            .unwrap_or_else(|| panic!("no line for {id}\n{}", r.describe()));
        assert!(line.ends_with(expected_alg(label)), "{line}");
    }
    run_cairn(["audit", "--root", root]).assert_code(0);
    for (id, label) in &a.items {
        let bag = a.root.join("archive").join(id);
        let entry = a.root.join("manifests").join(format!("{id}.json"));
        let r = run_cairn([
            "verify".as_ref(),
            bag.as_os_str(),
            "--against".as_ref(),
            entry.as_os_str(),
        ]);
        assert_eq!(
            r.code,
            Some(0),
            "verify --against, {label}\n{}",
            r.describe()
        );
    }

    // One fault per bag, each blamed on the file that changed.
    let mut expect: Vec<(String, &str, String)> = Vec::new();
    for (id, label) in &a.items {
        let bag = a.root.join("archive").join(id);
        match *label {
            "bagit-sha256" => {
                fs::write(bag.join("data/a.txt"), b"altered\n").unwrap();
                expect.push((id.clone(), "changed", "data/a.txt".into()));
            }
            "bagit-sha512" => {
                fs::remove_file(bag.join("data/sub/b.txt")).unwrap();
                expect.push((id.clone(), "missing", "data/sub/b.txt".into()));
            }
            "bagit-md5" => {
                fs::write(bag.join("data/added.txt"), b"added\n").unwrap();
                expect.push((id.clone(), "new", "data/added.txt".into()));
            }
            "bagit-default" => {
                let mut info = fs::read(bag.join("bag-info.txt")).unwrap();
                info.extend_from_slice(b"Contact-Name: someone else\n");
                fs::write(bag.join("bag-info.txt"), info).unwrap();
                expect.push((id.clone(), "tag-changed", "bag-info.txt".into()));
            }
            "ingest-sha256" => {
                fs::rename(bag.join("data/pages/p1.txt"), bag.join("data/p1.txt")).unwrap();
                expect.push((id.clone(), "moved", "data/pages/p1.txt".into()));
            }
            "ingest-sha512" => {
                fs::write(bag.join("data/a.txt"), b"ingest-sha512 texT\n").unwrap();
                expect.push((id.clone(), "changed", "data/a.txt".into()));
            }
            other => unreachable!("{other}"),
        }
    }
    let r = run_cairn(["fixity", "--root", root, "--all", "--json"]);
    r.assert_code(1);
    let report = json(&r);
    for (id, kind, path) in &expect {
        let found = findings_of(&report, id);
        assert_eq!(
            found,
            vec![(kind.to_string(), path.clone())],
            "{id}: expected exactly one {kind} finding for {path}\n{}",
            r.stdout
        );
    }
    // The same faults through verify --against (every manifest) and audit's last checks.
    for (id, kind, path) in &expect {
        let bag = a.root.join("archive").join(id);
        let entry = a.root.join("manifests").join(format!("{id}.json"));
        let r = run_cairn([
            "verify".as_ref(),
            bag.as_os_str(),
            "--against".as_ref(),
            entry.as_os_str(),
        ]);
        assert_eq!(r.code, Some(1), "{}", r.describe());
        assert!(
            r.stderr.contains(&format!("{kind}: {path}")),
            "verify should blame {path} ({kind})\n{}",
            r.describe()
        );
        assert!(
            *kind == "tag-changed" || !r.stderr.contains("tag-changed: bag-info.txt"),
            "a payload change blamed on bag-info.txt\n{}",
            r.describe()
        );
    }
}

#[test]
fn an_algorithm_the_bag_lacks_is_one_algorithm_absent_finding() {
    let Some(a) = build_archive() else { return };
    let root = a.root.to_str().unwrap();
    let (md5_id, _) = a.items.iter().find(|(_, l)| *l == "bagit-md5").unwrap();
    let r = run_cairn([
        "fixity",
        "--root",
        root,
        "--all",
        "--algorithms",
        "sha512",
        "--json",
    ]);
    r.assert_code(1);
    let report = json(&r);
    let found = findings_of(&report, md5_id);
    assert_eq!(
        found,
        vec![("algorithm-absent".to_string(), String::new())],
        "{}",
        r.stdout
    );
    for (id, label) in &a.items {
        let found = findings_of(&report, id);
        assert!(
            found.iter().all(|(k, _)| k == "algorithm-absent"),
            "{label}: {found:?}"
        );
    }
    // The text names the algorithm asked for and what the bag has.
    let r = run_cairn(["fixity", "--root", root, "--all", "--algorithms", "sha512"]);
    r.assert_code(1);
    assert!(
        r.stderr.contains("algorithm-absent")
            && r.stderr
                .contains("no payload manifest for sha512 (its manifests: md5)"),
        "{}",
        r.describe()
    );
    assert!(!r.stderr.contains("register-mismatch"), "{}", r.describe());
}
