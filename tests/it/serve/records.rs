//! `cairn serve` holds no item's oai_dc record in memory (issue 33: per item only what
//! a page needs): GetRecord and ListRecords read the bag's metadata/dc.xml when they
//! answer, so what they serve is the file as it is now, and a record whose file is
//! gone is rendered from the register.

use crate::common::serve;

use serve::*;

const REPO: &str = "cairn.invalid";

fn get_record(server: &Server, id: &str) -> String {
    let r = server.get(&format!(
        "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:{REPO}:{id}"
    ));
    assert_eq!(r.status, 200, "GetRecord {id}");
    r.text()
}

#[test]
fn records_are_read_from_the_bag_when_asked() {
    let tmp = tempfile::Builder::new()
        .prefix("cairn-serve-records-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("archive");
    build_archive(&root, 3);
    let server = Server::start(&root, &[]);
    let id = "cairn-000001";
    let before = get_record(&server, id);
    let dc_xml = root.join("archive").join(id).join("metadata/dc.xml");
    let text = std::fs::read_to_string(&dc_xml).unwrap();
    let title = gen_item(0).title;
    assert!(
        before.contains(&format!("<dc:title>{title}</dc:title>")),
        "{before}"
    );

    // The file rewritten in place after start-up: no folder, entry or log changes, so
    // the snapshot is not rebuilt; the answer is the file as it is now.
    let marked = text.replace(&title, "Marked after start-up");
    assert_ne!(marked, text);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dc_xml, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&dc_xml, &marked).unwrap();
    let after = get_record(&server, id);
    assert!(
        after.contains("<dc:title>Marked after start-up</dc:title>"),
        "GetRecord answers from the file on disk: {after}"
    );
    let list = server
        .get("/oai?verb=ListRecords&metadataPrefix=oai_dc")
        .text();
    assert!(
        list.contains("<dc:title>Marked after start-up</dc:title>"),
        "{list}"
    );
    assert_eq!(
        after.replace("Marked after start-up", &title),
        before,
        "only the record's bytes changed"
    );

    // The file gone: the record is rendered from the register's Dublin Core.
    std::fs::remove_file(&dc_xml).unwrap();
    let rendered = get_record(&server, id);
    assert!(
        rendered.contains(&format!("<dc:title>{title}</dc:title>")),
        "{rendered}"
    );
}
