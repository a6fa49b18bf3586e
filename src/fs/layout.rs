//! Where everything lives: every name of the archive's layout on disk and of a
//! replica's keys, in one place (as rocfl's `StorageLayout` says where an object is).
//! The rest of Cairn builds paths and keys with these, never with the literal names.
//!
//! ```text
//! cairn.toml                          the configuration (config::CONFIG_FILE)
//! intake/                             what archivists drop (archive.intake)
//! archive/ID/                         the current bag of item ID (archive.archive)
//! archive/.staging/                   bags and changes being built
//! archive/.versions/ID/NNNNNN/        earlier versions of a revised item
//! archive/.quarantine/ID/             the bag of a withdrawn item
//! manifests/ID.json                   the register entry of item ID (archive.manifests)
//! manifests/history/ID/NNNNNN.json    superseded register entries
//! manifests/withdrawn/ID.json         tombstones
//! manifests/events.jsonl              the event log
//! manifests/.events-index/            the log's index by item (a cache)
//! manifests/.item-index/              what start-up needs of each item (a cache)
//! manifests/tlog/, tlog.pending       the log's Merkle tree (a cache) and its mark
//! manifests/tlog.replaced-*           trees moved aside as evidence
//! manifests/checkpoints/              signed checkpoints of the tree
//! manifests/formats/                  installed signature files
//! manifests/.replicas/NAME.json       the marker written to each replica
//! manifests/.lock, .events.lock, .fixity.lock
//! ```
//!
//! A replica holds the same tree under its root, as keys (`archive/ID/...`,
//! `manifests/ID.json`, ...), with `.cairn/` for its own records.

use std::path::{Path, PathBuf};

pub use crate::config::CONFIG_FILE;

/// The default folder names in the archive root (cairn.toml may name others).
pub const INTAKE_DIR: &str = "intake";
pub const ARCHIVE_DIR: &str = "archive";
pub const MANIFESTS_DIR: &str = "manifests";

/// The folder inside archive/ where bags are built before they are published.
pub const STAGING_DIR: &str = ".staging";
/// archive/.quarantine/: the bags of withdrawn items, kept unless purged.
pub const QUARANTINE_DIR: &str = ".quarantine";
/// archive/.versions/ID/NNNNNN: the earlier versions of a revised item, complete bags.
pub const VERSIONS_DIR: &str = ".versions";

/// The lock file, in manifests/.
pub const LOCK_FILE: &str = ".lock";
/// The event log, in manifests/.
pub const EVENTS_FILE: &str = "events.jsonl";
/// Held (briefly) by every append to the event log, and shared by readers.
pub const LOG_LOCK_FILE: &str = ".events.lock";
/// Held by a fixity run for its whole length, so runs never overlap.
pub const FIXITY_LOCK_FILE: &str = ".fixity.lock";
/// manifests/history/: superseded register entries.
pub const HISTORY_DIR: &str = "history";
/// manifests/withdrawn/: tombstones.
pub const WITHDRAWN_DIR: &str = "withdrawn";
/// manifests/formats/: installed signature files.
pub const FORMATS_DIR: &str = "formats";
/// manifests/checkpoints/: signed checkpoints.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// The folder of the log's Merkle tree, beside the log.
pub const TREE_DIR: &str = "tlog";
/// Trees moved aside as evidence: `tlog.replaced-<when>`, beside the log.
pub const REPLACED_PREFIX: &str = "tlog.replaced-";
/// The file beside the tree that names the log's last line (seq, leaf hash) once the
/// append in progress is written: an append writes it before it writes the log, so
/// that a tree one append short of the log is known for a crash between the two writes
/// (finished from the log), not for lines written by something else (refused).
pub const PENDING_FILE: &str = "tlog.pending";
/// The log's index by item, beside the log.
pub const INDEX_DIR: &str = ".events-index";
/// The item index (fs::item_index), beside the log.
pub const ITEM_INDEX_DIR: &str = ".item-index";
/// The folder in manifests/ where the archive keeps the marker it wrote to each
/// replica (hidden: never a register entry, never replicated).
pub const RECORD_DIR: &str = ".replicas";
/// What a register entry's (and a tombstone's, and a superseded entry's) file name
/// ends with.
pub const ENTRY_EXT: &str = ".json";

