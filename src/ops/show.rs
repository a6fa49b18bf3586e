//! `show` and `list`: what the archive holds, from the register and the event log.

use serde::Serialize;

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::events::Event;
use crate::fs::lifecycle::Tombstone;
use crate::fs::register::RegisterEntry;
use crate::vocab::Outcome;

/// One item: its register entry and every event about it.
#[derive(Debug, Clone, Serialize)]
pub struct ShowReport {
    /// The current entry; for a withdrawn item, the last one before its withdrawal.
    pub entry: RegisterEntry,
    pub events: Vec<Event>,
    /// Whether the bag folder is present.
    pub bag_present: bool,
    /// The tombstone, when the item was withdrawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<Tombstone>,
    /// Every superseded register entry version, oldest first (manifests/history/ID/).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<EntryVersion>,
    /// The content versions kept (`cairn revise`), oldest first, the current one last:
    /// (version, bag folder relative to the archive root).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<(u32, String)>,
}

/// One superseded version of a register entry.
#[derive(Debug, Clone, Serialize)]
pub struct EntryVersion {
    pub entry_version: u32,
    /// When it was published.
    pub published: String,
    pub dublin_core: crate::metadata::StoredDublinCore,
}

/// Whether `id` names an item, current or withdrawn: its tombstone if withdrawn. An
/// identifier that names nothing is a usage error (exit 2), the same for every command
/// that takes one (`show`, `events --id`).
pub fn known_item(archive: &Archive, id: &str) -> Result<Option<Tombstone>, Error> {
    let path = archive.register_path(id);
    let bad = id.contains(['/', '\\', '~']) || id.starts_with('.');
    let withdrawn = if bad || path.exists() {
        None
    } else {
        archive.tombstone(id)?
    };
    if bad || (!path.exists() && withdrawn.is_none()) {
        return Err(Error::Usage(format!(
            "no item {} in the register ({}); `cairn list` shows the identifiers",
            crate::quoted(id),
            archive.manifests.display()
        )));
    }
    Ok(withdrawn)
}

/// Looks an item up by identifier.
pub fn show(archive: &Archive, id: &str) -> Result<ShowReport, Error> {
    let path = archive.register_path(id);
    let withdrawn = known_item(archive, id)?;
    let mut old = archive.history(id)?;
    let entry = match withdrawn {
        Some(_) => old.pop().ok_or_else(|| Error::Corrupt {
            path: archive.history_dir(id),
            detail: "a withdrawn item with no register entry kept in its history".into(),
        })?,
        None => RegisterEntry::read(&path)?,
    };
    if withdrawn.is_some() {
        // The last entry is shown in full; it stays listed among the versions too.
        old.push(entry.clone());
    }
    let history = old
        .into_iter()
        .map(|e| EntryVersion {
            entry_version: e.entry_version,
            published: e.updated.clone().unwrap_or_else(|| e.archived.clone()),
            dublin_core: e.dublin_core,
        })
        .collect();
    // Through the event index: the item's own lines, not the whole log.
    let events = archive.events_of(id)?;
    let versions = archive
        .retained_bags(id)?
        .into_iter()
        .map(|(v, p)| {
            let rel = p.strip_prefix(&archive.root).unwrap_or(&p);
            (v, rel.to_string_lossy().into_owned())
        })
        .collect();
    Ok(ShowReport {
        bag_present: archive.bag_path(id).is_dir(),
        entry,
        events,
        withdrawn,
        history,
        versions,
    })
}

/// One line of `list --withdrawn`.
#[derive(Debug, Clone, Serialize)]
pub struct WithdrawnItem {
    pub id: String,
    pub title: Option<String>,
    pub withdrawn: String,
    pub disposition: String,
    pub reason: String,
}

/// Every withdrawn item, by identifier.
pub fn list_withdrawn(archive: &Archive) -> Result<Vec<WithdrawnItem>, Error> {
    let mut out = Vec::new();
    for id in archive.withdrawn_ids()? {
        let t = Tombstone::read(&archive.tombstone_path(&id))?;
        out.push(WithdrawnItem {
            title: title_of(&t.dublin_core),
            id: t.id,
            withdrawn: t.withdrawn,
            disposition: t.disposition,
            reason: t.reason,
        });
    }
    Ok(out)
}

fn title_of(dc: &crate::metadata::StoredDublinCore) -> Option<String> {
    dc.first(crate::metadata::Term::DC_TITLE)
        .map(str::to_string)
}

/// One line of `list`.
#[derive(Debug, Clone, Serialize)]
pub struct ListItem {
    pub id: String,
    pub title: Option<String>,
    pub intake_name: String,
    pub archived: String,
    pub files: usize,
    pub bytes: u64,
    /// `ok`, `failed` (the last fixity check failed), `overdue` (no check within
    /// fixity.interval_days), `never-checked` (no fixity check yet).
    pub status: &'static str,
    /// The record version: the register entry's (1 until the item is amended or
    /// revised; each change writes the next).
    pub entry_version: u32,
    /// The content version: the bag's (1 as ingested, one more with each `revise`).
    pub content_version: u32,
    /// When the current record version was published (absent while it is the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    /// The last check (a fixity check, or the ingest read-back), UTC.
    pub last_check: Option<String>,
    /// The last fixity check's time and outcome.
    pub last_fixity: Option<String>,
    pub last_fixity_outcome: Option<String>,
}

/// Every registered item, by identifier, with its fixity status at `now`.
pub fn list(archive: &Archive, now: chrono::DateTime<chrono::Utc>) -> Result<Vec<ListItem>, Error> {
    let mut out = Vec::new();
    list_each(archive, now, |i| out.push(i))?;
    Ok(out)
}

/// [`list`], each item handed to `each` as it is read, in identifier order: from the
/// item index (fs::item_index), without reading the register entries or the log; the
/// first before the index is read through (`Archive::walk_item_index`).
pub fn list_each(
    archive: &Archive,
    now: chrono::DateTime<chrono::Utc>,
    mut each: impl FnMut(ListItem),
) -> Result<(), Error> {
    let interval = chrono::Duration::days(i64::from(archive.config.fixity.interval_days));
    let fmt =
        |t: &chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    archive.walk_item_index(true, |r| {
        let Some(e) = r.entry else {
            return;
        };
        let fixity = r.last_fixity.as_ref();
        let checked = r.last_check.as_ref();
        let status = match (fixity, checked) {
            (Some((_, outcome)), _) if !Outcome::Success.is(outcome) => "failed",
            (_, None) => "overdue",
            (_, Some(t)) if now - *t >= interval => "overdue",
            (Some(_), _) => "ok",
            (None, _) => "never-checked",
        };
        each(ListItem {
            title: e.title,
            id: r.id,
            intake_name: e.intake_name,
            archived: e.archived,
            files: e.files,
            bytes: e.bytes,
            status,
            entry_version: e.entry_version,
            content_version: e.content_version,
            updated: e.updated,
            last_check: checked.map(fmt),
            last_fixity: fixity.map(|f| f.0.clone()),
            last_fixity_outcome: fixity.map(|f| f.1.clone()),
        });
    })?;
    Ok(())
}
