//! `cairn serve`, the web view and its defences (issue 16), end to end against the real
//! binary: headless Chromium renders /, /items, an item page and /audit (the DOM is
//! checked, screenshots saved); payload files only with --serve-files, never for
//! restricted items, with byte ranges; hostile requests (traversal in every parameter
//! and path segment, overlong URLs, 1,000 concurrent connections) read no file outside
//! the archive (strace), never crash the server, and keep its memory bounded.

use crate::common;
use crate::common::serve;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serve::*;

/// The S-21 samples (six items: English, French, Khmer) and 20 generated ones (two of
/// them restricted), all checked by fixity once; then one bag is damaged and checked
/// again, so the archive holds every status but "overdue".
fn sample_archive(root: &Path) {
    let out = common::cairn().arg("init").arg(root).output().unwrap();
    assert!(out.status.success());
    common::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/s21"),
        &root.join("intake"),
    );
    cairn(root, &["ingest", "--quiet", "--remove-source"], 0);
    add_items(root, 0..20);
    cairn(
        root,
        &[
            "fixity",
            "--quiet",
            "--id",
            "cairn-000001",
            "--id",
            "cairn-000002",
            "--id",
            "cairn-000003",
            "--id",
            "cairn-000006",
        ],
        0,
    );
    // Damage cairn-000003's first payload file, and check it again: a failure.
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("manifests/cairn-000003.json")).unwrap())
            .unwrap();
    let path = entry["files"][0]["path"].as_str().unwrap();
    let file = root.join("archive/cairn-000003").join(path);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    cairn(root, &["fixity", "--quiet", "--id", "cairn-000003"], 1);
}

fn chromium(args: &[&str], url: &str, profile: &Path) -> std::process::Output {
    Command::new("timeout")
        .arg("120")
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium")
}

#[test]
fn pages_render_in_chromium() {
    let tmp = tempfile::Builder::new()
        .prefix("cairn-serve-web-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("archive");
    sample_archive(&root);
    let server = Server::start(&root, &[]);

    // The pages as served: checked without a browser first, so that the statuses are
    // pinned even where Chromium is skipped.
    let overview = server.get("/").text();
    assert!(overview.contains("The archive at a glance"));
    assert!(overview.contains("<svg"), "the chart is inline SVG");
    assert!(!overview.contains("src=\"http"), "no external assets");
    let items = server.get("/items?status=failed").text();
    assert!(
        items.contains("cairn-000003") && items.contains("1 item matches"),
        "{items}"
    );
    let khmer = server.get("/items/cairn-000006").text();
    assert!(
        khmer.contains("<h1 lang=\"km\">Sample: ទួលស្លែង (Tuol Sleng)"),
        "the Khmer item's title is marked as Khmer"
    );
    let french = server.get("/items/cairn-000002").text();
    assert!(french.contains("<h1 lang=\"fr\">Sample: chronologie des procès"));
    assert_eq!(server.get("/items/no-such-item").status, 404);
    let events = server
        .get("/events?type=fixity+check&outcome=failure")
        .text();
    assert!(events.contains("1 event matches"), "{events}");
    let search = server.get("/items?q=%E1%9E%91%E1%9E%BD%E1%9E%9B").text(); // ទួល
    assert!(search.contains("cairn-000006"), "search finds Khmer words");

    if !ensure_tool("chromium", "chromium fonts-khmeros") {
        skip("Chromium is not installed (apt-get install chromium)");
        return;
    }
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let pages: [(&str, &str, &[&str]); 4] = [
        (
            "/",
            "overview",
            &[
                "The archive at a glance",
                "Fixity checks per day",
                "never checked",
                "failed",
                "26",
            ],
        ),
        (
            "/items",
            "items",
            &[
                "26 items match",
                "Sample: chronologie des procès",
                "ទួលស្លែង",
                "(restricted)",
            ],
        ),
        (
            "/items/cairn-000006",
            "item-khmer",
            &[
                "<h1 lang=\"km\">Sample: ទួលស្លែង",
                "dcterms.spatial",
                "message digest calculation",
                "blake3",
            ],
        ),
        (
            "/audit",
            "audit",
            &[
                "Problems found",
                "Failed fixity checks (1)",
                "cairn-000003",
                "intact",
            ],
        ),
    ];
    for (path, name, expect) in pages {
        let profile = tempfile::Builder::new()
            .prefix("cairn-chromium-")
            .tempdir()
            .unwrap();
        let out = chromium(&["--dump-dom"], &server.url(path), profile.path());
        let dom = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "chromium --dump-dom {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for e in expect {
            assert!(
                dom.contains(e),
                "{path}: the rendered DOM lacks {e:?}:\n{dom}"
            );
        }
        let shot = shots.join(format!("{name}.png"));
        let profile = tempfile::Builder::new()
            .prefix("cairn-chromium-")
            .tempdir()
            .unwrap();
        let out = chromium(
            &[
                &format!("--screenshot={}", shot.display()),
                "--window-size=1280,1400",
            ],
            &server.url(path),
            profile.path(),
        );
        assert!(
            out.status.success() && shot.is_file(),
            "screenshot of {path}"
        );
        eprintln!("screenshot: {}", shot.display());
    }
}

