//! The archive as `cairn serve` shows it: an in-memory snapshot of the register
//! (manifests/*.json) and, of the event log, a row per line and what the pages summarise ([`EventLog`]), rebuilt from
//! the files whenever they change.
//!
//! Consistency: ingest and import publish the bag, then write the register entry (one
//! atomic rename), then append events. An item is shown once its entry exists *and* its
//! bag is there, so a half-committed item is never shown; an entry whose bag is missing
//! waits in [`Snapshot::pending`]. The log is read only up to its last complete line,
//! under the shared log lock, so a half-written append is never read.
//!
//! Refreshing is incremental: register entries already read are kept (they are replaced
//! only by an amend or a revise, whose events name them), and the log is read on from
//! where the last read stopped, each new line chained to the last one seen. When the
//! new lines are all fixity checks of items shown and the register's and the bags'
//! folders are unchanged (a fixity run beside the server), the register is not listed
//! again: only the checked items' checks are worked out (`Snapshot::with_checks`).
//!
//! Each item's oai_dc record (its bag's metadata/dc.xml) is not held: it is read when
//! a GetRecord or ListRecords answer needs it ([`Item::oai_dc`]), so start-up opens no
//! bag file and the snapshot does not grow by a record per item.
//!
//! Deleted records: withdrawn items' tombstones (manifests/withdrawn/, `cairn withdraw`)
//! are read by [`read_tombstones`]; OAI-PMH declares `deletedRecord` `persistent` (see
//! [`Snapshot::deleted_record`]) and answers them as `status="deleted"` headers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::metadata::{DublinCore, Term};
use crate::register::{FileRecord, RegisterEntry};

mod event_log;

use event_log::read_log;
pub use event_log::{CheckHistory, EventLog, LineRow, LineShown, Names};

/// The largest metadata/dc.xml read: a record is a few kilobytes.
const MAX_DC_XML: u64 = 4 * 1024 * 1024;

/// One item as served.
#[derive(Debug)]
pub struct Item {
    pub id: String,
    /// When it was archived, seconds since the epoch (UTC): the OAI-PMH datestamp.
    pub datestamp: i64,
    /// The register's `archived`, as written.
    pub archived: String,
    /// The register entry's `updated` (when its current version was published), if
    /// amended or revised.
    pub updated: Option<String>,
    /// The version of its content (its bag) and of its register entry.
    pub version: u32,
    pub entry_version: u32,
    pub dc: DublinCore,
    pub title: String,
    /// A BCP 47 tag for `lang` attributes, from the first dc.language.
    pub lang: Option<String>,
    /// The setSpecs of its collections (dcterms.isPartOf).
    pub sets: Vec<String>,
    /// Metadata only: dcterms.accessRights (or a cairn.access column) says restricted.
    pub restricted: bool,
    /// Its files as its register entry lists them: only in an item read for one page
    /// or file ([`current_item`]); empty in the snapshot's items, which keep
    /// `file_count` and `formats` instead (a file's record, with its digests and
    /// technical metadata, is hundreds of bytes).
    pub files: Vec<FileRecord>,
    pub file_count: usize,
    /// Its files per media type: (media type, files, bytes).
    pub formats: Box<[(Arc<str>, u32, u64)]>,
    pub bytes: u64,
    /// The bag's folder.
    pub bag_dir: PathBuf,
    /// The inode of the register entry file read: a new version of the entry is a new
    /// file, so a different inode means the item must be read again.
    pub entry_ino: u64,
    /// Every Dublin Core value and the identifier, folded for search
    /// ([`super::search::fold`]: case and diacritics).
    pub search: String,
}

/// A withdrawn item, answered as an OAI-PMH deleted record.
#[derive(Debug, Clone)]
pub struct Tombstone {
    pub id: String,
    pub datestamp: i64,
    pub sets: Vec<String>,
}

/// One OAI-PMH set.
#[derive(Debug, Clone)]
pub struct SetInfo {
    pub spec: String,
    pub name: String,
    pub items: usize,
}

impl Item {
    /// This item as the snapshot keeps it: without its file records.
    fn listed(mut self) -> Item {
        self.files = Vec::new();
        self
    }

    /// The `<oai_dc:dc>` element of the bag's metadata/dc.xml, byte for byte, read
    /// when a record is asked for (not held per item: see docs/architecture.md,
    /// "Memory"); rendered from the register's record when the file is missing, too
    /// large, a symlink or not an oai_dc document.
    pub fn oai_dc(&self) -> String {
        read_oai_dc(&self.bag_dir.join("metadata").join("dc.xml"))
            .unwrap_or_else(|| strip_prolog(&crate::metadata::render_oai_dc(&self.dc)).to_string())
    }
}