/// The folder of a replica's own keys (its marker, the log's head), where no item's
/// key can reach.
pub const OWN_KEYS_DIR: &str = ".cairn";
/// A replica's marker.
pub const MARKER_KEY: &str = ".cairn/replica.json";
/// The object holding the event log's head (its last line's seq and digest), under
/// `.cairn/`, where no item's key can reach.
pub const HEAD_KEY: &str = ".cairn/events.head.json";
/// Where replicas made before that kept the head; an item whose identifier is
/// `events.head` has its register entry there. Read as a head only when it parses as
/// one (a register entry never does); `replicate` moves it to [`HEAD_KEY`].
pub const LEGACY_HEAD_KEY: &str = "manifests/events.head.json";
/// The event log on a replica.
pub const LOG_KEY: &str = "manifests/events.jsonl";
/// The configuration on a replica (it holds no secret: credentials live in the
/// environment).
pub const CONFIG_KEY: &str = CONFIG_FILE;

/// manifests/ID.json in the manifests folder `manifests`.
pub fn register_file(manifests: &Path, id: &str) -> PathBuf {
    manifests.join(entry_name(id))
}

/// `ID.json`: the file name of item `id`'s register entry (and tombstone).
pub fn entry_name(id: &str) -> String {
    format!("{id}{ENTRY_EXT}")
}

/// The item a file name in manifests/ (or withdrawn/) is the entry of: `ID` for
/// `ID.json`, not hidden; `None` for any other name.
pub fn entry_id(name: &str) -> Option<&str> {
    name.strip_suffix(ENTRY_EXT)
        .filter(|id| !id.starts_with('.'))
}

/// manifests/history/ID/.
pub fn history_dir(manifests: &Path, id: &str) -> PathBuf {
    manifests.join(HISTORY_DIR).join(id)
}

/// manifests/history/ID/NNNNNN.json.
pub fn history_file(manifests: &Path, id: &str, version: u32) -> PathBuf {
    history_dir(manifests, id).join(format!("{version:06}{ENTRY_EXT}"))
}

/// manifests/withdrawn/ID.json.
pub fn tombstone_file(manifests: &Path, id: &str) -> PathBuf {
    manifests.join(WITHDRAWN_DIR).join(entry_name(id))
}

/// manifests/events.jsonl.
pub fn events_file(manifests: &Path) -> PathBuf {
    manifests.join(EVENTS_FILE)
}

/// manifests/.replicas/NAME.json.
pub fn replica_record_file(manifests: &Path, name: &str) -> PathBuf {
    manifests.join(RECORD_DIR).join(entry_name(name))
}

/// archive/.staging/.
pub fn staging_dir(bags: &Path) -> PathBuf {
    bags.join(STAGING_DIR)
}

/// archive/.versions/ID/.
pub fn versions_dir(bags: &Path, id: &str) -> PathBuf {
    bags.join(VERSIONS_DIR).join(id)
}

/// archive/.versions/ID/NNNNNN.
pub fn version_dir(bags: &Path, id: &str, version: u32) -> PathBuf {
    versions_dir(bags, id).join(format!("{version:06}"))
}

/// archive/.quarantine/ID.
pub fn quarantine_dir(bags: &Path, id: &str) -> PathBuf {
    bags.join(QUARANTINE_DIR).join(id)
}

/// The folder of the Merkle tree of the log at `log`.
pub fn tree_dir(log: &Path) -> PathBuf {
    beside(log, TREE_DIR)
}

/// The tree's pending mark, beside the log at `log`.
pub fn pending_file(log: &Path) -> PathBuf {
    beside(log, PENDING_FILE)
}

/// The index of the log at `log`.
pub fn index_dir(log: &Path) -> PathBuf {
    beside(log, INDEX_DIR)
}

fn beside(log: &Path, name: &str) -> PathBuf {
    crate::fs::durable::parent_dir(log).join(name)
}

/// The key of item `id`'s bag folder on a replica: `archive/ID`.
pub fn bag_key(id: &str) -> String {
    format!("{ARCHIVE_DIR}/{id}")
}

/// The key of item `id`'s earlier versions on a replica: `archive/.versions/ID`.
pub fn versions_key(id: &str) -> String {
    format!("{ARCHIVE_DIR}/{VERSIONS_DIR}/{id}")
}

/// The key of version `version` of item `id` on a replica (and its path in the
/// archive, as reports name it): `archive/.versions/ID/NNNNNN`.
pub fn version_key(id: &str, version: u32) -> String {
    format!("{}/{version:06}", versions_key(id))
}

/// The key of the file at `rel` (`/`-separated) inside manifests/, as a replica and the
/// event log name it: `manifests/REL`.
pub fn manifests_key(rel: &str) -> String {
    format!("{MANIFESTS_DIR}/{rel}")
}

/// The key of item `id`'s register entry on a replica: `manifests/ID.json`.
pub fn register_key(id: &str) -> String {
    format!("{MANIFESTS_DIR}/{}", entry_name(id))
}