#[test]
fn files_only_with_serve_files_never_restricted_with_ranges() {
    let tmp = tempfile::Builder::new()
        .prefix("cairn-serve-files-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("archive");
    build_archive(&root, 10);
    {
        let off = Server::start(&root, &[]);
        assert_eq!(off.get("/items/cairn-000001/files/0").status, 404);
        assert!(!off.get("/items/cairn-000001").text().contains("/files/0"));
    }
    let server = Server::start(&root, &["--serve-files"]);
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("manifests/cairn-000001.json")).unwrap())
            .unwrap();
    let rec = &entry["files"][1];
    let bytes = std::fs::read(
        root.join("archive/cairn-000001")
            .join(rec["path"].as_str().unwrap()),
    )
    .unwrap();
    let whole = server.get("/items/cairn-000001/files/1");
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, bytes);
    assert_eq!(whole.header("content-type"), rec["mime"].as_str());
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    let range = |r: &str| {
        request(
            server.addr,
            "GET",
            "/items/cairn-000001/files/1",
            &[("Range", r)],
            b"",
        )
    };
    let part = range("bytes=2-5");
    assert_eq!(part.status, 206);
    assert_eq!(part.body, bytes[2..=5]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 2-5/{}", bytes.len()).as_str())
    );
    let tail = range("bytes=-3");
    assert_eq!(tail.body, bytes[bytes.len() - 3..]);
    let open = range(&format!("bytes={}-", bytes.len() - 10));
    assert_eq!(open.body, bytes[bytes.len() - 10..]);
    assert_eq!(range(&format!("bytes={}-", bytes.len())).status, 416);
    assert_eq!(
        range("bytes=0-1,3-4").status,
        200,
        "several ranges: the whole file"
    );
    // HEAD has the headers, no body.
    let head = request(server.addr, "HEAD", "/items/cairn-000001/files/1", &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    // Restricted (cairn-000008: dcterms.accessRights = restricted): never served.
    let r = server.get("/items/cairn-000008/files/0");
    assert_eq!(r.status, 403);
    assert!(server
        .get("/items/cairn-000008")
        .text()
        .contains("Restricted"));
    // No such file index.
    for bad in ["2", "-1", "99999999999999999999999", "0x1", "..", "%2e%2e"] {
        assert_eq!(
            server
                .get(&format!("/items/cairn-000001/files/{bad}"))
                .status,
            404,
            "{bad}"
        );
    }
    // A payload file replaced by a symlink to a file outside the archive: not served.
    let secret = tmp.path().join("secret.txt");
    std::fs::write(&secret, "TOP SECRET, outside the archive").unwrap();
    let target = root.join("archive/cairn-000002").join(
        serde_json::from_slice::<serde_json::Value>(
            &std::fs::read(root.join("manifests/cairn-000002.json")).unwrap(),
        )
        .unwrap()["files"][0]["path"]
            .as_str()
            .unwrap(),
    );
    std::fs::remove_file(&target).unwrap();
    std::os::unix::fs::symlink(&secret, &target).unwrap();
    let r = server.get("/items/cairn-000002/files/0");
    assert_eq!(r.status, 503);
    assert!(!r.text().contains("TOP SECRET"));
    // A file of another size than the register's: not served.
    std::fs::write(
        root.join("archive/cairn-000001")
            .join(rec["path"].as_str().unwrap()),
        b"short",
    )
    .unwrap();
    assert_eq!(server.get("/items/cairn-000001/files/1").status, 503);
}

