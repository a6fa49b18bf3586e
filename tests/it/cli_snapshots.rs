//! Snapshot tests of the real `cairn` binary (issue 8): help texts, `--version`, and the
//! important outputs and errors, pinned with trycmd so that a changed message is a
//! reviewed change. The README's tutorial is one of them: its ```console blocks are run
//! here, in a fresh folder, and must print what the README shows.
//!
//! - `tests/cmd/*.trycmd`: sequences of `$ cairn ...` commands with their output (stdout
//!   and stderr merged) and `? CODE` exit statuses. A `NAME.in/` folder beside one is its
//!   starting folder; a `NAME.out/` folder (here holding only `.keep`) makes trycmd run it
//!   in a temporary copy, so nothing is ever written into the source tree.
//! - `tests/cmd/*.toml`: one command each, with its stdout and stderr kept apart in
//!   `NAME.stdout` and `NAME.stderr` (where it matters which stream a message goes to).
//! - `README.md`: the tutorial; see [`readme_tutorial`].
//!
//! Volatile values (times, UUIDs, durations, the event log's head digest) are matched
//! with `[..]` (any text within one line); everything else is exact.
//!
//! Update after a deliberate change: `TRYCMD=overwrite cargo test --test it cli_snapshots::`,
//! then review the diff (wildcards in changed lines must be put back by hand).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common;

/// The programs the snapshots may run. trycmd silently *skips* a command whose program it
/// cannot resolve, so every `$ PROGRAM` in a snapshot must be one of these
/// ([`every_snapshot_command_is_registered`] checks it).
const PROGRAMS: [&str; 3] = ["cairn", "cp", "flock"];

fn cairn_bin() -> PathBuf {
    common::cairn_bin()
}

/// A program from the system's PATH (`cp`, `flock`).
fn system_bin(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not on PATH; the CLI snapshots need it"))
}

