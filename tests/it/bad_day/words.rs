//! What Cairn says is exactly true (issue 29): a closed pipe is no internal error, the
//! event log's vocabularies are closed, malformed input is a usage error, and an auditor
//! with read-only access can check.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common;
use crate::life::{expect, make_archive};

/// Runs `cairn ARGS --root ROOT` with its stdout a pipe whose reader is gone before the
/// command writes (as `| head -1` leaves it once it has its line): the exit status and
/// what went to stderr.
fn with_closed_stdout(root: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = common::cairn()
        .args(args)
        .arg("--root")
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cairn starts");
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr piped")
        .read_to_string(&mut stderr)
        .expect("stderr read");
    let status = child.wait().expect("cairn ends");
    (status.code(), stderr)
}

#[test]
fn a_closed_pipe_ends_every_reading_command_quietly() {
    let tmp = common::fresh_dir("words-pipe");
    let root = tmp.path().join("arc");
    make_archive(&root, 4);
    let page = root.join("archive/cairn-000001/data");
    let page = page.to_str().expect("utf-8 path");
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["show", "cairn-000001"],
        &["show", "cairn-000001", "--json"],
        &["events"],
        &["events", "--csv"],
        &["fixity", "--all"],
        &["audit"],
        &["report"],
        &["report", "--csv"],
        &["identify", page],
    ] {
        let (code, stderr) = with_closed_stdout(&root, args);
        assert!(
            !stderr.contains("internal error") && !stderr.contains("Broken pipe"),
            "cairn {args:?}: {stderr}"
        );
        // fixity and audit find what they find (here: never checked, so audit says so
        // on stdout); the pipe itself never makes a failure.
        assert_eq!(code, Some(0), "cairn {args:?}: {stderr}");
    }
}

#[test]
fn event_types_and_outcomes_are_closed_vocabularies() {
    let tmp = common::fresh_dir("words-vocab");
    let root = tmp.path().join("arc");
    make_archive(&root, 2);
    // Every type Cairn writes is accepted, spelled as the log spells it.
    for t in [
        "message digest calculation",
        "validation",
        "ingestion",
        "format identification",
        "fixity check",
        "metadata modification",
        "modification",
        "deaccession",
        "export",
        "replication",
        "recovery",
        "log repair",
    ] {
        expect(&root, ["events", "--type", t], 0);
    }
    let ingested = expect(&root, ["events", "--type", "ingestion", "--json"], 0).json();
    assert_eq!(ingested.as_array().map(Vec::len), Some(3), "{ingested}");
    // A word that is not a type is a usage error naming the nearest type and the list.
    for (given, nearest) in [("fixity", "fixity check"), ("withdrawal", "deaccession")] {
        let out = expect(&root, ["events", "--type", given], 2);
        assert!(
            out.stderr.contains(&format!("did you mean \"{nearest}\"?")),
            "{}",
            out.describe()
        );
        assert!(
            out.stderr.contains("\"metadata modification\""),
            "{}",
            out.describe()
        );
        assert!(out.stdout.is_empty(), "{}", out.describe());
    }
    // warning is an outcome like the others.
    expect(&root, ["events", "--outcome", "warning"], 0);
    expect(&root, ["events", "--outcome", "failure"], 0);
    expect(&root, ["events", "--outcome", "ok"], 2);
    // An unknown item is exit 2, as in show.
    let out = expect(&root, ["events", "--id", "nosuch"], 2);
    assert!(
        out.stderr.contains("no item \"nosuch\""),
        "{}",
        out.describe()
    );
    expect(&root, ["show", "nosuch"], 2);
}

