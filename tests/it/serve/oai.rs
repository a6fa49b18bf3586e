//! `cairn serve`, OAI-PMH 2.0 (issue 16), end to end against the real binary: a real
//! harvester (Sickle, from PyPI) harvests every record of a 260-item archive across
//! resumption tokens; every verb's response and every error response validates against
//! the OAI-PMH and oai_dc schemas (xmllint); each error code comes from the request
//! that should produce it; tokens stay valid while items are added.

use crate::common;
use crate::common::serve;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serve::*;

const REPO: &str = "cairn.invalid";
const ITEMS: usize = 260;

fn oai(server: &Server, query: &str) -> Resp {
    let r = server.get(&format!("/oai?{query}"));
    assert_eq!(r.status, 200, "{query}: HTTP {}", r.status);
    assert_eq!(
        r.header("content-type"),
        Some("text/xml; charset=utf-8"),
        "{query}"
    );
    r
}

/// The text of every `<tag>` element, in order.
fn all_of(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.match_indices(&open)
        .map(|(at, _)| {
            let rest = &xml[at + open.len()..];
            rest[..rest.find(&close).expect("closed")].to_string()
        })
        .collect()
}

/// (token, completeListSize, cursor) of a list response; token empty on the last page.
fn token_of(xml: &str) -> Option<(String, usize, usize)> {
    let at = xml.find("<resumptionToken ")?;
    let el = &xml[at..];
    let attr = |name: &str| -> usize {
        let a = el.find(&format!("{name}=\"")).expect("attribute") + name.len() + 2;
        el[a..].split('"').next().unwrap().parse().unwrap()
    };
    let token = if el[..el.find('>').unwrap()].ends_with('/') {
        String::new()
    } else {
        let start = el.find('>').unwrap() + 1;
        el[start..el.find("</resumptionToken>").unwrap()].to_string()
    };
    Some((token, attr("completeListSize"), attr("cursor")))
}

/// Pages through ListIdentifiers from `first` (a complete query), returning the
/// identifiers and every response.
fn page_through(server: &Server, verb: &str, first: &str) -> (Vec<String>, Vec<String>) {
    let mut ids = Vec::new();
    let mut bodies = Vec::new();
    let mut query = first.to_string();
    loop {
        let body = oai(server, &query).text();
        ids.extend(all_of(&body, "identifier"));
        let tok = token_of(&body);
        bodies.push(body);
        match tok {
            Some((t, _, _)) if !t.is_empty() => {
                query = format!("verb={verb}&resumptionToken={}", enc(&t))
            }
            _ => break,
        }
    }
    (ids, bodies)
}

fn validate_all(files: &[std::path::PathBuf]) {
    let Some(spec) = spec_dir() else {
        skip("the OAI-PMH schemas (../shared/spec/oai-pmh, or CAIRN_SPEC_DIR) are not there");
        return;
    };
    if !ensure_tool("xmllint", "libxml2-utils") {
        skip("xmllint is not installed (apt-get install libxml2-utils)");
        return;
    }
    let schema = spec.join("oai-pmh/oai-pmh-with-oai_dc.xsd");
    for chunk in files.chunks(200) {
        let out = Command::new("xmllint")
            .arg("--noout")
            .arg("--nonet")
            .arg("--schema")
            .arg(&schema)
            .args(chunk)
            .output()
            .expect("run xmllint");
        let report = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "responses that do not validate:\n{report}"
        );
        for f in chunk {
            assert!(
                report.contains(&format!("{} validates", f.display())),
                "{} not reported valid:\n{report}",
                f.display()
            );
        }
    }
}

fn save(dir: &Path, name: &str, body: &str, files: &mut Vec<std::path::PathBuf>) {
    let p = dir.join(format!("{:03}-{name}.xml", files.len()));
    std::fs::write(&p, body).unwrap();
    files.push(p);
}