/// The environment of every snapshot, made independent of the developer's shell: no
/// RUST_LOG (log lines would pollute the output), no CAIRN_* variables (CAIRN_ROOT
/// would show in `--help` and change which archive is used), no CI. trycmd passes its
/// own process's environment on, and that process is the whole test suite's (one test
/// binary, tests/it): removing the variables from it would also remove CAIRN_REQUIRE_ALL
/// from every other test. So a trycmd test runs itself again, alone, in a child of this
/// test binary whose environment is made hermetic by [`common::hermetic`]. Returns true
/// in that child, where the test does its work; in the parent, runs the child and
/// passes its failure on.
fn in_hermetic_child(test: &str) -> bool {
    const CHILD: &str = "IT_TRYCMD_HERMETIC_CHILD";
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let name = format!("{module}::{test}");
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = common::hermetic(&mut std::process::Command::new(exe))
        .args([name.as_str(), "--exact", "--test-threads=1"])
        .env(CHILD, "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name}, run in a hermetic child:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

fn test_cases() -> trycmd::TestCases {
    let cairn = cairn_bin();
    // `flock FILE cairn ...` runs cairn by name: put the one under test first on PATH.
    let cairn_dir = cairn.parent().expect("the binary has a folder").to_owned();
    let mut path = vec![cairn_dir];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(path).expect("PATH entries are joinable");

    let cases = trycmd::TestCases::new();
    cases
        .register_bin("cairn", cairn)
        .register_bin("cp", system_bin("cp"))
        .register_bin("flock", system_bin("flock"))
        .env("PATH", path.to_string_lossy().into_owned())
        // Help is wrapped to the terminal's width; there is none here, so clap reads
        // COLUMNS. Fixed so that the snapshots do not depend on the developer's shell.
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .timeout(std::time::Duration::from_secs(120));
    cases
}

/// Help of every command, `--version`, usage errors, bag validation (text and JSON,
/// valid and invalid), a refused ingest item, a fixity failure, configuration and lock
/// errors.
#[test]
fn cli_snapshots() {
    if !in_hermetic_child("cli_snapshots") {
        return;
    }
    test_cases()
        .case("tests/cmd/*.trycmd")
        .case("tests/cmd/*.toml")
        .run();
}

/// The README's tutorial, run as written: `README.md` is a trycmd case whose ```console
/// blocks are executed in order, in one temporary folder, and must print exactly what
/// the README shows (other blocks, ```sh and ```text, are not run).
///
/// The tutorial is written as if in a home folder where Cairn was cloned as `cairn/`;
/// the test builds that folder (`README.in/cairn/samples/s21`, a copy of the sample
/// collection) beside a copy of README.md in a temporary directory, so that nothing is
/// ever written beside the real README. With `TRYCMD=overwrite` the updated copy is
/// written back to README.md.
#[test]
fn readme_tutorial() {
    if !in_hermetic_child("readme_tutorial") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = root.join("README.md");
    let text = std::fs::read_to_string(&readme).expect("README.md is readable");
    assert_tutorial_present(&text);

    let work = tempfile::tempdir().expect("a temporary folder");
    let copy = work.path().join("README.md");
    std::fs::write(&copy, &text).expect("copy README.md");
    let home = work.path().join("README.in");
    common::copy_tree(
        &root.join("samples/s21"),
        &home.join("cairn").join("samples").join("s21"),
    );
    // A README.out/ folder makes trycmd run the commands in a temporary copy of
    // README.in/; holding only `.keep`, it compares no files.
    std::fs::create_dir_all(work.path().join("README.out")).expect("README.out");
    std::fs::write(work.path().join("README.out").join(".keep"), b"").expect(".keep");

    eprintln!(
        "README.md runs as {} (line numbers in failures are README.md's)",
        copy.display()
    );
    test_cases().case(&copy).run();

    if std::env::var("TRYCMD").as_deref() == Ok("overwrite") {
        let updated = std::fs::read_to_string(&copy).expect("read the updated copy");
        if updated != text {
            std::fs::write(&readme, updated).expect("write README.md");
        }
    }
}

/// The commands the tutorial must show, so that it cannot silently stop being tested
/// (for example if its fences were changed from ```console to ```sh).
fn assert_tutorial_present(readme: &str) {
    let commands: Vec<String> = console_commands(readme);
    for expected in [
        "cairn init",
        "cp -r",
        "cairn ingest",
        "cairn show",
        "cairn list",
        "cairn fixity",
        "cairn audit",
        "cairn export",
    ] {
        assert!(
            commands.iter().any(|c| c.starts_with(expected)),
            "README.md: no `$ {expected} ...` line in a ```console block; the tutorial \
             must show it (and this test runs it)"
        );
    }
    // Every crontab line in the README runs a command the tutorial runs and shows
    // (apart from --root, which is /srv/archive there), so its options are tested too.
    for line in readme.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pos) = fields.iter().position(|f| *f == "cairn") else {
            continue;
        };
        if pos != 5 || !fields[..5].iter().all(|f| looks_like_cron_field(f)) {
            continue;
        }
        let cron = without_root(&fields[pos..]);
        assert!(
            commands
                .iter()
                .any(|c| without_root(&c.split_whitespace().collect::<Vec<_>>()) == cron),
            "README.md: the crontab line `{line}` runs no command that a ```console block \
             runs (ignoring --root); show that command, run, in the tutorial"
        );
    }
}

fn looks_like_cron_field(f: &str) -> bool {
    !f.is_empty() && f.chars().all(|c| c.is_ascii_digit() || ",-*/".contains(c))
}

fn without_root(words: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for w in words {
        if skip {
            skip = false;
        } else if *w == "--root" {
            skip = true;
        } else if !w.starts_with("--root=") {
            out.push(w.to_string());
        }
    }
    out
}

