//! Helpers shared by the end-to-end tests (every module of tests/it): the one hermetic
//! command builder for the real `cairn` binary ([`cairn`], [`hermetic`]), fresh
//! temporary folders, a byte-exact tree copy that keeps odd file names and symlinks
//! intact, snapshots of trees, the invariants of an archive at rest
//! ([`check_invariants`]), and a thin wrapper around the binary that parses its
//! `problem:` / `warning:` lines. `serve` holds the `cairn serve` tests' helpers.
//!
//! Use these; do not copy them into a test module.
#![allow(dead_code)]

pub mod serve;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Upper bound for one run of the binary: the bags in these tests are tiny, so anything slower
/// than this is a hang (for example a validator blocked on opening a FIFO outside the bag).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The problem kinds the CLI contract promises to keep stable.
pub const PROBLEM_KINDS: &[&str] = &[
    "digest-mismatch",
    "payload-missing",
    "payload-unlisted",
    "tag-missing",
    "oxum-mismatch",
    "duplicate-entry",
    "path-escapes-bag",
    "symlink",
    "bagit-txt-missing",
    "bagit-txt-invalid",
    "manifest-missing",
    "manifest-malformed",
    "data-dir-missing",
];

/// A fresh, uniquely named temporary folder (removed when dropped).
///
/// Every test gets its own folder so that no test ever reuses a name that was just deleted.
pub fn fresh_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("cairn-test-{label}-"))
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary folder for {label}: {e}"))
}

/// Builds a relative path from raw bytes, so names may hold `\n`, `\r`, NFD sequences...
pub fn bpath(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

/// Writes `contents` to `root/rel`, creating parent folders.
pub fn write_file(root: &Path, rel: impl AsRef<Path>, contents: &[u8]) {
    let path = root.join(rel.as_ref());
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("create_dir_all {}: {e}", parent.display()));
    }
    fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e:?}", path.display()));
}

/// Copies the tree at `src` to `dst` byte for byte (`dst` and its missing parents are
/// created; an existing file is never overwritten silently, as nothing is there).
///
/// Names are carried over as raw `OsString`s (no Unicode normalisation, no lossy
/// conversion), regular files are copied by content, symlinks are recreated as symlinks with
/// the same target (never followed). Permissions are NOT copied: the conformance checkout is
/// read-only and the copies must be writable and removable.
pub fn copy_tree(src: &Path, dst: &Path) {
    let meta = fs::symlink_metadata(src)
        .unwrap_or_else(|e| panic!("symlink_metadata {}: {e}", src.display()));
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target =
            fs::read_link(src).unwrap_or_else(|e| panic!("read_link {}: {e}", src.display()));
        std::os::unix::fs::symlink(&target, dst)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", dst.display()));
    } else if ft.is_dir() {
        fs::create_dir_all(dst).unwrap_or_else(|e| panic!("create_dir_all {}: {e}", dst.display()));
        let mut names: Vec<OsString> = fs::read_dir(src)
            .unwrap_or_else(|e| panic!("read_dir {}: {e}", src.display()))
            .map(|entry| entry.expect("read_dir entry").file_name())
            .collect();
        names.sort();
        for name in names {
            copy_tree(&src.join(&name), &dst.join(&name));
        }
    } else if ft.is_file() {
        let bytes = fs::read(src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
        fs::write(dst, bytes).unwrap_or_else(|e| panic!("write {}: {e}", dst.display()));
    } else {
        panic!("copy_tree: unsupported file type at {}", src.display());
    }
}

/// One entry of a tree snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Vec<u8>),
    Symlink(PathBuf),
}

/// Every entry under `root` (relative paths, raw bytes), with file contents and link targets.
/// Two equal snapshots mean the same names, the same contents and the same links.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    fn walk(root: &Path, rel: &Path, out: &mut BTreeMap<PathBuf, Node>) {
        let dir = root.join(rel);
        for entry in
            fs::read_dir(&dir).unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        {
            let entry = entry.expect("read_dir entry");
            let rel_child = rel.join(entry.file_name());
            let path = entry.path();
            let ft = fs::symlink_metadata(&path)
                .unwrap_or_else(|e| panic!("symlink_metadata {}: {e}", path.display()))
                .file_type();
            if ft.is_symlink() {
                out.insert(rel_child, Node::Symlink(fs::read_link(&path).unwrap()));
            } else if ft.is_dir() {
                out.insert(rel_child.clone(), Node::Dir);
                walk(root, &rel_child, out);
            } else {
                let bytes =
                    fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                out.insert(rel_child, Node::File(bytes));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, Path::new(""), &mut out);
    out
}

