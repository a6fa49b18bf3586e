//! Settings precedence (issue 8): a command's flag beats the CAIRN_* environment
//! variable, which beats cairn.toml, which beats the built-in default. Driven through
//! the real binary on fresh archives.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::{describe as text, fresh_dir};

fn cairn(root: &Path) -> Command {
    // Only what each test sets (common::cairn clears every CAIRN_*).
    let mut cmd = common::cairn();
    cmd.current_dir(root);
    cmd
}

/// A fresh archive whose cairn.toml is exactly `toml`, with one item in each of
/// intake/, drop-toml/, drop-env/ and drop-flag/, named after its folder.
fn archive(label: &str, toml: &str) -> tempfile::TempDir {
    let dir = fresh_dir(label);
    let root = dir.path();
    let out = cairn(root).arg("init").output().expect("run cairn init");
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(root.join("cairn.toml"), toml).expect("write cairn.toml");
    for folder in ["intake", "drop-toml", "drop-env", "drop-flag"] {
        let item = root.join(folder).join(format!("item-from-{folder}"));
        std::fs::create_dir_all(&item).expect("create item");
        std::fs::write(item.join("page.txt"), folder).expect("write");
        std::fs::write(item.join("cairn.dc.json"), r#"{"dc.title": "A page"}"#).expect("write");
    }
    dir
}

/// `cairn ingest --dry-run --json` with these environment variables and extra
/// arguments: (items' names, their would-be identifiers).
fn dry_run(root: &Path, env: &[(&str, &str)], args: &[&str]) -> (Vec<String>, Vec<String>) {
    let out = cairn(root)
        .args(["ingest", "--dry-run", "--json"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run cairn ingest");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let items = v["items"].as_array().cloned().unwrap_or_default();
    let field = |k: &str| {
        items
            .iter()
            .map(|i| i[k].as_str().unwrap_or_default().to_string())
            .collect()
    };
    (field("name"), field("id"))
}

#[test]
fn intake_flag_beats_environment_beats_toml_beats_default() {
    let plain = archive("precedence-default", "");
    let (names, _) = dry_run(plain.path(), &[], &[]);
    assert_eq!(names, ["item-from-intake"], "default: intake/");

    let dir = archive("precedence-intake", "[archive]\nintake = \"drop-toml\"\n");
    let root = dir.path();
    let (names, _) = dry_run(root, &[], &[]);
    assert_eq!(
        names,
        ["item-from-drop-toml"],
        "cairn.toml beats the default"
    );

    let env = [("CAIRN_ARCHIVE_INTAKE", "drop-env")];
    let (names, _) = dry_run(root, &env, &[]);
    assert_eq!(
        names,
        ["item-from-drop-env"],
        "the variable beats cairn.toml"
    );

    let flag = root.join("drop-flag");
    let flag = flag.to_str().expect("UTF-8 temp path");
    let (names, _) = dry_run(root, &env, &["--intake", flag]);
    assert_eq!(
        names,
        ["item-from-drop-flag"],
        "the flag beats the variable"
    );
}

#[test]
fn identifier_prefix_environment_beats_toml_beats_default() {
    let plain = archive("prefix-default", "");
    let (_, ids) = dry_run(plain.path(), &[], &[]);
    assert_eq!(ids, ["cairn-000001"]);

    let dir = archive("prefix-toml", "[ingest]\nidentifier_prefix = \"toml-\"\n");
    let (_, ids) = dry_run(dir.path(), &[], &[]);
    assert_eq!(ids, ["toml-000001"]);
    let (_, ids) = dry_run(
        dir.path(),
        &[("CAIRN_INGEST_IDENTIFIER_PREFIX", "env-")],
        &[],
    );
    assert_eq!(ids, ["env-000001"]);
}

#[test]
fn log_format_flag_beats_environment() {
    let dir = archive("log-format", "");
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let out = cairn(dir.path())
            .args(["ingest", "--dry-run", "-v"])
            .args(args)
            .envs(env.iter().copied())
            .output()
            .expect("run cairn ingest");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let summary = stderr
            .lines()
            .find(|l| l.contains("ingest finished"))
            .unwrap_or_else(|| panic!("no summary line at -v:\n{stderr}"))
            .to_string();
        summary
    };
    let line = run(&[], &[]);
    assert!(!line.starts_with('{'), "text by default: {line}");
    assert!(
        line.contains("items=1") && line.contains("failures=0"),
        "{line}"
    );
    let line = run(&[("CAIRN_LOG_FORMAT", "json")], &[]);
    let v: serde_json::Value = serde_json::from_str(&line).expect("JSON from the variable");
    assert_eq!(v["items"], 1);
    for key in ["files", "bytes", "seconds", "failures"] {
        assert!(v.get(key).is_some(), "summary lacks {key}: {line}");
    }
    let line = run(&[("CAIRN_LOG_FORMAT", "json")], &["--log-format", "text"]);
    assert!(
        !line.starts_with('{'),
        "the flag beats the variable: {line}"
    );
}

#[test]
fn config_shows_each_source_and_a_bad_variable_is_named() {
    let dir = archive(
        "config-show",
        "[fixity]\ninterval_days = 30\nalgorithm = \"sha512\"\n",
    );
    let out = cairn(dir.path())
        .args(["config", "--json"])
        .env("CAIRN_FIXITY_INTERVAL_DAYS", "7")
        .output()
        .expect("run cairn config");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let get = |key: &str| {
        v["settings"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["setting"] == key).cloned())
            .unwrap_or_else(|| panic!("no {key} in {v}"))
    };
    assert_eq!(get("fixity.interval_days")["value"], "7");
    assert_eq!(get("fixity.interval_days")["source"], "env");
    assert_eq!(
        get("fixity.interval_days")["variable"],
        "CAIRN_FIXITY_INTERVAL_DAYS"
    );
    assert_eq!(get("fixity.algorithm")["value"], "\"sha512\"");
    assert_eq!(get("fixity.algorithm")["source"], "file");
    assert_eq!(get("zip.max_ratio")["source"], "default");

    // A bad value stops every archive command, naming the variable (exit 3).
    for args in [&["config"][..], &["fixity", "--all"][..], &["list"][..]] {
        let out = cairn(dir.path())
            .args(args)
            .env("CAIRN_FIXITY_INTERVAL_DAYS", "weekly")
            .output()
            .expect("run cairn");
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(
                "environment variable CAIRN_FIXITY_INTERVAL_DAYS=\"weekly\": not a whole number"
            ),
            "{stderr}"
        );
    }
}

#[test]
fn fixity_rate_flag_beats_toml() {
    let dir = archive("rate", "[fixity]\nrate = \"1M\"\n");
    let root = dir.path();
    let big = root.join("intake/item-from-intake/scan.tif");
    std::fs::write(&big, vec![7u8; 3 << 20]).expect("write");
    let out = cairn(root)
        .arg("ingest")
        .env("CAIRN_INGEST_ALGORITHMS", "blake3")
        .output()
        .expect("run ingest");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let timed = |args: &[&str]| {
        let t0 = Instant::now();
        let out = cairn(root)
            .args(["fixity", "--all"])
            .args(args)
            .output()
            .expect("run fixity");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        t0.elapsed().as_secs_f64()
    };
    // 3 MiB at 1 MiB/s from cairn.toml: about 3 s.
    let slow = timed(&[]);
    assert!(slow >= 2.5, "fixity.rate = 1M read 3 MiB in {slow} s");
    // The flag lifts it.
    let fast = timed(&["--rate", "1G"]);
    assert!(
        fast < slow - 1.0,
        "--rate 1G took {fast} s, the toml rate {slow} s"
    );
}
