//! The reader's pages fixed (issue 32), end to end against the real binary: a
//! withdrawn item answers 410 Gone with its tombstone; an item page shows each file's
//! PUID and scan QC results from the register, the damage a failed fixity check found
//! (until a check passes again), and its kept earlier versions with their files,
//! openable as the current ones are (never a restricted item's); /items?q= folds case
//! and diacritics and leaves Khmer as it is; identifiers are never broken mid-word;
//! the fixity chart's labels stay inside the chart, in serve and in `report --html`.

use crate::common;
use crate::common::serve;

use std::path::Path;

use serve::*;

/// An archive at `root` with one item per (folder, title, language) row, each a
/// note.txt, ingested.
fn archive_of(root: &Path, rows: &[(&str, &str, &str)]) {
    let out = common::cairn().arg("init").arg(root).output().unwrap();
    assert!(out.status.success(), "{}", common::describe(&out));
    let intake = root.join("intake");
    let mut csv = String::from("filename,dc.title,dc.language\n");
    for (folder, title, lang) in rows {
        common::write_file(&intake.join(folder), "note.txt", title.as_bytes());
        csv.push_str(&format!("{folder},{title},{lang}\n"));
    }
    std::fs::write(intake.join("metadata.csv"), csv).unwrap();
    cairn(root, &["ingest", "--quiet", "--remove-source"], 0);
}

