//! A replica is a place you chose: its root holds a marker, `.cairn/replica.json`,
//! written by `cairn replicate --init NAME` (the archive's name, the replica's name, a
//! UUID), and the archive keeps the UUID it wrote to each replica name in
//! manifests/.replicas/NAME.json. Every command that reads or writes a replica
//! (replicate, repair, restore, `fixity --replica`, `audit --replicas`) first checks
//! the marker: a root that is missing (a disk or share not mounted), unmarked, or
//! marked by another archive or for another replica is a failure to run (exit 3),
//! never written to (docs/replicas.md).
//!
//! Cairn's own keys on a replica live under `.cairn/` at the replica's root, which no
//! item's key can reach (items live under `archive/` and `manifests/`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::replica::Replica;

pub use crate::fs::layout::{MARKER_KEY, RECORD_DIR};
/// The marker's `format`.
pub const MARKER_FORMAT: &str = "cairn-replica/1";

/// A replica's marker, as written to the replica and kept in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub format: String,
    /// The name of the archive that initialised the replica.
    pub archive: String,
    /// The replica's name in that archive's cairn.toml.
    pub replica: String,
    pub uuid: String,
    /// When it was initialised (RFC 3339).
    pub created: String,
}

/// Where the archive keeps the marker it wrote to replica `name`.
pub fn record_path(archive: &Archive, name: &str) -> PathBuf {
    crate::fs::layout::replica_record_file(&archive.manifests, name)
}

fn fail(replica: &Replica, detail: String) -> Error {
    Error::Replica {
        name: replica.name.clone(),
        detail,
    }
}

/// The replica's marker, `None` when it has none.
pub fn read_marker(replica: &Replica) -> Result<Option<Marker>, Error> {
    let Some(bytes) = replica.get_bytes(replica.marker_key())? else {
        return Ok(None);
    };
    serde_json::from_slice::<Marker>(&bytes)
        .ok()
        .filter(|m| m.format == MARKER_FORMAT)
        .map(Some)
        .ok_or_else(|| {
            fail(
                replica,
                format!(
                    "{} at {} is not a Cairn replica marker: check that this is the place you chose for the replica; nothing was read or written",
                    replica.marker_key(),
                    replica.url
                ),
            )
        })
}

/// The marker this archive wrote to replica `name`, `None` when it never did.
fn read_record(archive: &Archive, name: &str) -> Result<Option<Marker>, Error> {
    let path = record_path(archive, name);
    let Some(bytes) = crate::fs::read_if_present(&path)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::Corrupt {
            path,
            detail: format!("not a replica record: {e}"),
        })
}

fn unmarked(replica: &Replica) -> Error {
    fail(
        replica,
        format!(
            "no replica marker ({}) at {}: is the disk or share mounted, and is this the place you chose? If it is, run `cairn replicate --init {}` once to mark it as this archive's replica; nothing was read or written",
            replica.marker_key(), replica.url, replica.name
        ),
    )
}

/// Checks that `replica` is the one this archive initialised under its name: the
/// marker is there and holds the UUID the archive recorded. Every command that uses
/// a replica of the archive calls this before anything else.
pub fn check_marker(archive: &Archive, replica: &Replica) -> Result<Marker, Error> {
    let marker = read_marker(replica)?.ok_or_else(|| unmarked(replica))?;
    match read_record(archive, &replica.name)? {
        Some(r) if r.uuid == marker.uuid => Ok(marker),
        Some(r) => Err(fail(
            replica,
            format!(
                "the marker at {} is not the one this archive wrote (it names archive {}, replica {}, {}; this archive wrote {} to replica {}): is the right disk, share or bucket mounted at this URL? Nothing was read or written",
                replica.url,
                crate::quoted(&marker.archive),
                crate::quoted(&marker.replica),
                marker.uuid,
                r.uuid,
                replica.name
            ),
        )),
        None => Err(fail(
            replica,
            format!(
                "this archive has no record of initialising replica {} ({}); the marker at {} names archive {}, {}. If it is this archive's replica (after a restore, say), run `cairn replicate --init {}` to adopt it; nothing was read or written",
                replica.name,
                record_path(archive, &replica.name).display(),
                replica.url,
                crate::quoted(&marker.archive),
                marker.uuid,
                replica.name
            ),
        )),
    }
}

