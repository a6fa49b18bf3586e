//! The rules a Dublin Core record must meet before Cairn archives it: a title, dates in
//! W3C-DTF, types from the DCMI Type Vocabulary, ISO 639 language codes, and no control
//! characters.
//!
//! Pure: looks only at the record. Problems are data (a list), not errors: the caller
//! decides whether they refuse an item.
//!
//! Values are never normalised or rewritten here, or anywhere in this module tree: Khmer
//! text and decomposed (NFD) accents are kept byte for byte as the archivist gave them.
//!
//! This file holds the record-wide rules; `date.rs` checks W3C-DTF dates and ranges,
//! `vocab.rs` the DCMI Type Vocabulary and ISO 639 language codes.

use std::fmt;

use super::dublin_core::{DublinCore, Element, Term};

mod date;
mod vocab;

use date::approximate_date_advice;
pub use date::check_date;
pub use vocab::{check_dcmi_type, check_language, DCMI_TYPES};

/// One way a record breaks the rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordProblem {
    /// The term at fault, as a canonical name (`dc.date`), if the problem is about one.
    pub term: Option<String>,
    /// The offending value exactly as given, if the problem is about one.
    pub value: Option<String>,
    pub detail: String,
}

impl fmt::Display for RecordProblem {
    /// `dc.date "1975/79": not a W3C-DTF date …`; the value is quoted with its control
    /// characters escaped, so a stray newline is visible instead of breaking the line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.term, &self.value) {
            (Some(t), Some(v)) => write!(f, "{t} {}: {}", quote(v), self.detail),
            (Some(t), None) => write!(f, "{t}: {}", self.detail),
            (None, Some(v)) => write!(f, "{}: {}", quote(v), self.detail),
            (None, None) => f.write_str(&self.detail),
        }
    }
}

fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_forbidden_char(c) => out.push_str(&format!("\\u{{{:04X}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The record's values larger than `max` bytes, one problem each naming the term and
/// the size (the value itself is not repeated: it is too large to read in a message).
/// `ingest.max_value_size` in cairn.toml sets `max` for ingest and import.
pub fn oversized_values(record: &DublinCore, max: usize) -> Vec<RecordProblem> {
    record
        .entries
        .iter()
        .filter(|(_, v)| v.len() > max)
        .map(|(term, v)| RecordProblem {
            term: Some(term.name().to_string()),
            value: None,
            detail: format!(
                "a value of {} bytes, more than the {max} bytes ingest.max_value_size in cairn.toml allows (it starts {}); shorten it, or raise the limit",
                v.len(),
                quote(&v.chars().take(40).collect::<String>())
            ),
        })
        .collect()
}

/// Checks a record against Cairn's rules, returning every problem (empty means valid),
/// in record order with the missing-title problem first.
pub fn validate_record(record: &DublinCore) -> Vec<RecordProblem> {
    let mut problems = Vec::new();
    if record.title().is_none() {
        problems.push(RecordProblem {
            term: Some(Term::DC_TITLE.name().to_string()),
            value: None,
            detail: "required: every item needs a title (dc.title, or dcterms.title)".into(),
        });
    }
    for (term, value) in &record.entries {
        let problem = |detail: String| RecordProblem {
            term: Some(term.name().to_string()),
            value: Some(value.clone()),
            detail,
        };
        if value.trim().is_empty() {
            problems.push(problem("empty value; omit the term instead".into()));
            continue;
        }
        if let Some(c) = value.chars().find(|&c| is_forbidden_char(c)) {
            problems.push(problem(format!(
                "contains the control character U+{:04X}; values must be single-line text \
                 without control characters (use several values instead of line breaks)",
                c as u32
            )));
            // The format checks below would only repeat the complaint.
            continue;
        }
        let detail = if is_date_term(*term) {
            check_date(value)
                .map_err(|e| e + &approximate_date_advice(value))
                .err()
        } else if term.local_name() == "type" {
            check_dcmi_type(value).err()
        } else if term.local_name() == "language" {
            check_language(value).err()
        } else {
            None
        };
        if let Some(detail) = detail {
            problems.push(problem(detail));
        }
    }
    problems
}

/// Characters a value may not contain: the C0 controls (including tab, line feed and
/// carriage return), DEL, the C1 controls, and the noncharacters U+FFFE and U+FFFF.
///
/// Why all of C0, although XML 1.0 can carry tab, LF and CR: XML parsers turn CR and
/// CRLF into LF, so a value with CR could not survive dc.xml byte for byte; a line break
/// inside a value splits the one-line reports and listings Cairn prints; and a tab in a
/// spreadsheet cell is almost always a paste accident. The rest of C0, U+FFFE and U+FFFF
/// cannot appear in XML 1.0 at all. C1 controls are legal XML but discouraged, and in
/// practice mean text decoded with the wrong code page. A multi-paragraph description is
/// written as several `dc.description` values.
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}'
}

