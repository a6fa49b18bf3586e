//! Shell completions and the manual page are generated from the real command line, so
//! they cannot drift from it.

use std::io::Write;
use std::process::{Command as StdCommand, Stdio};

use crate::common;

const COMMANDS: [&str; 12] = [
    "bag",
    "init",
    "ingest",
    "show",
    "list",
    "fixity",
    "audit",
    "verify",
    "export",
    "import",
    "completions",
    "man",
];

fn cairn(args: &[&str]) -> String {
    let out = common::cairn().args(args).output().expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn bash_completion_is_valid_bash_and_knows_every_command() {
    let script = cairn(&["completions", "bash"]);
    let mut bash = StdCommand::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash is installed");
    bash.stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write");
    let out = bash.wait_with_output().expect("bash -n");
    assert!(
        out.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(script.contains("complete -F _cairn"), "registers itself");
    for c in COMMANDS {
        assert!(script.contains(c), "bash completion lacks {c}");
    }
    for flag in [
        "--max-bytes",
        "--since-head",
        "--remove-source",
        "--completeness-only",
    ] {
        assert!(script.contains(flag), "bash completion lacks {flag}");
    }
}

#[test]
fn zsh_and_fish_completions_are_generated() {
    let zsh = cairn(&["completions", "zsh"]);
    assert!(
        zsh.starts_with("#compdef cairn"),
        "{}",
        &zsh[..zsh.len().min(80)]
    );
    let fish = cairn(&["completions", "fish"]);
    assert!(fish.contains("complete -c cairn"));
    for c in COMMANDS {
        assert!(zsh.contains(c) && fish.contains(c), "{c}");
    }
    let out = common::cairn()
        .args(["completions", "tcsh"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "an unknown shell is bad usage");
}

#[test]
fn the_manual_covers_every_command_and_the_exit_codes() {
    let man = cairn(&["man"]);
    assert!(man.contains(".TH cairn 1"));
    for c in COMMANDS {
        assert!(
            man.contains(&format!(".TH cairn-{c} 1")),
            "no manual section for {c}"
        );
    }
    assert!(man.contains("Exit codes"), "the exit codes are documented");
    assert!(man.contains("lock held"));
}