/// An item's fixity status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Failed,
    Overdue,
    NeverChecked,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Ok,
        Status::Failed,
        Status::Overdue,
        Status::NeverChecked,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Overdue => "overdue",
            Status::NeverChecked => "never checked",
        }
    }

    /// The URL spelling (`never-checked`).
    pub fn slug(self) -> &'static str {
        match self {
            Status::NeverChecked => "never-checked",
            s => s.name(),
        }
    }

    pub fn from_slug(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.slug() == s)
    }
}

/// What was on disk when a snapshot was taken; a change means rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stamp {
    log: Option<(u64, SystemTime, u64)>,
    manifests: Option<SystemTime>,
    bags: Option<SystemTime>,
}

impl Stamp {
    /// Three stats: the log (size, mtime, inode), the register's and the bags' folders.
    pub fn take(archive: &Archive) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        Stamp {
            log: std::fs::metadata(archive.events_path())
                .ok()
                .and_then(|m| Some((m.len(), m.modified().ok()?, m.ino()))),
            manifests: mtime(&archive.manifests),
            bags: mtime(&archive.bags),
        }
    }
}

/// The archive, read.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub stamp: Stamp,
    /// Shown items, by (datestamp, id): the order of every OAI-PMH list.
    pub items: Arc<Vec<Arc<Item>>>,
    pub by_id: Arc<HashMap<String, usize>>,
    /// Each set's items: indexes into `items`, in the same order.
    pub set_members: Arc<HashMap<String, Vec<u32>>>,
    /// Register entries not shown: bag not (yet) there, or unreadable (id, why).
    pub pending: Vec<(String, String)>,
    pub tombstones: Arc<Vec<Tombstone>>,
    pub sets: Arc<Vec<SetInfo>>,
    pub log: Arc<EventLog>,
    /// Each shown item's checks, in the order of `items`.
    pub checks: Vec<CheckHistory>,
    /// Payload files and bytes of the shown items, and per media type (most files
    /// first).
    pub files: usize,
    pub bytes: u64,
    pub formats: Vec<(String, usize, u64)>,
    pub interval_days: u32,
    pub taken: DateTime<Utc>,
}

impl Snapshot {
    pub fn item(&self, id: &str) -> Option<&Arc<Item>> {
        self.by_id.get(id).map(|&i| &self.items[i])
    }