/// `dc.date` and every dcterms property that refines it (created, issued, modified,
/// available, dateAccepted, dateCopyrighted, dateSubmitted, valid, and dcterms.date).
fn is_date_term(term: Term) -> bool {
    term.dumb_down() == Some(Element::Date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str) -> Term {
        Term::parse(name).expect("known term")
    }

    fn record(pairs: &[(&str, &str)]) -> DublinCore {
        let mut r = DublinCore::new();
        r.push(Term::DC_TITLE, "A title");
        for (term, value) in pairs {
            r.push(t(term), *value);
        }
        r
    }

    fn problems(pairs: &[(&str, &str)]) -> Vec<String> {
        validate_record(&record(pairs))
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn title_required() {
        let empty = validate_record(&DublinCore::new());
        assert_eq!(empty.len(), 1);
        assert_eq!(
            empty[0].to_string(),
            "dc.title: required: every item needs a title (dc.title, or dcterms.title)"
        );
        let mut r = DublinCore::new();
        r.push(Term::DC_TITLE, "   ");
        let p = validate_record(&r);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[1].detail, "empty value; omit the term instead");
        let mut r = DublinCore::new();
        r.push(t("dcterms.title"), "Only dcterms");
        assert!(validate_record(&r).is_empty());
    }

    #[test]
    fn good_dates() {
        for d in [
            "1975",
            "0000",
            "1977-02",
            "1977-02-28",
            "1976-02-29",
            "2000-02-29",
            "1975-04-17T08:30Z",
            "1975-04-17T08:30:15+07:00",
            "1975-04-17T08:30:15.5-05:30",
            "1975-04-17T23:59:59.1234567890123Z",
            "1975/1979",
            "1975-04-17/1979-01-07",
            "1975/1975",
            "1975-04-17/1975",
            "1975/1975-04",
            "2001-01-02/2014-08-07",
            "1975/..",
            "../1979",
            "1975-04-17T10:00+07:00/1975-04-17T03:00Z",
        ] {
            assert_eq!(check_date(d), Ok(()), "{d}");
        }
    }

    #[test]
    fn bad_dates() {
        let cases = [
            ("1975/79", "the end of the range: not a W3C-DTF date"),
            ("75", "not a W3C-DTF date"),
            ("1975-13", "month 13 does not exist"),
            ("1975-00-10", "month 00 does not exist"),
            (
                "1977-02-29",
                "1977-02-29 is not a calendar date (that month has 28 days)",
            ),
            ("1900-02-29", "not a calendar date"),
            ("1977-02-30", "not a calendar date"),
            ("1977-04-31", "(that month has 30 days)"),
            ("1977-4-1", "not a W3C-DTF date"),
            ("1977-04-01 ", "not a W3C-DTF date"),
            ("17/04/1975", "not a W3C-DTF date"),
            ("1979/1975", "the range ends (1975) before it starts (1979)"),
            ("1975-04-18/1975-04-17", "before it starts"),
            ("1975-06/1975-03", "before it starts"),
            ("1975-04-17T08:30", "a time needs a zone"),
            ("1975-04-17T24:00Z", "24:00 is not a time of day"),
            ("1975-04-17T23:60Z", "is not a time of day"),
            ("1975-04-17T23:59:60Z", "is not a time of day"),
            ("1975-04-17T23:59:59.Z", "not a W3C-DTF date"),
            ("1975-04-17T08:30+0700", "not a W3C-DTF date"),
            ("1975-04-17T08:30+25:00", "is not a time-zone offset"),
            ("1975-04-17T08", "not a W3C-DTF date"),
            ("../..", "a range needs at least one end"),
            ("1975/", "the end of the range"),
            ("1975/1976/1977", "the end of the range"),
            ("c. 1975", "not a W3C-DTF date"),
            ("", "not a W3C-DTF date"),
            ("１９７５", "not a W3C-DTF date"),
        ];
        for (d, want) in cases {
            match check_date(d) {
                Ok(()) => panic!("{d:?} accepted"),
                Err(e) => assert!(e.contains(want), "{d:?}: {e}"),
            }
        }
    }

    #[test]
    fn date_problem_display() {
        assert_eq!(
            problems(&[("dc.date", "1975/79")]),
            [
                "dc.date \"1975/79\": the end of the range: not a W3C-DTF date or date range \
              (YYYY, YYYY-MM, YYYY-MM-DD, or with time and zone; ranges START/END)"
            ]
        );
        // Every dcterms refinement of date is checked; dcterms.temporal (a coverage) is not.
        for term in [
            "dcterms.created",
            "dcterms.issued",
            "dcterms.modified",
            "dcterms.available",
            "dcterms.dateAccepted",
            "dcterms.dateCopyrighted",
            "dcterms.dateSubmitted",
            "dcterms.valid",
            "dcterms.date",
        ] {
            assert_eq!(problems(&[(term, "May 1975")]).len(), 1, "{term}");
        }
        assert!(problems(&[("dcterms.temporal", "Democratic Kampuchea")]).is_empty());
    }

    #[test]
    fn dcmi_types() {
        for ok in DCMI_TYPES {
            assert_eq!(check_dcmi_type(ok), Ok(()));
        }
        assert_eq!(
            check_dcmi_type("http://purl.org/dc/dcmitype/StillImage"),
            Ok(())
        );
        for (bad, want) in [
            ("stillimage", "StillImage"),
            ("Still Image", "StillImage"),
            ("still_image", "StillImage"),
            ("text", "Text"),
            ("Moving Image", "MovingImage"),
            ("Colection", "Collection"),
            ("Softwear", "Software"),
            ("DataSet", "Dataset"),
        ] {
            let e = check_dcmi_type(bad).unwrap_err();
            assert!(e.contains(&format!("did you mean {want}?")), "{bad}: {e}");
        }
        let e = check_dcmi_type("Photograph").unwrap_err();
        assert!(!e.contains("did you mean"), "{e}");
        assert_eq!(
            problems(&[("dcterms.type", "stillimage")]),
            [format!(
                "dcterms.type \"stillimage\": not a DCMI type; did you mean StillImage? (one of {})",
                DCMI_TYPES.join(", ")
            )]
        );
    }

    #[test]
    fn languages() {
        for ok in [
            "km", "en", "fr", "khm", "fre", "fra", "eng", "ger", "deu", "chi", "zho", "mul", "und",
            "zxx", "km-KH", "EN", "en-GB", "es-419", "qaa",
        ] {
            assert_eq!(check_language(ok), Ok(()), "{ok}");
        }
        for bad in [
            "xx", "english", "e", "engl", "qzz", "k1", "km-", "km-Khmr", "km-KHM", "en_GB", "",
            "mkh",
        ] {
            assert!(check_language(bad).is_err(), "{bad}");
        }
        assert!(check_language("km-Khmr")
            .unwrap_err()
            .contains("region \"Khmr\""));
        assert!(check_language("english")
            .unwrap_err()
            .ends_with("; did you mean en?"));
        assert!(check_language("Khmer")
            .unwrap_err()
            .ends_with("did you mean km?"));
        assert!(!check_language("xx").unwrap_err().contains("did you mean"));
        assert_eq!(problems(&[("dcterms.language", "xx")]).len(), 1);
    }

    #[test]
    fn control_characters_rejected_unicode_kept() {
        for bad in [
            "a\tb",
            "line\nbreak",
            "cr\r",
            "nul\0",
            "del\u{7f}",
            "c1\u{85}",
            "x\u{FFFE}",
        ] {
            let p = problems(&[("dc.description", bad)]);
            assert_eq!(p.len(), 1, "{bad:?}");
            assert!(p[0].contains("control character U+"), "{}", p[0]);
        }
        assert_eq!(
            problems(&[("dc.description", "two\nlines")]),
            [
                "dc.description \"two\\u{000A}lines\": contains the control character U+000A; \
              values must be single-line text without control characters (use several \
              values instead of line breaks)"
            ]
        );
        // Khmer (with its combining signs), NFD accents, RTL text, emoji and zero-width
        // joiners are ordinary text.
        for ok in [
            "ទួលស្លែង",
            "proce\u{300}s",
            "שלום",
            "👩\u{200D}💻",
            "non\u{A0}breaking",
        ] {
            assert!(problems(&[("dc.description", ok)]).is_empty(), "{ok}");
        }
    }

    #[test]
    fn problems_collected_in_record_order() {
        let mut r = DublinCore::new();
        r.push(t("dc.date"), "1979/1975");
        r.push(t("dc.type"), "Photo");
        r.push(t("dc.language"), "english");
        let p = validate_record(&r);
        let terms: Vec<Option<&str>> = p.iter().map(|p| p.term.as_deref()).collect();
        assert_eq!(
            terms,
            [
                Some("dc.title"),
                Some("dc.date"),
                Some("dc.type"),
                Some("dc.language")
            ]
        );
        assert_eq!(p[1].value.as_deref(), Some("1979/1975"));
    }
}
