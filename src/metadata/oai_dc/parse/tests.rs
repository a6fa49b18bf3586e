//! Tests of [`super::parse_oai_dc`]: round trips through [`crate::metadata::render_oai_dc`],
//! and every kind of problem with where it is.

use super::*;
use crate::metadata::dublin_core::Element;
use crate::metadata::oai_dc::{render_oai_dc, FOOTER, HEADER};
use crate::metadata::parse_sheet;

fn t(name: &str) -> Term {
    Term::parse(name).expect("known term")
}

// ---- parse_oai_dc ----

/// What oai_dc can say about a record: each value as its DCMES parent, values with no
/// parent dropped, grouped in DCMES order.
fn dumbed_down(record: &DublinCore) -> DublinCore {
    let mut out = DublinCore::new();
    for element in Element::ALL {
        for (term, value) in &record.entries {
            if term.dumb_down() == Some(element) {
                out.push(element.term(), value.clone());
            }
        }
    }
    out
}

fn pairs(record: &DublinCore) -> Vec<(&'static str, &str)> {
    record
        .entries
        .iter()
        .map(|(t, v)| (t.name(), v.as_str()))
        .collect()
}

fn problems(doc: &str) -> Vec<OaiDcProblem> {
    match parse_oai_dc(doc) {
        Ok(record) => panic!("expected problems, got {record:?}\n{doc}"),
        Err(e) => {
            assert!(!e.problems.is_empty());
            e.problems
        }
    }
}

