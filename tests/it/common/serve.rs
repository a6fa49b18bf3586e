//! Helpers for the `cairn serve` tests: archives of generated items, the real server
//! started on a free loopback port, a raw HTTP/1.1 client (raw, so that hostile request
//! targets reach the server exactly as written), and the external tools the tests
//! install or skip. The `serve` module of tests/it/common.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The binary under test (tests/it/common).
pub use crate::common::cairn_bin;

/// "skipped: <why>" on stderr, a failure under CAIRN_REQUIRE_ALL=1 (tests/it/common).
pub use crate::common::skip;

fn on_path(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `cmd` is there, installing Debian's `package` (as root, with apt-get) when
/// it is not.
pub fn ensure_tool(cmd: &str, package: &str) -> bool {
    if on_path(cmd) {
        return true;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    if root && on_path("apt-get") {
        eprintln!("installing {package} (apt-get) for this test");
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package} >/dev/null 2>&1"
            ))
            .status();
    }
    on_path(cmd)
}

/// Whether Python can import `module`, installing `package` with pip when it cannot.
pub fn ensure_python_module(module: &str, package: &str) -> bool {
    let importable = || {
        Command::new("python3")
            .args(["-c", &format!("import {module}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if importable() {
        return true;
    }
    eprintln!("installing {package} (pip install {package}) for this test");
    let _ = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            package,
        ])
        .status();
    importable()
}

/// Where the official schemas are looked for: CAIRN_SPEC_DIR, else ../shared/spec beside
/// the repository (a test finding nothing there skips).
pub fn spec_root() -> PathBuf {
    match std::env::var_os("CAIRN_SPEC_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec"),
    }
}

/// The OAI-PMH schemas: CAIRN_SPEC_DIR, else ../shared/spec beside the repository.
pub fn spec_dir() -> Option<PathBuf> {
    let dir = spec_root();
    dir.join("oai-pmh/oai-pmh-with-oai_dc.xsd")
        .is_file()
        .then_some(dir)
}