    /// OAI-PMH `deletedRecord`: `persistent` once withdrawn items are kept as
    /// tombstones, `no` until then.
    pub fn deleted_record(&self) -> &'static str {
        if TOMBSTONES_SUPPORTED {
            "persistent"
        } else {
            "no"
        }
    }

    pub fn checks(&self, id: &str) -> CheckHistory {
        self.by_id
            .get(id)
            .and_then(|&i| self.checks.get(i))
            .cloned()
            .unwrap_or_default()
    }

    /// An item's fixity status at `now`: failed (last fixity check failed), overdue
    /// (last check older than fixity.interval_days), never checked (no fixity check
    /// yet), ok.
    pub fn status(&self, id: &str, now: DateTime<Utc>) -> Status {
        self.status_of(&self.checks(id), now)
    }

    /// The status that checks `c` give at `now` (see [`Snapshot::status`]).
    pub fn status_of(&self, c: &CheckHistory, now: DateTime<Utc>) -> Status {
        let interval = chrono::Duration::days(i64::from(self.interval_days));
        match c {
            CheckHistory {
                last_fixity: Some((_, false)),
                ..
            } => Status::Failed,
            _ if c.last_check.is_none_or(|t| now - t >= interval) => Status::Overdue,
            CheckHistory {
                last_fixity: Some(_),
                ..
            } => Status::Ok,
            _ => Status::NeverChecked,
        }
    }

    /// Each shown item with its status at `now`, in the order of `items`.
    pub fn statuses(&self, now: DateTime<Utc>) -> impl Iterator<Item = (&Arc<Item>, Status)> {
        self.items
            .iter()
            .zip(&self.checks)
            .map(move |(item, c)| (item, self.status_of(c, now)))
    }

    /// The rows of an object's events, in log order.
    pub fn rows_of(&self, id: &str) -> &[u32] {
        self.log.rows_of_object(id)
    }

    /// This snapshot with a log that only grew by fixity checks of items it shows (the
    /// register's and the bags' folders unchanged): the items are kept, and only the
    /// checked items' checks are worked out again. What a fixity run beside `serve`
    /// costs per refresh, instead of reading every register entry's name again.
    fn with_checks(&self, stamp: Stamp, log: EventLog, checked: &HashSet<String>) -> Snapshot {
        let mut next = self.clone();
        for id in checked {
            if let Some(slot) = self.by_id.get(id).and_then(|&i| next.checks.get_mut(i)) {
                *slot = log.checks(id);
            }
        }
        next.stamp = stamp;
        next.log = Arc::new(log);
        next.taken = Utc::now();
        next
    }

    /// Reads the archive, reusing what `old` already holds.
    pub fn build(archive: &Archive, old: Option<&Snapshot>) -> Result<Snapshot, Error> {
        let stamp = Stamp::take(archive);
        // The log is read on from where the last read stopped only if it is the same
        // file (same inode); a log replaced by another is read from its start.
        let same_log = old.filter(|o| o.stamp.log.map(|l| l.2) == stamp.log.map(|l| l.2));
        // An entry is rewritten by an amend or a revise (a new version,
        // docs/lifecycle.md), which logs a "metadata modification" or "modification"
        // after it: such items, named in the lines read this time, are read again.
        let (log, new) = read_log(archive, same_log.map(|o| &*o.log), stamp.log)?;
        if let Some(o) = old.filter(|o| {
            new.only_fixity
                && o.pending.is_empty()
                && o.stamp.manifests.is_some()
                && o.stamp.manifests == stamp.manifests
                && o.stamp.bags == stamp.bags
                && new.objects.iter().all(|id| o.by_id.contains_key(id))
        }) {
            return Ok(o.with_checks(stamp, log, &new.objects));
        }
        let amended = new.amended;
        let mut items: Vec<Arc<Item>> = Vec::new();
        let mut pending = Vec::new();
        // An entry replaced without its event (an amend killed between the two) is
        // caught by its new inode: the register is the truth, not the log.
        for (id, ino) in archive.register_ids_with_inodes()? {
            if let Some(item) = old
                .filter(|_| !amended.contains(&id))
                .and_then(|o| o.item(&id))
                .filter(|item| item.entry_ino == ino)
            {
                items.push(item.clone());
                continue;
            }
            let bag_dir = archive.bag_path(&id);
            if let Some(why) = crate::fs::dir::bag_folder_refusal(&bag_dir)
                .or_else(|| (!bag_dir.is_dir()).then(|| "it cannot be read".to_string()))
            {
                pending.push((id, format!("its bag is not in archive/ (yet): {why}")));
                continue;
            }
            match read_item(archive, &id, bag_dir) {
                Ok(item) => items.push(Arc::new(item.listed())),
                Err(why) => {
                    tracing::warn!("register entry {id} not served: {why}");
                    pending.push((id, why));
                }
            }
        }
        items.sort_by(|a, b| (a.datestamp, &a.id).cmp(&(b.datestamp, &b.id)));
        let by_id = items
            .iter()
            .enumerate()
            .map(|(i, it)| (it.id.clone(), i))
            .collect();
        let mut sets: BTreeMap<String, SetInfo> = BTreeMap::new();
        let mut set_members: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            for spec in &item.sets {
                set_members.entry(spec.clone()).or_default().push(i as u32);
            }
            for (spec, name) in item.sets.iter().zip(item_set_names(&item.dc)) {
                sets.entry(spec.clone())
                    .or_insert_with(|| SetInfo {
                        spec: spec.clone(),
                        name,
                        items: 0,
                    })
                    .items += 1;
            }
        }
        let checks = items.iter().map(|item| log.checks(&item.id)).collect();
        let mut formats: HashMap<&str, (usize, u64)> = HashMap::new();
        for (mime, n, b) in items.iter().flat_map(|item| item.formats.iter()) {
            let e = formats.entry(&**mime).or_default();
            e.0 += *n as usize;
            e.1 += b;
        }
        let mut formats: Vec<(String, usize, u64)> = formats
            .into_iter()
            .map(|(mime, (n, b))| (mime.to_string(), n, b))
            .collect();
        formats.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(Snapshot {
            stamp,
            checks,
            files: items.iter().map(|i| i.file_count).sum(),
            bytes: items.iter().map(|i| i.bytes).sum(),
            formats,
            items: Arc::new(items),
            by_id: Arc::new(by_id),
            set_members: Arc::new(set_members),
            pending,
            tombstones: Arc::new(read_tombstones(archive)),
            sets: Arc::new(sets.into_values().collect()),
            log: Arc::new(log),
            interval_days: archive.config.fixity.interval_days,
            taken: Utc::now(),
        })
    }
}

/// Whether withdrawn items are kept as tombstones (`cairn withdraw`, docs/lifecycle.md).
const TOMBSTONES_SUPPORTED: bool = true;

