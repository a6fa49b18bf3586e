//! The event log's closed vocabularies: the PREMIS event types Cairn writes and the
//! outcomes an event can have, each with the one spelling the log, `--json`, the web
//! pages and the filters use. Pure: strings in, values out.
//!
//! The types are those of the Library of Congress eventType vocabulary
//! (id.loc.gov/vocabulary/preservation/eventType), but for `log repair`, Cairn's own
//! name for cutting off a line that a crash left incomplete (docs/event-log.md).

use std::fmt;
use std::str::FromStr;

/// A PREMIS event type that Cairn writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    MessageDigestCalculation,
    Validation,
    Ingestion,
    FormatIdentification,
    FixityCheck,
    MetadataModification,
    Modification,
    Deaccession,
    Exporting,
    Replication,
    Recovery,
    LogRepair,
}

impl EventType {
    /// Every type, in the order an item meets them.
    pub const ALL: [EventType; 12] = [
        EventType::MessageDigestCalculation,
        EventType::Validation,
        EventType::Ingestion,
        EventType::FormatIdentification,
        EventType::FixityCheck,
        EventType::MetadataModification,
        EventType::Modification,
        EventType::Deaccession,
        EventType::Exporting,
        EventType::Replication,
        EventType::Recovery,
        EventType::LogRepair,
    ];

    /// The spelling in the log.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::MessageDigestCalculation => "message digest calculation",
            EventType::Validation => "validation",
            EventType::Ingestion => "ingestion",
            EventType::FormatIdentification => "format identification",
            EventType::FixityCheck => "fixity check",
            EventType::MetadataModification => "metadata modification",
            EventType::Modification => "modification",
            EventType::Deaccession => "deaccession",
            // Written as "export" since export was first logged; PREMIS calls it
            // "exporting" (ops/premis.rs maps it), and the filter accepts both.
            EventType::Exporting => "export",
            EventType::Replication => "replication",
            EventType::Recovery => "recovery",
            EventType::LogRepair => "log repair",
        }
    }

    /// The type a line of the log names, if Cairn knows it.
    pub fn of(spelled: &str) -> Option<EventType> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == spelled)
            .or_else(|| (spelled == "exporting").then_some(EventType::Exporting))
    }

    /// Whether the log's `type` field is this type.
    pub fn is(self, spelled: &str) -> bool {
        spelled == self.as_str()
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Event types Cairn never writes but reads in a log, as PREMIS spells them: `deletion`
/// (the audit takes it as a withdrawal, as `deaccession`) and `quarantine` (mapped to
/// its LoC code in PREMIS output).
pub const READ_ONLY_TYPES: [&str; 2] = [DELETION, QUARANTINE];
/// PREMIS's `deletion`: see [`READ_ONLY_TYPES`].
pub const DELETION: &str = "deletion";
/// PREMIS's `quarantine`: see [`READ_ONLY_TYPES`].
pub const QUARANTINE: &str = "quarantine";

/// An event's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Success,
    /// Done, with something worth a look (a format identification that found damaged
    /// headers): not a failure.
    Warning,
    Failure,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Warning, Outcome::Failure];

    /// The spelling in the log.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Warning => "warning",
            Outcome::Failure => "failure",
        }
    }

    /// The outcome a line of the log names, if Cairn knows it.
    pub fn of(spelled: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == spelled)
    }

    /// Whether the log's `outcome` field is this outcome.
    pub fn is(self, spelled: &str) -> bool {
        spelled == self.as_str()
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not in a vocabulary: what was given, the words that are, and the
/// nearest one when it is close (as clap suggests commands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWord {
    pub what: &'static str,
    pub given: String,
    pub known: Vec<&'static str>,
    pub nearest: Option<&'static str>,
}

impl fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {}", self.what, crate::quoted(&self.given))?;
        if let Some(n) = self.nearest {
            write!(f, " (did you mean {}?)", crate::quoted(n))?;
        }
        let known: Vec<String> = self.known.iter().map(|k| crate::quoted(k)).collect();
        write!(f, "; the {}s are {}", self.what, known.join(", "))
    }
}