#[test]
fn report_counts_warnings_apart_from_failures() {
    let tmp = common::fresh_dir("words-warn");
    let root = tmp.path().join("arc");
    common::cairn()
        .arg("init")
        .arg(&root)
        .output()
        .expect("init");
    // A PNG cut short: its format identification is logged with outcome "warning".
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend_from_slice(&[0, 0, 0, 16, 0, 0, 0, 16, 8, 2, 0, 0, 0]);
    std::fs::write(root.join("intake/cut.png"), &png).expect("write");
    std::fs::write(
        root.join("intake/metadata.csv"),
        "filename,dc.title,dc.date,dc.type,dc.language\n\
         cut.png,Sample: a scan cut short,1978,Image,en\n",
    )
    .expect("write csv");
    expect(&root, ["ingest"], 0);
    let warnings = expect(&root, ["events", "--outcome", "warning", "--json"], 0).json();
    let n = warnings.as_array().map(Vec::len).unwrap_or(0);
    assert!(n >= 1, "a truncated PNG gives a warning event: {warnings}");
    let report = expect(&root, ["report", "--json"], 0).json();
    assert_eq!(
        report["failures"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
    assert_eq!(
        report["warnings"].as_array().map(Vec::len),
        Some(n),
        "{report}"
    );
    let text = expect(&root, ["report"], 0).stdout;
    assert!(text.contains("failures in the event log: 0"), "{text}");
    assert!(
        text.contains(&format!("warnings in the event log: {n}")),
        "{text}"
    );
}

#[test]
fn a_malformed_head_is_a_usage_error() {
    let tmp = common::fresh_dir("words-head");
    let root = tmp.path().join("arc");
    make_archive(&root, 1);
    let out = expect(&root, ["audit", "--since-head", "deadbeef"], 2);
    assert!(out.stderr.contains("64 hex digits"), "{}", out.describe());
    let zeros = "0".repeat(64);
    // A well-formed head the log never had is what exit 1 is for.
    expect(&root, ["audit", "--since-head", &zeros], 1);
}

/// Runs cairn as the unprivileged user `nobody`, for whom the archive (owned by the
/// test's user, mode 755/644) is read-only; `None` when this machine cannot (not root,
/// or no setpriv).
fn as_reader(root: &Path, args: &[&str]) -> Option<std::process::Output> {
    // SAFETY: geteuid has no preconditions and only reads the process's credentials.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let mut cmd = Command::new("setpriv");
    common::hermetic(&mut cmd);
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(common::cairn_bin())
        .args(args);
    // verify names a bag, not an archive.
    if args.first() != Some(&"verify") {
        cmd.arg("--root").arg(root);
    }
    let out = cmd
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some(out)
}

#[test]
fn an_auditor_with_read_only_access_can_check() {
    let tmp = common::fresh_dir("words-ro");
    let root = tmp.path().join("arc");
    make_archive(&root, 2);
    expect(&root, ["fixity", "--all"], 0);
    // The folders above the archive must be searchable by the reader.
    let mut dir = Some(root.as_path());
    while let Some(d) = dir {
        if d == Path::new("/") {
            break;
        }
        let _ = Command::new("chmod").arg("o+rx").arg(d).status();
        dir = d.parent();
    }
    let Some(probe) = as_reader(&root, &["list"]) else {
        common::skip("an_auditor_with_read_only_access_can_check needs root and setpriv (util-linux) to run as another user");
        return;
    };
    assert_eq!(
        probe.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let before = common::file_bytes(&root);
    let page = root.join("archive/cairn-000002");
    let page = page.to_str().expect("utf-8 path");
    for args in [
        &["fixity", "--dry-run"][..],
        &["fixity", "--due", "--dry-run"],
        &["audit"],
        &["show", "cairn-000001"],
        &["events"],
        &["events", "--id", "cairn-000001"],
        &["report"],
        &["list", "--json"],
        &["verify", page],
    ] {
        let out = as_reader(&root, args).expect("setpriv ran before");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "cairn {args:?}: {stderr}");
        assert!(
            !stderr.contains("could not write") && !stderr.contains("Permission denied"),
            "cairn {args:?} warns a reader: {stderr}"
        );
    }
    // serve too: every page answers, and nothing is written.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut server = common::hermetic(&mut Command::new("setpriv"))
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(common::cairn_bin())
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--root"])
        .arg(&root)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut first = [0u8; 16];
    let _ = server.stdout.as_mut().expect("piped").read(&mut first);
    for page in ["/", "/items", "/events", "/audit", "/items/cairn-000001"] {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(
            s,
            "GET {page} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "GET {page} as a reader: {}",
            answer.lines().next().unwrap_or("")
        );
    }
    let _ = server.kill();
    let out = server.wait_with_output().expect("serve ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Permission denied"),
        "serve warns a reader: {stderr}"
    );
    assert!(
        common::file_bytes(&root) == before,
        "a reader's commands changed the archive"
    );
}

#[test]
fn options_stand_before_or_after_the_command_and_the_archive_is_found_upwards() {
    let tmp = common::fresh_dir("words-place");
    let root = tmp.path().join("arc");
    make_archive(&root, 2);
    let run = |cwd: &Path, args: &[&str]| {
        let out = common::cairn()
            .args(args)
            .current_dir(cwd)
            .env_remove("CAIRN_ROOT")
            .stdin(Stdio::null())
            .output()
            .expect("cairn runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let arc = root.to_str().expect("utf-8 path");
    let here = tmp.path();
    // --root and --json before or after the command, and after a nested one.
    let after = run(here, &["list", "--json", "--root", arc]);
    assert_eq!(after.0, Some(0), "{after:?}");
    for args in [
        &["--root", arc, "list", "--json"][..],
        &["--json", "--root", arc, "list"],
        &["--root", arc, "--json", "list"],
    ] {
        let before = run(here, args);
        assert_eq!(before, after, "cairn {args:?}");
    }
    for args in [
        &["formats", "show", "--root", arc][..],
        &["formats", "--root", arc, "show"],
        &["--root", arc, "formats", "show"],
    ] {
        let (code, _, stderr) = run(here, args);
        assert_eq!(code, Some(0), "cairn {args:?}: {stderr}");
    }
    // A command that has no --json says so, wherever it stands.
    let (code, _, stderr) = run(here, &["--json", "serve", "--root", arc]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("`cairn serve` does not take --json"),
        "{stderr}"
    );
    // Repeated values as the README writes them.
    for args in [
        &[
            "fixity",
            "--id",
            "cairn-000001",
            "cairn-000002",
            "--root",
            arc,
        ][..],
        &[
            "fixity",
            "--id",
            "cairn-000001",
            "--id",
            "cairn-000002",
            "--root",
            arc,
        ],
    ] {
        let (code, stdout, stderr) = run(here, args);
        assert_eq!(code, Some(0), "cairn {args:?}: {stderr}");
        assert!(
            stdout.contains("2 bags checked"),
            "cairn {args:?}: {stdout}"
        );
    }
    // Inside the archive, anywhere below cairn.toml, as git finds its repository.
    let inside = root.join("archive/cairn-000001/data");
    let (code, stdout, stderr) = run(&inside, &["list"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("cairn-000003"), "{stdout}");
    // Outside any archive: where Cairn looked, and what to run.
    for cmd in ["list", "config", "audit"] {
        let (code, _, stderr) = run(here, &[cmd]);
        assert_eq!(code, Some(3), "{cmd}: {stderr}");
        assert!(
            stderr.contains("nor in any folder above") && stderr.contains("cairn init"),
            "{cmd}: {stderr}"
        );
    }
}

#[test]
fn serve_binds_a_host_name() {
    let tmp = common::fresh_dir("words-bind");
    let root = tmp.path().join("arc");
    make_archive(&root, 1);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut child = common::cairn()
        .args(["serve", "--bind", &format!("localhost:{port}"), "--root"])
        .arg(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut first = [0u8; 64];
    let n = child
        .stdout
        .as_mut()
        .expect("stdout piped")
        .read(&mut first)
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    let line = String::from_utf8_lossy(&first[..n]);
    assert!(
        line.starts_with(&format!("listening on http://127.0.0.1:{port}/")),
        "{line}"
    );
}

#[test]
fn content_and_record_versions_are_named_apart_and_archived_is_the_ingest() {
    let tmp = common::fresh_dir("words-versions");
    let root = tmp.path().join("arc");
    make_archive(&root, 1);
    expect(
        &root,
        [
            "amend",
            "cairn-000002",
            "--set",
            "dc.title=Sample: note on Tuol Sleng, corrected",
            "--reason",
            "typo",
        ],
        0,
    );
    let list = expect(&root, ["list", "--json"], 0).json();
    let item = list
        .as_array()
        .and_then(|a| a.iter().find(|i| i["id"] == "cairn-000002"))
        .cloned()
        .expect("listed");
    assert_eq!(item["entry_version"], 2, "{item}");
    assert_eq!(item["content_version"], 1, "{item}");
    // Both times are there (they may fall in the same second here).
    assert!(item["updated"].is_string(), "{item}");
    assert!(item["archived"].is_string(), "{item}");
    let csv = expect(&root, ["report", "--csv"], 0).stdout;
    let header = csv.lines().next().unwrap_or("");
    assert!(
        header.contains("record_version,content_version,archived,updated"),
        "{header}"
    );
    let text = expect(&root, ["report"], 0).stdout;
    assert!(text.contains("3 content versions"), "{text}");
    let one = expect(&root, ["list"], 0).stdout;
    assert!(one.contains("\t1 file\t"), "{one}");
    let show = expect(&root, ["show", "cairn-000002"], 0).stdout;
    assert!(show.contains("record version:   2"), "{show}");
    assert!(show.contains("earlier record versions"), "{show}");
}

/// Adds a folder replica `name` at `folder` to the archive's cairn.toml.
fn add_replica(root: &Path, name: &str, folder: &Path) {
    let path = root.join("cairn.toml");
    let mut text = std::fs::read_to_string(&path).expect("cairn.toml");
    text.push_str(&format!(
        "\n[[replica]]\nname = \"{name}\"\nurl = \"file://{}\"\n",
        folder.display()
    ));
    std::fs::write(&path, text).expect("write cairn.toml");
}

#[test]
fn every_summary_line_agrees_with_the_exit_code() {
    let tmp = common::fresh_dir("words-summary");
    let root = tmp.path().join("arc");
    make_archive(&root, 2);
    let nas = tmp.path().join("nas");
    std::fs::create_dir(&nas).expect("mkdir");
    add_replica(&root, "nas", &nas);
    expect(&root, ["replicate", "--init", "nas"], 0);
    expect(&root, ["replicate"], 0);
    expect(&root, ["fixity", "--all"], 0);
    let ok = expect(&root, ["audit", "--replicas"], 0);
    assert!(ok.stdout.contains("audit passed"), "{}", ok.describe());
    // A stray object on the replica: the archive is fine, the replica is not, and the
    // one verdict says so, naming the copy.
    std::fs::write(nas.join("archive/cairn-000002/stray.txt"), "stray").expect("write");
    let out = expect(&root, ["audit", "--replicas"], 1);
    assert!(!out.stdout.contains("audit passed"), "{}", out.describe());
    let verdict = out
        .stdout
        .lines()
        .find(|l| l.starts_with("audit "))
        .unwrap_or_default();
    assert!(
        verdict.starts_with("audit FAILED") && verdict.contains("replica nas: 1 discrepancy"),
        "{}",
        out.describe()
    );
    let quiet = expect(&root, ["audit", "--replicas", "--quiet"], 1);
    assert!(
        quiet.stdout.contains("audit FAILED"),
        "{}",
        quiet.describe()
    );
    let fixity = expect(&root, ["fixity", "--replica", "nas", "--all"], 1);
    assert!(
        !fixity.stdout.contains(", 0 failed:") || fixity.stdout.contains("FAILED"),
        "{}",
        fixity.describe()
    );
    assert!(fixity.stdout.contains("FAILED"), "{}", fixity.describe());
    // An ingest that refused an item (1) and then could not replicate (3): a problem
    // found outranks a failure to run.
    let toml = root.join("cairn.toml");
    let text = std::fs::read_to_string(&toml).expect("toml");
    std::fs::write(
        &toml,
        text.replace("replicate_on_ingest = false", "replicate_on_ingest = true"),
    )
    .expect("toml");
    std::fs::remove_dir_all(&nas).expect("the replica's disk is gone");
    std::fs::write(root.join("intake/new-page.txt"), "Sample: a new page\n").expect("write");
    std::fs::write(root.join("intake/undescribed.txt"), "Sample: no metadata\n").expect("write");
    std::fs::write(
        root.join("intake/metadata.csv"),
        "filename,dc.title,dc.date,dc.type,dc.language\n\
         new-page.txt,Sample: a new page,1977,Text,en\n",
    )
    .expect("write csv");
    let out = expect(&root, ["ingest"], 1);
    assert!(out.stderr.contains("undescribed.txt"), "{}", out.describe());
}

#[test]
fn keys_given_wrongly_are_named_as_such() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = common::fresh_dir("words-keys");
    let root = tmp.path().join("arc");
    make_archive(&root, 1);
    let key = tmp.path().join("archive.key");
    let key_s = key.to_str().expect("utf-8");
    expect(&root, ["key", "generate", "--out", key_s], 0);
    let proof = tmp.path().join("proof.json");
    expect(
        &root,
        [
            "proof",
            "cairn-000001",
            "--out",
            proof.to_str().expect("utf-8"),
        ],
        0,
    );
    // The private key where the public one is wanted: named, never echoed.
    let secret = std::fs::read_to_string(&key).expect("key");
    let out = common::cairn()
        .args(["verify-proof"])
        .arg(&proof)
        .args(["--key", key_s])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("this is the private key"), "{stderr}");
    // PRIVATE+KEY+<name>+<hash>+<base64 key>: the key is the fifth field, whole (base64
    // has '+' of its own, so the last '+' may fall inside it).
    let seed = secret.trim().splitn(5, '+').nth(4).unwrap_or("");
    assert!(!seed.is_empty() && !stderr.contains(seed), "{stderr}");
    // A private key others can read is a setting to fix (exit 3), not a problem in the
    // archive's data (exit 1).
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = expect(&root, ["checkpoint", "--key", key_s], 3);
    assert!(out.stderr.contains("chmod 600"), "{}", out.describe());
}

#[test]
fn a_withdrawn_item_is_named_as_withdrawn() {
    let tmp = common::fresh_dir("words-withdrawn");
    let root = tmp.path().join("arc");
    make_archive(&root, 1);
    expect(
        &root,
        ["withdraw", "cairn-000002", "--reason", "donor request"],
        0,
    );
    let zip = tmp.path().join("x.zip");
    let zip = zip.to_str().expect("utf-8");
    for args in [
        &["export", "cairn-000002", "--zip", zip][..],
        &["repair", "cairn-000002"],
        &["fixity", "--id", "cairn-000002"],
        &[
            "amend",
            "cairn-000002",
            "--set",
            "dc.title=x",
            "--reason",
            "y",
        ],
        &["withdraw", "cairn-000002", "--reason", "again"],
    ] {
        let out = expect(&root, args, 2);
        assert!(
            out.stderr.contains("cairn-000002 was withdrawn on"),
            "cairn {args:?}: {}",
            out.describe()
        );
    }
    // An edit that only removes a term is named as --unset.
    let out = expect(
        &root,
        [
            "amend",
            "cairn-000001",
            "--unset",
            "dc.title",
            "--reason",
            "y",
        ],
        1,
    );
    assert!(out.stderr.contains("--unset"), "{}", out.describe());
    assert!(!out.stderr.contains("--set:"), "{}", out.describe());
}

#[test]
fn a_density_without_a_unit_is_no_resolution() {
    let tmp = common::fresh_dir("words-density");
    // A JFIF whose density units are 0 (no unit): 1x1 is an aspect ratio.
    let mut j = super::precheck::truncated_jpeg();
    j.extend([0xFF, 0xD9]);
    let page = tmp.path().join("page.jpg");
    std::fs::write(&page, j).expect("write");
    let run = common::run_cairn(["identify".as_ref(), page.as_os_str()]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(!run.stdout.contains("per none"), "{}", run.describe());
    assert!(
        run.stdout.contains("aspect ratio 1 (no resolution unit)"),
        "{}",
        run.describe()
    );
}

#[test]
fn replicate_says_what_it_copied_rewrote_and_left() {
    let tmp = common::fresh_dir("words-replicate");
    let root = tmp.path().join("arc");
    make_archive(&root, 1);
    let nas = tmp.path().join("nas");
    std::fs::create_dir(&nas).expect("mkdir");
    add_replica(&root, "nas", &nas);
    expect(&root, ["replicate", "--init", "nas"], 0);
    let first = expect(&root, ["replicate"], 0);
    assert!(
        first.stdout.contains("new objects copied"),
        "{}",
        first.describe()
    );
    expect(
        &root,
        [
            "amend",
            "cairn-000002",
            "--set",
            "dc.title=Sample: note on Tuol Sleng, corrected",
            "--reason",
            "typo",
        ],
        0,
    );
    let after = expect(&root, ["replicate"], 0);
    let line = after
        .stdout
        .lines()
        .find(|l| l.starts_with("replica nas"))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains("rewritten (outdated)"), "{line}");
    assert!(line.contains("unchanged"), "{line}");
    assert!(!line.contains("already there"), "{line}");
}

/// The README's table of exit codes per command: (command, code) for every filled
/// cell.
fn exit_code_table() -> Vec<(String, i32)> {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
    let start = readme
        .find("| command | 0 | 1 | 2 | 3 |")
        .expect("the README's exit-code table");
    let mut cells = Vec::new();
    for line in readme[start..].lines().skip(2) {
        if !line.starts_with("| `") {
            break;
        }
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        let cmd = cols[1].trim_matches('`').to_string();
        for code in 0..4 {
            if cols[2 + code] != "—" {
                cells.push((cmd.clone(), code as i32));
            }
        }
    }
    cells
}

/// Holds an archive's lock file (as a running command would) while it lives.
fn hold_lock(root: &Path, name: &str) -> std::fs::File {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(root.join("manifests").join(name))
        .expect("lock file");
    f.lock().expect("lock");
    f
}

#[test]
fn the_exit_code_table_is_what_each_command_does() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = common::fresh_dir("words-table");
    let n = std::cell::Cell::new(0);
    // A new archive of three items for each cell that changes one.
    let fresh = || {
        n.set(n.get() + 1);
        let root = tmp.path().join(format!("arc-{}", n.get()));
        make_archive(&root, 1);
        root
    };
    let damaged = || {
        let root = fresh();
        let page = root.join("archive/cairn-000002/data/b-note.txt");
        let mut bytes = std::fs::read(&page).expect("page");
        bytes[0] ^= 1;
        std::fs::write(&page, bytes).expect("flip a byte");
        root
    };
    let with_replica = |root: &Path| -> std::path::PathBuf {
        let nas = root.with_extension("nas");
        std::fs::create_dir(&nas).expect("mkdir");
        add_replica(root, "nas", &nas);
        expect(root, ["replicate", "--init", "nas"], 0);
        nas
    };
    let nowhere = tmp.path().join("nowhere");
    std::fs::create_dir(&nowhere).expect("mkdir");
    let missing = tmp.path().join("missing");
    let missing_s = missing.to_str().expect("utf-8").to_string();
    let code = |root: Option<&Path>, args: &[&str]| -> Option<i32> {
        let mut cmd = common::cairn();
        cmd.args(args).stdin(Stdio::null());
        if let Some(r) = root {
            cmd.arg("--root").arg(r);
        }
        let out = cmd.output().expect("cairn runs");
        out.status.code()
    };
    let s = |p: &Path| p.to_str().expect("utf-8").to_string();
    for (cmd, want) in exit_code_table() {
        let got = match (cmd.as_str(), want) {
            ("ingest", 0) => code(Some(&fresh()), &["ingest"]),
            ("ingest", 1) => {
                let root = fresh();
                std::fs::write(root.join("intake/undescribed.txt"), "no metadata\n")
                    .expect("write");
                code(Some(&root), &["ingest"])
            }
            ("ingest", 2) => code(Some(&fresh()), &["ingest", "--intake", &missing_s]),
            ("ingest", 3) => {
                let root = fresh();
                let _held = hold_lock(&root, ".lock");
                code(Some(&root), &["ingest"])
            }
            ("fixity", 0) => code(Some(&fresh()), &["fixity", "--all"]),
            ("fixity", 1) => code(Some(&damaged()), &["fixity", "--all"]),
            ("fixity", 2) => code(Some(&fresh()), &["fixity", "--id", "nosuch"]),
            ("fixity", 3) => {
                let root = fresh();
                let _held = hold_lock(&root, ".fixity.lock");
                code(Some(&root), &["fixity", "--all"])
            }
            ("audit", 0) => {
                let root = fresh();
                expect(&root, ["fixity", "--all"], 0);
                code(Some(&root), &["audit"])
            }
            ("audit", 1) => {
                let root = damaged();
                expect(&root, ["fixity", "--all"], 1);
                code(Some(&root), &["audit"])
            }
            ("audit", 2) => code(Some(&fresh()), &["audit", "--since-head", "x"]),
            ("verify", 0) => code(None, &["verify", &s(&fresh().join("archive/cairn-000001"))]),
            ("verify", 1) => code(
                None,
                &["verify", &s(&damaged().join("archive/cairn-000002"))],
            ),
            ("verify", 2) => code(None, &["verify", &missing_s]),
            ("show", 0) => code(Some(&fresh()), &["show", "cairn-000001"]),
            ("show", 2) => code(Some(&fresh()), &["show", "nosuch"]),
            ("list", 0) => code(Some(&fresh()), &["list"]),
            ("list", 2) => code(Some(&fresh()), &["list", "--status", "bogus"]),
            ("events", 0) => code(Some(&fresh()), &["events"]),
            ("events", 1) => {
                let root = fresh();
                let log = root.join("manifests/events.jsonl");
                let text = std::fs::read_to_string(&log).expect("log");
                let edited = text.replacen("\"outcome\":\"success\"", "\"outcome\":\"failure\"", 1);
                assert_ne!(text, edited);
                std::fs::write(&log, edited).expect("edit a line");
                code(Some(&root), &["events"])
            }
            ("events", 2) => code(Some(&fresh()), &["events", "--type", "bogus"]),
            ("report", 0) => code(Some(&fresh()), &["report"]),
            ("report", 2) => code(Some(&fresh()), &["report", "--csv", "--json"]),
            ("export", 0) => {
                let root = fresh();
                code(
                    Some(&root),
                    &[
                        "export",
                        "cairn-000001",
                        "--zip",
                        &s(&root.with_extension("zip")),
                    ],
                )
            }
            ("export", 1) => {
                let root = damaged();
                code(
                    Some(&root),
                    &[
                        "export",
                        "cairn-000002",
                        "--zip",
                        &s(&root.with_extension("zip")),
                    ],
                )
            }
            ("export", 2) => {
                let root = fresh();
                code(
                    Some(&root),
                    &["export", "nosuch", "--zip", &s(&root.with_extension("zip"))],
                )
            }
            ("import", 0) => {
                let root = fresh();
                let zip = s(&root.with_extension("zip"));
                expect(&root, ["export", "cairn-000001", "--zip", &zip], 0);
                code(Some(&root), &["import", &zip])
            }
            ("import", 1) => {
                let root = fresh();
                let bag = root.with_extension("bag");
                std::fs::create_dir_all(bag.join("data")).expect("mkdir");
                std::fs::write(bag.join("data/a.txt"), "a\n").expect("write");
                std::fs::write(bag.join("bagit.txt"), "not a declaration\n").expect("write");
                code(Some(&root), &["import", &s(&bag)])
            }
            ("import", 2) => code(Some(&fresh()), &["import", &missing_s]),
            ("import", 3) => {
                let root = fresh();
                let zip = s(&root.with_extension("zip"));
                expect(&root, ["export", "cairn-000001", "--zip", &zip], 0);
                let _held = hold_lock(&root, ".lock");
                code(Some(&root), &["import", &zip])
            }
            ("amend", 0..=3) => {
                let (root, id) = match want {
                    1 => (damaged(), "cairn-000002"),
                    2 => (fresh(), "nosuch"),
                    _ => (fresh(), "cairn-000001"),
                };
                let _held = (want == 3).then(|| hold_lock(&root, ".lock"));
                code(
                    Some(&root),
                    &[
                        "amend",
                        id,
                        "--set",
                        "dc.title=Sample: new title",
                        "--reason",
                        "r",
                    ],
                )
            }
            ("revise", 0 | 1 | 3) => {
                let root = if want == 1 { damaged() } else { fresh() };
                let from = root.with_extension("from");
                std::fs::create_dir(&from).expect("mkdir");
                std::fs::write(
                    from.join("b-note.txt"),
                    "Sample: synthetic note on Tuol Sleng\n",
                )
                .expect("write");
                let _held = (want == 3).then(|| hold_lock(&root, ".lock"));
                code(
                    Some(&root),
                    &[
                        "revise",
                        "cairn-000002",
                        "--from",
                        &s(&from),
                        "--reason",
                        "r",
                    ],
                )
            }
            ("revise", 2) => code(
                Some(&fresh()),
                &[
                    "revise",
                    "cairn-000002",
                    "--from",
                    &missing_s,
                    "--reason",
                    "r",
                ],
            ),
            ("withdraw", 0) => code(
                Some(&fresh()),
                &["withdraw", "cairn-000003", "--reason", "r"],
            ),
            ("withdraw", 2) => {
                let root = fresh();
                expect(&root, ["withdraw", "cairn-000003", "--reason", "r"], 0);
                code(Some(&root), &["withdraw", "cairn-000003", "--reason", "r"])
            }
            ("withdraw", 3) => {
                let root = fresh();
                let _held = hold_lock(&root, ".lock");
                code(Some(&root), &["withdraw", "cairn-000003", "--reason", "r"])
            }
            ("replicate", 0 | 1 | 3) => {
                let root = if want == 1 { damaged() } else { fresh() };
                let nas = with_replica(&root);
                if want == 3 {
                    std::fs::remove_dir_all(&nas).expect("the disk is gone");
                }
                code(Some(&root), &["replicate"])
            }
            ("replicate", 2) => {
                let root = fresh();
                with_replica(&root);
                code(Some(&root), &["replicate", "--to", "nosuch"])
            }
            ("repair", 0 | 3) => {
                let root = fresh();
                let nas = with_replica(&root);
                expect(&root, ["replicate"], 0);
                if want == 3 {
                    std::fs::remove_dir_all(&nas).expect("the disk is gone");
                }
                code(Some(&root), &["repair", "cairn-000001"])
            }
            ("repair", 1) => {
                // Damaged before it ever reached the replica: no good copy anywhere.
                let root = damaged();
                with_replica(&root);
                expect(&root, ["replicate"], 1);
                code(Some(&root), &["repair", "cairn-000002"])
            }
            ("repair", 2) => code(Some(&fresh()), &["repair", "nosuch"]),
            ("bag validate", 0) => code(
                None,
                &["bag", "validate", &s(&fresh().join("archive/cairn-000001"))],
            ),
            ("bag validate", 1) => code(
                None,
                &[
                    "bag",
                    "validate",
                    &s(&damaged().join("archive/cairn-000002")),
                ],
            ),
            ("bag validate", 2) => code(None, &["bag", "validate", &missing_s]),
            ("bag create", 0 | 1) => {
                n.set(n.get() + 1);
                let src = tmp.path().join(format!("src-{}", n.get()));
                std::fs::create_dir(&src).expect("mkdir");
                std::fs::write(src.join("a.txt"), "a\n").expect("write");
                if want == 1 {
                    std::os::unix::fs::symlink("a.txt", src.join("link")).expect("symlink");
                }
                code(
                    None,
                    &[
                        "bag",
                        "create",
                        &s(&src),
                        "--output",
                        &s(&src.with_extension("bag")),
                    ],
                )
            }
            ("bag create", 2) => code(
                None,
                &[
                    "bag",
                    "create",
                    &missing_s,
                    "--output",
                    &s(&tmp.path().join("out")),
                ],
            ),
            ("checkpoint", 0 | 1 | 3) => {
                let root = fresh();
                let key = root.with_extension("key");
                expect(&root, ["key", "generate", "--out", &s(&key)], 0);
                if want == 1 {
                    // A chain-valid line that Cairn did not write.
                    let log = root.join("manifests/events.jsonl");
                    let text = std::fs::read_to_string(&log).expect("log");
                    let last = text.lines().last().expect("a line");
                    let mut e: serde_json::Value = serde_json::from_str(last).expect("json");
                    e["seq"] = (e["seq"].as_u64().unwrap_or(0) + 1).into();
                    e["prev"] = common::blake3_hex(last.as_bytes()).into();
                    e["detail"] = "forged".into();
                    std::fs::write(&log, format!("{text}{e}\n")).expect("append");
                }
                if want == 3 {
                    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644))
                        .expect("chmod");
                }
                code(Some(&root), &["checkpoint", "--key", &s(&key)])
            }
            ("verify-proof", 0..=2) => {
                let root = fresh();
                let key = root.with_extension("key");
                expect(&root, ["key", "generate", "--out", &s(&key)], 0);
                expect(&root, ["checkpoint", "--key", &s(&key)], 0);
                let proof = s(&root.with_extension("proof"));
                expect(&root, ["proof", "cairn-000001", "--out", &proof], 0);
                let public = format!("{}.pub", s(&key));
                match want {
                    0 => code(None, &["verify-proof", &proof, "--key", &public]),
                    1 => code(None, &["verify-proof", &proof]),
                    _ => code(None, &["verify-proof", &proof, "--key", &s(&key)]),
                }
            }
            ("identify", 0) => code(
                None,
                &[
                    "identify",
                    &s(&fresh().join("archive/cairn-000001/bagit.txt")),
                ],
            ),
            ("identify", 3) => code(None, &["identify", &missing_s]),
            ("config", 0) => code(Some(&fresh()), &["config"]),
            ("qc", want) => {
                let scan = tmp.path().join(format!("scan-{want}.tif"));
                std::fs::write(&scan, common::tiff_bytes(8, 8, 150, true, true)).expect("write");
                let scan = s(&scan);
                match want {
                    0 => code(Some(&fresh()), &["qc", &scan]),
                    1 => code(None, &["qc", &scan, "--profile", "fadgi-3-star-text"]),
                    2 => code(None, &["qc", &missing_s]),
                    _ => code(Some(&nowhere), &["qc", &scan]),
                }
            }
            (_, 3) => {
                let args: &[&str] = match cmd.as_str() {
                    "show" => &["show", "cairn-000001"],
                    "export" => &["export", "cairn-000001", "--zip", "x.zip"],
                    other => &[other],
                };
                code(Some(&nowhere), args)
            }
            _ => panic!("the README's exit-code table has a cell no scenario runs: {cmd} {want}"),
        };
        assert_eq!(got, Some(want), "cairn {cmd}: the README says {want}");
    }
}