/// Withdrawn items (manifests/withdrawn/ID.json), by (datestamp, id): OAI-PMH lists them
/// as deleted records, datestamped when they were withdrawn, in the sets they were in.
/// An unreadable tombstone is logged and left out.
fn read_tombstones(archive: &Archive) -> Vec<Tombstone> {
    let ids = match archive.withdrawn_ids() {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!("withdrawn items not read: {e}");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for id in ids {
        let t = match crate::fs::lifecycle::Tombstone::read(&archive.tombstone_path(&id)) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("tombstone {id} not served: {e}");
                continue;
            }
        };
        let Ok(when) = DateTime::parse_from_rfc3339(&t.withdrawn) else {
            tracing::warn!("tombstone {id} not served: its time is unreadable");
            continue;
        };
        let sets = t
            .dublin_core
            .read_record()
            .map(|dc| item_set_names(&dc).iter().map(|n| set_spec(n)).collect())
            .unwrap_or_default();
        out.push(Tombstone {
            id,
            datestamp: when.timestamp(),
            sets,
        });
    }
    out.sort_by(|a, b| (a.datestamp, &a.id).cmp(&(b.datestamp, &b.id)));
    out
}

/// The Dublin Core record of a register entry, and its `cairn.access` value if any.
/// The one place that reads the entry's record for serving.
fn entry_dc(entry: &RegisterEntry) -> Result<(DublinCore, Option<String>), String> {
    let mut stored = entry.dublin_core.clone();
    let access = stored.take_other("cairn.access").and_then(|v| match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Array(a) => a.first().and_then(|s| s.as_str()).map(str::to_string),
        _ => None,
    });
    let dc: DublinCore = stored
        .read_record()
        .map_err(|e| format!("its Dublin Core record cannot be read: {e}"))?;
    Ok((dc, access))
}

fn term(name: &str) -> Term {
    // The names below are DCMI terms, spelled as Term::parse knows them.
    Term::parse(name).unwrap_or_else(|_| unreachable!("{name} is a DCMI term"))
}

fn item_set_names(dc: &DublinCore) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in dc.values(term("dcterms.isPartOf")) {
        let v = v.trim().to_string();
        if !v.is_empty() && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// A setSpec for a collection name: its ASCII letters and digits (other runs become
/// `-`), lowercased, then `-` and 8 hex digits of its BLAKE3 when anything was changed
/// or dropped, so two names never share a spec and every spec matches the OAI-PMH
/// `setSpecType` pattern.
pub fn set_spec(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-').to_string();
    let lossless = slug.len() == name.len() && slug == name;
    if lossless {
        slug
    } else {
        let hash = blake3::hash(name.as_bytes()).to_hex();
        if slug.is_empty() {
            format!("set-{}", &hash[..8])
        } else {
            format!("{slug}-{}", &hash[..8])
        }
    }
}

/// The `lang` attribute of a record's text: from its first dc.language that reads as
/// a language tag.
pub(crate) fn item_lang(dc: &DublinCore) -> Option<String> {
    dc.values(term("dc.language"))
        .into_iter()
        .find_map(lang_tag)
}

/// A `lang` attribute value from a dc.language value: a BCP 47-shaped tag as written,
/// or an ISO 639-2/3 code with a two-letter form as that form.
fn lang_tag(value: &str) -> Option<String> {
    let v = value.trim();
    let shaped = !v.is_empty()
        && v.split('-').enumerate().all(|(i, part)| {
            if i == 0 {
                (2..=3).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphabetic())
            } else {
                (1..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric())
            }
        });
    if !shaped {
        return None;
    }
    if v.len() == 3 {
        if let Some(two) =
            isolang::Language::from_639_3(&v.to_ascii_lowercase()).and_then(|l| l.to_639_1())
        {
            return Some(two.to_string());
        }
    }
    Some(v.to_string())
}

/// `item` as its register entry says now, with its file records: the entry read again
/// (the snapshot keeps no file records). What a file request and an item page use, so
/// that an entry changed since the snapshot (an amend that set `dcterms.accessRights`
/// to restricted, even one killed before its event) is obeyed at once. `Err` when the
/// entry is gone or unreadable.
pub fn current_item(archive: &Archive, item: &Arc<Item>) -> Result<Arc<Item>, String> {
    read_item(archive, &item.id, item.bag_dir.clone()).map(Arc::new)
}

