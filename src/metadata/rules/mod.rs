//! The rules a Dublin Core record must meet before Cairn archives it: a title, dates in
//! W3C-DTF, types from the DCMI Type Vocabulary, ISO 639 language codes, and no control
//! characters.
//!
//! Pure: looks only at the record. Problems are data (a list), not errors: the caller
//! decides whether they refuse an item.
//!
//! Values are never normalised or rewritten here, or anywhere in this module tree: Khmer
//! text and decomposed (NFD) accents are kept byte for byte as the archivist gave them.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::dublin_core::{DublinCore, Element, Term};

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

// ---------------------------------------------------------------------------------------
/// Advice for a date written as an approximation (`ca. 1978`, `c.1978`, `circa 1978`,
/// `about 1978`, `~1978`, `1978?`): W3C-DTF has no "about", so suggest the year, or a
/// range around it, with the uncertainty said in dc.description. Empty when the value
/// is not such an approximation.
fn approximate_date_advice(value: &str) -> String {
    let lower = value.trim().to_lowercase();
    let rest = [
        "circa",
        "ca.",
        "ca",
        "c.",
        "about",
        "approx.",
        "approximately",
        "~",
    ]
    .iter()
    .find_map(|p| lower.strip_prefix(p))
    .map(str::trim)
    .or_else(|| lower.strip_suffix('?').map(str::trim));
    let Some(rest) = rest else {
        return String::new();
    };
    let digits: String = rest.chars().filter(|c| c.is_ascii_digit()).collect();
    let Some(year) = (digits.len() == 4 && rest.len() == 4)
        .then(|| digits.parse::<u32>().ok())
        .flatten()
    else {
        return "; an approximate date cannot be written this way: give the range it may \
                fall in (START/END), and say in dc.description that it is approximate"
            .to_string();
    };
    format!(
        "; an approximate date cannot be written this way: write the year ({year}) or a \
         range such as {}/{}, and say in dc.description that it is approximate",
        year - 1,
        year + 1
    )
}

// Dates: W3C-DTF (https://www.w3.org/TR/NOTE-datetime) and ISO 8601 intervals of them.

const DATE_FORMS: &str = "not a W3C-DTF date or date range (YYYY, YYYY-MM, YYYY-MM-DD, \
     or with time and zone; ranges START/END)";

/// A W3C-DTF value as the span of time it names: `1975` is all of 1975. Instants are in
/// UTC; dates without a time have no zone, and are compared as if they were UTC, which
/// is the best a date alone allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: NaiveDateTime,
    end: NaiveDateTime,
}

