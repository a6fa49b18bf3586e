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

/// The snapshot keeps no file records: a file request reads the register entry again
/// each time, so an entry rewritten in place (same file, so no new inode for the
/// snapshot to notice) is obeyed at once: here it made the item restricted.
#[test]
fn file_requests_read_the_register_entry_each_time() {
    let tmp = tempfile::Builder::new()
        .prefix("cairn-serve-records-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("archive");
    build_archive(&root, 2);
    let server = Server::start(&root, &["--serve-files"]);
    let id = "cairn-000001";
    assert_eq!(server.get(&format!("/items/{id}/files/0")).status, 200);
    let list = server.get("/items").text();
    assert!(list.contains(id), "{list}");

    let entry_path = root.join("manifests").join(format!("{id}.json"));
    let mut entry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&entry_path).unwrap()).unwrap();
    entry["dublin_core"]["dcterms.accessRights"] = serde_json::json!("restricted");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&entry_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&entry_path, serde_json::to_vec_pretty(&entry).unwrap()).unwrap();

    let refused = server.get(&format!("/items/{id}/files/0"));
    assert_eq!(refused.status, 403, "{}", refused.text());
    let page = server.get(&format!("/items/{id}"));
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Restricted:"), "{}", page.text());
}
