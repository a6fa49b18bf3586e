//! A Dublin Core record as a register entry (manifests/ID.json) and a tombstone store
//! it: a JSON object of term name → array of values, keys in sorted order.
//!
//! Pure: serde only; no filesystem.
//!
//! The register is the truth, so this form reads and writes it byte for byte: values are
//! kept exactly as stored (never trimmed, blanks kept), and the keys are written in the
//! order in which Cairn has always written them (serde_json's `Map` without
//! `preserve_order`, that is sorted by name; metadata/dc.json keeps the archivist's
//! order instead, see json.rs). A member that is not a term in DCMI's spelling with an
//! array of strings (a term a newer Cairn knows, a `cairn.access` added by hand) is kept
//! in [`StoredDublinCore::other`] as it was read and written back with the rest, so that
//! rewriting an entry loses nothing.

use std::collections::BTreeMap;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::dublin_core::{DublinCore, Term};
use super::json::{record_from_members, MemberProblem};

/// The Dublin Core record of a register entry or a tombstone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredDublinCore {
    /// Every member whose key is a term in DCMI's spelling (`dc.title`) and whose value
    /// is an array of strings: the values as stored, grouped by term.
    record: DublinCore,
    /// Every other member, as it was read.
    other: BTreeMap<String, Value>,
}

/// One member's value while writing: the record's values of a term, or another member.
enum Member<'a> {
    Values(Vec<&'a str>),
    Other(&'a Value),
}

impl Serialize for Member<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Member::Values(v) => v.serialize(s),
            Member::Other(v) => v.serialize(s),
        }
    }
}

impl StoredDublinCore {
    /// The members in the order they are written (sorted by key); a key that both the
    /// record and `other` hold is the record's.
    fn members(&self) -> BTreeMap<&str, Member<'_>> {
        let mut out: BTreeMap<&str, Member<'_>> = self
            .other
            .iter()
            .map(|(k, v)| (k.as_str(), Member::Other(v)))
            .collect();
        for term in self.record.terms() {
            out.insert(term.name(), Member::Values(self.record.values(term)));
        }
        out
    }

    /// The record's terms and values as stored (members kept in `other` left out).
    pub fn record(&self) -> &DublinCore {
        &self.record
    }

    /// Replaces the record (`cairn amend`); members in `other` that the new record
    /// does not name stay as they were.
    pub fn set_record(&mut self, record: DublinCore) {
        for term in record.terms() {
            self.other.remove(term.name());
        }
        self.record = record;
    }

    /// Takes a member the record does not hold (`cairn.access`) out of `other`.
    pub fn take_other(&mut self, key: &str) -> Option<Value> {
        self.other.remove(key)
    }

    /// The first value stored under `term` (`None` when it is not a string).
    pub fn first(&self, term: Term) -> Option<&str> {
        match self.record.first(term) {
            Some(v) => Some(v),
            None => self
                .other
                .get(term.name())
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str),
        }
    }

    /// Every string value stored under `term`, in order.
    pub fn strings(&self, term: Term) -> Vec<&str> {
        if self.record.contains(term) {
            return self.record.values(term);
        }
        self.other
            .get(term.name())
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// Every (key, value) pair for people to read, in key order: each element of each
    /// array, an element that is not a string as "" (a member that is not an array has
    /// no lines).
    pub fn lines(&self) -> Vec<(&str, &str)> {
        let mut out = Vec::new();
        for (key, member) in self.members() {
            match member {
                Member::Values(values) => out.extend(values.into_iter().map(|v| (key, v))),
                Member::Other(v) => out.extend(
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .map(|v| (key, v.as_str().unwrap_or_default())),
                ),
            }
        }
        out
    }

    /// The record as a reader of metadata takes it (as from metadata/dc.json): values
    /// trimmed, blank ones dropped, term names in any case; the first member that is
    /// not a term with string values is the error.
    pub fn read_record(&self) -> Result<DublinCore, MemberProblem> {
        let members: Vec<(String, Value)> = self
            .members()
            .into_iter()
            .map(|(k, m)| {
                let value = match m {
                    Member::Values(v) => Value::Array(v.into_iter().map(Value::from).collect()),
                    Member::Other(v) => v.clone(),
                };
                (k.to_string(), value)
            })
            .collect();
        let (record, problems) = record_from_members(members);
        match problems.into_iter().next() {
            None => Ok(record),
            Some(p) => Err(p),
        }
    }
}

impl From<DublinCore> for StoredDublinCore {
    fn from(record: DublinCore) -> StoredDublinCore {
        StoredDublinCore {
            record,
            other: BTreeMap::new(),
        }
    }
}

