//! The controlled vocabularies a record's values are checked against: the DCMI Type
//! Vocabulary (`dc.type`) and ISO 639 language codes (`dc.language`).

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

pub(super) const DCMI_TYPE_NS: &str = "http://purl.org/dc/dcmitype/";

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
pub(super) const ISO_639_2B: [(&str, &str); 20] = [
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
pub(super) fn language_by_name(value: &str) -> Option<&'static str> {
    let wanted = value.trim().to_lowercase();
    let lang = isolang::Language::match_names(move |n| n.to_lowercase() == wanted).next()?;
    Some(lang.to_639_1().unwrap_or_else(|| lang.to_639_3()))
}
