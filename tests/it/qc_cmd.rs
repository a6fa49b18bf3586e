//! `cairn qc`: a vendor's delivery checked against a digitisation profile, outside an
//! archive and with an archive's own `[qc]`; text, JSON and HTML agree.
//!
//! The validators of each format are written beside this command; these tests depend
//! on no validator's finding codes, only on the profile's rules.

use std::path::Path;

use crate::common::{self, fresh_dir, tiff_bytes, write_file};

fn qc(cwd: &Path, args: &[&str]) -> std::process::Output {
    common::run(common::cairn().current_dir(cwd).arg("qc").args(args))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// delivery/good.tif (400 ppi, RGB, ICC profile) and delivery/low.tif (150 ppi).
fn delivery(tmp: &Path) {
    write_file(
        tmp,
        "delivery/good.tif",
        &tiff_bytes(40, 30, 400, true, true),
    );
    write_file(
        tmp,
        "delivery/low.tif",
        &tiff_bytes(40, 30, 150, true, true),
    );
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON: {e}\n{}", common::describe(out)))
}

#[test]
fn a_150_ppi_tiff_fails_the_fadgi_profile_and_the_good_one_passes() {
    let tmp = fresh_dir("qc-fadgi");
    delivery(tmp.path());
    let out = qc(tmp.path(), &["delivery", "--profile", "fadgi-3-star-text"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));
    let lines: Vec<&str> = stdout.lines().collect();
    let good = lines
        .iter()
        .position(|l| l.starts_with("delivery/good.tif  "))
        .expect("good line");
    let low = lines
        .iter()
        .position(|l| l.starts_with("delivery/low.tif  "))
        .expect("low line");
    assert!(good < low, "name order: {stdout}");
    assert!(
        lines[good].contains("400 ppi") && lines[good].ends_with("  pass"),
        "{stdout}"
    );
    assert!(
        lines[low].contains("150 ppi") && lines[low].ends_with("  fail"),
        "{stdout}"
    );
    assert!(
        stdout.contains("    fail min_ppi: at least 294 ppi required; the file has 150 ppi\n"),
        "{stdout}"
    );
    let summary = lines.last().expect("summary");
    assert!(
        summary.ends_with(": 1 passed, 0 with warnings, 1 failed (profile fadgi-3-star-text)"),
        "{summary}"
    );

    // The JSON says the same, and its totals are the summary's numbers.
    let out = qc(
        tmp.path(),
        &["delivery", "--profile", "fadgi-3-star-text", "--json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));
    let v = json(&out);
    assert_eq!(v["profile"], "fadgi-3-star-text");
    assert_eq!(v["passed"], false);
    let t = &v["totals"];
    let n = |k: &str| t[k].as_u64().unwrap_or_else(|| panic!("totals.{k}: {t}"));
    assert_eq!(
        (n("files"), n("pass"), n("warn"), n("fail")),
        (2, 1, 0, 1),
        "{t}"
    );
    assert_eq!(
        n("valid") + n("not_valid") + n("not_well_formed") + n("not_validated"),
        2
    );
    let from_json = format!(
        "2 files ({} valid, {} not valid, {} not well-formed, {} not validated): {} passed, {} with warnings, {} failed (profile fadgi-3-star-text)",
        n("valid"), n("not_valid"), n("not_well_formed"), n("not_validated"), n("pass"), n("warn"), n("fail")
    );
    assert_eq!(summary, &from_json);
    let files = v["files"].as_array().expect("files");
    assert_eq!(files[0]["path"], "delivery/good.tif");
    assert_eq!(files[0]["outcome"], "pass");
    assert_eq!(files[0]["kind"], "tiff");
    assert_eq!(
        files[0]["puid"].as_str().map(|p| p.starts_with("fmt/")),
        Some(true),
        "{}",
        files[0]
    );
    assert_eq!(files[1]["outcome"], "fail");
    assert_eq!(files[1]["techmd"]["x_resolution"], 150.0);
    let rules = files[1]["judgement"]["results"]
        .as_array()
        .expect("results");
    let min_ppi = rules
        .iter()
        .find(|r| r["rule"] == "min_ppi")
        .expect("min_ppi");
    assert_eq!(min_ppi["outcome"], "fail");
    assert!(
        rules
            .iter()
            .filter(|r| r["rule"] != "min_ppi" && r["rule"] != "validation")
            .all(|r| r["outcome"] == "pass"),
        "{rules:?}"
    );

    // --quiet hides the passing file, never the failing one.
    let out = qc(
        tmp.path(),
        &["--quiet", "delivery", "--profile", "fadgi-3-star-text"],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout.contains("good.tif"), "{stdout}");
    assert!(
        stdout.contains("delivery/low.tif  ") && stdout.contains("fail min_ppi"),
        "{stdout}"
    );
}

#[test]
fn without_a_profile_only_validation_counts() {
    let tmp = fresh_dir("qc-none");
    delivery(tmp.path());
    write_file(tmp.path(), "delivery/notes.txt", b"scanned 2026-12-01\n");
    let out = qc(tmp.path(), &["delivery", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));
    let v = json(&out);
    assert_eq!(v["profile"], serde_json::Value::Null);
    assert_eq!(v["passed"], true);
    assert_eq!(v["totals"]["files"], 3);
    let notes = &v["files"][2];
    assert_eq!(notes["path"], "delivery/notes.txt");
    assert_eq!(notes["status"], "not validated");
    assert_eq!(notes["kind"], serde_json::Value::Null);
    assert_eq!(notes["judgement"], serde_json::Value::Null);
}

#[test]
fn an_unknown_profile_is_bad_usage_with_the_nearest_name() {
    let tmp = fresh_dir("qc-unknown");
    delivery(tmp.path());
    let out = qc(tmp.path(), &["delivery", "--profile", "fadgi-3-star-txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::describe(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown profile \"fadgi-3-star-txt\""),
        "{err}"
    );
    assert!(err.contains("did you mean \"fadgi-3-star-text\"?"), "{err}");
    assert!(out.stdout.is_empty());
    let out = qc(tmp.path(), &["no-such-folder"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::describe(&out));
}

#[test]
fn the_archives_own_profile_is_used_with_its_outcomes() {
    let tmp = fresh_dir("qc-custom");
    delivery(tmp.path());
    write_file(
        tmp.path(),
        "delivery/noicc.tif",
        &tiff_bytes(40, 30, 300, false, false),
    );
    let root = tmp.path().join("arc");
    let out = common::run(
        common::cairn()
            .arg("init")
            .arg(&root)
            .current_dir(tmp.path()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));
    let cfg = root.join("cairn.toml");
    let mut toml = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        toml.contains("\nprofile = \"\"\n"),
        "the template has qc.profile"
    );
    toml = toml.replacen("\nprofile = \"\"\n", "\nprofile = \"vendor\"\n", 1);
    toml.push_str(
        "\n[qc.profiles.vendor]\npreset = \"fadgi-3-star-text\"\nmin_ppi = 200\ncolour = [\"grey\", \"rgb\"]\non_fail = { icc = \"warn\" }\n",
    );
    std::fs::write(&cfg, &toml).unwrap();

    // From inside the archive, its [qc] applies: 150 ppi fails the 200 asked, the
    // greyscale file without an ICC profile only warns.
    let out = qc(
        &root,
        &[tmp.path().join("delivery").to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));
    let v = json(&out);
    assert_eq!(v["profile"], "vendor");
    let outcomes: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["pass", "fail", "warn"], "{v}");
    // --root from elsewhere, and --profile choosing a preset over it.
    let out = qc(
        tmp.path(),
        &["--root", root.to_str().unwrap(), "delivery/noicc.tif"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));
    assert!(
        text(&out.stdout)
            .contains("    warn icc: an embedded ICC profile required; the file has none"),
        "{}",
        common::describe(&out)
    );
    let out = qc(
        tmp.path(),
        &[
            "--root",
            root.to_str().unwrap(),
            "delivery/noicc.tif",
            "--profile",
            "fadgi-3-star-text",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));

    // A typo in the profile is refused when cairn.toml is read, with the nearest key.
    std::fs::write(&cfg, toml.replace("min_ppi = 200", "min_pi = 200")).unwrap();
    let out = qc(&root, &[tmp.path().join("delivery").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", common::describe(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("qc.profiles.vendor.min_pi: unknown key")
            && err.contains("did you mean \"min_ppi\"?"),
        "{err}"
    );
}

#[test]
fn html_is_one_self_contained_file() {
    let tmp = fresh_dir("qc-html");
    delivery(tmp.path());
    let out = qc(
        tmp.path(),
        &[
            "delivery",
            "--profile",
            "fadgi-3-star-text",
            "--html",
            "qc.html",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));
    let html = std::fs::read_to_string(tmp.path().join("qc.html")).expect("qc.html written");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    for needle in [
        "delivery/good.tif",
        "delivery/low.tif",
        "min_ppi: at least 294 ppi required; the file has 150 ppi",
        "fadgi-3-star-text",
    ] {
        assert!(html.contains(needle), "{needle}: {html}");
    }
    assert!(
        html.contains("<span class=\"n fail\">1</span>failed"),
        "{html}"
    );
    for outside in ["http://", "https://", "<script", "<link"] {
        assert!(!html.contains(outside), "{outside} in {html}");
    }
    // A thumbnail of each TIFF, inline: every source is a data: URI.
    assert_eq!(html.matches("src=\"").count(), 2, "{html}");
    assert_eq!(
        // iVBORw0KGgo: a PNG's signature, in base64.
        html.matches("src=\"data:image/png;base64,iVBORw0KGgo")
            .count(),
        2,
        "{html}"
    );
    // An existing file is never overwritten.
    let out = qc(tmp.path(), &["delivery", "--html", "qc.html"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::describe(&out));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("qc.html")).unwrap(),
        html
    );
}