/// Human-readable difference between two snapshots (empty when equal).
pub fn snapshot_diff(before: &BTreeMap<PathBuf, Node>, after: &BTreeMap<PathBuf, Node>) -> String {
    let mut out = String::new();
    for (path, node) in before {
        match after.get(path) {
            None => out.push_str(&format!("  removed: {:?}\n", path)),
            Some(other) if other != node => out.push_str(&format!("  changed: {:?}\n", path)),
            _ => {}
        }
    }
    for path in after.keys() {
        if !before.contains_key(path) {
            out.push_str(&format!("  added:   {:?}\n", path));
        }
    }
    out
}

/// RFC 8493 §2.1.3 encoding of a manifest path: CR, LF and `%` and only those.
pub fn encode_manifest_path(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for &b in raw {
        match b {
            b'%' => out.extend_from_slice(b"%25"),
            b'\r' => out.extend_from_slice(b"%0D"),
            b'\n' => out.extend_from_slice(b"%0A"),
            _ => out.push(b),
        }
    }
    out
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha512_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha512::digest(data))
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(data))
}

pub fn blake3_hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// Digest of `data` with a BagIt algorithm name, computed independently of cairn.
pub fn digest_hex(algorithm: &str, data: &[u8]) -> String {
    match algorithm {
        "sha512" => sha512_hex(data),
        "sha256" => sha256_hex(data),
        "blake3" => blake3_hex(data),
        other => panic!("test helper does not know algorithm {other}"),
    }
}

/// A manifest line split into (checksum, raw path bytes as written in the file).
/// Panics unless the line is exactly `HEX  path` (two spaces), the format cairn promises.
pub fn parse_manifest(bytes: &[u8], file: &str) -> Vec<(String, Vec<u8>)> {
    assert!(
        bytes.is_empty() || bytes.ends_with(b"\n"),
        "{file}: last line is not terminated by LF"
    );
    let mut out = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        let sep = line.windows(2).position(|w| w == b"  ").unwrap_or_else(|| {
            panic!("{file}: line without two-space separator: {:?}", bstr(line))
        });
        let checksum = std::str::from_utf8(&line[..sep])
            .unwrap_or_else(|_| panic!("{file}: non-UTF-8 checksum"))
            .to_string();
        assert!(
            !checksum.is_empty() && checksum.bytes().all(|c| c.is_ascii_hexdigit()),
            "{file}: checksum is not hex: {checksum:?}"
        );
        out.push((checksum, line[sep + 2..].to_vec()));
    }
    out
}

/// Debug-friendly rendering of bytes.
pub fn bstr(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

/// One `problem:` or `warning:` line of cairn's stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diag {
    pub path: String,
    pub kind: String,
    pub detail: String,
}

fn looks_like_kind(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.as_bytes()[0].is_ascii_lowercase()
}

/// Parses the lines of `stderr` starting with `prefix` (`"problem: "` or `"warning: "`) into
/// path / kind / detail. The path may itself contain `": "`, so the kind is the first
/// `": "`-separated field after the path that is a known problem kind, or failing that the
/// first field that looks like a kind (lowercase letters, digits and hyphens).
pub fn parse_diags(stderr: &str, prefix: &str) -> Vec<Diag> {
    let mut out = Vec::new();
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix(prefix) else {
            continue;
        };
        let parts: Vec<&str> = rest.split(": ").collect();
        let idx = (1..parts.len())
            .find(|&i| PROBLEM_KINDS.contains(&parts[i]))
            .or_else(|| (1..parts.len()).find(|&i| looks_like_kind(parts[i])));
        match idx {
            Some(i) => out.push(Diag {
                path: parts[..i].join(": "),
                kind: parts[i].to_string(),
                detail: parts[i + 1..].join(": "),
            }),
            None => out.push(Diag {
                path: rest.to_string(),
                kind: String::new(),
                detail: String::new(),
            }),
        }
    }
    out
}