/// Runs cairn with `args` in the archive at `root`; panics unless it exits with `code`.
pub fn cairn(root: &Path, args: &[&str], code: i32) -> String {
    let out = crate::common::cairn()
        .args(args)
        .arg("--root")
        .arg(root)
        .env_remove("CAIRN_ROOT")
        .output()
        .expect("run cairn");
    assert_eq!(
        out.status.code(),
        Some(code),
        "cairn {args:?}: stdout {}\nstderr {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One generated item.
pub struct GenItem {
    pub folder: String,
    pub title: String,
    pub language: &'static str,
    pub collection: Option<String>,
    pub restricted: bool,
}

/// The i-th generated item: titles in English, French and Khmer; three collections
/// (one named in Khmer); every tenth item restricted.
pub fn gen_item(i: usize) -> GenItem {
    let (title, language) = match i % 3 {
        0 => (
            format!("Sample {i}: placeholder for an S-21 intake record (synthetic)"),
            "en",
        ),
        1 => (
            format!("Échantillon {i} : note de test sur le Tribunal (synthétique)"),
            "fr",
        ),
        _ => (format!("គំរូ {i}: ឯកសារសាកល្បង ទួលស្លែង"), "km"),
    };
    let collection = match i % 4 {
        0 => Some("S-21 records (synthetic)".to_string()),
        1 => Some("ឯកសារ ទួលស្លែង".to_string()),
        2 => Some("DC-Cam notes".to_string()),
        _ => None,
    };
    GenItem {
        folder: format!("item-{i:04}"),
        title,
        language,
        collection,
        restricted: i % 10 == 7,
    }
}

/// Writes items `range` into `intake` with a metadata.csv describing them.
pub fn write_intake(intake: &Path, range: std::ops::Range<usize>) {
    let mut csv = csv::Writer::from_path(intake.join("metadata.csv")).expect("metadata.csv");
    csv.write_record([
        "filename",
        "dc.title",
        "dc.creator",
        "dc.date",
        "dc.type",
        "dc.language",
        "dcterms.isPartOf",
        "dcterms.accessRights",
        "dc.rights",
    ])
    .unwrap();
    for i in range {
        let it = gen_item(i);
        let dir = intake.join(&it.folder);
        std::fs::create_dir_all(dir.join("pages")).unwrap();
        std::fs::write(
            dir.join("note.txt"),
            format!(
                "{}\nSynthetic test data; contains no real record.\n",
                it.title
            ),
        )
        .unwrap();
        std::fs::write(dir.join("pages/page-001.txt"), vec![b'x'; 1000 + i]).unwrap();
        csv.write_record([
            it.folder.as_str(),
            it.title.as_str(),
            "Cairn project (synthetic test data)",
            "1977",
            "Text",
            it.language,
            it.collection.as_deref().unwrap_or(""),
            if it.restricted { "restricted" } else { "" },
            "CC0 1.0. Synthetic test data.",
        ])
        .unwrap();
    }
    csv.flush().unwrap();
}

/// An archive at `root` with items `0..n`, ingested.
pub fn build_archive(root: &Path, n: usize) {
    let out = crate::common::cairn()
        .arg("init")
        .arg(root)
        .output()
        .expect("cairn init");
    assert!(out.status.success(), "cairn init failed");
    write_intake(&root.join("intake"), 0..n);
    cairn(root, &["ingest", "--quiet", "--remove-source"], 0);
}

/// Ingests items `range` into an existing archive.
pub fn add_items(root: &Path, range: std::ops::Range<usize>) {
    let _ = std::fs::remove_file(root.join("intake/metadata.csv"));
    write_intake(&root.join("intake"), range);
    cairn(root, &["ingest", "--quiet", "--remove-source"], 0);
}

/// A running `cairn serve`, stopped when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// The `cairn serve` process: the child, or the child's child when the child is a
    /// tracer (strace).
    pub pid: u32,
}

impl Server {
    /// Starts `cairn serve --bind 127.0.0.1:0 EXTRA…` on the archive at `root` and reads
    /// the address it prints.
    pub fn start(root: &Path, extra: &[&str]) -> Server {
        let mut child = crate::common::cairn()
            .arg("serve")
            .arg("--root")
            .arg(root)
            .args(["--bind", "127.0.0.1:0"])
            .args(extra)
            .env_remove("CAIRN_ROOT")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start cairn serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|r| r.strip_suffix('/'))
            .unwrap_or_else(|| panic!("unexpected first line from cairn serve: {line:?}"))
            .parse()
            .expect("a socket address");
        let pid = child.id();
        Server { child, addr, pid }
    }

    pub fn url(&self, target: &str) -> String {
        format!("http://{}{target}", self.addr)
    }

    pub fn get(&self, target: &str) -> Resp {
        request(self.addr, "GET", target, &[], b"")
    }

    /// Resident memory of the server process, KiB (VmRSS), and its peak (VmHWM).
    pub fn rss_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Still running (not crashed)?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.pid != self.child.id() {
            // SAFETY: kill(2) with a pid this test started; no memory is involved.
            unsafe {
                libc::kill(self.pid as libc::pid_t, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The OAI-PMH error code of the response, if any.
    pub fn oai_error(&self) -> Option<String> {
        let t = self.text();
        let at = t.find("<error code=\"")? + 13;
        Some(t[at..].split('"').next()?.to_string())
    }
}

/// A connection to `to` from the loopback address `from` (such as 127.0.0.2: another
/// client than the tests' usual 127.0.0.1, for the server's per-address limit).
pub fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let stream = rt
        .block_on(async {
            let s = tokio::net::TcpSocket::new_v4()?;
            s.bind(format!("{from}:0").parse().expect("address"))?;
            s.connect(to).await
        })
        .expect("connect");
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    stream
}

/// Sends one request, written exactly as given (the target is not normalised), and
/// reads the whole response (the connection is closed after it).
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("send");
    s.write_all(body).expect("send body");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no complete response head: {:?}",
                String::from_utf8_lossy(raw)
            )
        });
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..nl])
                    .split(';')
                    .next()
                    .unwrap_or("0")
                    .trim(),
                16,
            )
            .unwrap_or(0);
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
            rest = &rest[nl + 2 + size + 2..];
        }
        body = out;
    }
    Resp {
        status,
        headers,
        body,
    }
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The register's titles, id → title (`cairn list --json`).
pub fn register_titles(root: &Path) -> std::collections::BTreeMap<String, String> {
    let out = cairn(root, &["list", "--json"], 0);
    let list: serde_json::Value = serde_json::from_str(&out).expect("list JSON");
    list.as_array()
        .expect("an array")
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["title"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