/// For `restore`, which has no archive to compare with: the replica must hold a marker.
pub fn check_marker_present(replica: &Replica) -> Result<Marker, Error> {
    read_marker(replica)?.ok_or_else(|| unmarked(replica))
}

/// For `restore --from NAME`, before anything is written: the replica holds a marker,
/// and it is the one the archive whose configuration names the replica wrote, when
/// that archive's record is at hand (`manifests` is its manifests folder: the archive
/// itself, or a recovery kit that kept it); otherwise, when `archive_name` is set, the
/// marker names that archive.
pub fn check_restore_source(
    section: &crate::replica::ReplicaSection,
    manifests: &std::path::Path,
    archive_name: &str,
) -> Result<(), Error> {
    let replica = Replica::open(section)?;
    let marker = check_marker_present(&replica)?;
    let record = crate::fs::layout::replica_record_file(manifests, &section.name);
    let recorded: Option<Marker> =
        crate::fs::read_if_present(&record)?.and_then(|b| serde_json::from_slice(&b).ok());
    let foreign = match &recorded {
        Some(r) => r.uuid != marker.uuid,
        None => !archive_name.is_empty() && archive_name != marker.archive,
    };
    if foreign {
        return Err(fail(
            &replica,
            format!(
                "the marker at {} names archive {}, replica {}, {}, not the replica this archive initialised: is the right disk, share or bucket at this URL? Nothing was restored",
                replica.url,
                crate::quoted(&marker.archive),
                crate::quoted(&marker.replica),
                marker.uuid
            ),
        ));
    }
    Ok(())
}

/// What `replicate --init` did.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub replica: String,
    pub url: String,
    /// `initialised` (a new marker), `adopted` (a marker of this archive's name that
    /// the archive had no record of), or `already` (nothing to do).
    pub action: &'static str,
    pub marker: Marker,
}

/// `cairn replicate --init NAME`: marks the replica's root (which must exist) as this
/// archive's replica `name`, and records the marker in the archive. A root marked by
/// another archive is refused (exit 3): choose another place, or remove its marker by
/// hand if you mean to take it over.
pub fn init(archive: &Archive, name: &str, clock: &dyn Clock) -> Result<InitReport, Error> {
    let _lock = archive.lock("replicate")?;
    let replica = open_unchecked(archive, name)?;
    let ours = crate::ops::tlog::archive_name(archive)?;
    let record = read_record(archive, name)?;
    let (action, marker) = match read_marker(&replica)? {
        Some(m) if record.as_ref().is_some_and(|r| r.uuid == m.uuid) => ("already", m),
        Some(m) if m.archive == ours && m.replica == name => ("adopted", m),
        Some(m) => {
            return Err(fail(
                &replica,
                format!(
                    "{} already holds the marker of archive {} (replica {}, {}): choose another place for this replica; if you mean to take that one over, remove its {MARKER_KEY} by hand first",
                    replica.url,
                    crate::quoted(&m.archive),
                    crate::quoted(&m.replica),
                    m.uuid
                ),
            ))
        }
        None => {
            let m = Marker {
                format: MARKER_FORMAT.into(),
                archive: ours,
                replica: name.to_string(),
                uuid: uuid::Uuid::new_v4().to_string(),
                created: clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            };
            let bytes = serde_json::to_vec_pretty(&m)
                .map_err(|e| Error::Internal(format!("encode replica marker: {e}")))?;
            replica.put_bytes(replica.marker_key(), &bytes)?;
            ("initialised", m)
        }
    };
    if action != "already" {
        let bytes = serde_json::to_vec_pretty(&marker)
            .map_err(|e| Error::Internal(format!("encode replica record: {e}")))?;
        let path = record_path(archive, name);
        crate::fs::create_dir_all(crate::fs::durable::parent_dir(&path))?;
        crate::fs::durable::write_atomic(&path, &bytes)?;
    }
    Ok(InitReport {
        replica: replica.name.clone(),
        url: replica.url.clone(),
        action,
        marker,
    })
}

/// The replica `name`, opened without checking its marker (`replicate --init`).
fn open_unchecked(archive: &Archive, name: &str) -> Result<Replica, Error> {
    let section = archive
        .config
        .replica
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| {
            Error::Usage(format!(
                "no replica named {} in cairn.toml; add a [[replica]] table for it first (docs/replicas.md)",
                crate::quoted(name)
            ))
        })?;
    Replica::open(section)
}
