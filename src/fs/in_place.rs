//! Bagging a folder in place, on disk: its top-level entries moved under data/ by
//! renames, guarded by a journal, so that a crash at any point is rolled back exactly
//! by the next run (docs/in-place-bagging.md has the steps and the recovery table).
//! `bag create` without `--output` (ops/create.rs) hashes the files first, calls
//! [`move_under_data`], writes the tag files, then [`finish`].

use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bagit::manifest::ManifestKind;
use crate::error::Error;
use crate::fs::durable::{sync_dir, write_atomic};
use crate::fs::failpoint;

/// The journal: the top-level names being moved under data/.
pub(crate) const JOURNAL: &str = ".cairn-in-place.json";
/// Where the names are moved before the folder is renamed to data/.
pub(crate) const MOVING_DIR: &str = ".cairn-in-place-data";

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    /// The top-level names that are being moved under data/.
    names: Vec<String>,
}

fn is_cairn_tag_file(name: &str) -> bool {
    name == "bagit.txt" || name == "bag-info.txt" || ManifestKind::from_file_name(name).is_some()
}

/// Whether `src` already has a bagit.txt (it looks like a bag).
pub(crate) fn has_bagit_txt(src: &Path) -> bool {
    src.join("bagit.txt").exists()
}

/// Moves every top-level entry of `src` (the journal's own names aside) under
/// `src/data/`: the moving folder, the journal naming the entries, each rename, then the
/// moving folder renamed to data/, each step made durable.
pub(crate) fn move_under_data(src: &Path) -> Result<(), Error> {
    // The moving folder exists before the journal names it, so that recovery can
    // tell "not yet renamed to data/" (it exists) from "renamed" (it does not).
    let mut names: Vec<String> = Vec::new();
    for entry in fs::read_dir(src).map_err(|e| Error::io("read folder", src, e))? {
        let entry = entry.map_err(|e| Error::io("read folder", src, e))?;
        let name = entry
            .file_name()
            .to_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Refused {
                path: entry.path(),
                reason: "the name is not valid UTF-8".into(),
            })?;
        if name != JOURNAL && name != MOVING_DIR {
            names.push(name);
        }
    }
    names.sort();
    let moving = src.join(MOVING_DIR);
    fs::create_dir(&moving).map_err(|e| Error::io("create", &moving, e))?;
    sync_dir(src)?;
    failpoint::hit("in-place-before-journal");
    let journal = serde_json::to_vec_pretty(&Journal {
        names: names.clone(),
    })
    .map_err(|e| Error::io("write journal", src.join(JOURNAL), io::Error::other(e)))?;
    write_atomic(&src.join(JOURNAL), &journal)?;
    failpoint::hit("in-place-journal-written");

    // Move, then publish data/.
    for n in &names {
        fs::rename(src.join(n), moving.join(n)).map_err(|e| Error::io("move", src.join(n), e))?;
        failpoint::hit("in-place-moved-one");
    }
    sync_dir(&moving)?;
    sync_dir(src)?;
    let data = src.join("data");
    fs::rename(&moving, &data).map_err(|e| Error::io("rename", &moving, e))?;
    sync_dir(src)?;
    failpoint::hit("in-place-data-published");
    Ok(())
}

/// The last step, once the tag files are written and read back: the journal goes.
pub(crate) fn finish(src: &Path) -> Result<(), Error> {
    fs::remove_file(src.join(JOURNAL)).map_err(|e| Error::io("remove", src.join(JOURNAL), e))?;
    sync_dir(src)
}

/// Rolls back an interrupted in-place run, if there is one. Returns whether it did.
///
/// States (see docs/in-place-bagging.md): no journal → nothing to do (an empty moving
/// folder left before the journal was written is removed); journal and moving folder →
/// entries are moved back; journal without moving folder → data/ was published, so
/// Cairn's own top-level tag files are removed and data/ becomes the moving folder
/// again, then as before.
pub(crate) fn recover(src: &Path) -> Result<bool, Error> {
    let journal_path = src.join(JOURNAL);
    let moving = src.join(MOVING_DIR);
    let journal: Journal = match fs::read(&journal_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Refused {
            path: journal_path.clone(),
            reason: format!("the in-place journal is unreadable ({e}); restore the folder by hand from {MOVING_DIR} or data/"),
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if moving.is_dir() {
                // Created before the journal; nothing was moved into it yet.
                fs::remove_dir(&moving).map_err(|e| Error::io("remove", &moving, e))?;
            }
            return Ok(false);
        }
        Err(e) => return Err(Error::io("read", &journal_path, e)),
    };
    tracing::warn!(folder = %src.display(), "rolling back an interrupted in-place bagging");
    if !moving.is_dir() {
        // data/ was published: every original name is inside it, so each top-level
        // file Cairn writes is Cairn's own and can go.
        for entry in fs::read_dir(src).map_err(|e| Error::io("read folder", src, e))? {
            let entry = entry.map_err(|e| Error::io("read folder", src, e))?;
            if let Some(name) = entry.file_name().to_str() {
                if is_cairn_tag_file(name) && entry.file_type().is_ok_and(|t| t.is_file()) {
                    fs::remove_file(entry.path())
                        .map_err(|e| Error::io("remove", entry.path(), e))?;
                }
            }
        }
        fs::rename(src.join("data"), &moving)
            .map_err(|e| Error::io("rename", src.join("data"), e))?;
        sync_dir(src)?;
    }
    for n in &journal.names {
        let from = moving.join(n);
        if fs::symlink_metadata(&from).is_ok() {
            fs::rename(&from, src.join(n)).map_err(|e| Error::io("move back", &from, e))?;
        }
    }
    sync_dir(src)?;
    fs::remove_dir(&moving).map_err(|e| Error::io("remove", &moving, e))?;
    fs::remove_file(&journal_path).map_err(|e| Error::io("remove", &journal_path, e))?;
    sync_dir(src)?;
    Ok(true)
}
