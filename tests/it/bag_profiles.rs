//! BagIt Profiles end to end: `bag validate --profile`, `bag create --profile`, hostile
//! profiles, and the agreement corpus against the reference validator (bagit-profile,
//! PyPI) run by tests/profiles/agree.py.

use crate::common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Output;

fn run_in(dir: &Path, args: &[&str]) -> Output {
    run(cairn().current_dir(dir).args(args))
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            stderr(o)
        )
    })
}

fn kinds(report: &serde_json::Value) -> Vec<String> {
    report["profile"]["problems"]
        .as_array()
        .expect("profile.problems")
        .iter()
        .map(|p| p["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A temporary folder with `src/letter.txt` in it.
fn with_source(label: &str) -> tempfile::TempDir {
    let tmp = fresh_dir(label);
    write_file(tmp.path(), "src/letter.txt", b"Dear Sir,\n");
    tmp
}

/// `bag create src -o bag --profile btr` in `dir`, which must succeed.
fn create_btr(dir: &Path) {
    let o = run_in(
        dir,
        &[
            "bag",
            "create",
            "src",
            "-o",
            "bag",
            "--profile",
            "btr",
            "--info",
            "Source-Organization: Example U",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// `bag validate --json --profile PROFILE BAG` in `dir`: its JSON report.
fn validate_json(dir: &Path, profile: &str, bag: &str) -> serde_json::Value {
    json(&run_in(
        dir,
        &["bag", "validate", "--json", "--profile", profile, bag],
    ))
}

#[test]
fn created_for_btr_conforms_and_says_so_in_text_and_json() {
    let tmp = with_source("profile-btr");
    let dir = tmp.path();
    create_btr(dir);
    let info = fs::read_to_string(dir.join("bag/bag-info.txt")).unwrap();
    assert!(
        info.contains("BagIt-Profile-Identifier: https://github.com/dpscollaborative/btr_bagit_profile/releases/download/1.0/btr-bagit-profile.json"),
        "{info}"
    );
    let text = run_in(dir, &["bag", "validate", "--profile", "btr", "bag"]);
    assert_eq!(code(&text), 0, "{}", stderr(&text));
    assert!(String::from_utf8_lossy(&text.stdout).contains("conforms to profile btr"));
    let j = run_in(
        dir,
        &["bag", "validate", "--json", "--profile", "btr", "bag"],
    );
    assert_eq!(code(&j), 0);
    let report = json(&j);
    assert_eq!(report["valid"], true);
    assert_eq!(report["profile"]["conforms"], true);
    assert_eq!(report["profile"]["name"], "btr");
    assert!(kinds(&report).is_empty());
}

#[test]
fn a_plain_bag_fails_a_profile_with_exit_1_and_stable_codes() {
    let tmp = with_source("profile-plain");
    let dir = tmp.path();
    assert_eq!(
        code(&run_in(dir, &["bag", "create", "src", "-o", "bag"])),
        0
    );
    // Valid as a bag (exit 0 without a profile), not as a BTR deposit.
    assert_eq!(code(&run_in(dir, &["bag", "validate", "bag"])), 0);
    let j = run_in(
        dir,
        &["bag", "validate", "--json", "--profile", "btr", "bag"],
    );
    assert_eq!(code(&j), 1, "{}", stderr(&j));
    let report = json(&j);
    assert_eq!(report["valid"], true, "the RFC 8493 verdict is unchanged");
    assert_eq!(report["profile"]["conforms"], false);
    let k = kinds(&report);
    // blake3 is not among BTR's allowed manifests; no identifier; no Source-Organization.
    for want in [
        "identifier-missing",
        "tag-missing",
        "manifest-not-allowed",
        "tag-manifest-not-allowed",
    ] {
        assert!(k.iter().any(|x| x == want), "{want} not in {k:?}");
    }
    let text = run_in(
        dir,
        &["bag", "validate", "--quiet", "--profile", "btr", "bag"],
    );
    assert_eq!(code(&text), 1);
    let err = stderr(&text);
    assert!(
        err.contains("problem: bag-info.txt: profile-identifier-missing:"),
        "{err}"
    );
    assert!(err.contains("does NOT conform to profile btr"), "{err}");
}

#[test]
fn create_refuses_writing_nothing_and_names_what_is_missing() {
    let tmp = with_source("profile-refuse");
    let dir = tmp.path();
    let o = run_in(
        dir,
        &["bag", "create", "src", "-o", "bag", "--profile", "aptrust"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("nothing was written"), "{err}");
    assert!(err.contains("required tag Title is missing"), "{err}");
    assert!(
        err.contains("required tag Storage-Option is missing"),
        "{err}"
    );
    assert!(!dir.join("bag").exists(), "a refused create wrote a bag");
    let names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("src")],
        "left behind: {names:?}"
    );
    // A profile whose BagIt versions Cairn does not write: refused too.
    let foo = run_in(
        dir,
        &[
            "bag",
            "create",
            "src",
            "-o",
            "bag",
            "--profile",
            "bagit-profiles-foo",
        ],
    );
    assert_eq!(code(&foo), 1);
    assert!(stderr(&foo).contains("bagit-version"), "{}", stderr(&foo));
    assert!(!dir.join("bag").exists());
}

#[test]
fn aptrust_bag_gets_md5_its_tag_file_and_only_the_tar_is_left_to_do() {
    let tmp = with_source("profile-aptrust");
    let dir = tmp.path();
    let o = run_in(
        dir,
        &[
            "bag",
            "create",
            "src",
            "-o",
            "bag",
            "--profile",
            "aptrust",
            "--info",
            "Source-Organization: Example University",
            "--info",
            "Title: Letters",
            "--info",
            "Access: Institution",
            "--info",
            "Storage-Option: Standard",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("requires the bag serialized as application/tar"));
    let bag = dir.join("bag");
    assert!(bag.join("manifest-md5.txt").is_file());
    assert!(
        !bag.join("manifest-blake3.txt").exists(),
        "blake3 is not allowed by APTrust"
    );
    let apt = fs::read_to_string(bag.join("aptrust-info.txt")).unwrap();
    assert_eq!(
        apt,
        "Title: Letters\nAccess: Institution\nStorage-Option: Standard\n"
    );
    let info = fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    assert!(!info.contains("Title:"), "{info}");
    let j = run_in(
        dir,
        &["bag", "validate", "--json", "--profile", "aptrust", "bag"],
    );
    assert_eq!(code(&j), 1);
    let report = json(&j);
    assert_eq!(report["valid"], true);
    assert_eq!(kinds(&report), vec!["serialization-required".to_string()]);
    // A wrong value in aptrust-info.txt is found (the reference validator cannot).
    fs::write(
        bag.join("aptrust-info.txt"),
        "Title: Letters\nAccess: Everyone\nStorage-Option: Standard\n",
    )
    .unwrap();
    let bad = json(&run_in(
        dir,
        &[
            "bag",
            "validate",
            "--json",
            "--completeness-only",
            "--profile",
            "aptrust",
            "bag",
        ],
    ));
    assert!(
        kinds(&bad).contains(&"tag-value".to_string()),
        "{:?}",
        kinds(&bad)
    );
}

#[test]
fn hostile_or_unknown_profiles_are_usage_errors_that_name_the_fault() {
    let tmp = with_source("profile-hostile");
    let dir = tmp.path();
    assert_eq!(
        code(&run_in(dir, &["bag", "create", "src", "-o", "bag"])),
        0
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("notjson.json", b"{\"BagIt-Profile-Info\": ".to_vec(), "invalid JSON"),
        ("array.json", b"[1, 2]".to_vec(), "must be a JSON object"),
        (
            "types.json",
            br#"{"BagIt-Profile-Info": {"Source-Organization": "x", "BagIt-Profile-Identifier": "u"},
                "Accept-BagIt-Version": ["1.0"], "Manifests-Required": "md5"}"#
                .to_vec(),
            "\"Manifests-Required\" must be a list of strings",
        ),
        (
            "versions.json",
            br#"{"BagIt-Profile-Info": {"Source-Organization": "x", "BagIt-Profile-Identifier": "u"},
                "Accept-BagIt-Version": [1.0]}"#
                .to_vec(),
            "\"Accept-BagIt-Version\" must be a list of strings",
        ),
        (
            "noversions.json",
            br#"{"BagIt-Profile-Info": {"Source-Organization": "x", "BagIt-Profile-Identifier": "u"}}"#
                .to_vec(),
            "\"Accept-BagIt-Version\" is missing",
        ),
        (
            "serial.json",
            br#"{"BagIt-Profile-Info": {"Source-Organization": "x", "BagIt-Profile-Identifier": "u"},
                "Accept-BagIt-Version": ["1.0"], "Serialization": "maybe"}"#
                .to_vec(),
            "\"Serialization\" is \"maybe\"",
        ),
        (
            "baginfo.json",
            br#"{"BagIt-Profile-Info": {"Source-Organization": "x", "BagIt-Profile-Identifier": "u"},
                "Accept-BagIt-Version": ["1.0"], "Bag-Info": {"Title": {"required": "yes"}}}"#
                .to_vec(),
            "\"Bag-Info\".\"Title\".\"required\" must be true or false",
        ),
        ("deep.json", "[".repeat(100_000).into_bytes(), "invalid JSON"),
        ("latin1.json", b"{\"\xe9\": 1}".to_vec(), "not UTF-8"),
        ("huge.json", vec![b' '; (1 << 20) + 1], "larger than"),
    ];
    for (name, bytes, want) in cases {
        fs::write(dir.join(name), &bytes).unwrap();
        let o = run_in(dir, &["bag", "validate", "--profile", name, "bag"]);
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(want),
            "{name}: want {want:?} in {}",
            stderr(&o)
        );
        let c = run_in(
            dir,
            &["bag", "create", "src", "-o", "out", "--profile", name],
        );
        assert_eq!(code(&c), 2, "{name}: {}", stderr(&c));
        assert!(!dir.join("out").exists());
    }
    let o = run_in(dir, &["bag", "validate", "--profile", "nosuch", "bag"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("shipped: aptrust, btr, bagit-profiles-foo, bagit-profiles-bar"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_zip_is_judged_as_serialized() {
    let tmp = with_source("profile-zip");
    let dir = tmp.path();
    create_btr(dir);
    // Zip the bag under one top folder, as `cairn export` does.
    let zip = std::process::Command::new("zip")
        .current_dir(dir)
        .args(["-qr", "bag.zip", "bag"])
        .status();
    if !zip.is_ok_and(|s| s.success()) {
        skip("zip (Info-ZIP) is not installed");
        return;
    }
    let j = validate_json(dir, "btr", "bag.zip");
    assert_eq!(j["profile"]["conforms"], true, "{j}");
    // A profile forbidding serialization: the zip fails it, the folder meets it.
    let custom = r#"{"BagIt-Profile-Info": {"Source-Organization": "x",
        "BagIt-Profile-Identifier": "https://github.com/dpscollaborative/btr_bagit_profile/releases/download/1.0/btr-bagit-profile.json"},
        "Accept-BagIt-Version": ["1.0"], "Serialization": "forbidden"}"#;
    fs::write(dir.join("forbid.json"), custom).unwrap();
    let f = validate_json(dir, "forbid.json", "bag.zip");
    assert_eq!(kinds(&f), vec!["serialization-forbidden".to_string()]);
    let folder = validate_json(dir, "forbid.json", "bag");
    assert_eq!(folder["profile"]["conforms"], true, "{folder}");
}

/// The agreement corpus: every shipped profile, a bag meeting it and one for each way
/// of failing it, judged by Cairn and by bagit-profile; every difference is one that
/// docs/profiles.md explains (agree.py lists them and fails on any other).
#[test]
fn agrees_with_the_reference_validator_bagit_profile() {
    let importable = std::process::Command::new("python3")
        .args(["-c", "import bagit, bagit_profile"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !importable {
        skip("python3 with bagit and bagit_profile (pip install bagit-profile) is not available");
        return;
    }
    let tmp = fresh_dir("profile-agree");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = std::process::Command::new("python3")
        .arg(repo.join("tests/profiles/agree.py"))
        .arg(cairn_bin())
        .arg(repo)
        .arg(tmp.path())
        .output()
        .expect("python3 runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "disagreements:\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains(" 0 unexplained"), "{out}");
    let agreed = out.lines().filter(|l| l.contains("  agree  ")).count();
    assert!(agreed >= 100, "only {agreed} cases agreed:\n{out}");
}