/// The `$ ` lines of the blocks trycmd runs in a Markdown or .trycmd text: fences with
/// no info string, `console` or `trycmd` (unless marked `ignore`).
fn console_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    let mut runs = false;
    for line in text.lines() {
        let ticks = line.chars().take_while(|&c| c == '`').count();
        match &fence {
            None if ticks >= 3 => {
                let info = line[ticks..].trim();
                let mut parts = info.split(',');
                let lang = parts.next().unwrap_or("");
                runs = lang.is_empty()
                    || ((lang == "console" || lang == "trycmd") && !parts.any(|p| p == "ignore"));
                fence = Some(line[..ticks].to_string());
            }
            Some(f) if line.starts_with(f.as_str()) => fence = None,
            Some(_) if runs => {
                if let Some(cmd) = line.strip_prefix("$ ") {
                    out.push(cmd.trim().to_string());
                }
            }
            _ => {}
        }
    }
    out
}

/// The program a `$ ` line runs: its first word that is not a `KEY=VALUE` assignment.
fn program_of(cmd: &str) -> &str {
    cmd.split_whitespace()
        .find(|w| !w.contains('='))
        .unwrap_or("")
}

#[test]
fn every_snapshot_command_is_registered() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("tests/cmd")).expect("tests/cmd") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "trycmd" || e == "md") {
            files.push(path);
        }
    }
    let mut seen = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        for cmd in console_commands(&text) {
            let program = program_of(&cmd).to_string();
            assert!(
                PROGRAMS.contains(&program.as_str()),
                "{}: `$ {cmd}` runs `{program}`, which tests/it/cli_snapshots.rs does not \
                 register: trycmd would skip it silently. Register it or use another",
                file.display()
            );
            seen.insert(program);
        }
    }
    assert!(seen.contains("cairn"), "no snapshot runs cairn at all");
}

/// Every command that `cairn --help` lists (and `bag`'s own subcommands) has its
/// `--help` pinned by a snapshot, so a new command cannot arrive without one.
#[test]
fn every_command_has_a_help_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pinned = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("tests/cmd")).expect("tests/cmd") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "trycmd") {
            let text = std::fs::read_to_string(&path).expect("readable");
            for line in text.lines() {
                if let Some(cmd) = line.strip_prefix("$ ") {
                    pinned.insert(cmd.trim().to_string());
                }
            }
        }
    }
    let mut wanted = vec!["cairn --help".to_string(), "cairn --version".to_string()];
    for sub in subcommands(&[]) {
        wanted.push(format!("cairn {sub} --help"));
    }
    for sub in subcommands(&["bag"]) {
        wanted.push(format!("cairn bag {sub} --help"));
    }
    let missing: Vec<_> = wanted.iter().filter(|w| !pinned.contains(*w)).collect();
    assert!(
        missing.is_empty(),
        "no snapshot in tests/cmd/*.trycmd runs {missing:?}"
    );
}

/// The subcommands `cairn ARGS --help` lists under "Commands:" (without `help`).
fn subcommands(args: &[&str]) -> Vec<String> {
    let out = common::cairn()
        .args(args)
        .arg("--help")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("cairn runs");
    assert!(out.status.success(), "cairn {args:?} --help failed");
    let text = String::from_utf8(out.stdout).expect("UTF-8 help");
    let mut in_commands = false;
    let mut subs = Vec::new();
    for line in text.lines() {
        if line == "Commands:" {
            in_commands = true;
        } else if in_commands {
            // Entries are indented two spaces; continuation lines are indented more.
            let Some(rest) = line.strip_prefix("  ") else {
                break;
            };
            if rest.starts_with(' ') {
                continue;
            }
            let name = rest.split_whitespace().next().unwrap_or("");
            if name != "help" {
                subs.push(name.to_string());
            }
        }
    }
    assert!(
        !subs.is_empty(),
        "cairn {args:?} --help lists no commands:\n{text}"
    );
    subs
}