/// Paths opened by the traced server, from an `strace -f -e trace=open,openat` log.
fn opened_paths(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("open"))
        .filter_map(|l| {
            let a = l.find('"')? + 1;
            let b = a + l[a..].find('"')?;
            Some(l[a..b].to_string())
        })
        .collect()
}

#[test]
fn hostile_requests_read_nothing_outside_the_archive_and_never_crash() {
    let tmp = tempfile::Builder::new()
        .prefix("cairn-serve-hostile-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("archive");
    build_archive(&root, 12);
    std::fs::write(tmp.path().join("secret.txt"), "TOP SECRET").unwrap();
    let traced = ensure_tool("strace", "strace");
    if !traced {
        skip("strace is not installed: the test cannot watch which files the server opens");
    }
    let log = tmp.path().join("strace.log");
    let mut server = if traced {
        // cairn serve under strace: every open is logged.
        let mut child = common::hermetic(&mut Command::new("strace"))
            .args(["-f", "-qq", "-e", "trace=open,openat,openat2", "-o"])
            .arg(&log)
            .arg(cairn_bin())
            .args(["serve", "--serve-files", "--bind", "127.0.0.1:0", "--root"])
            .arg(&root)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap()
            .trim_end_matches('/')
            .parse()
            .unwrap();
        // The traced process is strace's child.
        let strace = child.id();
        let children =
            std::fs::read_to_string(format!("/proc/{strace}/task/{strace}/children")).unwrap();
        let pid = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("cairn serve under strace");
        Server { child, addr, pid }
    } else {
        Server::start(&root, &["--serve-files"])
    };
    // What the server opened while starting (libraries, the register, the bags'
    // metadata) is not the question; what requests make it open is.
    let _ = server.get("/");
    std::thread::sleep(Duration::from_millis(200));
    let startup_len = std::fs::metadata(&log)
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    let traversals = [
        "../../../../etc/passwd",
        "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "..%252F..%252Fetc%252Fpasswd",
        "....//....//etc/passwd",
        "%00",
        "..%00",
        "../secret.txt",
        "..%2Fsecret.txt",
        "%2Fetc%2Fpasswd",
        "cairn-000001%2F..%2F..%2F..%2Fsecret.txt",
        "..\\..\\secret.txt",
    ];
    let mut targets: Vec<String> = Vec::new();
    for t in traversals {
        targets.push(format!("/{t}"));
        targets.push(format!("/items/{t}"));
        targets.push(format!("/items/{t}/files/0"));
        targets.push(format!("/items/cairn-000001/files/{t}"));
        targets.push(format!("/items/cairn-000001/{t}"));
        targets.push(format!("/items?q={t}&status={t}&page={t}"));
        targets.push(format!(
            "/events?id={t}&type={t}&outcome={t}&since={t}&until={t}&page={t}"
        ));
        targets.push(format!("/audit/{t}"));
        targets.push(format!("/oai/{t}"));
        targets.push(format!(
            "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier={t}"
        ));
        targets.push(format!(
            "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:cairn.invalid:{t}"
        ));
        targets.push(format!("/oai?verb=ListRecords&metadataPrefix={t}"));
        targets.push(format!(
            "/oai?verb=ListRecords&metadataPrefix=oai_dc&set={t}&from={t}"
        ));
        targets.push(format!("/oai?verb=ListRecords&resumptionToken={t}"));
        targets.push(format!("/oai?verb={t}"));
        targets.push(format!("/oai?{t}={t}"));
    }
    for target in &targets {
        let r = request(server.addr, "GET", target, &[], b"");
        assert!(
            [200, 400, 403, 404].contains(&r.status),
            "{target}: HTTP {}",
            r.status
        );
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains("root:x:0") && !body.contains("TOP SECRET"),
            "{target} leaked a file"
        );
        if r.status == 200 && target.starts_with("/oai") {
            assert!(
                r.oai_error().is_some(),
                "{target}: an OAI-PMH error expected"
            );
        }
    }
    // Overlong URLs and tokens: a clear refusal, no crash.
    let long_q = format!("/items?q={}", "a".repeat(20_000));
    assert_eq!(request(server.addr, "GET", &long_q, &[], b"").status, 414);
    let long_token = format!("/oai?verb=ListRecords&resumptionToken={}", "Z".repeat(9000));
    assert_eq!(
        request(server.addr, "GET", &long_token, &[], b"").status,
        414
    );
    let forged = "/oai?verb=ListRecords&resumptionToken=eyJ2IjoiTGlzdFJlY29yZHMiLCJwIjoib2FpX2RjIiwiZCI6MCwiaSI6IiJ9.00000000000000000000000000000000";
    assert_eq!(
        server.get(forged).oai_error().as_deref(),
        Some("badResumptionToken")
    );
    {
        // A megabyte of request target: hyper refuses it or closes; either way no crash.
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = s.write_all(
            format!(
                "GET /items?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
                "b".repeat(1 << 20)
            )
            .as_bytes(),
        );
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let head = String::from_utf8_lossy(&buf);
        assert!(buf.is_empty() || head.starts_with("HTTP/1.1 4"), "{head}");
    }
    // A body over the limit is refused.
    let big = vec![b'a'; 200_000];
    let r = request(
        server.addr,
        "POST",
        "/oai",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &big,
    );
    assert_eq!(r.status, 413);
    // Writes are not a thing here.
    for m in ["PUT", "DELETE", "PATCH"] {
        assert_eq!(
            request(server.addr, m, "/items/cairn-000001", &[], b"").status,
            405,
            "{m}"
        );
    }
    assert!(server.alive(), "the server survived the hostile requests");

    // 1,000 concurrent connections, each sending a request, bounded in time; from 16
    // loopback addresses, as one address may hold 64 (serve.max_connections_per_address).
    let (rss_before, _) = server.rss_kib();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.pid)).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("serve"),
        "measuring the server's own memory"
    );
    let started = Instant::now();
    let mut conns = Vec::new();
    for i in 0..1000 {
        let s = connect_from(&format!("127.0.0.{}", i % 16 + 1), server.addr);
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let target = match i % 4 {
            0 => "/oai?verb=ListRecords&metadataPrefix=oai_dc".to_string(),
            1 => "/items".to_string(),
            2 => format!("/items/cairn-{:06}", i % 12 + 1),
            _ => "/items/cairn-000001/files/0".to_string(),
        };
        conns.push((s, target));
    }
    for (s, target) in &mut conns {
        s.write_all(
            format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
    }
    let mut ok = 0;
    for (mut s, target) in conns {
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        let r = parse_response(&buf);
        assert_eq!(r.status, 200, "{target}");
        ok += 1;
    }
    let elapsed = started.elapsed();
    let (rss_after, peak) = server.rss_kib();
    eprintln!(
        "1000 concurrent connections: {ok} answered in {:.2} s; server RSS {rss_before} KiB before, {rss_after} KiB after, peak {peak} KiB",
        elapsed.as_secs_f64()
    );
    assert_eq!(ok, 1000);
    assert!(elapsed < Duration::from_secs(120), "took {elapsed:?}");
    assert!(
        peak < 256 * 1024,
        "peak RSS {peak} KiB: memory is not bounded"
    );
    assert!(server.alive());
    assert_eq!(server.get("/").status, 200, "still serving");

    if traced {
        drop(server);
        let text = std::fs::read(&log).unwrap();
        let text = String::from_utf8_lossy(&text[startup_len..]);
        let root_c = root.canonicalize().unwrap();
        let mut outside = Vec::new();
        let mut inside_count = 0;
        for p in opened_paths(&text) {
            let inside = Path::new(&p).starts_with(&root) || Path::new(&p).starts_with(&root_c);
            // The runtime asks how many CPUs are online when it starts a thread.
            let cpu_count = p == "/sys/devices/system/cpu/online";
            if cpu_count {
                continue;
            }
            if inside && !p.contains("passwd") && !p.contains("secret") {
                inside_count += 1;
            } else {
                outside.push(p);
            }
        }
        eprintln!("files opened while answering: {inside_count}, all inside the archive");
        assert!(
            inside_count > 0,
            "the trace saw the payload files being opened"
        );
        assert!(
            outside.is_empty(),
            "the server opened files outside the archive: {outside:?}"
        );
    }
}

