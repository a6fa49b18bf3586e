//! The item sidecar: a JSON file named [`SIDECAR_NAME`] directly inside an item folder,
//! describing that item. Its keys are term names, its values a string or an array of
//! strings. When an item has both a batch-sheet row and a sidecar, the sidecar wins term
//! by term (see [`super::DublinCore::overlay`]).
//!
//! Pure: parses bytes handed to it; finding and reading the file is the caller's job.

use std::fmt;

use super::dublin_core::DublinCore;
use super::json::{record_from_members, JsonTop, MemberProblem};

/// The reserved file name of an item's sidecar. The `cairn.` prefix keeps it from
/// colliding with a depositor's own files, and `.dc.json` says what is inside.
pub const SIDECAR_NAME: &str = "cairn.dc.json";

/// One reason a sidecar was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidecarError {
    /// Not JSON at all (this includes invalid UTF-8, which serde_json reports with its
    /// position).
    #[error("line {line}, column {column}: not valid JSON: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },

    #[error("the top level must be a JSON object of metadata terms, found {found}")]
    NotAnObject { found: &'static str },

    #[error("{0}")]
    Member(#[from] MemberProblem),
}

/// Every reason a sidecar was refused, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarErrors {
    pub errors: Vec<SidecarError>,
}

impl fmt::Display for SidecarErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SIDECAR_NAME} is not usable:")?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SidecarErrors {}

/// Parses a sidecar, reporting every problem rather than the first.
///
/// A leading UTF-8 byte-order mark is tolerated (RFC 8259 §8.1 lets parsers ignore it,
/// and Windows editors add one). Values are trimmed and blank ones skipped, as in the
/// batch sheet. A key given twice, even in different case, is an error rather than a
/// silent choice. Parsing checks names and shapes only; the rules for values (dates,
/// types, languages) are [`super::validate_record`]'s, applied after merging.
pub fn parse_sidecar(bytes: &[u8]) -> Result<DublinCore, SidecarErrors> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let top: JsonTop = serde_json::from_slice(body).map_err(|e| SidecarErrors {
        errors: vec![SidecarError::Syntax {
            line: e.line(),
            column: e.column(),
            message: syntax_message(&e),
        }],
    })?;
    let members = match top {
        JsonTop::Object(members) => members,
        JsonTop::Other(found) => {
            return Err(SidecarErrors {
                errors: vec![SidecarError::NotAnObject { found }],
            })
        }
    };
    let (record, problems) = record_from_members(members);
    if problems.is_empty() {
        Ok(record)
    } else {
        Err(SidecarErrors {
            errors: problems.into_iter().map(SidecarError::from).collect(),
        })
    }
}

/// serde_json's message without its own " at line L column C" suffix, which the error
/// already carries as fields.
fn syntax_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Term;

    fn t(name: &str) -> Term {
        Term::parse(name).expect("known term")
    }

    #[test]
    fn strings_and_arrays() {
        let r = parse_sidecar(
            br#"{"dc.title": "  Portraits ", "DC.Subject": ["a", "", "b"], "dcterms.spatial": "Phnom Penh", "dc.rights": ""}"#,
        )
        .expect("valid sidecar");
        let got: Vec<(&str, &str)> = r
            .entries
            .iter()
            .map(|(t, v)| (t.name(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("dc.title", "Portraits"),
                ("dc.subject", "a"),
                ("dc.subject", "b"),
                ("dcterms.spatial", "Phnom Penh"),
            ]
        );
    }

    #[test]
    fn bom_and_empty_object() {
        assert_eq!(parse_sidecar(b"\xEF\xBB\xBF{}\n"), Ok(DublinCore::new()));
    }

    #[test]
    fn syntax_error_has_position() {
        let e = parse_sidecar(b"{\n  \"dc.title\": \"x\",\n}").unwrap_err();
        assert_eq!(e.errors.len(), 1);
        match &e.errors[0] {
            SidecarError::Syntax { line, column, .. } => {
                assert_eq!((*line, *column), (3, 1));
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = e.to_string();
        assert!(
            text.starts_with("cairn.dc.json is not usable:\n  line 3, column 1: not valid JSON"),
            "{text}"
        );
        assert!(!text.contains(" at line "), "{text}");
    }

    #[test]
    fn invalid_utf8_is_a_syntax_error() {
        let e = parse_sidecar(b"{\"dc.title\": \"caf\xE9\"}").unwrap_err();
        assert!(
            matches!(e.errors[0], SidecarError::Syntax { line: 1, .. }),
            "{e}"
        );
    }

    #[test]
    fn non_object_top_level() {
        for (src, found) in [
            (&b"[\"dc.title\"]"[..], "an array"),
            (b"\"x\"", "a string"),
            (b"null", "null"),
            (b"12", "a number"),
        ] {
            let e = parse_sidecar(src).unwrap_err();
            assert_eq!(e.errors, [SidecarError::NotAnObject { found }]);
        }
    }

    #[test]
    fn collects_every_member_problem() {
        let e = parse_sidecar(
            br#"{"dc.titel": "x", "dc.date": 1977, "dc.subject": ["a", 2, null], "dc.title": "ok", "DC.TITLE": "again", "dc.rights": {"a": "b"}}"#,
        )
        .unwrap_err();
        let lines: Vec<String> = e.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(lines.len(), 6, "{lines:#?}");
        assert!(lines[0].contains("\"dc.titel\"") && lines[0].contains("did you mean dc.title?"));
        assert!(
            lines[1].contains("the number 1977 (quote it: \"1977\")"),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains("the number 2"));
        assert!(lines[3].contains("null"));
        assert!(
            lines[4].contains("\"DC.TITLE\" repeats dc.title"),
            "{}",
            lines[4]
        );
        assert!(lines[5].contains("an object"));
    }

    #[test]
    fn overlay_sidecar_over_sheet() {
        let sheet = crate::metadata::parse_sheet(
            b"filename,dc.title,dc.date,dc.subject,dc.subject\nportraits,Sheet title,1977,a,b\n",
        )
        .expect("valid sheet");
        let mut record = sheet.rows[0].record.clone();
        let sidecar = parse_sidecar(
            br#"{"dc.date": "1978", "dcterms.spatial": "Phnom Penh", "dc.rights": ""}"#,
        )
        .expect("valid sidecar");
        record.overlay(&sidecar);
        assert_eq!(record.title(), Some("Sheet title"));
        assert_eq!(record.values(Term::DC_DATE), ["1978"]);
        assert_eq!(record.values(t("dc.subject")), ["a", "b"]);
        assert_eq!(record.values(t("dcterms.spatial")), ["Phnom Penh"]);
        assert!(!record.contains(t("dc.rights")));
    }
}
