//! oai_dc: the Dublin Core XML record that OAI-PMH harvesters and most repository
//! software read, written as metadata/dc.xml.
//!
//! Pure: renders a string, and parses one back ([`parse_oai_dc`]); no filesystem.
//!
//! oai_dc can only carry the 15 DCMES elements, so `dcterms.*` values are written as
//! their DCMES parent ("dumbed down", see [`super::Term::dumb_down`]) and terms with no
//! parent are left out; dc.json keeps everything.
//!
//! - this file: [`render_oai_dc`], the writer (and its tests, which carry a small strict
//!   XML checker of their own);
//! - [`parse`]: [`parse_oai_dc`], the reader, with its typed problems ([`OaiDcError`]).

mod parse;

pub use parse::{parse_oai_dc, OaiDcError, OaiDcProblem, OaiDcProblemKind, OAI_DC_NAMESPACE};

use super::dublin_core::{DublinCore, Element};

const HEADER: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    "<oai_dc:dc xmlns:oai_dc=\"http://www.openarchives.org/OAI/2.0/oai_dc/\"",
    " xmlns:dc=\"http://purl.org/dc/elements/1.1/\"",
    " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"",
    " xsi:schemaLocation=\"http://www.openarchives.org/OAI/2.0/oai_dc/",
    " http://www.openarchives.org/OAI/2.0/oai_dc.xsd\">\n",
);

const FOOTER: &str = "</oai_dc:dc>\n";

/// Renders the record as an oai_dc XML document (XML 1.0, UTF-8, trailing newline).
///
/// Elements come in DCMES order (title, creator, … rights), as the oai_dc schema's
/// examples and most harvesters expect; within an element, values keep record order, so
/// `dc.date` and a `dcterms.created` appear as the record lists them. Values are written
/// byte for byte apart from XML escaping.
pub fn render_oai_dc(record: &DublinCore) -> String {
    let mut out = String::from(HEADER);
    for element in Element::ALL {
        for (term, value) in &record.entries {
            if term.dumb_down() == Some(element) {
                let name = element.name();
                out.push_str("  <dc:");
                out.push_str(name);
                out.push('>');
                escape_text_into(value, &mut out);
                out.push_str("</dc:");
                out.push_str(name);
                out.push_str(">\n");
            }
        }
    }
    out.push_str(FOOTER);
    out
}

/// Escapes element content. `&` and `<` must be escaped; `>` is too, so `]]>` can never
/// appear. Quotes need no escaping in element content (Cairn writes no values into
/// attributes).
///
/// [`super::validate_record`] refuses control characters, so the cases below do not
/// arise for a validated record; they exist so that rendering an unvalidated one still
/// yields well-formed XML. Tab, LF and CR become character references, which parsers
/// return unchanged (a literal CR would be normalised to LF). Characters XML 1.0 cannot
/// carry at all, even as references, become U+FFFD: a visible mark of damage, rather
/// than a document no parser will open.
fn escape_text_into(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
}