/// Turns a dc.identifier into a folder name, or explains why it cannot be one.
///
/// The transformation (docs/identifiers.md): NFC; every run of characters other than
/// ASCII letters, digits, `-`, `_` and `.` becomes one `_`; a leading `.` or `-`
/// becomes `_`; at most 100 bytes. Different identifiers can map to the same name
/// (`S21/001`, `S21:001`); the second is then refused as already in use, never merged.
pub fn identifier_to_folder(identifier: &str) -> Result<String, String> {
    use unicode_normalization::UnicodeNormalization;
    let nfc: String = identifier.trim().nfc().collect();
    let mut out = String::new();
    let mut in_run = false;
    for c in nfc.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    if out.starts_with(['.', '-']) {
        out.replace_range(..1, "_");
    }
    if out.is_empty() || out.chars().all(|c| c == '_') {
        return Err(format!(
            "dc.identifier {} has no letters or digits to name a folder with",
            crate::quoted(identifier)
        ));
    }
    if out.len() > 100 {
        return Err(format!(
            "dc.identifier {} is longer than 100 characters",
            crate::quoted(identifier)
        ));
    }
    Ok(out)
}

/// Names of the archive's and a replica's own layout that an identifier may not take,
/// compared without regard to case (replicas and other copies may live on file systems
/// that ignore it). An item `ID` is archive/ID, manifests/ID.json,
/// manifests/history/ID/ and manifests/withdrawn/ID.json, on disk and as replica keys;
/// beside them in manifests/ are the event log (events.jsonl), a replica's log head
/// (events.head.json), the history/, withdrawn/, formats/, checkpoints/ and tlog/
/// folders, and in archive/ hidden folders only.
pub const RESERVED_IDENTIFIERS: [&str; 9] = [
    "events",
    "events.head",
    EVENTS_FILE,
    HISTORY_DIR,
    WITHDRAWN_DIR,
    FORMATS_DIR,
    CHECKPOINTS_DIR,
    TREE_DIR,
    CONFIG_FILE,
];

/// Why the folder name `id` may not name an item, if it may not: a name of the
/// layout ([`RESERVED_IDENTIFIERS`], any hidden name, a `tlog.` name, a `~` (staging
/// folders)), or a device name Windows will not create (`CON`, `NUL`, `COM1`, ...),
/// which could not travel to a replica or a copy on such a file system.
pub fn reserved_identifier(id: &str) -> Option<String> {
    let lower = id.to_ascii_lowercase();
    let stem = lower.split('.').next().unwrap_or(&lower);
    let device = matches!(stem, "con" | "prn" | "aux" | "nul")
        || ((stem.starts_with("com") || stem.starts_with("lpt"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if id.starts_with('.') || id.contains('~') {
        Some(format!(
            "{} would be a hidden or staging name of the archive's layout",
            crate::quoted(id)
        ))
    } else if RESERVED_IDENTIFIERS.contains(&lower.as_str())
        || lower.starts_with(&format!("{TREE_DIR}."))
    {
        Some(format!(
            "{} is reserved: the archive and its replicas use it for their own files (manifests/{lower}...)",
            crate::quoted(id)
        ))
    } else if device {
        Some(format!(
            "{} is a device name on Windows: no file or folder there can have it",
            crate::quoted(id)
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names_are_reserved() {
        for id in [
            "events.head",
            "EVENTS",
            "history",
            "Withdrawn",
            ".staging",
            "tlog.replaced-1",
            "a~amend",
            "CON",
            "com1.txt",
        ] {
            assert!(reserved_identifier(id).is_some(), "{id}");
        }
        for id in [
            "cairn-000001",
            "events-1977",
            "history_of_s21",
            "console",
            "com10",
        ] {
            assert!(reserved_identifier(id).is_none(), "{id}");
        }
    }

    #[test]
    fn identifiers_become_safe_folder_names() {
        assert_eq!(
            identifier_to_folder("DC-Cam/S21/0001").unwrap(),
            "DC-Cam_S21_0001"
        );
        assert_eq!(
            identifier_to_folder("s21 ::  portrait").unwrap(),
            "s21_portrait"
        );
        assert_eq!(identifier_to_folder("../etc").unwrap(), "_._etc");
        assert_eq!(identifier_to_folder(".hidden").unwrap(), "_hidden");
        assert_eq!(identifier_to_folder("ទួលស្លែង-1").unwrap(), "_-1");
        assert!(identifier_to_folder("ទួលស្លែង").is_err());
        assert!(identifier_to_folder("").is_err());
        assert!(identifier_to_folder(&"x".repeat(101)).is_err());
    }
}