/// The identifiers an /items page lists, in order.
fn listed(page: &str) -> Vec<String> {
    page.match_indices("<a href=\"/items/")
        .map(|(at, m)| {
            let rest = &page[at + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

#[test]
fn a_withdrawn_item_answers_410_with_its_tombstone() {
    let tmp = common::fresh_dir("serve-reader-gone");
    let root = tmp.path().join("archive");
    build_archive(&root, 3);
    cairn(
        &root,
        &[
            "withdraw",
            "cairn-000002",
            "--reason",
            "the donor asked for its return",
        ],
        0,
    );
    let tombstone: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("manifests/withdrawn/cairn-000002.json")).unwrap(),
    )
    .unwrap();
    let when = tombstone["withdrawn"].as_str().unwrap();
    let server = Server::start(&root, &["--serve-files"]);

    let page = server.get("/items/cairn-000002");
    assert_eq!(page.status, 410, "{}", page.text());
    let text = page.text();
    for want in [
        "Withdrawn",
        when,
        "the donor asked for its return",
        "quarantined",
        &gen_item(1).title,
    ] {
        assert!(text.contains(want), "{want:?} not on the tombstone: {text}");
    }
    assert!(
        !text.contains("/files/"),
        "a tombstone links no file: {text}"
    );
    let file = server.get("/items/cairn-000002/files/0");
    assert_eq!(file.status, 410, "{}", file.text());
    assert!(!file.text().contains("Sample"), "no payload byte is served");
    // Items never archived, and the others, are as before.
    assert_eq!(server.get("/items/cairn-999999").status, 404);
    assert_eq!(
        server.get("/items/..%2Fwithdrawn%2Fcairn-000002").status,
        404
    );
    assert_eq!(server.get("/items/cairn-000001").status, 200);
}

#[test]
fn search_folds_case_and_diacritics_and_leaves_khmer_as_it_is() {
    let tmp = common::fresh_dir("serve-reader-search");
    let root = tmp.path().join("archive");
    archive_of(
        &root,
        &[
            ("a", "Procès-verbal de la séance du 3 mars", "fr"),
            ("b", "PROCES VERBAL (a copy without accents)", "en"),
            ("c", "Échantillon : note sur le Tribunal", "fr"),
            ("d", "ឯកសារសាកល្បង ទួលស្លែង", "km"),
            ("e", "ឯកសារ ទល", "km"),
        ],
    );
    let server = Server::start(&root, &[]);
    let ids = |q: &str| {
        let encoded: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
        let page = server.get(&format!("/items?q={encoded}"));
        assert_eq!(page.status, 200);
        listed(&page.text())
    };
    assert_eq!(ids("proces"), ["cairn-000001", "cairn-000002"]);
    assert_eq!(ids("Procès-Verbal"), ["cairn-000001"]);
    assert_eq!(ids("SÉANCE"), ["cairn-000001"]);
    assert_eq!(ids("echantillon"), ["cairn-000003"]);
    // A decomposed query (e + U+0301) finds the precomposed title.
    assert_eq!(ids("E\u{301}chantillon"), ["cairn-000003"]);
    // Khmer is found by itself, its vowel signs kept: ទួល is not ទល.
    assert_eq!(ids("ទួលស្លែង"), ["cairn-000004"]);
    assert_eq!(ids("ទល"), ["cairn-000005"]);
    assert_eq!(ids("ឯកសារ"), ["cairn-000004", "cairn-000005"]);
    // The query is shown back as typed, not folded.
    let page = server.get("/items?q=Proc%C3%A8s").text();
    assert!(page.contains("value=\"Procès\""), "{page}");
}

/// Sets `[qc] profile` to a FADGI 3-star preset whose resolution rule only warns.
fn lenient_qc(root: &Path) {
    let path = root.join("cairn.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text.find("[qc]\n").expect("the template's [qc]");
    let line = text[at..].find("\nprofile = \"\"\n").expect("its profile") + at;
    let text = format!(
        "{}\nprofile = \"lenient\"\n\n[qc.profiles.lenient]\npreset = \"fadgi-3-star-text\"\non_fail = {{ min_ppi = \"warn\" }}\n{}",
        &text[..line],
        &text[line + "\nprofile = \"\"\n".len()..]
    );
    std::fs::write(&path, text).unwrap();
}

fn entry(root: &Path, id: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(root.join(format!("manifests/{id}.json"))).unwrap())
        .unwrap()
}

#[test]
fn an_item_page_shows_formats_qc_damage_and_kept_versions() {
    let tmp = common::fresh_dir("serve-reader-item");
    let root = tmp.path().join("archive");
    let out = common::cairn().arg("init").arg(&root).output().unwrap();
    assert!(out.status.success(), "{}", common::describe(&out));
    lenient_qc(&root);
    let first_scan = common::tiff_bytes(64, 48, 150, false, true);
    common::write_file(&root.join("intake/letter"), "page-1.tif", &first_scan);
    std::fs::write(
        root.join("intake/metadata.csv"),
        "filename,dc.title\nletter,Sample: a letter\n",
    )
    .unwrap();
    cairn(&root, &["ingest", "--quiet", "--remove-source"], 0);
    let id = "cairn-000001";
    let v1 = entry(&root, id);
    let tif = &v1["files"][0];
    assert_eq!(tif["path"], "data/page-1.tif");
    let puid = tif["format"]["puid"].as_str().expect("a PUID in the entry");
    let format_name = tif["format"]["name"].as_str().unwrap();
    assert_eq!(tif["qc"]["outcome"], "warn", "{tif}");

    // Version 2: the page re-scanned at 400 ppi, and a second page.
    let new = tmp.path().join("rescan");
    common::write_file(
        &new,
        "page-1.tif",
        &common::tiff_bytes(64, 48, 400, false, true),
    );
    common::write_file(
        &new,
        "page-2.tif",
        &common::tiff_bytes(64, 48, 400, false, true),
    );
    cairn(
        &root,
        &[
            "revise",
            id,
            "--from",
            new.to_str().unwrap(),
            "--reason",
            "re-scanned",
            "--quiet",
        ],
        0,
    );
    // Damage the current page 2, and let fixity find it.
    let bad = root.join("archive").join(id).join("data/page-2.tif");
    let good = std::fs::read(&bad).unwrap();
    let mut bytes = good.clone();
    bytes[100] ^= 1;
    std::fs::write(&bad, &bytes).unwrap();
    cairn(&root, &["fixity", "--quiet", "--id", id], 1);

    let server = Server::start(&root, &["--serve-files"]);
    let page = server.get(&format!("/items/{id}"));
    assert_eq!(page.status, 200);
    let text = page.text();
    // Formats and QC, from the register.
    assert!(text.contains(puid) && text.contains(format_name), "{text}");
    assert!(text.contains("Scan QC"), "{text}");
    assert!(text.contains("lenient"), "the profile is named: {text}");
    // Damage: named, and the file marked.
    assert!(text.contains("Damage:"), "{text}");
    assert!(
        text.contains("<li><code>data/page-2.tif</code></li>"),
        "the damaged file is listed: {text}"
    );
    assert_eq!(text.matches(">damaged</span>").count(), 1, "{text}");
    // Version 1 kept, its file listed with its own QC warning and openable.
    assert!(
        text.contains("Earlier versions (1)") && text.contains("Version 1 (published "),
        "{text}"
    );
    let link = format!("/items/{id}/versions/1/files/0");
    assert!(text.contains(&link), "{text}");
    let old = server.get(&link);
    assert_eq!(old.status, 200);
    assert_eq!(
        old.body, first_scan,
        "version 1's bytes, not the current ones"
    );
    assert_eq!(
        server
            .get(&format!("/items/{id}/versions/1/files/1"))
            .status,
        404
    );
    assert_eq!(
        server
            .get(&format!("/items/{id}/versions/7/files/0"))
            .status,
        404
    );
    // Tricks in the version and file numbers reach no file.
    for (v, n) in [
        ("..", "0"),
        ("%2e%2e", "0"),
        ("1%2F..%2F..", "0"),
        ("-1", "0"),
        ("0", "0"),
        ("4294967296", "0"),
        ("1", "..%2Fbag-info.txt"),
        ("1", "-1"),
        ("1", "18446744073709551616"),
    ] {
        let r = server.get(&format!("/items/{id}/versions/{v}/files/{n}"));
        assert_eq!(r.status, 404, "{v} {n}: {}", r.text());
    }
    // Current files as before, through the versions route too.
    assert_eq!(
        server.get(&format!("/items/{id}/versions/2/files/0")).body,
        server.get(&format!("/items/{id}/files/0")).body
    );

    // The bytes put back and checked again: no more damage shown.
    std::fs::write(&bad, &good).unwrap();
    cairn(&root, &["fixity", "--quiet", "--id", id], 0);
    let text = server.get(&format!("/items/{id}")).text();
    assert!(
        !text.contains("Damage:") && !text.contains(">damaged<"),
        "{text}"
    );

    // Restricted: no version's file is served.
    cairn(
        &root,
        &[
            "amend",
            id,
            "--set",
            "dcterms.accessRights=restricted",
            "--reason",
            "closed at the donor's request",
            "--quiet",
        ],
        0,
    );
    assert_eq!(server.get(&link).status, 403);
    let text = server.get(&format!("/items/{id}")).text();
    assert!(!text.contains(&link), "{text}");
}

#[test]
fn identifiers_are_never_broken_mid_word() {
    let tmp = common::fresh_dir("serve-reader-ids");
    let root = tmp.path().join("archive");
    build_archive(&root, 2);
    cairn(
        &root,
        &[
            "withdraw",
            "cairn-000002",
            "--reason",
            "a duplicate",
            "--quiet",
        ],
        0,
    );
    let server = Server::start(&root, &[]);
    // An identifier inside an event's detail is kept whole too, and so are times.
    let events = server.get("/events").text();
    assert!(
        events.contains("archive/.quarantine/<span class=\"nb\">cairn-000002</span>:"),
        "{events}"
    );
    assert!(events.contains("<td class=\"nb\">20"), "{events}");
    for target in ["/events", "/items", "/audit", "/items/cairn-000001"] {
        let text = server.get(target).text();
        let style = &text[text.find("<style>").unwrap()..text.find("</style>").unwrap()];
        // No rule breaks a `code` element anywhere (digests only may break).
        for rule in style.split('}') {
            if rule.contains("break-all") {
                let selectors = rule.split('{').next().unwrap();
                assert!(
                    selectors.split(',').all(|s| s.trim() == ".digest"),
                    "{target}: {rule}"
                );
            }
        }
        assert!(style.contains("code.id{white-space:nowrap}"), "{style}");
        assert!(style.contains(".nb{white-space:nowrap}"), "{style}");
        // Every link to an item shows its identifier unbreakable; an item page its own.
        let links = text.matches("<a href=\"/items/cairn-").count();
        let shown = text.matches("<code class=\"id\">cairn-").count();
        if target.starts_with("/items/") {
            assert!(
                text.contains("<code class=\"id\">cairn-000001</code>"),
                "{text}"
            );
        } else {
            assert!(links > 0 && shown == links, "{target}: {text}");
        }
    }
}

/// Each `<text>` of the chart's SVG as (x, anchor, font size, text).
fn chart_labels(html: &str) -> (f64, Vec<(f64, String, f64, String)>) {
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
    let vb = &svg[svg.find("viewBox=\"").unwrap() + 9..];
    let width: f64 = vb[..vb.find('"').unwrap()]
        .split(' ')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    let attr = |el: &str, name: &str| -> Option<String> {
        let at = el.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(el[at..at + el[at..].find('"')?].to_string())
    };
    let mut out = Vec::new();
    for (at, _) in svg.match_indices("<text ") {
        let el = &svg[at..];
        let open = &el[..el.find('>').unwrap()];
        let body = &el[open.len() + 1..el.find("</text>").unwrap()];
        out.push((
            attr(open, "x").unwrap().parse().unwrap(),
            attr(open, "text-anchor").unwrap_or_else(|| "start".into()),
            attr(open, "font-size").unwrap().parse().unwrap(),
            body.to_string(),
        ));
    }
    (width, out)
}

/// Every label's extent (0.6 em a character, generous for digits and "-") lies within
/// the chart's width.
fn assert_labels_inside(html: &str, what: &str) {
    let (width, labels) = chart_labels(html);
    assert!(labels.len() >= 5, "{what}: {labels:?}");
    for (x, anchor, size, text) in labels {
        let w = text.chars().count() as f64 * size * 0.6;
        let (from, to) = match anchor.as_str() {
            "end" => (x - w, x),
            "middle" => (x - w / 2.0, x + w / 2.0),
            _ => (x, x + w),
        };
        assert!(
            from >= 0.0 && to <= width,
            "{what}: label {text:?} spans {from:.1}..{to:.1}, outside 0..{width}"
        );
    }
}

#[test]
fn chart_labels_stay_inside_the_chart() {
    let tmp = common::fresh_dir("serve-reader-chart");
    let root = tmp.path().join("archive");
    build_archive(&root, 2);
    cairn(&root, &["fixity", "--quiet"], 0);
    let server = Server::start(&root, &[]);
    assert_labels_inside(&server.get("/").text(), "serve");
    let report = tmp.path().join("report.html");
    cairn(&root, &["report", "--html", report.to_str().unwrap()], 0);
    assert_labels_inside(&std::fs::read_to_string(&report).unwrap(), "report --html");
}

#[test]
fn a_damaged_replica_copy_is_shown_until_repaired() {
    let tmp = common::fresh_dir("serve-reader-replica");
    let root = tmp.path().join("archive");
    build_archive(&root, 2);
    let replica = tmp.path().join("nas");
    std::fs::create_dir(&replica).unwrap();
    let mut text = std::fs::read_to_string(root.join("cairn.toml")).unwrap();
    text.push_str(&format!(
        "\n[[replica]]\nname = \"nas\"\nurl = \"file://{}\"\n",
        replica.display()
    ));
    std::fs::write(root.join("cairn.toml"), text).unwrap();
    cairn(&root, &["replicate", "--init", "nas", "--quiet"], 0);
    cairn(&root, &["replicate", "--quiet"], 0);
    // Damage the replica's copy of cairn-000001's note.
    let note = walkdir::WalkDir::new(&replica)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.ends_with("note.txt") && p.to_string_lossy().contains("cairn-000001"))
        .expect("the note on the replica");
    let mut bytes = std::fs::read(&note).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&note, bytes).unwrap();
    cairn(&root, &["fixity", "--replica", "nas", "--quiet"], 1);

    let server = Server::start(&root, &[]);
    let page = server.get("/items/cairn-000001").text();
    assert!(page.contains("Replica damaged:"), "{page}");
    assert!(page.contains("<code>nas</code>"), "{page}");
    assert!(
        !page.contains("Damage:"),
        "the archive's own copy is sound: {page}"
    );
    assert!(
        !server.get("/items/cairn-000002").text().contains("damaged"),
        "the other item's copy is sound"
    );
    cairn(&root, &["repair", "cairn-000001", "--quiet"], 0);
    let page = server.get("/items/cairn-000001").text();
    assert!(!page.contains("Replica damaged:"), "{page}");
}
