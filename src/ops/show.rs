//! `show` and `list`: what the archive holds, from the register and the event log.

use serde::Serialize;

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::events::Event;
use crate::fs::register::RegisterEntry;

/// One item: its register entry and every event about it.
#[derive(Debug, Clone, Serialize)]
pub struct ShowReport {
    pub entry: RegisterEntry,
    pub events: Vec<Event>,
    /// Whether the bag folder is present.
    pub bag_present: bool,
}

/// Looks an item up by identifier.
pub fn show(archive: &Archive, id: &str) -> Result<ShowReport, Error> {
    let path = archive.register_path(id);
    if id.contains(['/', '\\']) || id.starts_with('.') || !path.exists() {
        return Err(Error::Usage(format!(
            "no item {} in the register ({}); `cairn list` shows the identifiers",
            crate::quoted(id),
            archive.manifests.display()
        )));
    }
    let entry = RegisterEntry::read(&path)?;
    // Through the event index: the item's own lines, not the whole log.
    let events = archive.events_of(id)?;
    Ok(ShowReport {
        bag_present: archive.bag_path(id).is_dir(),
        entry,
        events,
    })
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
}

/// Every registered item, by identifier.
pub fn list(archive: &Archive) -> Result<Vec<ListItem>, Error> {
    let mut out = Vec::new();
    for id in archive.register_ids()? {
        let e = RegisterEntry::read(&archive.register_path(&id))?;
        let title = e
            .dublin_core
            .get("dc.title")
            .and_then(|v| v.as_array())
            .and_then(|a| a.first())
            .and_then(|v| v.as_str())
            .map(str::to_string);
        out.push(ListItem {
            id: e.id.clone(),
            title,
            intake_name: e.intake_name.clone(),
            archived: e.archived.clone(),
            files: e.files.len(),
            bytes: e.files.iter().map(|f| f.size).sum(),
        });
    }
    Ok(out)
}
