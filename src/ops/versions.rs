//! The retained earlier versions of revised items (archive/.versions/ID/NNNNNN), as
//! fixity and audit check them: each a complete bag, checked in full against the
//! register entry it was published with (kept in manifests/history/ID/).
//! [`crate::fs::archive::Archive::retained_bags`] lists them.

use std::sync::Arc;

use crate::digest::Algorithm;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::dir::DirSource;
use crate::fs::rate::RateLimiter;
use crate::fs::register::RegisterEntry;
use crate::ops::bag_check::{check_bag, FixityFinding, FixityKind};
use crate::ops::findings::Discrepancy;

/// What checking an item's earlier versions found.
#[derive(Debug, Default)]
pub struct RetainedCheck {
    pub findings: Vec<FixityFinding>,
    pub errors: Vec<String>,
    pub files: u64,
    pub bytes: u64,
}

/// The last superseded entry of `id` that describes content version `version`.
fn entry_of(history: &[RegisterEntry], version: u32) -> Option<&RegisterEntry> {
    history.iter().rev().find(|e| e.version == version)
}

/// Every earlier version of `id` (not the current bag), where it is.
fn earlier(archive: &Archive, id: &str) -> Result<Vec<(u32, std::path::PathBuf)>, Error> {
    archive.earlier_bags(id)
}

/// Checks every retained earlier version of `id` in full; findings name the version's
/// folder (`.versions/ID/NNNNNN/data/...`).
pub fn check_retained(
    archive: &Archive,
    id: &str,
    algorithms: Option<&[Algorithm]>,
    limiter: Option<Arc<RateLimiter>>,
) -> Result<RetainedCheck, Error> {
    let mut out = RetainedCheck::default();
    let versions = earlier(archive, id)?;
    // Every earlier content version is kept (revise keeps the bag it replaces): one
    // that is gone is a loss to see, not a version to pass over.
    if let Ok(current) = crate::fs::register::RegisterEntry::read(&archive.register_path(id)) {
        for k in 1..current.version {
            if !versions.iter().any(|(v, _)| *v == k) {
                out.findings.push(FixityFinding::new(
                    FixityKind::BagMissing,
                    format!(".versions/{id}/{k:06}/"),
                    format!(
                        "version {k} of {id} is gone from archive/.versions/{id}/ (revise kept it when it made version {})",
                        k + 1
                    ),
                ));
            }
        }
    }
    if versions.is_empty() {
        return Ok(out);
    }
    let history = archive.history(id)?;
    for (v, path) in versions {
        let prefix = format!(".versions/{id}/{v:06}/");
        let entry = entry_of(&history, v);
        if entry.is_none() {
            out.findings.push(FixityFinding::new(
                FixityKind::Unregistered,
                prefix.clone(),
                format!("version {v} of {id} is kept, but no register entry in manifests/history/{id}/ describes it"),
            ));
        }
        // A kept version's folder replaced by a symbolic link is refused, never
        // followed, as the current bag's is (fs::dir::bag_folder_refusal).
        if let Some(why) = crate::fs::dir::bag_folder_refusal(&path) {
            out.findings.push(FixityFinding::new(
                FixityKind::BagMissing,
                prefix.clone(),
                why,
            ));
            continue;
        }
        let source = DirSource::open(&path)?.with_limiter(limiter.clone());
        let check = check_bag(&source, algorithms, entry)?;
        out.files += check.files;
        out.bytes += check.bytes;
        out.findings.extend(check.findings.into_iter().map(|mut f| {
            f.path = format!("{prefix}{}", f.path);
            f
        }));
        out.errors
            .extend(check.errors.into_iter().map(|e| format!("{prefix}: {e}")));
    }
    Ok(out)
}

/// Audit: each retained earlier version's tag manifests agree with the entry it was
/// published with.
pub fn audit_retained(archive: &Archive, id: &str) -> Result<Vec<Discrepancy>, Error> {
    let mut out = Vec::new();
    let versions = earlier(archive, id)?;
    if versions.is_empty() {
        return Ok(out);
    }
    let history = archive.history(id)?;
    for (v, path) in versions {
        let at = crate::fs::layout::version_key(id, v);
        match entry_of(&history, v) {
            None => out.push(Discrepancy {
                kind: "version-without-register-entry",
                id: id.to_string(),
                path: at,
                detail: format!("no entry in manifests/history/{id}/ describes version {v}"),
            }),
            Some(e) if !crate::ops::commit::bag_is(&path, e)? => out.push(Discrepancy {
                kind: "version-differs-from-register",
                id: id.to_string(),
                path: at,
                detail: format!(
                    "its tag manifests differ from those of the register entry version {} that published it",
                    e.entry_version
                ),
            }),
            Some(_) => {}
        }
    }
    Ok(out)
}

/// The bag folder of version `version` of `id` (`None`: the current one) and how to read
/// the register entry it was published with.
#[allow(clippy::type_complexity)]
pub fn version_of<'a>(
    archive: &'a Archive,
    id: &str,
    version: Option<u32>,
) -> Result<
    (
        std::path::PathBuf,
        Box<dyn Fn() -> Result<RegisterEntry, Error> + 'a>,
    ),
    Error,
> {
    let current = archive.bag_path(id);
    let register = archive.register_path(id);
    let Some(v) = version else {
        return Ok((current, Box::new(move || RegisterEntry::read(&register))));
    };
    let bad = id.contains(['/', '\\', '~']) || id.starts_with('.');
    let retained = if bad {
        Vec::new()
    } else {
        archive.retained_bags(id)?
    };
    let Some((_, path)) = retained.iter().find(|(n, _)| *n == v) else {
        let have: Vec<String> = retained.iter().map(|(n, _)| n.to_string()).collect();
        return Err(Error::Usage(format!(
            "{id} has no version {v}{}",
            if have.is_empty() {
                String::new()
            } else {
                format!(" (kept: {})", have.join(", "))
            }
        )));
    };
    if *path == current {
        return Ok((current, Box::new(move || RegisterEntry::read(&register))));
    }
    let id = id.to_string();
    Ok((
        path.clone(),
        Box::new(move || {
            let history = archive.history(&id)?;
            entry_of(&history, v)
                .cloned()
                .ok_or_else(|| Error::Corrupt {
                    path: archive.history_dir(&id),
                    detail: format!("no superseded register entry describes version {v}"),
                })
        }),
    ))
}