/// Checks one date value: a W3C-DTF date, or `START/END` where each side is one or `..`
/// (open), and the range does not end before it starts. Ok carries nothing: the value is
/// kept as written.
pub fn check_date(value: &str) -> Result<(), String> {
    match value.split_once('/') {
        None => parse_w3c_dtf(value).map(|_| ()),
        Some((start, end)) => {
            if start == ".." && end == ".." {
                return Err(format!("{DATE_FORMS}; a range needs at least one end"));
            }
            let side = |s: &str, which: &str| -> Result<Option<Span>, String> {
                if s == ".." {
                    Ok(None)
                } else {
                    parse_w3c_dtf(s)
                        .map(Some)
                        .map_err(|e| format!("the {which} of the range: {e}"))
                }
            };
            let from = side(start, "start")?;
            let to = side(end, "end")?;
            if let (Some(from), Some(to)) = (from, to) {
                // Overlapping spans are fine (`1975-04-17/1975`): only a range whose end
                // is wholly before its start is reversed.
                if to.end < from.start {
                    return Err(format!(
                        "the range ends ({end}) before it starts ({start}); write START/END"
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Parses a single W3C-DTF value into the span it covers, with precise reasons.
fn parse_w3c_dtf(s: &str) -> Result<Span, String> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let generic = || DATE_FORMS.to_string();

    let year = digits(0..4).ok_or_else(generic)? as i32;
    if b.len() == 4 {
        let start = ymd(year, 1, 1).ok_or_else(generic)?;
        let end = ymd(year, 12, 31).ok_or_else(generic)?;
        return Ok(day_span(start, end));
    }
    if b.get(4) != Some(&b'-') {
        return Err(generic());
    }
    let month = digits(5..7).ok_or_else(generic)?;
    if b.len() > 7 && b.get(7) != Some(&b'-') {
        return Err(generic());
    }
    if !(1..=12).contains(&month) {
        return Err(format!("month {:02} does not exist (01 to 12)", month));
    }
    if b.len() == 7 {
        let start = ymd(year, month, 1).ok_or_else(generic)?;
        let end = last_day_of_month(year, month).ok_or_else(generic)?;
        return Ok(day_span(start, end));
    }
    let day = digits(8..10).ok_or_else(generic)?;
    let date = ymd(year, month, day).ok_or_else(|| {
        format!(
            "{year:04}-{month:02}-{day:02} is not a calendar date (that month has {} days)",
            last_day_of_month(year, month).map_or(0, |d| chrono::Datelike::day(&d))
        )
    })?;
    if b.len() == 10 {
        return Ok(day_span(date, date));
    }
    if b.get(10) != Some(&b'T') {
        return Err(generic());
    }
    // The time: hh:mm, then optionally :ss and .s (one or more digits), then the zone.
    let hour = digits(11..13).ok_or_else(generic)?;
    if b.get(13) != Some(&b':') {
        return Err(generic());
    }
    let minute = digits(14..16).ok_or_else(generic)?;
    let mut i = 16;
    let mut second = 0;
    let mut nanos = 0;
    if b.get(i) == Some(&b':') {
        second = digits(i + 1..i + 3).ok_or_else(generic)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            let frac_len = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if frac_len == 0 {
                return Err(generic());
            }
            // Nanosecond precision is plenty; further digits are checked but not used.
            let kept = &b[i + 1..i + 1 + frac_len.min(9)];
            let mut n: u32 = 0;
            for d in kept {
                n = n * 10 + u32::from(d - b'0');
            }
            nanos = n * 10u32.pow(9 - kept.len() as u32);
            i += 1 + frac_len;
        }
    }
    // W3C-DTF allows seconds 00–59 only: no leap second, and no 24:00.
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!("{} is not a time of day", &s[11..i]));
    }
    let offset_minutes: i64 = match &b[i..] {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), ..] if b.len() == i + 6 && b[i + 3] == b':' => {
            let h = digits(i + 1..i + 3).ok_or_else(generic)?;
            let m = digits(i + 4..i + 6).ok_or_else(generic)?;
            if h > 23 || m > 59 {
                return Err(format!("{} is not a time-zone offset", &s[i..]));
            }
            let total = i64::from(h * 60 + m);
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        [] => {
            return Err(format!(
                "{DATE_FORMS}; a time needs a zone (Z or +hh:mm or -hh:mm)"
            ))
        }
        _ => return Err(generic()),
    };
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).ok_or_else(generic)?;
    let utc = date
        .and_time(time)
        .checked_sub_signed(chrono::TimeDelta::minutes(offset_minutes))
        .ok_or_else(generic)?;
    Ok(Span {
        start: utc,
        end: utc,
    })
}

fn ymd(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
}

fn last_day_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    ymd(y, m, 1)?.pred_opt()
}

fn day_span(first: NaiveDate, last: NaiveDate) -> Span {
    Span {
        start: first.and_time(NaiveTime::MIN),
        end: last.and_time(NaiveTime::MIN) + chrono::TimeDelta::days(1)
            - chrono::TimeDelta::nanoseconds(1),
    }
}

// ---------------------------------------------------------------------------------------
// DCMI Type Vocabulary (https://www.dublincore.org/specifications/dublin-core/dcmi-type-vocabulary/)

/// The twelve terms of the DCMI Type Vocabulary, spelled as DCMI spells them.
pub const DCMI_TYPES: [&str; 12] = [
    "Collection",
    "Dataset",
    "Event",
    "Image",
    "InteractiveResource",
    "MovingImage",
    "PhysicalObject",
    "Service",
    "Software",
    "Sound",
    "StillImage",
    "Text",
];

const DCMI_TYPE_NS: &str = "http://purl.org/dc/dcmitype/";

