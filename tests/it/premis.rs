//! `cairn show ID --premis` validates against the PREMIS 3.0 schema
//! (../shared/spec/premis-v3.0.xsd, or CAIRN_SPEC_DIR; xmllint from Debian's
//! libxml2-utils, installed when missing) for an item with an amendment, a revision and
//! fixity checks, and for one amended and withdrawn, and says what happened with the Library of Congress vocabularies.

use crate::common;
use crate::common::serve;
use crate::life;

use std::path::{Path, PathBuf};
use std::process::Command;

use life::{expect, make_archive};

fn schema() -> Option<PathBuf> {
    let xsd = crate::common::serve::spec_root().join("premis-v3.0.xsd");
    xsd.is_file().then_some(xsd)
}

fn xmllint(xsd: &Path, doc: &Path) {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(xsd)
        .arg(doc)
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success(),
        "{} does not validate:\n{}",
        doc.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn show_premis_validates_for_an_amended_checked_and_withdrawn_item() {
    let tmp = common::fresh_dir("premis");
    let root = tmp.path().join("arch");
    make_archive(&root, 3);
    expect(&root, ["fixity", "--all"], 0);
    expect(
        &root,
        [
            "amend",
            "cairn-000001",
            "--set",
            "dc.date=1977-03",
            "--reason",
            "stamp <read> & checked",
        ],
        0,
    );
    expect(&root, ["fixity", "--all"], 0);
    // A revision: the current pages and one more.
    let new = tmp.path().join("new");
    std::fs::create_dir(&new).expect("mkdir");
    for e in walkdir::WalkDir::new(root.join("archive/cairn-000001/data")).min_depth(1) {
        let e = e.expect("walk");
        let rel = e
            .path()
            .strip_prefix(root.join("archive/cairn-000001/data"))
            .expect("under data");
        if e.file_type().is_dir() {
            std::fs::create_dir_all(new.join(rel)).expect("mkdir");
        } else {
            std::fs::copy(e.path(), new.join(rel)).expect("copy");
        }
    }
    std::fs::write(
        new.join("part-0/page-0100.txt"),
        "Sample: a forgotten page\n",
    )
    .expect("page");
    expect(
        &root,
        [
            "revise".as_ref(),
            "cairn-000001".as_ref(),
            "--from".as_ref(),
            new.as_os_str(),
            "--reason".as_ref(),
            "a forgotten page".as_ref(),
        ],
        0,
    );
    expect(
        &root,
        [
            "amend",
            "cairn-000002",
            "--set",
            "dc.subject=Tuol Sleng",
            "--reason",
            "subject",
        ],
        0,
    );
    expect(
        &root,
        [
            "withdraw",
            "cairn-000002",
            "--reason",
            "the donor withdrew it",
        ],
        0,
    );

    let amended = expect(&root, ["show", "cairn-000001", "--premis"], 0).stdout;
    let withdrawn = expect(&root, ["show", "cairn-000002", "--premis"], 0).stdout;
    for (doc, kinds) in [
        (
            &amended,
            &["ing", "mes", "val", "for", "fix", "mem", "mod"][..],
        ),
        (&withdrawn, &["ing", "mem", "dea"][..]),
    ] {
        assert!(
            doc.contains("xsi:type=\"premis:intellectualEntity\""),
            "{doc}"
        );
        assert!(doc.contains("xsi:type=\"premis:file\""), "{doc}");
        for code in kinds {
            assert!(
                doc.contains(&format!(
                    "valueURI=\"http://id.loc.gov/vocabulary/preservation/eventType/{code}\""
                )),
                "event type {code} missing:\n{doc}"
            );
        }
        assert!(
            doc.contains("cryptographicHashFunctions/sha512\">SHA-512<"),
            "{doc}"
        );
        assert!(
            doc.contains("<premis:agentName>Cairn</premis:agentName>"),
            "{doc}"
        );
        assert!(
            doc.contains("agentType/per\">person<"),
            "the operator: {doc}"
        );
        assert!(doc.contains("test-archivist"), "{doc}");
    }
    assert!(
        amended.contains("stamp &lt;read&gt; &amp; checked"),
        "{amended}"
    );
    assert!(withdrawn.contains("withdrawn "), "{withdrawn}");

    let Some(xsd) = schema() else {
        serve::skip("the PREMIS 3.0 schema (../shared/spec/premis-v3.0.xsd, or CAIRN_SPEC_DIR) is not there");
        return;
    };
    if !serve::ensure_tool("xmllint", "libxml2-utils") {
        serve::skip("xmllint is not installed (apt-get install libxml2-utils)");
        return;
    }
    for (name, doc) in [("amended", &amended), ("withdrawn", &withdrawn)] {
        let path = tmp.path().join(format!("{name}.xml"));
        std::fs::write(&path, doc).expect("write");
        xmllint(&xsd, &path);
    }
}
