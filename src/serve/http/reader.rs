//! The reader's answers beyond an item's record (issue 32): a withdrawn item's address
//! answers 410 Gone with its tombstone, an item page lists its kept earlier versions,
//! and their files are served as the current ones are (with --serve-files, never a
//! restricted item's, never a withdrawn one's). The pages are drawn by
//! [`crate::serve::reader`].

use super::*;
use crate::fs::register::{FileRecord, RegisterEntry};
use crate::serve::pages::tombstone_page;
use crate::serve::reader::KeptVersion;

/// The answer for an identifier the snapshot shows no item for: 410 Gone when it is a
/// withdrawn item's (its tombstone page, or for a file a line saying so), 404
/// otherwise. The tombstone is looked up only among those the snapshot listed from
/// manifests/withdrawn/, so no part of the URL names a file before it is known.
pub(super) async fn gone_or_not_found(
    state: &Arc<AppState>,
    snap: &Snapshot,
    id: &str,
    page: bool,
) -> Response {
    if snap.tombstones.iter().any(|t| t.id == id) {
        let archive = state.archive.clone();
        let owned = id.to_string();
        let read = tokio::task::spawn_blocking(move || archive.tombstone(&owned)).await;
        return match read {
            Ok(Ok(Some(t))) if page => (StatusCode::GONE, html(tombstone_page(&t))).into_response(),
            Ok(Ok(Some(t))) => plain(
                StatusCode::GONE,
                &format!(
                    "{} was withdrawn on {}: its files are not served.",
                    t.id, t.withdrawn
                ),
            ),
            _ => plain(
                StatusCode::GONE,
                "This item was withdrawn (its tombstone cannot be read now).",
            ),
        };
    }
    if page {
        not_found_page("No item has this identifier.")
    } else {
        plain(StatusCode::NOT_FOUND, "No item has this identifier.")
    }
}

/// The register entry that content version `version` was last published with.
fn entry_of(history: &[RegisterEntry], version: u32) -> Option<&RegisterEntry> {
    history.iter().rev().find(|e| e.version == version)
}

/// `item`'s kept earlier content versions, oldest first, each with its files as its
/// register entry lists them; read from archive/.versions/ID/ and manifests/history/ID/
/// when the page is asked for (nothing of it kept in the snapshot).
pub(super) async fn kept_versions(state: &Arc<AppState>, item: &Item) -> Vec<KeptVersion> {
    let archive = state.archive.clone();
    let (id, current) = (item.id.clone(), item.version);
    tokio::task::spawn_blocking(move || read_kept(&archive, &id, current))
        .await
        .unwrap_or_else(|e| vec![unlisted(format!("they could not be read ({e})"))])
}

fn unlisted(why: String) -> KeptVersion {
    KeptVersion {
        version: 0,
        published: String::new(),
        files: Vec::new(),
        problem: Some(format!("Earlier versions are not listed: {why}.")),
    }
}

fn read_kept(archive: &Archive, id: &str, current: u32) -> Vec<KeptVersion> {
    let bags = match archive.earlier_bags(id) {
        Ok(bags) => bags,
        Err(e) => return vec![unlisted(e.to_string())],
    };
    if bags.is_empty() {
        return Vec::new();
    }
    let history = archive.history(id).map_err(|e| e.to_string());
    bags.into_iter()
        .filter(|(v, _)| *v < current)
        .map(|(version, path)| {
            let entry = history
                .as_ref()
                .ok()
                .and_then(|h| entry_of(h, version));
            let problem = crate::fs::dir::bag_folder_refusal(&path)
                .map(|why| format!("Its folder is not served: {why}."))
                .or_else(|| match (&history, entry) {
                    (Err(e), _) => Some(format!("Its register entry cannot be read: {e}.")),
                    (Ok(_), None) => Some(format!(
                        "No register entry in manifests/history/{id}/ describes it (`cairn audit` reports this)."
                    )),
                    _ => None,
                });
            KeptVersion {
                version,
                published: entry
                    .map(|e| e.updated.clone().unwrap_or_else(|| e.archived.clone()))
                    .unwrap_or_default(),
                files: match (&problem, entry) {
                    (None, Some(e)) => e.files.clone(),
                    _ => Vec::new(),
                },
                problem,
            }
        })
        .collect()
}

/// /items/ID/versions/V/files/N: file N of content version V, as that version's
/// register entry lists it, served under the same rules as the current files (the
/// item's access rights as its current register entry says them).
pub(super) async fn version_file(
    State(state): State<Arc<AppState>>,
    Path((id, v, n)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let item = match servable_item(&state, &id).await {
        Ok(item) => item,
        Err(refused) => return refused,
    };
    let (Ok(v), Ok(n)) = (v.parse::<u32>(), n.parse::<usize>()) else {
        return plain(
            StatusCode::NOT_FOUND,
            "The item has no such version or file.",
        );
    };
    if v == item.version {
        return match item.files.get(n) {
            Some(record) => send_record(item.bag_dir.clone(), record.clone(), &headers).await,
            None => plain(StatusCode::NOT_FOUND, "The item has no such file."),
        };
    }
    let archive = state.archive.clone();
    let id = item.id.clone();
    let found = tokio::task::spawn_blocking(move || -> Option<(PathBuf, FileRecord)> {
        let (_, bag) = archive
            .earlier_bags(&id)
            .ok()?
            .into_iter()
            .find(|(k, _)| *k == v)?;
        let history = archive.history(&id).ok()?;
        let record = entry_of(&history, v)?.files.get(n)?.clone();
        Some((bag, record))
    })
    .await
    .ok()
    .flatten();
    match found {
        Some((bag, record)) => send_record(bag, record, &headers).await,
        None => plain(
            StatusCode::NOT_FOUND,
            "The item has no such version or file.",
        ),
    }
}