/// Accepts a DCMI type name spelled exactly, or its full URI. Misspellings are refused
/// rather than corrected so the record holds what the archivist wrote, but the message
/// names the term they meant.
pub fn check_dcmi_type(value: &str) -> Result<(), String> {
    let name = value.strip_prefix(DCMI_TYPE_NS).unwrap_or(value);
    if DCMI_TYPES.contains(&name) {
        return Ok(());
    }
    let folded: String = name
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .collect::<String>()
        .to_lowercase();
    let suggestion = DCMI_TYPES
        .iter()
        .map(|t| (*t, strsim::damerau_levenshtein(&folded, &t.to_lowercase())))
        .min_by_key(|&(_, d)| d)
        .filter(|&(_, d)| d <= 2)
        .map(|(t, _)| t);
    let list = DCMI_TYPES.join(", ");
    Err(match suggestion {
        Some(t) => format!("not a DCMI type; did you mean {t}? (one of {list})"),
        None => format!("not a DCMI type (one of {list})"),
    })
}

// ---------------------------------------------------------------------------------------
// Languages.

/// ISO 639-2/B ("bibliographic") codes, which differ from the 639-2/T = 639-3 code that
/// isolang knows. Library catalogues (MARC) use these, so archivists do too (`fre`).
const ISO_639_2B: [(&str, &str); 20] = [
    ("alb", "sqi"),
    ("arm", "hye"),
    ("baq", "eus"),
    ("bur", "mya"),
    ("chi", "zho"),
    ("cze", "ces"),
    ("dut", "nld"),
    ("fre", "fra"),
    ("geo", "kat"),
    ("ger", "deu"),
    ("gre", "ell"),
    ("ice", "isl"),
    ("mac", "mkd"),
    ("mao", "mri"),
    ("may", "msa"),
    ("per", "fas"),
    ("rum", "ron"),
    ("slo", "slk"),
    ("tib", "bod"),
    ("wel", "cym"),
];

/// Accepts an ISO 639 code, optionally with a region in the BCP 47 style: `km`, `khm`,
/// `fre`, `km-KH`, `es-419`.
///
/// The language is ISO 639-1 (two letters), or three letters from ISO 639-3 (which
/// includes every 639-2/T code and the special `mul`, `und`, `zxx`, `mis`), ISO 639-2/B,
/// or the 639-2 local-use range `qaa`–`qtz`. The 639-2 collective codes (`mkh`, `sla`)
/// are not in 639-3 and are refused. Case is ignored, as BCP 47 says; the value is kept
/// as written. Full BCP 47 (scripts, variants) is beyond what archivists here have asked
/// for and would need a registry Cairn does not carry.
pub fn check_language(value: &str) -> Result<(), String> {
    let (lang, region) = match value.split_once('-') {
        Some((l, r)) => (l, Some(r)),
        None => (value, None),
    };
    let lower = lang.to_ascii_lowercase();
    let known = lang.chars().all(|c| c.is_ascii_alphabetic())
        && match lower.len() {
            2 => isolang::Language::from_639_1(&lower).is_some(),
            3 => {
                isolang::Language::from_639_3(&lower).is_some()
                    || ISO_639_2B.iter().any(|(b, _)| *b == lower)
                    || (lower.as_str() >= "qaa" && lower.as_str() <= "qtz")
            }
            _ => false,
        };
    let region_ok = region.is_none_or(|r| {
        (r.len() == 2 && r.chars().all(|c| c.is_ascii_alphabetic()))
            || (r.len() == 3 && r.chars().all(|c| c.is_ascii_digit()))
    });
    if known && region_ok {
        return Ok(());
    }
    if known {
        return Err(format!(
            "the region \"{}\" is not two letters or three digits (e.g. km-KH, es-419)",
            region.unwrap_or_default()
        ));
    }
    let hint = language_by_name(value)
        .map(|code| format!("; did you mean {code}?"))
        .unwrap_or_default();
    Err(format!(
        "not an ISO 639 language code (two letters such as km, en, fr, or three such as \
         khm, eng, fre, optionally with a region such as km-KH){hint}"
    ))
}

/// The code for a language written out by name (`English`, `khmer`), if isolang knows
/// the English name: the commonest mistake in a language column.
fn language_by_name(value: &str) -> Option<&'static str> {
    let wanted = value.trim().to_lowercase();
    let lang = isolang::Language::match_names(move |n| n.to_lowercase() == wanted).next()?;
    Some(lang.to_639_1().unwrap_or_else(|| lang.to_639_3()))
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