/// The outcome of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub cmdline: String,
    /// `None` when the process was killed by a signal (a crash) or timed out.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn problems(&self) -> Vec<Diag> {
        parse_diags(&self.stderr, "problem: ")
    }

    pub fn warnings(&self) -> Vec<Diag> {
        parse_diags(&self.stderr, "warning: ")
    }

    /// True if some `problem:` line has exactly this path and kind.
    pub fn has_problem(&self, path: &str, kind: &str) -> bool {
        self.problems()
            .iter()
            .any(|d| d.path == path && d.kind == kind)
    }

    /// True if some `problem:` line has this kind and its path contains `fragment`.
    pub fn has_problem_like(&self, fragment: &str, kind: &str) -> bool {
        self.problems()
            .iter()
            .any(|d| d.path.contains(fragment) && d.kind == kind)
    }

    /// True if some `problem:` line has this kind and mentions `fragment` in its path or its
    /// detail. Problems about a manifest line may be located at the manifest (for example
    /// `manifest-sha512.txt:5`) and name the offending entry in the detail.
    pub fn has_problem_mentioning(&self, fragment: &str, kind: &str) -> bool {
        self.problems()
            .iter()
            .any(|d| d.kind == kind && (d.path.contains(fragment) || d.detail.contains(fragment)))
    }

    pub fn kinds(&self) -> Vec<String> {
        self.problems().into_iter().map(|d| d.kind).collect()
    }

    /// Everything needed to understand a failed assertion.
    pub fn describe(&self) -> String {
        format!(
            "command: {}\nexit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline, self.code, self.stdout, self.stderr
        )
    }

    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(expected),
            "unexpected exit status\n{}",
            self.describe()
        );
        self
    }

    pub fn assert_problem(&self, path: &str, kind: &str) -> &Self {
        assert!(
            self.has_problem(path, kind),
            "expected a line `problem: {path}: {kind}: ...` on stderr\n{}",
            self.describe()
        );
        self
    }

    pub fn assert_no_problems(&self) -> &Self {
        assert!(
            self.problems().is_empty(),
            "expected no `problem:` lines\n{}",
            self.describe()
        );
        self
    }
}

/// The `cairn` binary of [`cairn`] as an `assert_cmd` command, with a timeout and
/// NO_COLOR, for output assertions.
pub fn cairn_cmd() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::from_std(cairn());
    cmd.timeout(TIMEOUT);
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Runs `cairn ARGS...` (optionally in `cwd`) and captures everything.
pub fn run_cairn_in<I, S>(cwd: Option<&Path>, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_cairn_full(cwd, TIMEOUT, args)
}

/// Like [`run_cairn_in`] with an explicit timeout.
pub fn run_cairn_full<I, S>(cwd: Option<&Path>, timeout: Duration, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let cmdline = std::iter::once("cairn".to_string())
        .chain(args.iter().map(|a| format!("{:?}", a)))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = cairn_cmd();
    cmd.timeout(timeout);
    cmd.args(&args);
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmdline}: {e}"));
    Run {
        cmdline,
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn run_cairn<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_cairn_in(None, args)
}

/// `cairn bag validate BAG [extra...]`
pub fn validate(bag: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<OsString> = vec!["bag".into(), "validate".into(), bag.into()];
    args.extend(extra.iter().map(OsString::from));
    run_cairn(args)
}

/// `cairn bag create SRC --output DEST [extra...]`
pub fn create(src: &Path, dest: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<OsString> = vec![
        "bag".into(),
        "create".into(),
        src.into(),
        "--output".into(),
        dest.into(),
    ];
    args.extend(extra.iter().map(OsString::from));
    run_cairn(args)
}

/// Concatenation of a path's bytes, for building byte-level expectations.
pub fn path_bytes(p: &Path) -> Vec<u8> {
    p.as_os_str().to_os_string().into_vec()
}

/// Checks the event log's hash chain independently of Cairn: the log ends with a
/// newline, every line is JSON, `seq` runs 1, 2, 3 …, and each `prev` is the BLAKE3
/// (hex) of the line before (64 zeros on the first). Returns the events.
pub fn check_event_chain(bytes: &[u8], context: &str) -> Vec<serde_json::Value> {
    if bytes.is_empty() {
        return Vec::new();
    }
    assert!(
        bytes.ends_with(b"\n"),
        "{context}: the event log ends mid-line"
    );
    let mut prev = "0".repeat(64);
    let mut out = Vec::new();
    for (i, line) in bytes[..bytes.len() - 1].split(|&b| b == b'\n').enumerate() {
        let v: serde_json::Value = serde_json::from_slice(line)
            .unwrap_or_else(|e| panic!("{context}: events.jsonl line {} is not JSON: {e}", i + 1));
        assert_eq!(
            v["prev"].as_str(),
            Some(prev.as_str()),
            "{context}: chain broken at line {}: prev is not the BLAKE3 of the line before",
            i + 1
        );
        assert_eq!(
            v["seq"].as_u64(),
            Some(i as u64 + 1),
            "{context}: seq at line {}",
            i + 1
        );
        prev = blake3::hash(line).to_hex().to_string();
        out.push(v);
    }
    out
}

