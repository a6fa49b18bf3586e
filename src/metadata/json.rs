//! The JSON shape of a Dublin Core record, shared by metadata/dc.json (written by Cairn)
//! and the item sidecar (written by people): `{"dc.title": ["…"], "dcterms.spatial": […]}`.
//!
//! Pure: bytes and serde values only; no filesystem.
//!
//! serde_json's `Map` sorts keys unless its `preserve_order` feature is on, which would
//! scramble the archivist's column order; so records are written through a serde map
//! serializer directly and read through a visitor that keeps document order and
//! duplicate keys, never through `serde_json::Value` objects.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::dublin_core::{DublinCore, Term, UnknownTerm};

impl Serialize for DublinCore {
    /// One key per term, in order of first appearance; the value is always an array, so
    /// readers never have to handle "string or array".
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let terms = self.terms();
        let mut map = serializer.serialize_map(Some(terms.len()))?;
        for term in terms {
            map.serialize_entry(term.name(), &self.values(term))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for DublinCore {
    /// Reads the same shape the sidecar accepts (a string or an array of strings per
    /// key). Fails on the first problem; use [`super::parse_sidecar`] to collect them all.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DublinCore, D::Error> {
        match JsonTop::deserialize(deserializer)? {
            JsonTop::Object(members) => {
                let (record, problems) = record_from_members(members);
                match problems.into_iter().next() {
                    None => Ok(record),
                    Some(p) => Err(de::Error::custom(p)),
                }
            }
            JsonTop::Other(kind) => Err(de::Error::custom(format!(
                "expected a JSON object of metadata terms, found {kind}"
            ))),
        }
    }
}

impl DublinCore {
    /// The record as metadata/dc.json: pretty-printed, keys in first-appearance order,
    /// arrays always, a trailing newline (so the file is a well-formed text file).
    /// Non-ASCII is written as-is, not `\u` escaped, so Khmer stays readable.
    pub fn render_json(&self) -> String {
        // Serializing strings and arrays into a String cannot fail; the fallback is only
        // there so a future serde change cannot turn into a panic.
        let mut out = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_string());
        out.push('\n');
        out
    }
}

/// The top level of a JSON document, kept as written: object members in order, including
/// repeated names, or the kind of non-object value found.
pub(crate) enum JsonTop {
    Object(Vec<(String, serde_json::Value)>),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for JsonTop {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<JsonTop, D::Error> {
        deserializer.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = JsonTop;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonTop, A::Error> {
        let mut members = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
            members.push((k, v));
        }
        Ok(JsonTop::Object(members))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<JsonTop, A::Error> {
        // Drain so the parser still checks the rest of the document's syntax.
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(JsonTop::Other("an array"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<JsonTop, E> {
        Ok(JsonTop::Other("a string"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<JsonTop, E> {
        Ok(JsonTop::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<JsonTop, E> {
        Ok(JsonTop::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<JsonTop, E> {
        Ok(JsonTop::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<JsonTop, E> {
        Ok(JsonTop::Other("a number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsonTop, E> {
        Ok(JsonTop::Other("null"))
    }
}

/// Why one member of a JSON record was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberProblem {
    #[error("{0}")]
    UnknownKey(UnknownTerm),

    /// The key names a term an earlier key already named (perhaps spelled differently,
    /// `dc.title` and `DC.Title`). JSON parsers disagree on which repeat wins, so Cairn
    /// refuses to guess.
    #[error("\"{key}\" repeats {term}, given earlier as \"{first_key}\"; put all its values in one array")]
    DuplicateKey {
        key: String,
        first_key: String,
        term: Term,
    },

    /// A value that is neither a string nor an array of strings.
    #[error("\"{key}\": {found} is not allowed; a value must be a string or an array of strings")]
    NotAString { key: String, found: String },
}

/// Builds a record from object members, keeping every problem.
///
/// Values are trimmed and blank ones skipped, exactly as in the batch sheet, so the same
/// metadata means the same thing in either place (and an empty template field does not
/// erase the sheet's value when overlaid).
pub(crate) fn record_from_members(
    members: Vec<(String, serde_json::Value)>,
) -> (DublinCore, Vec<MemberProblem>) {
    let mut record = DublinCore::new();
    let mut problems = Vec::new();
    let mut seen: Vec<(Term, String)> = Vec::new();
    for (key, value) in members {
        let term = match Term::parse(&key) {
            Ok(t) => t,
            Err(e) => {
                problems.push(MemberProblem::UnknownKey(e));
                continue;
            }
        };
        if let Some((_, first_key)) = seen.iter().find(|(t, _)| *t == term) {
            problems.push(MemberProblem::DuplicateKey {
                key,
                first_key: first_key.clone(),
                term,
            });
            continue;
        }
        seen.push((term, key.clone()));
        let strings: Vec<&serde_json::Value> = match &value {
            serde_json::Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for item in strings {
            match item {
                serde_json::Value::String(s) => {
                    let s = s.trim();
                    if !s.is_empty() {
                        record.push(term, s);
                    }
                }
                other => problems.push(MemberProblem::NotAString {
                    key: key.clone(),
                    found: describe(other),
                }),
            }
        }
    }
    (record, problems)
}

fn describe(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(b) => format!("the boolean {b}"),
        // Numbers are the likeliest mistake (`"dc.date": 1977`), so show the number.
        serde_json::Value::Number(n) => format!("the number {n} (quote it: \"{n}\")"),
        serde_json::Value::String(_) => "a string".into(),
        serde_json::Value::Array(_) => "a nested array".into(),
        serde_json::Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str) -> Term {
        Term::parse(name).expect("known term")
    }

    #[test]
    fn renders_arrays_in_first_appearance_order() {
        let mut r = DublinCore::new();
        r.push(t("dcterms.spatial"), "Phnom Penh");
        r.push(Term::DC_TITLE, "T");
        r.push(t("dc.subject"), "a");
        r.push(t("dcterms.spatial"), "Cambodia");
        r.push(t("dc.subject"), "b");
        let json = r.render_json();
        assert_eq!(
            json,
            "{\n  \"dcterms.spatial\": [\n    \"Phnom Penh\",\n    \"Cambodia\"\n  ],\n  \
             \"dc.title\": [\n    \"T\"\n  ],\n  \"dc.subject\": [\n    \"a\",\n    \"b\"\n  ]\n}\n"
        );
        // Reading it back groups values by term, in first-appearance order.
        let back: DublinCore = serde_json::from_str(&json).expect("reads back");
        assert_eq!(
            back.values(t("dcterms.spatial")),
            ["Phnom Penh", "Cambodia"]
        );
        assert_eq!(back.terms(), r.terms());
        assert_eq!(back.render_json(), json);
    }

    #[test]
    fn empty_record_is_an_empty_object() {
        assert_eq!(DublinCore::new().render_json(), "{}\n");
    }

    #[test]
    fn non_ascii_is_written_unescaped() {
        let mut r = DublinCore::new();
        r.push(Term::DC_TITLE, "ទួលស្លែង");
        assert!(r.render_json().contains("\"ទួលស្លែង\""));
    }

    #[test]
    fn deserialize_reports_first_problem() {
        let e = serde_json::from_str::<DublinCore>(r#"{"dc.titel": "x"}"#).unwrap_err();
        assert!(e.to_string().contains("did you mean dc.title?"), "{e}");
        let e = serde_json::from_str::<DublinCore>("[1]").unwrap_err();
        assert!(e.to_string().contains("found an array"), "{e}");
    }
}