/// XML 1.0 `Char` (§2.2). Rust's `char` already excludes surrogates. The discouraged
/// characters (DEL, C1) are legal, so they are kept.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= '\u{20}' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{parse_sheet, Term};

    fn t(name: &str) -> Term {
        Term::parse(name).expect("known term")
    }

    /// A small but strict XML 1.0 well-formedness checker, enough for the documents this
    /// module writes: declaration, one root element with attributes, child elements with
    /// text, entity and character references. Returns each leaf element's name and its
    /// unescaped text in document order.
    fn parse_xml(doc: &str) -> Result<Vec<(String, String)>, String> {
        let body = doc
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
            .ok_or("missing XML declaration")?;
        let mut stack: Vec<String> = Vec::new();
        let mut leaves = Vec::new();
        let mut text = String::new();
        let mut seen_root = false;
        let mut rest = body;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('<') {
                let end = after.find('>').ok_or("unterminated tag")?;
                let tag = &after[..end];
                rest = &after[end + 1..];
                if let Some(name) = tag.strip_prefix('/') {
                    let open = stack.pop().ok_or("close tag without open")?;
                    if open != name {
                        return Err(format!("</{name}> closes <{open}>"));
                    }
                    if stack.len() == 1 {
                        leaves.push((open, std::mem::take(&mut text)));
                    } else if !text.trim().is_empty() {
                        return Err("mixed content".into());
                    }
                    text.clear();
                } else {
                    if stack.is_empty() && seen_root {
                        return Err("second root element".into());
                    }
                    if !text.trim().is_empty() {
                        return Err("text before element".into());
                    }
                    text.clear();
                    let mut parts = tag.splitn(2, |c: char| c.is_ascii_whitespace());
                    let name = parts.next().unwrap_or_default();
                    check_name(name)?;
                    check_attributes(parts.next().unwrap_or_default())?;
                    if tag.contains('<') {
                        return Err("< inside tag".into());
                    }
                    stack.push(name.to_string());
                    seen_root = true;
                }
            } else {
                let end = rest.find('<').unwrap_or(rest.len());
                let raw = &rest[..end];
                rest = &rest[end..];
                if stack.is_empty() && !raw.trim().is_empty() {
                    return Err("text outside the root".into());
                }
                text.push_str(&unescape(raw)?);
            }
        }
        if !stack.is_empty() || !seen_root {
            return Err("unclosed or missing root".into());
        }
        Ok(leaves)
    }

    fn check_name(name: &str) -> Result<(), String> {
        let ok = name.split(':').count() <= 2
            && name.split(':').all(|p| {
                p.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            });
        if ok {
            Ok(())
        } else {
            Err(format!("bad name {name:?}"))
        }
    }

    fn check_attributes(mut attrs: &str) -> Result<(), String> {
        let mut names = Vec::new();
        loop {
            attrs = attrs.trim_start();
            if attrs.is_empty() {
                return Ok(());
            }
            let eq = attrs.find('=').ok_or("attribute without =")?;
            let name = &attrs[..eq];
            check_name(name)?;
            if names.contains(&name) {
                return Err(format!("repeated attribute {name}"));
            }
            names.push(name);
            let value = attrs[eq + 1..]
                .strip_prefix('"')
                .ok_or("unquoted attribute")?;
            let close = value.find('"').ok_or("unterminated attribute")?;
            unescape(&value[..close])?;
            attrs = &value[close + 1..];
        }
    }

    fn unescape(raw: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            let semi = rest[amp..].find(';').ok_or("unterminated reference")? + amp;
            let entity = &rest[amp + 1..semi];
            let c = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let n = if let Some(hex) = entity.strip_prefix("#x") {
                        u32::from_str_radix(hex, 16)
                    } else if let Some(dec) = entity.strip_prefix('#') {
                        dec.parse()
                    } else {
                        return Err(format!("unknown entity &{entity};"));
                    };
                    let c = n.ok().and_then(char::from_u32).ok_or("bad char ref")?;
                    if !is_xml_char(c) {
                        return Err(format!("reference to non-Char U+{:04X}", c as u32));
                    }
                    c
                }
            };
            out.push(c);
            rest = &rest[semi + 1..];
        }
        out.push_str(rest);
        for c in out.chars() {
            if !is_xml_char(c) {
                return Err(format!("non-Char U+{:04X} in text", c as u32));
            }
        }
        Ok(out)
    }

    #[test]
    fn checker_rejects_ill_formed() {
        for bad in [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a><b></a></b>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>x & y</a>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>x < y</a>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a></a><b></b>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a x=1></a>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>\u{1}</a>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>&#1;</a>",
        ] {
            assert!(parse_xml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_record() {
        let xml = render_oai_dc(&DublinCore::new());
        assert_eq!(xml, format!("{HEADER}{FOOTER}"));
        assert_eq!(parse_xml(&xml), Ok(vec![]));
    }

    #[test]
    fn dcmes_order_and_dumb_down() {
        let mut r = DublinCore::new();
        r.push(t("dc.rights"), "CC0");
        r.push(t("dcterms.spatial"), "Phnom Penh");
        r.push(t("dc.date"), "1977");
        r.push(t("dcterms.audience"), "researchers");
        r.push(t("dcterms.created"), "1976");
        r.push(t("dc.title"), "T");
        r.push(t("dcterms.alternative"), "Alt");
        r.push(t("dcterms.extent"), "2 pages");
        r.push(t("dcterms.isPartOf"), "S-21 collection");
        r.push(t("dcterms.provenance"), "Donated");
        let xml = render_oai_dc(&r);
        assert!(xml.starts_with(HEADER));
        let leaves = parse_xml(&xml).expect("well-formed");
        let got: Vec<(&str, &str)> = leaves
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("dc:title", "T"),
                ("dc:title", "Alt"),
                ("dc:date", "1977"),
                ("dc:date", "1976"),
                ("dc:format", "2 pages"),
                ("dc:relation", "S-21 collection"),
                ("dc:coverage", "Phnom Penh"),
                ("dc:rights", "CC0"),
            ]
        );
        assert!(!xml.contains("researchers") && !xml.contains("Donated"));
    }

    #[test]
    fn escaping() {
        let mut r = DublinCore::new();
        let tricky = r#"Fish & Chips <b>bold</b> "quoted" 'single' ]]> &amp;"#;
        r.push(t("dc.title"), tricky);
        let xml = render_oai_dc(&r);
        assert!(xml.contains(
            "<dc:title>Fish &amp; Chips &lt;b&gt;bold&lt;/b&gt; \"quoted\" 'single' ]]&gt; &amp;amp;</dc:title>"
        ));
        assert_eq!(
            parse_xml(&xml),
            Ok(vec![("dc:title".into(), tricky.into())])
        );
    }

    #[test]
    fn unvalidated_controls_still_well_formed() {
        let mut r = DublinCore::new();
        r.push(
            t("dc.description"),
            "tab\there\r\nnext\u{0}nul\u{1b}esc\u{FFFF}\u{85}c1",
        );
        let xml = render_oai_dc(&r);
        let leaves = parse_xml(&xml).expect("well-formed");
        assert_eq!(
            leaves[0].1,
            "tab\there\r\nnext\u{FFFD}nul\u{FFFD}esc\u{FFFD}\u{85}c1"
        );
    }

    #[test]
    fn khmer_and_nfd_survive_csv_json_xml() {
        let khmer = "ទួលស្លែង";
        let nfd = "proce\u{300}s";
        let csv = format!(
            "filename,dc.title,dc.subject,dcterms.spatial\n{khmer},Sample: {khmer},{nfd},\"{khmer}, {nfd}\"\n"
        );
        let sheet = parse_sheet(csv.as_bytes()).expect("parses");
        let row = sheet.row_for(khmer).expect("row");
        assert_eq!(row.item.as_bytes(), khmer.as_bytes());
        let record = &row.record;

        let json = record.render_json();
        let back: DublinCore = serde_json::from_str(&json).expect("json reads back");
        assert_eq!(&back, record);

        let leaves = parse_xml(&render_oai_dc(&back)).expect("well-formed");
        let expected = [
            ("dc:title".to_string(), format!("Sample: {khmer}")),
            ("dc:subject".to_string(), nfd.to_string()),
            ("dc:coverage".to_string(), format!("{khmer}, {nfd}")),
        ];
        assert_eq!(leaves, expected);
        // Not normalised on the way: the NFD sequence is still two code points.
        assert!(leaves[1].1.as_bytes().ends_with("e\u{300}s".as_bytes()));
    }

    #[test]
    fn sample_sheet_renders_well_formed() {
        let sheet =
            parse_sheet(include_bytes!("../../../samples/s21/metadata.csv")).expect("parses");
        for row in &sheet.rows {
            let xml = render_oai_dc(&row.record);
            let leaves = parse_xml(&xml).unwrap_or_else(|e| panic!("{}: {e}\n{xml}", row.item));
            // Every sample value has a DCMES parent, so nothing is dropped.
            assert_eq!(leaves.len(), row.record.len(), "{}", row.item);
            let values: Vec<&str> = leaves.iter().map(|(_, v)| v.as_str()).collect();
            for (_, v) in &row.record.entries {
                assert!(values.contains(&v.as_str()));
            }
        }
    }
}