/// A test whose setup this machine refuses (no `mount`, no way to drop privileges)
/// says so on stderr as `skipped: <why>`, so that the run's log counts it, and
/// returns. With `CAIRN_REQUIRE_ALL=1` (set by .ci/run) a skip is a failure: CI
/// never skips.
pub fn skip(why: &str) {
    if std::env::var_os("CAIRN_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("skipped: {why} (CAIRN_REQUIRE_ALL=1 makes this a failure)");
    }
    // Straight to the process's stderr, past the test harness's capture, so that
    // `cargo test` (and scripts/test) shows the notice for a passing test too.
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "skipped: {why}");
}

/// The `cairn` binary cargo built for this test run.
pub fn cairn_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cairn"))
}

/// Removes from `cmd`'s environment every variable of the caller's that would change
/// what Cairn does or prints: every `CAIRN_*` (CAIRN_ROOT, CAIRN_FAILPOINT, the
/// settings of cairn.toml...), `RUST_LOG` and `CI`. A test that needs one sets it on
/// the command after this. For a command that runs cairn through another program
/// (setpriv, strace, script, sh -c), whose children inherit its environment.
pub fn hermetic(cmd: &mut std::process::Command) -> &mut std::process::Command {
    for (name, _) in std::env::vars_os() {
        if name.as_bytes().starts_with(b"CAIRN_") {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove("RUST_LOG").env_remove("CI")
}

/// The real `cairn` binary as a plain `std::process::Command`, hermetic (see
/// [`hermetic`]): only what the test sets on it reaches Cairn. Every test runs the
/// binary through this builder; for a timeout and output assertions, see [`cairn_cmd`].
pub fn cairn() -> std::process::Command {
    let mut cmd = std::process::Command::new(cairn_bin());
    hermetic(&mut cmd);
    cmd
}

/// Runs `cmd` to its end and captures its output (stdin closed, as `output` does).
pub fn run(cmd: &mut std::process::Command) -> std::process::Output {
    cmd.stdin(std::process::Stdio::null())
        .output()
        .expect("cairn runs")
}

/// The exit status, stdout and stderr of a finished run, for failure messages.
pub fn describe(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every regular file under `root`, by relative path, with its bytes (folders and
/// symlinks are not listed; see [`snapshot`] for a tree with them).
pub fn file_bytes(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let e = e.expect("walk");
        if e.file_type().is_file() {
            out.insert(
                e.path()
                    .strip_prefix(root)
                    .expect("under root")
                    .to_path_buf(),
                fs::read(e.path()).expect("read"),
            );
        }
    }
    out
}

/// The event log's chain, recomputed here: `prev` is the BLAKE3 (hex) of the previous
/// line, 64 zeros for the first; `seq` counts from 1. Returns the events.
pub fn check_chain(root: &Path, context: &str) -> Vec<serde_json::Value> {
    let log = fs::read(root.join("manifests/events.jsonl")).unwrap_or_default();
    check_event_chain(&log, context)
}

/// The invariants that hold whenever no cairn process runs (after a crash, a kill, a
/// full disk, a race): every folder in archive/ is a complete, valid bag; every
/// register entry and every event names one of them; the event log's chain is intact.
/// Returns the register entries by identifier.
pub fn check_invariants(root: &Path, context: &str) -> BTreeMap<String, serde_json::Value> {
    let mut bags = std::collections::BTreeSet::new();
    for e in fs::read_dir(root.join("archive")).expect("read archive") {
        let e = e.expect("entry");
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !e.file_type().expect("type").is_dir() {
            continue;
        }
        let out = cairn()
            .args(["bag", "validate"])
            .arg(e.path())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("cairn runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{context}: archive/{name} is not a complete, valid bag: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        bags.insert(name);
    }
    let mut entries = BTreeMap::new();
    for e in fs::read_dir(root.join("manifests")).expect("read manifests") {
        let e = e.expect("entry");
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".json") else {
            continue;
        };
        if id.starts_with('.') {
            continue;
        }
        assert!(
            bags.contains(id),
            "{context}: register entry {id} has no bag"
        );
        let entry: serde_json::Value =
            serde_json::from_slice(&fs::read(e.path()).expect("read entry"))
                .expect("entry is JSON");
        entries.insert(id.to_string(), entry);
    }
    for (i, ev) in check_chain(root, context).iter().enumerate() {
        let object = ev["object"].as_str().unwrap_or_default();
        assert!(
            object.is_empty() || bags.contains(object),
            "{context}: event {} names {object}, which has no bag",
            i + 1
        );
    }
    entries
}

/// Intake names of the register entries, sorted (duplicates kept, so that "exactly
/// once" can be checked by comparing with the sorted list of items).
pub fn intake_names(entries: &BTreeMap<String, serde_json::Value>) -> Vec<String> {
    let mut names: Vec<String> = entries
        .values()
        .map(|e| e["intake_name"].as_str().expect("intake_name").to_string())
        .collect();
    names.sort();
    names
}

/// A small, valid baseline TIFF: `width` x `height` pixels, 8 bits per sample, RGB (or
/// greyscale), uncompressed, one strip, `ppi` pixels per inch, with a minimal embedded
/// ICC profile when `icc`. For the scan quality tests (`cairn qc`, ingest's profile).
pub fn tiff_bytes(width: u32, height: u32, ppi: u32, rgb: bool, icc: bool) -> Vec<u8> {
    let spp: u16 = if rgb { 3 } else { 1 };
    // The ICC profile: a 132-byte header (size, version 2.1, display class, the colour
    // space, XYZ connection space, the `acsp` signature) and no tags.
    let mut profile = vec![0u8; 132];
    profile[..4].copy_from_slice(&132u32.to_be_bytes());
    profile[8..12].copy_from_slice(&[2, 0x10, 0, 0]);
    profile[12..16].copy_from_slice(b"mntr");
    profile[16..20].copy_from_slice(if rgb { b"RGB " } else { b"GRAY" });
    profile[20..24].copy_from_slice(b"XYZ ");
    profile[36..40].copy_from_slice(b"acsp");
    let n_entries: u32 = if icc { 14 } else { 13 };
    let ifd_end = 8 + 2 + 12 * n_entries + 4;
    let bps_at = ifd_end;
    let xres_at = bps_at + 6;
    let yres_at = xres_at + 8;
    let icc_at = yres_at + 8;
    let data_at = icc_at + if icc { profile.len() as u32 } else { 0 };
    let data_len = width * height * u32::from(spp);
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    out.extend((n_entries as u16).to_le_bytes());
    let mut entry = |tag: u16, typ: u16, count: u32, value: u32| {
        out.extend(tag.to_le_bytes());
        out.extend(typ.to_le_bytes());
        out.extend(count.to_le_bytes());
        out.extend(value.to_le_bytes());
    };
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    const RATIONAL: u16 = 5;
    entry(256, LONG, 1, width);
    entry(257, LONG, 1, height);
    entry(258, SHORT, u32::from(spp), if rgb { bps_at } else { 8 });
    entry(259, SHORT, 1, 1);
    entry(262, SHORT, 1, if rgb { 2 } else { 1 });
    entry(273, LONG, 1, data_at);
    entry(277, SHORT, 1, u32::from(spp));
    entry(278, LONG, 1, height);
    entry(279, LONG, 1, data_len);
    entry(282, RATIONAL, 1, xres_at);
    entry(283, RATIONAL, 1, yres_at);
    entry(284, SHORT, 1, 1);
    entry(296, SHORT, 1, 2);
    if icc {
        entry(34675, 7, profile.len() as u32, icc_at);
    }
    out.extend(0u32.to_le_bytes());
    for _ in 0..3 {
        out.extend(8u16.to_le_bytes());
    }
    for _ in 0..2 {
        out.extend(ppi.to_le_bytes());
        out.extend(1u32.to_le_bytes());
    }
    if icc {
        out.extend(&profile);
    }
    assert_eq!(out.len() as u32, data_at);
    out.extend(std::iter::repeat_n(0x80u8, data_len as usize));
    out
}