impl Serialize for StoredDublinCore {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let members = self.members();
        let mut map = serializer.serialize_map(Some(members.len()))?;
        for (key, member) in &members {
            map.serialize_entry(key, member)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for StoredDublinCore {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StoredDublinCore, D::Error> {
        let members = BTreeMap::<String, Value>::deserialize(deserializer)?;
        let mut stored = StoredDublinCore::default();
        for (key, value) in members {
            let term = Term::parse(&key).ok().filter(|t| t.name() == key);
            let strings = value
                .as_array()
                .filter(|a| !a.is_empty())
                .and_then(|a| a.iter().map(|v| v.as_str()).collect::<Option<Vec<&str>>>());
            match (term, strings) {
                (Some(term), Some(strings)) => {
                    for s in strings {
                        stored.record.push(term, s);
                    }
                }
                _ => {
                    stored.other.insert(key, value);
                }
            }
        }
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str) -> Term {
        Term::parse(name).expect("known term")
    }

    fn round_trip(json: &str) -> (StoredDublinCore, String) {
        let stored: StoredDublinCore = serde_json::from_str(json).expect("reads");
        let back = serde_json::to_string_pretty(&stored).expect("writes");
        (stored, back)
    }

    /// What `serde_json::Value` (keys sorted) wrote for a record is what this writes.
    #[test]
    fn writes_what_a_value_wrote() {
        let mut r = DublinCore::new();
        r.push(t("dcterms.spatial"), "Phnom Penh");
        r.push(Term::DC_TITLE, "ទួលស្លែង");
        r.push(t("dc.subject"), "b");
        r.push(t("dcterms.spatial"), "Cambodia");
        r.push(t("dc.subject"), "a");
        let value = serde_json::to_value(&r).expect("a record is JSON");
        let expected = serde_json::to_string_pretty(&value).expect("writes");
        let stored = StoredDublinCore::from(r);
        assert_eq!(
            serde_json::to_string_pretty(&stored).expect("writes"),
            expected
        );
        let (_, back) = round_trip(&expected);
        assert_eq!(back, expected);
    }

    /// Members that are not terms with string arrays, and values as they are (padded,
    /// blank), are written back unchanged.
    #[test]
    fn keeps_what_it_does_not_know() {
        let json = r#"{
  "DC.Title": [
    "other spelling"
  ],
  "cairn.access": "restricted",
  "dc.date": [],
  "dc.subject": [
    "a",
    1
  ],
  "dc.title": [
    "  padded ",
    ""
  ],
  "future.term": {
    "n": 1
  }
}"#;
        let (stored, back) = round_trip(json);
        assert_eq!(back, json);
        assert_eq!(stored.record().values(Term::DC_TITLE), ["  padded ", ""]);
        assert_eq!(stored.first(Term::DC_TITLE), Some("  padded "));
        assert_eq!(stored.strings(t("dc.subject")), ["a"]);
        assert_eq!(stored.first(t("dc.date")), None);
        assert_eq!(
            stored.lines(),
            [
                ("DC.Title", "other spelling"),
                ("dc.subject", "a"),
                ("dc.subject", ""),
                ("dc.title", "  padded "),
                ("dc.title", ""),
            ]
        );
    }

    /// `read_record` is what reading the stored object as a sidecar-shaped record gave.
    #[test]
    fn read_record_is_the_metadata_reading() {
        let json = r#"{"dc.title": [" T "], "dc.subject": ["", "s"]}"#;
        let (stored, _) = round_trip(json);
        let read = stored.read_record().expect("a record");
        let value: Value = serde_json::from_str(json).expect("JSON");
        let direct: DublinCore = serde_json::from_value(value).expect("a record");
        assert_eq!(read, direct);
        assert_eq!(read.values(Term::DC_TITLE), ["T"]);

        let (mut stored, _) = round_trip(r#"{"cairn.access": "x", "dc.title": ["T"]}"#);
        let err = stored.read_record().expect_err("cairn.access is no term");
        let value: Value =
            serde_json::from_str(r#"{"cairn.access": "x", "dc.title": ["T"]}"#).expect("JSON");
        let direct = serde_json::from_value::<DublinCore>(value).expect_err("no term");
        assert_eq!(err.to_string(), direct.to_string());
        assert_eq!(stored.take_other("cairn.access"), Some(Value::from("x")));
        assert!(stored.read_record().is_ok());
    }

    /// A new record replaces the old one's terms, keeping members it does not name.
    #[test]
    fn set_record_keeps_other_members() {
        let (mut stored, _) = round_trip(
            r#"{"dc.title": "not an array", "future.term": ["x"], "dc.date": ["1976"]}"#,
        );
        let mut r = DublinCore::new();
        r.push(Term::DC_TITLE, "T");
        stored.set_record(r);
        let back = serde_json::to_string(&stored).expect("writes");
        assert_eq!(back, r#"{"dc.title":["T"],"future.term":["x"]}"#);
    }
}