#[test]
fn harvest_validate_and_every_error_code() {
    let tmp = tempfile::Builder::new()
        .prefix("cairn-serve-oai-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("archive");
    build_archive(&root, ITEMS);
    let register = register_titles(&root);
    assert_eq!(register.len(), ITEMS);
    let server = Server::start(&root, &[]);
    let out_dir = tmp.path().join("responses");
    std::fs::create_dir(&out_dir).unwrap();
    let mut files = Vec::new();

    // Identify, ListMetadataFormats (with and without an identifier), ListSets.
    let identify = oai(&server, "verb=Identify").text();
    assert!(identify.contains("<deletedRecord>persistent</deletedRecord>"));
    assert!(identify.contains("<granularity>YYYY-MM-DDThh:mm:ssZ</granularity>"));
    assert!(identify.contains(&format!("<baseURL>{}</baseURL>", server.url("/oai"))));
    save(&out_dir, "identify", &identify, &mut files);
    for q in [
        "verb=ListMetadataFormats".to_string(),
        format!("verb=ListMetadataFormats&identifier=oai:{REPO}:cairn-000001"),
    ] {
        let b = oai(&server, &q).text();
        assert!(b.contains("<metadataPrefix>oai_dc</metadataPrefix>"));
        save(&out_dir, "formats", &b, &mut files);
    }
    let sets = oai(&server, "verb=ListSets").text();
    let specs = all_of(&sets, "setSpec");
    let names = all_of(&sets, "setName");
    assert_eq!(specs.len(), 3, "{sets}");
    assert!(names.contains(&"ឯកសារ ទួលស្លែង".to_string()), "{names:?}");
    save(&out_dir, "sets", &sets, &mut files);

    // ListRecords and ListIdentifiers across tokens: 260 records, pages of 100.
    let (ids, pages) = page_through(
        &server,
        "ListRecords",
        "verb=ListRecords&metadataPrefix=oai_dc",
    );
    assert_eq!(pages.len(), 3);
    let want: Vec<String> = register
        .keys()
        .map(|id| format!("oai:{REPO}:{id}"))
        .collect();
    assert_eq!(ids.len(), ITEMS, "every record once");
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        ITEMS,
        "no duplicates"
    );
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        want.iter().cloned().collect::<BTreeSet<_>>()
    );
    let cursors: Vec<_> = pages.iter().map(|p| token_of(p).unwrap()).collect();
    assert_eq!(cursors[0].1, ITEMS);
    assert_eq!((cursors[0].2, cursors[1].2, cursors[2].2), (0, 100, 200));
    assert!(
        cursors[2].0.is_empty(),
        "the last page carries an empty token"
    );
    for p in &pages {
        save(&out_dir, "records", p, &mut files);
    }
    // The records are the bags' dc.xml, byte for byte.
    let all_records = pages.concat();
    for id in [
        "cairn-000001",
        "cairn-000002",
        "cairn-000003",
        "cairn-000260",
    ] {
        let xml =
            std::fs::read_to_string(root.join("archive").join(id).join("metadata/dc.xml")).unwrap();
        let element = xml[xml.find("<oai_dc:dc").unwrap()..].trim_end();
        assert!(
            all_records.contains(&format!("<metadata>\n{element}\n</metadata>")),
            "{id}'s record differs from its dc.xml"
        );
    }
    let (ids2, pages2) = page_through(
        &server,
        "ListIdentifiers",
        "verb=ListIdentifiers&metadataPrefix=oai_dc",
    );
    assert_eq!(
        ids2, ids,
        "ListIdentifiers lists what ListRecords does, in order"
    );
    for p in &pages2 {
        save(&out_dir, "identifiers", p, &mut files);
    }
    // By set: the sets partition the items that have one.
    let mut in_sets = 0;
    for spec in &specs {
        let (members, pages) = page_through(
            &server,
            "ListIdentifiers",
            &format!(
                "verb=ListIdentifiers&metadataPrefix=oai_dc&set={}",
                enc(spec)
            ),
        );
        in_sets += members.len();
        save(&out_dir, "set", &pages[0], &mut files);
    }
    assert_eq!(in_sets, (0..ITEMS).filter(|i| i % 4 != 3).count());

    // GetRecord of every kind of item: English, French, Khmer, restricted.
    for n in [1, 2, 3, 8] {
        let id = format!("oai:{REPO}:cairn-{n:06}");
        let b = oai(
            &server,
            &format!(
                "verb=GetRecord&metadataPrefix=oai_dc&identifier={}",
                enc(&id)
            ),
        )
        .text();
        assert!(b.contains(&format!("<identifier>{id}</identifier>")), "{b}");
        save(&out_dir, "getrecord", &b, &mut files);
    }
    let restricted = oai(
        &server,
        &format!("verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:{REPO}:cairn-000008"),
    )
    .text();
    assert!(
        restricted.contains("<dc:rights>restricted</dc:rights>"),
        "a restricted item is harvested, as metadata: {restricted}"
    );

    // from/until are inclusive, at both granularities.
    let first_stamp = all_of(&pages[0], "datestamp")[0].clone();
    let day = &first_stamp[..10];
    for q in [
        format!("from={first_stamp}&until={first_stamp}"),
        format!("from={day}&until={day}"),
        format!("until={first_stamp}"),
    ] {
        let b = oai(
            &server,
            &format!("verb=ListIdentifiers&metadataPrefix=oai_dc&{q}"),
        )
        .text();
        assert!(
            b.contains(&format!("<identifier>{}</identifier>", ids[0])),
            "{q}: {b}"
        );
        save(&out_dir, "window", &b, &mut files);
    }

    // Every error code, from the request that should produce it.
    let token = token_of(&pages[0]).unwrap().0;
    let id_token = token_of(&pages2[0]).unwrap().0;
    let forged = {
        let (body, mac) = token.rsplit_once('.').unwrap();
        let mut b = body.to_string();
        let last = b.pop().unwrap();
        b.push(if last == 'A' { 'B' } else { 'A' });
        format!("{b}.{mac}")
    };
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "badVerb"),
        ("verb=Nonsense".into(), "badVerb"),
        ("verb=identify".into(), "badVerb"),
        ("verb=Identify&verb=Identify".into(), "badVerb"),
        ("verb=Identify&verb=ListSets".into(), "badVerb"),
        ("verb=Identify&set=x".into(), "badArgument"),
        ("verb=ListRecords".into(), "badArgument"),
        ("verb=ListIdentifiers&from=2020-01-01".into(), "badArgument"),
        (
            format!("verb=GetRecord&identifier=oai:{REPO}:cairn-000001"),
            "badArgument",
        ),
        ("verb=GetRecord&metadataPrefix=oai_dc".into(), "badArgument"),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc".into(),
            "badArgument",
        ),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2020-01-01&until=2021-01-01T00:00:00Z"
                .into(),
            "badArgument",
        ),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2020-13-01".into(),
            "badArgument",
        ),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2020-01-01T00:00:00".into(),
            "badArgument",
        ),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2021-01-01&until=2020-01-01".into(),
            "badArgument",
        ),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&set=a%20b".into(),
            "badArgument",
        ),
        (
            format!(
                "verb=ListRecords&metadataPrefix=oai_dc&resumptionToken={}",
                enc(&token)
            ),
            "badArgument",
        ),
        (
            "verb=ListRecords&metadataPrefix=%3Cx%3E".into(),
            "badArgument",
        ),
        (
            "verb=GetRecord&metadataPrefix=oai_dc&identifier=a%20b".into(),
            "badArgument",
        ),
        ("verb=ListSets&foo=bar".into(), "badArgument"),
        (
            "verb=ListRecords&metadataPrefix=marc21".into(),
            "cannotDisseminateFormat",
        ),
        (
            "verb=ListIdentifiers&metadataPrefix=oai_ead".into(),
            "cannotDisseminateFormat",
        ),
        (
            format!("verb=GetRecord&metadataPrefix=marc21&identifier=oai:{REPO}:cairn-000001"),
            "cannotDisseminateFormat",
        ),
        (
            format!("verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:{REPO}:cairn-999999"),
            "idDoesNotExist",
        ),
        (
            "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:elsewhere.org:cairn-000001".into(),
            "idDoesNotExist",
        ),
        (
            "verb=GetRecord&metadataPrefix=oai_dc&identifier=..%2F..%2Fetc%2Fpasswd".into(),
            "idDoesNotExist",
        ),
        (
            format!("verb=ListMetadataFormats&identifier=oai:{REPO}:..%2Fcairn-000001"),
            "idDoesNotExist",
        ),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2000-01-01&until=2000-12-31".into(),
            "noRecordsMatch",
        ),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2999-01-01T00:00:00Z".into(),
            "noRecordsMatch",
        ),
        (
            "verb=ListIdentifiers&metadataPrefix=oai_dc&set=no-such-set".into(),
            "noRecordsMatch",
        ),
        (
            format!("verb=ListRecords&resumptionToken={}", enc(&forged)),
            "badResumptionToken",
        ),
        (
            format!("verb=ListRecords&resumptionToken={}", enc(&id_token)),
            "badResumptionToken",
        ),
        (
            "verb=ListIdentifiers&resumptionToken=..%2F..%2Fetc%2Fpasswd".into(),
            "badResumptionToken",
        ),
        (
            format!("verb=ListRecords&resumptionToken={}", "A".repeat(5000)),
            "badResumptionToken",
        ),
        (
            "verb=ListSets&resumptionToken=anything".into(),
            "badResumptionToken",
        ),
    ];
    let mut seen = BTreeSet::new();
    for (q, code) in &cases {
        let r = oai(&server, q);
        let body = r.text();
        assert_eq!(r.oai_error().as_deref(), Some(*code), "{q}:\n{body}");
        if matches!(*code, "badVerb" | "badArgument") {
            assert!(
                body.contains(&format!("<request>{}</request>", server.url("/oai"))),
                "{q}: after {code} the request element has no attributes:\n{body}"
            );
        }
        seen.insert(*code);
        save(&out_dir, code, &body, &mut files);
    }

    // noSetHierarchy needs an archive without sets: the S-21 samples name none.
    let plain = tmp.path().join("plain");
    let out = common::cairn().arg("init").arg(&plain).output().unwrap();
    assert!(out.status.success());
    common::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/s21"),
        &plain.join("intake"),
    );
    cairn(&plain, &["ingest", "--quiet"], 0);
    let plain_server = Server::start(&plain, &[]);
    for q in [
        "verb=ListSets",
        "verb=ListIdentifiers&metadataPrefix=oai_dc&set=anything",
        "verb=ListRecords&metadataPrefix=oai_dc&set=a:b",
    ] {
        let r = oai(&plain_server, q);
        assert_eq!(r.oai_error().as_deref(), Some("noSetHierarchy"), "{q}");
        seen.insert("noSetHierarchy");
        save(&out_dir, "nosets", &r.text(), &mut files);
    }
    let khmer = oai(&plain_server, "verb=ListRecords&metadataPrefix=oai_dc").text();
    assert!(khmer.contains("ទួលស្លែង"), "Khmer survives harvesting");
    save(&out_dir, "samples", &khmer, &mut files);
    assert_eq!(seen.len(), 7, "every error code was produced: {seen:?}");

    // POST gives what GET gives; anything but a form body is refused.
    let get = oai(&server, "verb=ListIdentifiers&metadataPrefix=oai_dc").text();
    let post = request(
        server.addr,
        "POST",
        "/oai",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"verb=ListIdentifiers&metadataPrefix=oai_dc",
    );
    assert_eq!(post.status, 200);
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("<responseDate>") && !l.starts_with("<resumptionToken"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&post.text()), strip(&get));
    save(&out_dir, "post", &post.text(), &mut files);
    let post_err = request(
        server.addr,
        "POST",
        "/oai",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"verb=GetRecord&metadataPrefix=oai_dc",
    );
    assert_eq!(post_err.oai_error().as_deref(), Some("badArgument"));
    let wrong = request(
        server.addr,
        "POST",
        "/oai",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(wrong.status, 415);

    // Every response above validates against the OAI-PMH and oai_dc schemas.
    validate_all(&files);

    // A harvester: Sickle follows the tokens and gets every record, titled as the
    // register says, by GET and by POST.
    if !ensure_python_module("sickle", "sickle") {
        skip("Sickle is not installed and pip could not install it (pip install sickle)");
    } else {
        for method in ["GET", "POST"] {
            let out = Command::new("python3")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sickle_harvest.py"))
                .arg(server.url("/oai"))
                .arg(method)
                .output()
                .expect("run the Sickle harvest");
            assert!(
                out.status.success(),
                "Sickle failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
            let records = got["records"].as_array().unwrap();
            assert_eq!(
                records.len(),
                ITEMS,
                "{method}: Sickle harvested every record"
            );
            let titles: BTreeMap<String, String> = records
                .iter()
                .map(|r| {
                    (
                        r["identifier"].as_str().unwrap().to_string(),
                        r["title"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let expected: BTreeMap<String, String> = register
                .iter()
                .map(|(id, t)| (format!("oai:{REPO}:{id}"), t.clone()))
                .collect();
            assert_eq!(titles, expected, "{method}: titles equal the register's");
            assert_eq!(got["identifiers"].as_array().unwrap().len(), ITEMS);
            assert_eq!(got["sets"].as_array().unwrap().len(), 3);
            let by_set: usize = got["by_set"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_array().unwrap().len())
                .sum();
            assert_eq!(by_set, in_sets);
            assert_eq!(got["formats"], serde_json::json!(["oai_dc"]));
        }
    }

    // A token stays valid while items are added: start a harvest, ingest three more
    // items, finish it: every old record exactly once, the new ones at the end.
    let first = oai(&server, "verb=ListIdentifiers&metadataPrefix=oai_dc").text();
    let mut harvested = all_of(&first, "identifier");
    let (mut tok, _, _) = token_of(&first).unwrap();
    add_items(&root, ITEMS..ITEMS + 3);
    let mut last_size = 0;
    while !tok.is_empty() {
        let b = oai(
            &server,
            &format!("verb=ListIdentifiers&resumptionToken={}", enc(&tok)),
        )
        .text();
        harvested.extend(all_of(&b, "identifier"));
        let (t, size, _) = token_of(&b).unwrap();
        tok = t;
        last_size = size;
    }
    assert_eq!(
        last_size,
        ITEMS + 3,
        "completeListSize counts the new items"
    );
    assert_eq!(harvested.len(), ITEMS + 3);
    assert_eq!(harvested.iter().collect::<BTreeSet<_>>().len(), ITEMS + 3);
    assert_eq!(
        harvested[..ITEMS],
        ids[..],
        "the old records, in their order"
    );
}
