//! The presence pass: one stat of each bag folder and tag file the run did not read in
//! full, so that a bag deleted tonight is failed tonight.

use super::*;

/// The names of the tag files a register entry records, read without the rest of it.
#[derive(serde::Deserialize)]
pub(super) struct TagNames {
    tag_files: BTreeMap<String, serde::de::IgnoredAny>,
}

/// The presence pass: for each registered item of `ids`, one stat of its bag folder and
/// one of each tag file its register entry records, reading no file but the entry.
/// Returns how many were complete, and a failed result for each that is not (a bag
/// folder gone: `bag-missing`; a tag file gone: `tag-changed`; an entry that cannot be
/// read: `register-mismatch`). An item a writer is changing is looked at again once it
/// is done ([`settled`]); a bag folder without an entry is left to the full checks.
pub fn presence_pass(archive: &Archive, ids: &[String]) -> Result<(usize, Vec<BagResult>), Error> {
    let mut present = 0;
    let mut missing = Vec::new();
    for id in ids {
        if !crate::fs::entry_exists(&archive.register_path(id)) {
            continue;
        }
        match settled(archive, id, || Ok(presence_of(archive, id)))? {
            Some(r) if r.outcome != BagOutcome::Passed => missing.push(r),
            _ => present += 1,
        }
    }
    Ok((present, missing))
}

/// One item's presence (`None`: no register entry, nothing to look for).
pub(super) fn presence_of(archive: &Archive, id: &str) -> Option<BagResult> {
    let t0 = Instant::now();
    let register_path = archive.register_path(id);
    let bytes = match crate::fs::read_if_present(&register_path) {
        Ok(Some(b)) => b,
        Ok(None) => return None,
        Err(e) => {
            let detail = format!("the register entry cannot be read: {e}");
            return Some(presence_result(
                id,
                FixityKind::RegisterMismatch,
                "",
                detail,
                t0,
            ));
        }
    };
    let bag = archive.bag_path(id);
    // As a full check opens it: a symbolic link in the folder's place counts as missing.
    if let Some(why) = crate::fs::dir::bag_folder_refusal(&bag) {
        let detail = format!("the register lists {id}, but {why} (presence check of every bag)");
        return Some(presence_result(id, FixityKind::BagMissing, "", detail, t0));
    }
    let names = match serde_json::from_slice::<TagNames>(&bytes) {
        Ok(n) => n,
        Err(e) => {
            let detail = format!(
                "the register entry {} cannot be read: not a valid register entry: {e}",
                register_path.display()
            );
            return Some(presence_result(
                id,
                FixityKind::RegisterMismatch,
                "",
                detail,
                t0,
            ));
        }
    };
    let mut findings = Vec::new();
    for name in names.tag_files.keys() {
        // Names come from the register; one that would leave the bag is the full
        // check's to report (`structure`), never a path to look at here.
        if name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            continue;
        }
        if !bag.join(name).is_file() {
            findings.push(FixityFinding::new(
                FixityKind::TagChanged,
                name.as_str(),
                format!(
                    "missing: the register lists this tag file, the bag has no such file (presence check of every bag; `cairn fixity --id {id}` checks the rest)"
                ),
            ));
        }
    }
    let mut r = result(id, findings, Vec::new(), (0, 0), Vec::new(), t0);
    r.presence_only = true;
    Some(r)
}

pub(super) fn presence_result(
    id: &str,
    kind: FixityKind,
    path: &str,
    detail: String,
    t0: Instant,
) -> BagResult {
    let mut r = result(
        id,
        vec![FixityFinding::new(kind, path, detail)],
        Vec::new(),
        (0, 0),
        Vec::new(),
        t0,
    );
    r.presence_only = true;
    r
}

pub(super) fn result(
    id: &str,
    findings: Vec<FixityFinding>,
    errors: Vec<String>,
    (files, bytes): (u64, u64),
    algorithms: Vec<Algorithm>,
    t0: Instant,
) -> BagResult {
    let outcome = if !findings.is_empty() {
        BagOutcome::Failed
    } else if !errors.is_empty() {
        BagOutcome::Error
    } else {
        BagOutcome::Passed
    };
    BagResult {
        id: id.to_string(),
        outcome,
        files,
        bytes,
        seconds: t0.elapsed().as_secs_f64(),
        algorithms,
        findings,
        errors,
        presence_only: false,
    }
}