#[test]
fn serves_while_ingest_runs_and_never_shows_a_half_committed_item() {
    let tmp = tempfile::Builder::new()
        .prefix("cairn-serve-live-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("archive");
    build_archive(&root, 3);
    let server = Server::start(&root, &[]);
    assert!(server.get("/items").text().contains("3 items match"));

    // A register entry whose bag is not there (a commit caught half-way, by hand): not
    // shown, listed on /audit; shown once its bag is in place.
    let entry = std::fs::read_to_string(root.join("manifests/cairn-000003.json")).unwrap();
    let moved = tmp.path().join("held-back");
    std::fs::rename(root.join("archive/cairn-000003"), &moved).unwrap();
    std::fs::write(
        root.join("manifests/cairn-000099.json"),
        entry.replace("cairn-000003", "cairn-000099"),
    )
    .unwrap();
    let oai_get = |n: u32| {
        server
            .get(&format!(
                "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:cairn.invalid:cairn-{n:06}"
            ))
            .oai_error()
    };
    assert_eq!(oai_get(99).as_deref(), Some("idDoesNotExist"));
    assert_eq!(server.get("/items/cairn-000099").status, 404);
    let audit = server.get("/audit").text();
    assert!(
        audit.contains("cairn-000099") && audit.contains("its bag is not in archive/"),
        "{audit}"
    );
    std::fs::rename(&moved, root.join("archive/cairn-000099")).unwrap();
    assert_eq!(oai_get(99), None, "shown once its bag is there");
    std::fs::remove_file(root.join("manifests/cairn-000099.json")).unwrap();
    std::fs::rename(
        root.join("archive/cairn-000099"),
        root.join("archive/cairn-000003"),
    )
    .unwrap();

    // Ingest 40 items while harvesting without pause: every response is whole, every
    // listed item has its record, and the count only grows.
    write_intake(&root.join("intake"), 100..140);
    let mut ingest = common::cairn()
        .args(["ingest", "--quiet", "--remove-source", "--root"])
        .arg(&root)
        .spawn()
        .unwrap();
    let mut last = 0;
    let mut polls = 0;
    loop {
        let done = ingest.try_wait().unwrap().is_some();
        let body = server
            .get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc")
            .text();
        assert!(body.trim_end().ends_with("</OAI-PMH>"));
        let ids: Vec<&str> = body
            .match_indices("<identifier>")
            .map(|(at, _)| {
                let rest = &body[at + 12..];
                &rest[..rest.find('<').unwrap()]
            })
            .collect();
        assert!(ids.len() >= last, "the list never shrinks");
        last = ids.len();
        if let Some(newest) = ids.last() {
            let r = server.get(&format!(
                "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier={newest}"
            ));
            assert_eq!(
                r.oai_error(),
                None,
                "{newest} is listed, so its record is there"
            );
            let id = newest.rsplit(':').next().unwrap();
            assert!(root
                .join("archive")
                .join(id)
                .join("metadata/dc.xml")
                .is_file());
        }
        polls += 1;
        if done {
            break;
        }
    }
    assert!(ingest.wait().unwrap().success());
    assert_eq!(last, 43, "all 43 items after {polls} polls");
}

/// The item list in pages of 50: the unfiltered pages (cut straight from the snapshot)
/// and the filtered ones (every item read, the matches counted) list the same items in
/// the same order, every item once; a page past the end shows the last one.
#[test]
fn item_list_pages_cover_every_item_once_filtered_or_not() {
    let tmp = tempfile::Builder::new()
        .prefix("cairn-serve-pages-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("archive");
    build_archive(&root, 53);
    let server = Server::start(&root, &[]);
    let ids_on = |target: &str| -> Vec<String> {
        let page = server.get(target);
        assert_eq!(page.status, 200, "{target}");
        let text = page.text();
        assert!(text.contains("53 items match"), "{target}: {text}");
        // Each row links its item once from its identifier cell.
        text.split("<a href=\"/items/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|id| id.starts_with("cairn-") && !id.contains('/'))
            .map(str::to_string)
            .collect()
    };
    let mut plain = ids_on("/items");
    let second = ids_on("/items?page=2");
    assert_eq!((plain.len(), second.len()), (50, 3));
    plain.extend(second.iter().cloned());
    let mut want: Vec<String> = register_titles(&root).into_keys().collect();
    want.sort();
    assert_eq!(plain, want, "every item once, in identifier order");
    // Every item is never checked: the status filter reads every item and must agree.
    let mut filtered = ids_on("/items?status=never-checked");
    filtered.extend(ids_on("/items?status=never-checked&page=2"));
    assert_eq!(filtered, plain);
    assert_eq!(
        ids_on("/items?page=99"),
        second,
        "past the end: the last page"
    );
}

/// The number in "N events match" or "1 event matches" (or items: `what`).
fn matching(page: &str, what: &str) -> usize {
    let one = what.strip_suffix('s').unwrap_or(what);
    let end = page
        .find(&format!(" {what} match"))
        .or_else(|| page.find(&format!(" {one} matches")))
        .unwrap_or_else(|| panic!("no count of {what} in {page}"));
    let start = page[..end].rfind('>').map_or(0, |p| p + 1);
    page[start..end].trim().parse().expect("a count")
}

fn events_matching(page: &str) -> usize {
    matching(page, "events")
}

/// /events and the item pages read their lines back from the log (the snapshot keeps a
/// row per line, not the events): every filter counts what the log holds, a line
/// appended while serving is shown, and a line edited in place afterwards is shown as
/// changed, never as its new text.
#[test]
fn events_are_read_back_from_the_log_and_checked() {
    let tmp = tempfile::Builder::new()
        .prefix("cairn-serve-events-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("archive");
    build_archive(&root, 3);
    cairn(&root, &["fixity", "--quiet", "--all"], 0);
    let log_path = root.join("manifests/events.jsonl");
    let lines = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&log_path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let log = lines();
    let server = Server::start(&root, &[]);

    // Unfiltered: every line, newest first.
    let all = server.get("/events").text();
    assert_eq!(events_matching(&all), log.len(), "{all}");
    let newest = log.last().unwrap()["seq"].as_u64().unwrap();
    let first_row = &all[all.find("<tbody>").unwrap()..];
    assert!(
        first_row.starts_with(&format!("<tbody><tr><td class=\"num\">{newest}</td>")),
        "newest first: {first_row:.200}"
    );
    // By item, type and outcome: as many as the log holds.
    let count = |pred: &dyn Fn(&serde_json::Value) -> bool| log.iter().filter(|e| pred(e)).count();
    let by_item = server.get("/events?id=cairn-000001").text();
    assert_eq!(
        events_matching(&by_item),
        count(&|e| e["object"] == "cairn-000001")
    );
    let checks = server
        .get("/events?type=fixity+check&outcome=success")
        .text();
    assert_eq!(
        events_matching(&checks),
        count(&|e| e["type"] == "fixity check" && e["outcome"] == "success")
    );
    assert_eq!(count(&|e| e["type"] == "fixity check"), 3);
    assert_eq!(
        events_matching(&server.get("/events?type=no+such+type").text()),
        0
    );
    // By time: a date covers its whole day; a time is exact.
    let day = &log[0]["time"].as_str().unwrap()[..10];
    let today = server
        .get(&format!("/events?since={day}&until={day}"))
        .text();
    assert_eq!(events_matching(&today), log.len());
    assert_eq!(
        events_matching(&server.get("/events?until=2000-01-01").text()),
        0
    );
    let last_time = log.last().unwrap()["time"].as_str().unwrap().to_string();
    let at_last = server
        .get(&format!("/events?since={}", enc(&last_time)))
        .text();
    assert_eq!(
        events_matching(&at_last),
        count(&|e| e["time"].as_str().unwrap() >= last_time.as_str())
    );
    // A value that is no time is said, and not applied.
    let odd = server.get("/events?since=last+tuesday").text();
    assert!(
        odd.contains("neither a date (YYYY-MM-DD) nor an RFC 3339 time"),
        "{odd}"
    );
    assert_eq!(events_matching(&odd), log.len());

    // A line appended while serving is read on and shown.
    cairn(&root, &["fixity", "--quiet", "--id", "cairn-000002"], 0);
    let grown = lines();
    assert_eq!(grown.len(), log.len() + 1);
    let item = server.get("/items/cairn-000002").text();
    let seq = grown.last().unwrap()["seq"].as_u64().unwrap();
    assert!(
        item.contains(&format!("<td class=\"num\">{seq}</td>")),
        "{item}"
    );
    assert_eq!(events_matching(&server.get("/events").text()), grown.len());
    // A failed check appended while serving changes the item's status (a refresh that
    // read only fixity checks keeps the items and works out the checked ones again).
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("manifests/cairn-000002.json")).unwrap())
            .unwrap();
    let damaged = root
        .join("archive/cairn-000002")
        .join(entry["files"][0]["path"].as_str().unwrap());
    let mut payload = std::fs::read(&damaged).unwrap();
    payload[0] ^= 1;
    std::fs::write(&damaged, payload).unwrap();
    assert_eq!(
        events_matching(
            &server
                .get("/items?status=failed")
                .text()
                .replace("items match", "events match")
        ),
        0
    );
    cairn(&root, &["fixity", "--quiet", "--id", "cairn-000002"], 1);
    let failed = server.get("/items?status=failed").text();
    assert!(failed.contains("cairn-000002"), "{failed}");
    assert_eq!(matching(&failed, "items"), 1);
    assert!(server.get("/items/cairn-000002").text().contains("FAILED"));
    let grown = lines();

    // Line 1 edited in place, same length: its row no longer matches the line.
    let mut bytes = std::fs::read(&log_path).unwrap();
    let first_nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    let at = bytes[..first_nl]
        .windows(10)
        .position(|w| w == b"\"detail\":\"")
        .expect("a detail")
        + 10;
    assert!(bytes[at..at + 6]
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b' '));
    bytes[at..at + 6].copy_from_slice(b"FORGED");
    std::fs::write(&log_path, &bytes).unwrap();
    let object = grown[0]["object"].as_str().unwrap().to_string();
    let page = server
        .get(&format!("/events?id={}&until=2999-01-01", enc(&object)))
        .text();
    assert!(
        !page.contains("FORGED"),
        "the edited text is not shown: {page}"
    );
    assert!(
        page.contains(
            "Line 1 of the event log: it no longer reads as it did when the chain was checked"
        ),
        "{page}"
    );
}

/// The item page says which version it shows, and an amend made while serving is
/// shown: the new record, its version, and where the earlier one is.
#[test]
fn an_amended_item_shows_its_versions() {
    let tmp = tempfile::Builder::new()
        .prefix("cairn-serve-versions-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("archive");
    build_archive(&root, 1);
    let server = Server::start(&root, &[]);
    let before = server.get("/items/cairn-000001").text();
    assert!(
        before.contains("Content version 1, record version 1; archived "),
        "{before}"
    );
    assert!(!before.contains("Earlier versions"));
    cairn(
        &root,
        &[
            "amend",
            "cairn-000001",
            "--set",
            "dc.title=Amended: biography of a prisoner, S-21",
            "--reason",
            "title corrected against the DC-Cam catalogue",
        ],
        0,
    );
    let after = server.get("/items/cairn-000001").text();
    assert!(
        after.contains("Content version 1, record version 2; archived "),
        "{after}"
    );
    assert!(after.contains(", last changed "), "{after}");
    assert!(after.contains("Earlier versions are kept in the archive"));
    assert!(after.contains("Amended: biography of a prisoner, S-21"));
    assert!(
        after.contains("metadata modification"),
        "the amend's event is listed"
    );
}