/// Files and bytes per media type, most files first (then by name).
fn item_formats(files: &[FileRecord]) -> Box<[(Arc<str>, u32, u64)]> {
    let mut out: Vec<(Arc<str>, u32, u64)> = Vec::new();
    for f in files {
        match out.iter_mut().find(|(m, _, _)| **m == *f.mime) {
            Some(e) => {
                e.1 += 1;
                e.2 += f.size;
            }
            None => out.push((Arc::from(f.mime.as_str()), 1, f.size)),
        }
    }
    out.into_boxed_slice()
}

fn read_item(archive: &Archive, id: &str, bag_dir: PathBuf) -> Result<Item, String> {
    use std::os::unix::fs::MetadataExt;
    let path = archive.register_path(id);
    // The inode is taken before the read: an entry replaced in between is read again
    // at the next look, never kept as read.
    let entry_ino = std::fs::symlink_metadata(&path)
        .map_err(|e| e.to_string())?
        .ino();
    let entry = RegisterEntry::read(&path).map_err(|e| e.to_string())?;
    if entry.id != id {
        return Err(format!(
            "the entry's own id is {}, not its file name",
            crate::quoted(&entry.id)
        ));
    }
    // The OAI-PMH datestamp is the last change: an amended entry's `updated`.
    let changed = entry.updated.as_deref().unwrap_or(&entry.archived);
    let datestamp = DateTime::parse_from_rfc3339(changed)
        .map_err(|e| format!("archived time {changed} unreadable: {e}"))?
        .timestamp();
    let (dc, access) = entry_dc(&entry)?;
    let title = dc.title().unwrap_or(id).to_string();
    let lang = item_lang(&dc);
    let restricted = dc
        .values(term("dcterms.accessRights"))
        .iter()
        .chain(access.as_deref().iter())
        .any(|v| v.trim().eq_ignore_ascii_case("restricted"));
    let sets = item_set_names(&dc).iter().map(|n| set_spec(n)).collect();
    let mut search = super::search::fold(id);
    for (_, v) in &dc.entries {
        search.push('\n');
        search.push_str(&super::search::fold(v));
    }
    Ok(Item {
        id: id.to_string(),
        datestamp,
        archived: entry.archived.clone(),
        updated: entry.updated.clone(),
        version: entry.version,
        entry_version: entry.entry_version,
        title,
        lang,
        sets,
        restricted,
        bytes: entry.files.iter().map(|f| f.size).sum(),
        file_count: entry.files.len(),
        formats: item_formats(&entry.files),
        files: entry.files,
        bag_dir,
        entry_ino,
        search,
        dc,
    })
}

/// The `<oai_dc:dc>` element of a dc.xml Cairn wrote: the file without its XML
/// declaration and trailing newline. `None` when the file is missing, too large, a
/// symlink, or not an oai_dc document (then the record is rendered from the register).
fn read_oai_dc(path: &Path) -> Option<String> {
    let file = super::files::open_no_follow(path).ok()?;
    let mut text = String::new();
    file.take(MAX_DC_XML + 1).read_to_string(&mut text).ok()?;
    if text.len() as u64 > MAX_DC_XML {
        return None;
    }
    let element = strip_prolog(&text);
    (element.starts_with("<oai_dc:dc ") && element.ends_with("</oai_dc:dc>"))
        .then(|| element.to_string())
}

fn strip_prolog(text: &str) -> &str {
    let t = text.trim_start_matches('\u{feff}');
    let t = match t.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map(|(_, r)| r).unwrap_or(rest),
        None => t,
    };
    t.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_specs_are_unique_and_legal() {
        assert_eq!(set_spec("s21"), "s21");
        let a = set_spec("S-21 collection");
        assert!(a.starts_with("s-21-collection-"), "{a}");
        assert_ne!(set_spec("S21"), set_spec("s21"));
        let k = set_spec("ទួលស្លែង");
        assert!(k.starts_with("set-"), "{k}");
        for s in [a, k] {
            assert!(s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()".contains(c)));
        }
    }

    #[test]
    fn lang_tags() {
        assert_eq!(lang_tag("km").as_deref(), Some("km"));
        assert_eq!(lang_tag("khm").as_deref(), Some("km"));
        assert_eq!(lang_tag("fr-CA").as_deref(), Some("fr-CA"));
        assert_eq!(lang_tag("English"), None);
        assert_eq!(lang_tag("en; fr"), None);
        assert_eq!(lang_tag("\"><script>"), None);
    }

    #[test]
    fn prolog_is_stripped() {
        assert_eq!(
            strip_prolog("<?xml version=\"1.0\"?>\n<oai_dc:dc a=\"b\">x</oai_dc:dc>\n"),
            "<oai_dc:dc a=\"b\">x</oai_dc:dc>"
        );
    }
}