impl std::error::Error for UnknownWord {}

/// The commands' words for the events they write, for "did you mean": a user who ran
/// `cairn withdraw` looks for a withdrawal, which the log (PREMIS) calls a deaccession.
const COMMAND_WORDS: &[(&str, &str)] = &[
    ("withdrawal", "deaccession"),
    ("withdraw", "deaccession"),
    ("purge", "deaccession"),
    ("amend", "metadata modification"),
    ("amendment", "metadata modification"),
    ("revise", "modification"),
    ("revision", "modification"),
    ("ingest", "ingestion"),
    ("import", "ingestion"),
    ("replicate", "replication"),
    ("repair", "recovery"),
    ("restore", "recovery"),
    ("identify", "format identification"),
];

/// The known word nearest `given`: the one a command's word stands for (`withdrawal`:
/// `deaccession`), one that starts with it (`fixity` for `fixity check`), else the
/// closest by Jaro-Winkler similarity above 0.8, clap's threshold.
fn nearest(given: &str, known: &[&'static str]) -> Option<&'static str> {
    let lower = given.to_lowercase();
    if lower.is_empty() {
        return None;
    }
    if let Some((_, k)) = COMMAND_WORDS.iter().find(|(w, _)| *w == lower) {
        if let Some(k) = known.iter().find(|known| *known == k) {
            return Some(k);
        }
    }
    nearest_of(&lower, known)
}

/// The known word nearest `given` (lower case): one that starts with it, else the
/// closest by Jaro-Winkler similarity above 0.8. Also for the names of cairn.toml's
/// keys and presets (`[qc]`).
pub(crate) fn nearest_of<'a>(given: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = given.to_lowercase();
    if lower.is_empty() {
        return None;
    }
    if let Some(k) = known.iter().find(|k| k.starts_with(&lower)) {
        return Some(k);
    }
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(&lower, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

fn unknown(what: &'static str, given: &str, known: Vec<&'static str>) -> UnknownWord {
    UnknownWord {
        what,
        given: given.to_string(),
        nearest: nearest(given, &known),
        known,
    }
}

impl FromStr for EventType {
    type Err = UnknownWord;

    /// The spelled form, in any case (`Fixity Check`); PREMIS's `exporting` too.
    fn from_str(s: &str) -> Result<EventType, UnknownWord> {
        EventType::of(&s.to_lowercase()).ok_or_else(|| {
            unknown(
                "event type",
                s,
                EventType::ALL.iter().map(|t| t.as_str()).collect(),
            )
        })
    }
}

impl FromStr for Outcome {
    type Err = UnknownWord;

    fn from_str(s: &str) -> Result<Outcome, UnknownWord> {
        Outcome::of(&s.to_lowercase()).ok_or_else(|| {
            unknown(
                "outcome",
                s,
                Outcome::ALL.iter().map(|o| o.as_str()).collect(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back_from_its_spelling() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            assert_eq!(EventType::of(t.as_str()), Some(t));
            assert!(t.is(t.as_str()));
        }
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(o));
        }
        assert_eq!(
            "Fixity Check".parse::<EventType>(),
            Ok(EventType::FixityCheck)
        );
        assert_eq!("exporting".parse::<EventType>(), Ok(EventType::Exporting));
    }

    #[test]
    fn an_unknown_word_names_the_nearest_and_the_list() {
        let e = "fixity".parse::<EventType>().unwrap_err();
        assert_eq!(e.nearest, Some("fixity check"));
        let text = e.to_string();
        assert!(text.contains("did you mean \"fixity check\"?"), "{text}");
        assert!(text.contains("\"deaccession\""), "{text}");
        let e = "withdrawal".parse::<EventType>().unwrap_err();
        assert_eq!(e.nearest, Some("deaccession"), "{e}");
        let e = "zzz".parse::<EventType>().unwrap_err();
        assert_eq!(e.nearest, None, "{e}");
        let e = "warn".parse::<Outcome>().unwrap_err();
        assert_eq!(e.nearest, Some("warning"));
        assert!("ok".parse::<Outcome>().is_err());
    }
}