fn only_problem(doc: &str) -> OaiDcProblem {
    let mut all = problems(doc);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

fn malformed(doc: &str) -> (OaiDcProblem, String) {
    let p = problems(doc).pop().expect("a problem");
    match &p.kind {
        OaiDcProblemKind::Malformed { message } => {
            let message = message.clone();
            (p, message)
        }
        other => panic!("expected Malformed, got {other:?}\n{doc}"),
    }
}

/// A document with Cairn's header around `body`.
fn doc(body: &str) -> String {
    format!("{HEADER}{body}{FOOTER}")
}

#[test]
fn round_trip_all_fifteen_elements() {
    let khmer = "ទួលស្លែង"; // has the coeng U+17D2
    assert!(khmer.contains('\u{17D2}'));
    let nfd = "Proce\u{300}s-verbal, Ba\u{301}n";
    let mut r = DublinCore::new();
    let values = [
        ("dc.title", format!("Sample: {khmer}")),
        ("dc.title", nfd.to_string()),
        ("dc.creator", "Fish & Chips <Ltd>".to_string()),
        ("dc.subject", khmer.to_string()),
        ("dc.subject", "Prisons".to_string()),
        ("dc.subject", "a < b && c > d".to_string()),
        (
            "dc.description",
            r#"He said "hi" and 'bye' ]]> &amp; <![CDATA[x]]>"#.into(),
        ),
        (
            "dc.description",
            "line one\nline two\r\nthree\tcols".to_string(),
        ),
        (
            "dc.publisher",
            "Documentation Center of Cambodia".to_string(),
        ),
        ("dc.contributor", "Ünïcödé (NFC)".to_string()),
        ("dc.date", "1977-03-01".to_string()),
        ("dc.type", "Text".to_string()),
        ("dc.format", "image/tiff".to_string()),
        (
            "dc.identifier",
            "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427".into(),
        ),
        ("dc.source", "Box 3 / folder 7".to_string()),
        ("dc.language", "km".to_string()),
        ("dc.relation", "S-21 collection".to_string()),
        ("dc.coverage", format!("{khmer}, {nfd}")),
        ("dc.rights", "© DC-Cam; CC BY 4.0".to_string()),
    ];
    for (term, value) in &values {
        r.push(t(term), value.as_str());
    }
    let xml = render_oai_dc(&r);
    let back = parse_oai_dc(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(back, r);
    // Byte for byte: the NFD sequence is still two code points, Khmer untouched.
    assert_eq!(back.entries[1].1.as_bytes(), nfd.as_bytes());
    assert_eq!(back.values(t("dc.subject"))[0].as_bytes(), khmer.as_bytes());
    assert_eq!(back.len(), values.len());
}

#[test]
fn dcterms_come_back_dumbed_down() {
    // oai_dc has only the 15 elements: dcterms values come back as their DCMES
    // parent, grouped in DCMES order; terms with no parent are not in the XML at all.
    let mut r = DublinCore::new();
    r.push(t("dc.rights"), "CC0");
    r.push(t("dcterms.spatial"), "Phnom Penh");
    r.push(t("dc.date"), "1977");
    r.push(t("dcterms.audience"), "researchers");
    r.push(t("dcterms.created"), "1976");
    r.push(t("dc.title"), "T");
    r.push(t("dcterms.alternative"), "Alt");
    r.push(t("dcterms.rightsHolder"), "DC-Cam");
    r.push(t("dcterms.provenance"), "Donated");
    let back = parse_oai_dc(&render_oai_dc(&r)).expect("parses");
    assert_eq!(
        pairs(&back),
        [
            ("dc.title", "T"),
            ("dc.title", "Alt"),
            ("dc.date", "1977"),
            ("dc.date", "1976"),
            ("dc.coverage", "Phnom Penh"),
            ("dc.rights", "CC0"),
            ("dc.rights", "DC-Cam"),
        ]
    );
    assert_eq!(back, dumbed_down(&r));
    // Dumbing down is idempotent, so a second round trip changes nothing.
    assert_eq!(parse_oai_dc(&render_oai_dc(&back)), Ok(back));
}

#[test]
fn sample_sheet_round_trips_dumbed_down() {
    let sheet =
        parse_sheet(include_bytes!("../../../../samples/s21/metadata.csv")).expect("parses");
    assert!(!sheet.rows.is_empty());
    for row in &sheet.rows {
        let xml = render_oai_dc(&row.record);
        let back = parse_oai_dc(&xml).unwrap_or_else(|e| panic!("{}: {e}", row.item));
        assert_eq!(back, dumbed_down(&row.record), "{}", row.item);
    }
}

#[test]
fn empty_record_round_trips() {
    assert_eq!(
        parse_oai_dc(&render_oai_dc(&DublinCore::new())),
        Ok(DublinCore::new())
    );
    let bare = format!("<o:dc xmlns:o=\"{OAI_DC_NAMESPACE}\"/>");
    assert_eq!(parse_oai_dc(&bare), Ok(DublinCore::new()));
}

#[test]
fn namespaces_are_resolved_not_prefixes() {
    let xml = r#"<?xml version="1.0"?>
<record:dc xmlns:record="http://www.openarchives.org/OAI/2.0/oai_dc/"
       xmlns:x="http://purl.org/dc/elements/1.1/"
       xmlns:t="http://purl.org/dc/terms/"
       xmlns:dc="http://example.org/not-dublin-core/">
  <x:title>Prefixed x</x:title>
  <dc:title>Ignored: dc here is not Dublin Core</dc:title>
  <t:spatial>Phnom Penh</t:spatial>
  <title xmlns="http://purl.org/dc/elements/1.1/">Default namespace</title>
  <t:isPartOf>S-21 collection</t:isPartOf>
  <x:subject>one</x:subject>
  <x:subject>two</x:subject>
</record:dc>
"#;
    let r = parse_oai_dc(xml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        pairs(&r),
        [
            ("dc.title", "Prefixed x"),
            ("dcterms.spatial", "Phnom Penh"),
            ("dc.title", "Default namespace"),
            ("dcterms.isPartOf", "S-21 collection"),
            ("dc.subject", "one"),
            ("dc.subject", "two"),
        ]
    );

    // The whole document in default namespaces, redeclared per element.
    let xml = concat!(
        r#"<dc xmlns="http://www.openarchives.org/OAI/2.0/oai_dc/">"#,
        r#"<creator xmlns="http://purl.org/dc/elements/1.1/">C</creator>"#,
        r#"<created xmlns="http://purl.org/dc/terms/">1976</created>"#,
        r#"</dc>"#
    );
    assert_eq!(
        pairs(&parse_oai_dc(xml).expect("parses")),
        [("dc.creator", "C"), ("dcterms.created", "1976")]
    );
}

#[test]
fn text_is_decoded_and_trimmed_only_at_the_ends() {
    let body = concat!(
        "  <dc:title>\n    Fish &amp; Chips &lt;&gt; &quot;&apos; &#x17D2;&#6098; &#233;  \n  </dc:title>\n",
        "  <dc:subject><![CDATA[<b>bold</b> & raw]]></dc:subject>\n",
        "  <dc:subject>a<!-- comment -->b<?pi ignored?>c</dc:subject>\n",
        "  <dc:description>  inner   spaces\tkept  </dc:description>\n",
        "  <dc:description>crlf\r\nbecomes lf, &#13;&#10; stays</dc:description>\n",
        "  <dc:title/>\n",
        "  <dc:creator>   </dc:creator>\n",
        "  <dc:creator><![CDATA[  ]]></dc:creator>\n",
        "  <dc:language xml:lang=\"en\" xsi:type=\"dcterms:ISO639-2\">khm</dc:language>\n",
    );
    let r = parse_oai_dc(&doc(body)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        pairs(&r),
        [
            ("dc.title", "Fish & Chips <> \"' \u{17D2}\u{17D2} é"),
            ("dc.subject", "<b>bold</b> & raw"),
            ("dc.subject", "abc"),
            ("dc.description", "inner   spaces\tkept"),
            ("dc.description", "crlf\nbecomes lf, \r\n stays"),
            ("dc.language", "khm"),
        ]
    );
}

#[test]
fn foreign_elements_are_skipped_whole() {
    let body = concat!(
        "<dc:title>Kept</dc:title>",
        "<extra xmlns=\"http://example.org/\"><dc:title>inside a foreign element</dc:title>",
        "<deeper><x/></deeper>text</extra>",
        "<unqualified>no namespace</unqualified>",
        "<oai_dc:dc>nested root-namespace element</oai_dc:dc>",
        "<dc:date>1977</dc:date>",
    );
    let r = parse_oai_dc(&doc(body)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pairs(&r), [("dc.title", "Kept"), ("dc.date", "1977")]);
}

#[test]
fn byte_order_mark_doctype_and_prolog_comments_accepted() {
    let xml = format!(
        "\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- written by hand -->\n\
         <!DOCTYPE oai_dc:dc>\n{}\n<!-- after -->\n",
        doc("<dc:title>T</dc:title>")
            .trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
    );
    assert_eq!(
        pairs(&parse_oai_dc(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))),
        [("dc.title", "T")]
    );
}

#[test]
fn wrong_root_is_named() {
    let p = only_problem(
        "<metadata><dc:title xmlns:dc=\"http://purl.org/dc/elements/1.1/\">T</dc:title></metadata>",
    );
    assert_eq!(
        p.kind,
        OaiDcProblemKind::WrongRoot {
            name: "metadata".into(),
            namespace: None
        }
    );
    assert!(p.to_string().contains("<metadata> (no namespace)"), "{p}");
    assert!(p.to_string().contains("expected <oai_dc:dc>"), "{p}");

    // The right local name in the wrong namespace, and the wrong name in the right one.
    let p = only_problem("<dc:dc xmlns:dc=\"http://purl.org/dc/elements/1.1/\"/>");
    assert_eq!(
        p.kind,
        OaiDcProblemKind::WrongRoot {
            name: "dc:dc".into(),
            namespace: Some("http://purl.org/dc/elements/1.1/".into())
        }
    );
    let p = only_problem(&format!(
        "<oai_dc:record xmlns:oai_dc=\"{OAI_DC_NAMESPACE}\"/>"
    ));
    assert!(matches!(&p.kind, OaiDcProblemKind::WrongRoot { name, .. } if name == "oai_dc:record"));
    // An OAI-PMH envelope is not a dc.xml either.
    let p = only_problem(
        "<OAI-PMH xmlns=\"http://www.openarchives.org/OAI/2.0/\"><GetRecord/></OAI-PMH>",
    );
    assert!(
        p.to_string()
            .contains("<OAI-PMH> (namespace http://www.openarchives.org/OAI/2.0/)"),
        "{p}"
    );
}

#[test]
fn unknown_dc_elements_are_named_with_a_suggestion() {
    let body = concat!(
        "\n  <dc:titel>Misspelt</dc:titel>",
        "\n  <dc:spatial>Wrong namespace</dc:spatial>",
        "\n  <dc:Title>Wrong case</dc:Title>",
        "\n  <dc:shelfmark>No idea</dc:shelfmark>",
        "\n  <t:isPartof xmlns:t=\"http://purl.org/dc/terms/\">x</t:isPartof>",
        "\n  <dc:title>Fine</dc:title>",
        "\n  <dc:bogus/>\n",
    );
    let all = problems(&doc(body));
    let got: Vec<(&str, Option<&str>, usize)> = all
        .iter()
        .map(|p| match &p.kind {
            OaiDcProblemKind::UnknownElement {
                name, suggestion, ..
            } => (name.as_str(), *suggestion, p.line),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        got,
        [
            ("dc:titel", Some("dc.title"), 4),
            ("dc:spatial", Some("dcterms.spatial"), 5),
            ("dc:Title", Some("dc.title"), 6),
            ("dc:shelfmark", None, 7),
            ("t:isPartof", Some("dcterms.isPartOf"), 8),
            ("dc:bogus", None, 10),
        ]
    );
    let message = all[0].to_string();
    assert!(message.starts_with("line 4, column 3 (byte "), "{message}");
    assert!(
        message.contains(
            "<dc:titel> is not a Dublin Core element: \
             http://purl.org/dc/elements/1.1/titel is not in the vocabulary; \
             did you mean dc.title?"
        ),
        "{message}"
    );
    assert!(!all[3].to_string().contains("did you mean"), "{}", all[3]);
    let whole = OaiDcError { problems: all }.to_string();
    assert!(
        whole.starts_with("not a usable oai_dc record:\n  line 4"),
        "{whole}"
    );
}

#[test]
fn nested_elements_and_stray_text_are_refused() {
    let body = concat!(
        "<dc:title>Before</dc:title>\n",
        "<dc:description>Some <i>italic</i> and <b>bold</b></dc:description>\n",
        "<dc:subject><dc:subject>nested</dc:subject></dc:subject>\n",
        "A value with &amp; no element\n",
        "<dc:date>1977</dc:date>\n",
    );
    let all = problems(&doc(body));
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(
        all[0].kind,
        OaiDcProblemKind::NestedElement {
            element: "dc:description".into(),
            child: "i".into()
        }
    );
    assert_eq!((all[0].line, all[0].column), (4, 22));
    assert!(
        all[0].to_string().contains(
            "<dc:description> contains the element <i>; a Dublin Core value must be text only"
        ),
        "{}",
        all[0]
    );
    assert_eq!(
        all[1].kind,
        OaiDcProblemKind::NestedElement {
            element: "dc:subject".into(),
            child: "dc:subject".into()
        }
    );
    assert_eq!(
        all[2].kind,
        OaiDcProblemKind::StrayText {
            text: "A value with & no element".into()
        }
    );
    assert_eq!((all[2].line, all[2].column), (6, 1));

    // Long stray text is cut in the report.
    let long = "x".repeat(100);
    let p = only_problem(&doc(&long));
    assert_eq!(
        p.kind,
        OaiDcProblemKind::StrayText {
            text: format!("{}…", "x".repeat(40))
        }
    );
}

#[test]
fn malformed_xml_reports_where() {
    // Mismatched end tag, on line 3.
    let (p, m) = malformed(&doc("<dc:title>T</dc:titel>\n"));
    assert_eq!((p.line, p.column), (3, 12), "{p}");
    assert_eq!(p.offset, HEADER.len() + 11);
    assert!(m.contains("dc:title") && m.contains("dc:titel"), "{m}");
    assert!(p.to_string().starts_with("line 3, column 12 (byte "), "{p}");
    assert!(p.to_string().contains("not well-formed XML"), "{p}");

    let cases: &[(&str, &str)] = &[
        ("<dc:title>Fish & Chips</dc:title>", "not closed"),
        ("<dc:title>&nbsp;</dc:title>", "&nbsp; is not defined"),
        ("<dc:title>&#1;</dc:title>", "U+0001"),
        ("<dc:title>&#xD800;</dc:title>", "&#xD800;"),
        ("<dc:title>\u{1}</dc:title>", "U+0001"),
        ("<dc:title><![CDATA[\u{B}]]></dc:title>", "U+000B"),
        (
            "<x:title>T</x:title>",
            "prefix `x` of <x:title> is not declared",
        ),
        ("<dc:title a=1>T</dc:title>", "attributes of <dc:title>"),
        (
            "<dc:title a=\"1\" a=\"2\">T</dc:title>",
            "attributes of <dc:title>",
        ),
        (
            "<dc:title>T</dc:title><?xml version=\"1.0\"?>",
            "only allowed at the very start",
        ),
        ("</dc:title>", "dc:title"),
    ];
    for (body, expected) in cases {
        let (p, m) = malformed(&doc(body));
        assert!(m.contains(expected), "{body}: {m}");
        assert_eq!(p.line, 3, "{body}: {p}");
    }

    let (p, m) = malformed(&format!("{HEADER}<dc:title>T</dc:title>\n"));
    assert!(
        m.contains("<oai_dc:dc> (line 2, column 1) is not closed"),
        "{m}"
    );
    assert_eq!((p.line, p.column), (4, 1));

    let (_, m) = malformed(&format!("{}<other/>", doc("")));
    assert!(m.contains("a second root element <other>"), "{m}");
    let (_, m) = malformed(&format!("{}trailing", doc("")));
    assert!(m.contains("text outside the root element"), "{m}");
    let (_, m) = malformed("");
    assert_eq!(m, "no root element");
    let (_, m) = malformed("<?xml version=\"1.0\"?>\n<!-- only a comment -->\n");
    assert_eq!(m, "no root element");
    let (_, m) = malformed("<?xml version=\"2.0\"?><x/>");
    assert!(!m.is_empty());
    let (p, _) = malformed("not xml at all");
    assert_eq!((p.offset, p.line, p.column), (0, 1, 1));
}

#[test]
fn problems_before_a_fatal_one_are_kept_and_columns_count_characters() {
    // Problems found before the document turns out ill-formed are still reported.
    let all = problems(&doc("<dc:titel>x</dc:titel>\n<dc:title>ស្លែង</dc:title"));
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(matches!(
        all[0].kind,
        OaiDcProblemKind::UnknownElement { .. }
    ));
    assert!(matches!(all[1].kind, OaiDcProblemKind::Malformed { .. }));

    // Columns are in characters, offsets in bytes (Khmer is 3 bytes a character).
    let khmer = "ស្លែង";
    let p = only_problem(&doc(&format!("<dc:title>{khmer}<b/></dc:title>")));
    assert_eq!(p.column, 11 + khmer.chars().count());
    assert_eq!(p.offset, HEADER.len() + 10 + khmer.len());

    // A byte-order mark counts in the offset, as it is in the caller's text.
    let p = only_problem("\u{FEFF}<metadata/>");
    assert_eq!((p.offset, p.line, p.column), (3, 1, 2));
}
