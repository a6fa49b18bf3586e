//! OAI-PMH deleted records: withdrawn items (`cairn withdraw`) are answered as
//! `status="deleted"` headers, datestamped when they were withdrawn, in every list
//! (merged into the datestamp order across resumption tokens) and by GetRecord;
//! Identify declares `deletedRecord` `persistent`. Every response validates against the
//! OAI-PMH schema (xmllint).

use crate::common;
use crate::common::serve;

use std::path::Path;
use std::process::Command;

use serve::*;

fn oai(server: &Server, query: &str) -> String {
    let r = server.get(&format!("/oai?{query}"));
    assert_eq!(r.status, 200, "{query}: HTTP {}", r.status);
    r.text()
}

/// Each `<header ...>` element's (deleted?, identifier), in order.
fn headers(xml: &str) -> Vec<(bool, String)> {
    xml.match_indices("<header")
        .map(|(at, _)| {
            let rest = &xml[at..];
            let deleted = rest[..rest.find('>').expect("header")].contains("status=\"deleted\"");
            let i = rest.find("<identifier>").expect("identifier") + "<identifier>".len();
            let id = rest[i..i + rest[i..].find("</identifier>").expect("closed")].to_string();
            (deleted, id)
        })
        .collect()
}

fn token(xml: &str) -> Option<String> {
    let at = xml.find("<resumptionToken ")?;
    let el = &xml[at..];
    let end = el.find('>').expect(">");
    if el[..end].ends_with('/') {
        return None;
    }
    Some(el[end + 1..el.find("</resumptionToken>").expect("closed")].to_string())
}

fn set_page_size(root: &Path, n: u32) {
    let path = root.join("cairn.toml");
    let text = std::fs::read_to_string(&path).expect("cairn.toml");
    assert!(
        text.contains("\npage_size = 100\n"),
        "the template's page_size"
    );
    let text = text.replacen("\npage_size = 100\n", &format!("\npage_size = {n}\n"), 1);
    std::fs::write(&path, text).expect("write cairn.toml");
}

#[test]
fn withdrawn_items_are_deleted_records() {
    let tmp = common::fresh_dir("serve-deleted");
    let root = tmp.path().join("archive");
    build_archive(&root, 7);
    let ids: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&cairn(&root, &["list", "--json"], 0))
            .expect("list JSON")
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["id"].as_str().expect("id").to_string())
            .collect();
    assert_eq!(ids.len(), 7);
    for id in [&ids[1], &ids[4]] {
        cairn(
            &root,
            &[
                "withdraw",
                id,
                "--reason",
                "the donor withdrew it",
                "--quiet",
            ],
            0,
        );
    }
    set_page_size(&root, 3);
    let server = Server::start(&root, &[]);
    let out_dir = tmp.path().join("responses");
    std::fs::create_dir(&out_dir).expect("mkdir");
    let mut files = Vec::new();
    let mut save = |name: &str, body: &str| {
        let p = out_dir.join(format!("{:03}-{name}.xml", files.len()));
        std::fs::write(&p, body).expect("save");
        files.push(p);
    };

    let identify = oai(&server, "verb=Identify");
    assert!(
        identify.contains("<deletedRecord>persistent</deletedRecord>"),
        "{identify}"
    );
    save("identify", &identify);

    for verb in ["ListIdentifiers", "ListRecords"] {
        let mut seen = Vec::new();
        let mut body = oai(&server, &format!("verb={verb}&metadataPrefix=oai_dc"));
        loop {
            save(verb, &body);
            seen.extend(headers(&body));
            match token(&body) {
                Some(t) => body = oai(&server, &format!("verb={verb}&resumptionToken={}", enc(&t))),
                None => break,
            }
        }
        assert_eq!(seen.len(), 7, "{verb}: every record once: {seen:?}");
        let deleted: Vec<&String> = seen.iter().filter(|(d, _)| *d).map(|(_, i)| i).collect();
        assert_eq!(deleted.len(), 2, "{verb}: {seen:?}");
        assert!(deleted[0].ends_with(&ids[1]) && deleted[1].ends_with(&ids[4]));
    }

    let gone = format!("oai:cairn.invalid:{}", ids[1]);
    let rec = oai(
        &server,
        &format!(
            "verb=GetRecord&metadataPrefix=oai_dc&identifier={}",
            enc(&gone)
        ),
    );
    assert!(rec.contains("<header status=\"deleted\">"), "{rec}");
    assert!(!rec.contains("<metadata>"), "{rec}");
    save("getrecord-deleted", &rec);
    let kept = format!("oai:cairn.invalid:{}", ids[0]);
    let rec = oai(
        &server,
        &format!(
            "verb=GetRecord&metadataPrefix=oai_dc&identifier={}",
            enc(&kept)
        ),
    );
    assert!(rec.contains("<metadata>"), "{rec}");

    let Some(spec) = spec_dir() else {
        skip("the OAI-PMH schemas (../shared/spec/oai-pmh, or CAIRN_SPEC_DIR) are not there");
        return;
    };
    if !ensure_tool("xmllint", "libxml2-utils") {
        skip("xmllint is not installed (apt-get install libxml2-utils)");
        return;
    }
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(spec.join("oai-pmh/oai-pmh-with-oai_dc.xsd"))
        .args(&files)
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success(),
        "responses that do not validate:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
