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

/// Whether python3 can import bagit and bagit_profile (the reference validator).
fn peer_importable() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import bagit, bagit_profile"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `dir` holds `name` and nothing else (a refused command left nothing behind).
fn assert_only(dir: &Path, name: &str) {
    let names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from(name)],
        "left behind: {names:?}"
    );
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
    assert_only(dir, "src");
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
    let importable = peer_importable();
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

/// An archive at `<tmp>/arch` with one ingested item, cairn-000001, and `export` as
/// its cairn.toml's `[profiles] export`.
fn archive_with_item(label: &str, export: &str) -> tempfile::TempDir {
    let tmp = fresh_dir(label);
    let dir = tmp.path();
    let init = run_in(dir, &["init", "arch"]);
    assert_eq!(code(&init), 0, "{}", stderr(&init));
    let arch = dir.join("arch");
    let config = fs::read_to_string(arch.join("cairn.toml")).unwrap();
    let set = config.replace("\nexport = \"\"\n", &format!("\nexport = \"{export}\"\n"));
    assert!(set.contains(&format!("export = \"{export}\"")), "{set}");
    fs::write(arch.join("cairn.toml"), set).unwrap();
    write_file(&arch, "intake/letters/a.txt", b"Dear Sir,\n");
    write_file(
        &arch,
        "intake/letters/cairn.dc.json",
        br#"{"dc.title": "Letters"}"#,
    );
    let ingest = run_in(&arch, &["ingest"]);
    assert_eq!(code(&ingest), 0, "{}", stderr(&ingest));
    tmp
}

#[test]
fn export_profile_writes_a_conforming_zip_or_nothing() {
    let tmp = archive_with_item("profile-export", "");
    let arch = tmp.path().join("arch");
    let before = file_bytes(&arch.join("archive"));
    // No Source-Organization anywhere: refused, nothing written, nothing logged.
    let o = run_in(
        &arch,
        &[
            "export",
            "cairn-000001",
            "--zip",
            "../btr.zip",
            "--profile",
            "btr",
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("required tag Source-Organization is missing"),
        "{}",
        stderr(&o)
    );
    assert_only(tmp.path(), "arch");
    // APTrust wants a tar: a zip can never meet it.
    let apt = run_in(
        &arch,
        &[
            "export",
            "cairn-000001",
            "--zip",
            "../apt.zip",
            "--profile",
            "aptrust",
        ],
    );
    assert_eq!(code(&apt), 1);
    assert!(
        stderr(&apt).contains("serialization-type"),
        "{}",
        stderr(&apt)
    );
    let o = run_in(
        &arch,
        &[
            "export",
            "cairn-000001",
            "--zip",
            "../btr.zip",
            "--profile",
            "btr",
            "--info",
            "Source-Organization: Example U",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let zip = tmp.path().join("btr.zip");
    let j = validate_json(tmp.path(), "btr", "btr.zip");
    assert_eq!(j["valid"], true, "{j}");
    assert_eq!(j["profile"]["conforms"], true, "{j}");
    // The archived bag is untouched; the event says what the zip is.
    assert_eq!(before, file_bytes(&arch.join("archive")));
    let text = String::from_utf8_lossy(&fs::read(arch.join("manifests/events.jsonl")).unwrap())
        .into_owned();
    assert!(
        text.contains("a deposit copy meeting BagIt Profile btr"),
        "{text}"
    );
    check_chain(&arch, "export --profile");
    assert!(zip.is_file());
    // The staging folder is gone.
    let hidden: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    peer_accepts_zip(tmp.path(), &zip);
}

/// bagit-profile's own verdict on an exported zip: its type by the API (its command
/// line opens a zip as a folder first), the rest on the unzipped folder.
fn peer_accepts_zip(dir: &Path, zip: &Path) {
    let importable = peer_importable();
    if !importable {
        skip("python3 with bagit and bagit_profile is not available");
        return;
    }
    let profile = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/btr-bagit-profile-1.0.json");
    let script = r#"
import json, sys, zipfile, logging, bagit, bagit_profile
logging.disable(logging.CRITICAL)
profile, zpath, out = sys.argv[1:4]
data = json.load(open(profile))
url = data["BagIt-Profile-Info"]["BagIt-Profile-Identifier"]
p = bagit_profile.Profile(url, profile=data)
p.validate_serialization(zpath)
zipfile.ZipFile(zpath).extractall(out)
ok = bagit_profile.Profile(url, profile=json.load(open(profile))).validate(bagit.Bag(out + "/cairn-000001"))
print("VALID" if ok else "INVALID")
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&profile)
        .arg(zip)
        .arg(dir.join("unzipped"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("VALID"),
        "bagit-profile: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("INVALID"));
}

#[test]
fn profiles_export_in_cairn_toml_applies_to_every_export() {
    let tmp = archive_with_item("profile-config", "btr");
    let arch = tmp.path().join("arch");
    // Source-Organization from [ingest] is set below through the environment.
    let o = run(cairn()
        .current_dir(&arch)
        .env("CAIRN_INGEST_SOURCE_ORGANIZATION", "Example U")
        .args(["export", "cairn-000001", "--zip", "../deposit.zip"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let j = validate_json(tmp.path(), "btr", "deposit.zip");
    assert_eq!(j["profile"]["conforms"], true, "{j}");
    // --force exports the archived bag as it is, not a deposit copy.
    let f = run_in(
        &arch,
        &["export", "cairn-000001", "--zip", "../plain.zip", "--force"],
    );
    assert_eq!(code(&f), 0, "{}", stderr(&f));
    let plain = validate_json(tmp.path(), "btr", "plain.zip");
    assert_eq!(plain["profile"]["conforms"], false);
    // A misspelt name is a configuration error that suggests the right one.
    let toml = arch.join("cairn.toml");
    let text = fs::read_to_string(&toml)
        .unwrap()
        .replace("export = \"btr\"", "export = \"bt\"");
    fs::write(&toml, text).unwrap();
    let bad = run_in(&arch, &["export", "cairn-000001", "--zip", "../x.zip"]);
    assert_eq!(code(&bad), 3, "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("did you mean \"btr\"?"),
        "{}",
        stderr(&bad)
    );
    assert!(!tmp.path().join("x.zip").exists());
}
