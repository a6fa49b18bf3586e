//! Progress bars (issue 8): drawn on a terminal, never in a pipe, never with --quiet or
//! JSON logs.
//!
//! The real binary runs under a pseudo-terminal made by `script` (util-linux, in
//! Debian's essential bsdutils package), which copies everything the program wrote to
//! the terminal to its own stdout. A rate-limited fixity run (`--rate`) over a 12 MiB
//! payload lasts about 1.5 s whatever the machine, long enough for several frames of the
//! bar, which appears after 0.3 s and is redrawn ten times a second.

use crate::common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use common::fresh_dir;

const ESC: u8 = 0x1b;

fn cairn_path() -> String {
    common::cairn_bin().display().to_string()
}

/// The archive: one item of 12 MiB, ingested with BLAKE3 only (set through the
/// environment, which the ingest must honour) so that a debug build is quick.
fn make_archive(root: &Path) {
    let ok = |out: Output, what: &str| {
        assert!(
            out.status.success(),
            "{what}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(
        common::cairn()
            .arg("init")
            .arg(root)
            .output()
            .expect("run cairn init"),
        "init",
    );
    let item = root.join("intake/scans");
    std::fs::create_dir_all(&item).expect("create item");
    // Incompressible-looking, deterministic bytes.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = vec![0u8; 12 << 20];
    for b in bytes.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(item.join("page-1.tif"), &bytes[..8 << 20]).expect("write");
    std::fs::write(item.join("page-2.tif"), &bytes[8 << 20..]).expect("write");
    std::fs::write(item.join("cairn.dc.json"), r#"{"dc.title": "Box 1"}"#).expect("write");
    ok(
        common::cairn()
            .args(["ingest", "--root"])
            .arg(root)
            .env("CAIRN_INGEST_ALGORITHMS", "blake3")
            .output()
            .expect("run cairn ingest"),
        "ingest",
    );
}

/// Runs `cairn ARGS` under a pseudo-terminal; returns what the terminal received and
/// the exit status of cairn (script -e passes it on).
fn on_a_terminal(args: &str) -> (String, Option<i32>, f64) {
    let t0 = Instant::now();
    let out = common::hermetic(&mut Command::new("script"))
        .args([
            "-q",
            "-e",
            "-c",
            // A pseudo-terminal made with no terminal around it has no size.
            &format!("stty cols 120 rows 30; '{}' {args}", cairn_path()),
            "/dev/null",
        ])
        .env("TERM", "xterm-256color")
        .env_remove("RUST_LOG")
        .env_remove("CAIRN_QUIET")
        .env_remove("CAIRN_LOG_FORMAT")
        .stdin(Stdio::null())
        .output()
        .expect("`script` (util-linux) is needed for this test: apt-get install bsdutils");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
        t0.elapsed().as_secs_f64(),
    )
}

/// The text of terminal output without its escape sequences (`ESC [ … final`).
fn strip_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn root_arg(root: &Path) -> String {
    format!("--root '{}'", root.display())
}

#[test]
fn the_bar_is_drawn_on_a_terminal_and_never_in_a_pipe() {
    let dir = fresh_dir("progress-tty");
    let root = dir.path().join("archive-a");
    make_archive(&root);
    let args = format!("fixity {} --all --rate 8M", root_arg(&root));

    // On a terminal: the bar, with bytes, throughput, ETA, files and what it checks.
    let (tty, code, secs) = on_a_terminal(&args);
    assert_eq!(code, Some(0), "{tty}");
    assert!(secs >= 1.0, "the run was too short to draw: {secs} s");
    assert!(
        tty.as_bytes().contains(&ESC),
        "no escape codes drawn:\n{tty}"
    );
    let text = strip_escapes(&tty);
    let frames: Vec<&str> = text
        .split(['\r', '\n'])
        .filter(|l| l.contains("fixity verify cairn-000001 [") && l.contains(" files"))
        .collect();
    assert!(!frames.is_empty(), "no bar drawn:\n{tty}");
    assert!(
        frames
            .iter()
            .any(|f| f.contains("MiB/12.00 MiB") && f.contains("/s ETA ")),
        "no bar with bytes, throughput and ETA:\n{}",
        frames.join("\n")
    );
    assert!(frames.iter().any(|f| f.contains("[=")), "no filled bar");
    // The bar is cleared before the report is printed.
    assert!(
        tty.contains("ok      cairn-000001  2 files, 12582912 bytes"),
        "{tty}"
    );

    // In a pipe: the same report, and not one escape code.
    let out = common::cairn()
        .args(["fixity", "--all", "--rate", "8M", "--root"])
        .arg(&root)
        .env("TERM", "xterm-256color")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run cairn");
    assert_eq!(out.status.code(), Some(0));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        !out.stderr.contains(&ESC),
        "escape codes in a pipe: {stderr:?}"
    );
    assert!(
        !out.stdout.contains(&ESC),
        "escape codes in a pipe: {stdout:?}"
    );
    assert!(
        !stderr.contains(" files") && !stderr.contains("ETA"),
        "{stderr}"
    );
    assert!(
        stdout.contains("ok      cairn-000001  2 files, 12582912 bytes"),
        "{stdout}"
    );
}

#[test]
fn quiet_and_json_logs_draw_nothing_even_on_a_terminal() {
    let dir = fresh_dir("progress-quiet");
    let root = dir.path().join("archive-b");
    make_archive(&root);

    // --quiet: not a byte on success, on a terminal too.
    let (tty, code, secs) =
        on_a_terminal(&format!("fixity {} --all --rate 8M -q", root_arg(&root)));
    assert_eq!(code, Some(0), "{tty}");
    assert!(secs >= 1.0, "{secs} s");
    assert_eq!(tty, "", "--quiet printed something");

    // JSON logs: every line on the terminal is the report or a JSON object; no bar.
    let (tty, code, _) = on_a_terminal(&format!(
        "fixity {} --all --rate 8M -v --log-format json",
        root_arg(&root)
    ));
    assert_eq!(code, Some(0), "{tty}");
    assert!(
        !tty.as_bytes().contains(&ESC),
        "escape codes with JSON logs:\n{tty}"
    );
    let summary = tty
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON log line:\n{tty}"));
    let v: serde_json::Value = serde_json::from_str(summary.trim_end()).expect("a JSON line");
    assert_eq!(v["message"], "fixity finished");
    assert_eq!(v["bags"], 1);
    assert_eq!(v["files"], 2);
    assert_eq!(v["bytes"], 12_582_912);
    assert_eq!(v["failures"], 0);
    assert!(v["seconds"].as_f64().is_some_and(|s| s >= 1.0), "{v}");
}
