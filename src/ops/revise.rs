//! `revise`: a new version of an item's content. The folder given holds the item's
//! complete new content; Cairn makes version N+1 as a complete bag in place of the
//! current one, files unchanged since version N hard-linked (stored once), and keeps
//! version N, unchanged, in archive/.versions/ID/N. Through the commit protocol
//! ([`crate::ops::commit::Update`]); a "modification" event lists the files added,
//! removed and changed. docs/lifecycle.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bagit::manifest::{render_manifest, ManifestKind};
use crate::bagit::tags::{parse_bag_info, Version};
use crate::bagit::{BagPath, ValidateReport};
use crate::clock::Clock;
use crate::digest::{hash_reader, Algorithm, Digest, Digests, BUF_SIZE};
use crate::error::Error;
use crate::format::{sniff_mime, HEAD_LEN};
use crate::fs::archive::Archive;
use crate::fs::bag_writer::payload_path;
use crate::fs::durable::sync_tree;
use crate::fs::events::NewEvent;
use crate::fs::register::{DigestMap, FileRecord, RegisterEntry};
use crate::fs::walk::{walk_source, SourceFile};
use crate::ops::after_write::{after_write, AfterWrite};
use crate::ops::amend::{current_entry, hex_digests, read_tag, tag_algorithms, tag_files_of};
use crate::ops::bag_check::{precheck, Precheck, Start};
use crate::ops::commit::{commit_update, qc_events, recover, Outcome, Update};
use crate::ops::formats::{Annotator, ItemFormats, RunFormats};
use crate::vocab::{EventType, Outcome as EventOutcome};

/// Options for [`revise`].
#[derive(Debug, Clone, Default)]
pub struct ReviseOptions {
    pub id: String,
    pub from: PathBuf,
    pub reason: String,
    pub operator: String,
    /// Revise a damaged item on purpose (`--accept-damage`): the current bag's failed
    /// check is logged as its own "validation" event (outcome `warning`) before the
    /// modification.
    pub accept_damage: bool,
    /// Added to the "modification" event's data (an OCFL import records the OCFL
    /// version there).
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// What was done.
#[derive(Debug, Clone, Serialize)]
pub struct ReviseReport {
    pub id: String,
    /// `revised`, or `unchanged` (the folder holds exactly the current version).
    pub outcome: &'static str,
    pub version: u32,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    pub unchanged: usize,
    pub recovered: Vec<String>,
    /// The full check of the current bag made before anything else.
    pub precheck: Precheck,
    /// With `--accept-damage` on a damaged bag: the damage that was accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_damage: Option<String>,
    /// Warnings of the format policy and the `[qc]` profile about the new and changed
    /// files (each naming the file).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the write policy did afterwards ([`crate::ops::after_write`]).
    #[serde(skip)]
    pub after_write: AfterWrite,
}

/// Makes the next version of `opts.id` from `opts.from`. The stages: the arguments,
/// the lock and recovery, the current bag checked in full, the new folder walked and
/// its names checked, the plan (every new file hashed and compared with the register),
/// then the commit protocol, or nothing when the folder holds the current version.
/// The write policy ([`crate::ops::after_write`]) runs afterwards.
pub fn revise(
    archive: &Archive,
    opts: &ReviseOptions,
    clock: &dyn Clock,
) -> Result<ReviseReport, Error> {
    let mut report = revise_inner(archive, opts, clock)?;
    report.after_write = after_write(archive, &[], clock);
    Ok(report)
}

/// [`revise`], before the write policy.
pub(crate) fn revise_inner(
    archive: &Archive,
    opts: &ReviseOptions,
    clock: &dyn Clock,
) -> Result<ReviseReport, Error> {
    let reason = opts.reason.trim();
    if reason.is_empty() {
        return Err(Error::Usage(
            "--reason is empty: say why the item is revised (it is kept in the event log)".into(),
        ));
    }
    if !opts.from.is_dir() {
        return Err(Error::Usage(format!(
            "--from {}: not a folder; give the folder that holds the item's complete new content",
            opts.from.display()
        )));
    }
    let lock = archive.lock("revise")?;
    let recovered = recover(archive, &lock, clock, &Annotator)?;
    let entry = current_entry(archive, &opts.id).map_err(Error::Usage)?;
    // Every change starts from a verified item: the current bag, in full, against its
    // manifests and register entry. A damaged one is refused (its damage would become
    // version N+1 as if it were a deliberate change) unless the archivist accepts it.
    let pre = precheck(
        &archive.bag_path(&entry.id),
        &entry,
        format!(
            "the current bag of {} (version {})",
            entry.id, entry.version
        ),
    )?;
    if !opts.accept_damage {
        pre.refuse_unless_intact(Start::Revise)?;
    }
    let damaged: BTreeSet<String> = pre.damaged_paths().into_iter().map(String::from).collect();
    let walk = walk_new_content(&opts.from)?;
    let Plan {
        files,
        added,
        changed,
        unchanged,
        removed,
    } = plan_files(&entry, &walk.files, &damaged)?;
    let accepted_damage = (!pre.intact()).then(|| pre.damage());
    if added.is_empty() && changed.is_empty() && removed.is_empty() {
        if let Some(damage) = &accepted_damage {
            // The folder holds the version as registered: its good bytes mend the
            // damaged bag, which is a repair, not a new version.
            return Err(Error::Refused {
                path: pre.bag.clone(),
                reason: format!(
                    "{} is damaged ({damage}), and {} holds exactly version {} as the register records it: that is a repair, not a revision. Nothing was changed; {}",
                    pre.what,
                    opts.from.display(),
                    entry.version,
                    crate::ops::bag_check::repair_advice(&entry.id)
                ),
            });
        }
        return Ok(ReviseReport {
            id: entry.id.clone(),
            outcome: "unchanged",
            version: entry.version,
            added,
            removed,
            changed,
            unchanged,
            recovered,
            precheck: pre,
            accepted_damage: None,
            warnings: Vec::new(),
            after_write: AfterWrite::default(),
        });
    }
    let mut change = ReviseChange {
        accepted: accepted_damage.as_ref().map(|_| pre.clone()),
        files,
        dirs: walk.dirs.clone(),
        reason: reason.to_string(),
        operator: opts.operator.clone(),
        data: opts.data.clone(),
        added: added.clone(),
        removed: removed.clone(),
        changed: changed.clone(),
        tag_files: BTreeMap::new(),
        payload_oxum: String::new(),
        bagging_date: clock.now().format("%Y-%m-%d").to_string(),
        from: opts.from.clone(),
        formats: None,
    };
    let committed = commit_update(archive, &lock, &entry.id, &mut change, clock)?;
    let version = match &committed.outcome {
        Outcome::Replace { entry, .. } => entry.version,
        Outcome::Withdraw { .. } => entry.version,
    };
    Ok(ReviseReport {
        id: entry.id.clone(),
        outcome: "revised",
        version,
        added,
        removed,
        changed,
        unchanged,
        recovered,
        precheck: pre,
        accepted_damage,
        warnings: change.formats.map(|f| f.warnings).unwrap_or_default(),
        after_write: AfterWrite::default(),
    })
}

/// The folder of the new content, walked: every name must be one Cairn takes at
/// ingest, and there must be files; else it is refused and nothing is changed.
fn walk_new_content(from: &Path) -> Result<crate::fs::walk::Walk, Error> {
    let walk = walk_source(from, &[])?;
    let mut refused: Vec<String> = walk
        .refused
        .iter()
        .map(|(p, why)| format!("{}: {why}", p.display()))
        .collect();
    for f in &walk.files {
        if f.rel.chars().any(char::is_control) || f.rel.contains('%') {
            refused.push(format!(
                "{}: the name contains a control character or `%`, which Cairn refuses at ingest; rename it",
                crate::quoted(&f.rel)
            ));
        } else if let Err(e) = payload_path(&f.rel) {
            refused.push(e.to_string());
        }
    }
    if walk.files.is_empty() && refused.is_empty() {
        refused.push(format!("{}: the folder has no files", from.display()));
    }
    if !refused.is_empty() {
        return Err(Error::Refused {
            path: from.to_path_buf(),
            reason: format!("{}; nothing was changed", refused.join("; ")),
        });
    }
    Ok(walk)
}

/// The new version's files against the current one's.
struct Plan {
    files: Vec<NewFile>,
    added: Vec<String>,
    changed: Vec<String>,
    unchanged: usize,
    removed: Vec<String>,
}

/// The plan: hash every new file with the bag's algorithms, compare with the register.
/// A file unchanged (and not damaged in the current bag) is linked, not copied.
fn plan_files(
    entry: &RegisterEntry,
    new_files: &[SourceFile],
    damaged: &BTreeSet<String>,
) -> Result<Plan, Error> {
    let algs: Vec<Algorithm> = {
        let mut a: BTreeSet<Algorithm> = BTreeSet::new();
        for f in &entry.files {
            a.extend(f.digests.iter().map(|(alg, _)| *alg));
        }
        a.into_iter().collect()
    };
    let current: BTreeMap<&str, &FileRecord> =
        entry.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut buf = vec![0u8; BUF_SIZE];
    let mut files = Vec::new();
    let (mut added, mut changed, mut unchanged) = (Vec::new(), Vec::new(), 0usize);
    for f in new_files {
        let path = format!("data/{}", f.rel);
        let input = crate::fs::open_read(&f.disk).map_err(|e| Error::io("open", &f.disk, e))?;
        let digests =
            hash_reader(input, &algs, &mut buf).map_err(|e| Error::io("read", &f.disk, e))?;
        let same = current.get(path.as_str()).is_some_and(|old| {
            old.size == digests.len && old.digests.iter().all(|(a, d)| digests.get(*a) == Some(d))
        });
        match (same, current.contains_key(path.as_str())) {
            (true, _) => unchanged += 1,
            (false, true) => changed.push(path.clone()),
            (false, false) => added.push(path.clone()),
        }
        // A damaged file of the current bag is never linked: the good bytes given
        // are copied instead.
        let linked = same && !damaged.contains(&path);
        files.push(NewFile {
            source: f.clone(),
            path,
            digests,
            linked,
        });
    }
    let present: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let removed: Vec<String> = entry
        .files
        .iter()
        .filter(|f| !present.contains(f.path.as_str()))
        .map(|f| f.path.clone())
        .collect();
    Ok(Plan {
        files,
        added,
        changed,
        unchanged,
        removed,
    })
}

#[derive(Debug, Clone)]
struct NewFile {
    source: SourceFile,
    /// Bag path (`data/...`).
    path: String,
    digests: Digests,
    /// Unchanged since the current version: hard-linked, not copied.
    linked: bool,
}

struct ReviseChange {
    /// `--accept-damage` on a damaged bag: its check, logged before the modification.
    accepted: Option<Precheck>,
    files: Vec<NewFile>,
    dirs: Vec<String>,
    reason: String,
    operator: String,
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<String>,
    tag_files: BTreeMap<String, DigestMap>,
    payload_oxum: String,
    /// Today (YYYY-MM-DD), the new version's Bagging-Date.
    bagging_date: String,
    /// The folder of the new content (named in a refusal).
    from: PathBuf,
    /// The new and changed files' formats, identified in the staged bag.
    formats: Option<ItemFormats>,
    /// [`ReviseOptions::data`].
    data: serde_json::Map<String, serde_json::Value>,
}

impl Update for ReviseChange {
    fn kind(&self) -> &'static str {
        "revise"
    }

    fn replaces_bag(&self) -> bool {
        true
    }

    /// Unchanged files are hard-linked from the current bag, new and changed ones
    /// copied; then bag-info.txt (new Payload-Oxum and Bagging-Date), the payload
    /// manifests, the other tag files as they were, and the tag manifests.
    fn build(&mut self, current: &Path, staged: &Path) -> Result<(), Error> {
        let data = staged.join("data");
        crate::fs::create_dir(&data)?;
        for d in &self.dirs {
            let disk = payload_path(d)?.to_fs_path(staged);
            crate::fs::create_dir_all(&disk)?;
        }
        for f in &self.files {
            let bag_path = payload_path(&f.source.rel)?;
            let to = bag_path.to_fs_path(staged);
            if let Some(parent) = to.parent() {
                crate::fs::create_dir_all(parent)?;
            }
            if f.linked {
                let from = bag_path.to_fs_path(current);
                crate::fs::hard_link(&from, &to)?;
            } else {
                crate::fs::copy_file(&f.source.disk, &to)?;
            }
        }
        let tags = tag_files_of(current)?;
        let tag_algs = tag_algorithms(&tags);
        let payload_algs: Vec<Algorithm> = tags
            .iter()
            .filter_map(|n| match ManifestKind::from_file_name(n) {
                Some((ManifestKind::Payload, a)) => Algorithm::from_manifest_name(a),
                _ => None,
            })
            .collect();
        let bytes: u64 = self.files.iter().map(|f| f.digests.len).sum();
        self.payload_oxum = format!("{bytes}.{}", self.files.len());
        let mut buf = vec![0u8; BUF_SIZE];
        let mut new_tags: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for name in &tags {
            if name.starts_with("tagmanifest-") || name.starts_with("manifest-") {
                continue;
            }
            let bytes = read_tag(current, name)?;
            let bytes = if name == "bag-info.txt" {
                self.bag_info(&bytes, current)?
            } else {
                bytes
            };
            new_tags.insert(name.clone(), bytes);
        }
        let paths: Vec<BagPath> = self
            .files
            .iter()
            .map(|f| payload_path(&f.source.rel))
            .collect::<Result<_, _>>()?;
        for alg in &payload_algs {
            let mut entries: Vec<(&BagPath, &Digest)> = Vec::with_capacity(self.files.len());
            for (p, f) in paths.iter().zip(&self.files) {
                let d = f.digests.get(*alg).ok_or_else(|| {
                    Error::Internal(format!("{alg} digest of {} was not computed", f.path))
                })?;
                entries.push((p, d));
            }
            new_tags.insert(
                ManifestKind::Payload.file_name(*alg),
                render_manifest(entries).into_bytes(),
            );
        }
        let mut digests: BTreeMap<BagPath, Vec<(Algorithm, Digest)>> = BTreeMap::new();
        for (name, bytes) in &new_tags {
            let p = BagPath::parse(name)
                .map_err(|e| Error::Internal(format!("tag file {name}: {e}")))?;
            let d = hash_reader(&bytes[..], &tag_algs, &mut buf)
                .map_err(|e| Error::io("hash", name, e))?;
            self.tag_files.insert(name.clone(), DigestMap::of(&d));
            digests.insert(p, d.values);
        }
        for alg in &tag_algs {
            let entries: Vec<(&BagPath, &Digest)> = digests
                .iter()
                .filter_map(|(p, ds)| ds.iter().find(|(a, _)| a == alg).map(|(_, d)| (p, d)))
                .collect();
            let name = ManifestKind::Tag.file_name(*alg);
            let bytes = render_manifest(entries).into_bytes();
            self.tag_files.insert(
                name.clone(),
                hex_digests(&bytes, &tag_algs, &mut buf, &name)?,
            );
            new_tags.insert(name, bytes);
        }
        crate::fs::bag_writer::write_tags_bagit_last(staged, &new_tags)?;
        sync_tree(staged)
    }

    /// The new and changed files, as staged, identified and judged as at ingest (the
    /// format policy, and the `[qc]` profile when one is set): any refusal turns the
    /// revision down before anything is published.
    fn before_publish(&mut self, archive: &Archive, staged: &Path) -> Result<(), Error> {
        let mut files = Vec::new();
        for f in self.files.iter().filter(|f| !f.linked) {
            files.push((
                f.path.clone(),
                payload_path(&f.source.rel)?.to_fs_path(staged),
            ));
        }
        let formats = RunFormats::new(archive).item(&files, true)?;
        if !formats.refusals.is_empty() {
            return Err(Error::Refused {
                path: self.from.clone(),
                reason: format!("{}; nothing was changed", formats.refusals.join("; ")),
            });
        }
        self.formats = Some(formats);
        Ok(())
    }

    fn outcome(
        &mut self,
        _archive: &Archive,
        current: &RegisterEntry,
        staged: Option<(&Path, &ValidateReport)>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Outcome, Error> {
        let Some((bag, _check)) = staged else {
            return Err(Error::Internal("a revision without a staged bag".into()));
        };
        let old: BTreeMap<&str, &FileRecord> =
            current.files.iter().map(|f| (f.path.as_str(), f)).collect();
        let mut head = vec![0u8; HEAD_LEN];
        let mut files = Vec::with_capacity(self.files.len());
        for f in &self.files {
            match old.get(f.path.as_str()) {
                Some(rec) if f.linked => files.push((*rec).clone()),
                _ => {
                    let disk = payload_path(&f.source.rel)?.to_fs_path(bag);
                    let n = crate::fs::read_head(&disk, &mut head)?;
                    files.push(FileRecord {
                        path: f.path.clone(),
                        size: f.digests.len,
                        mime: sniff_mime(&head[..n], f.digests.len),
                        digests: DigestMap::new(f.digests.values.clone()),
                        format: None,
                        techmd: None,
                        validation: None,
                        qc: None,
                        extra: Default::default(),
                    });
                }
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut entry = current.clone();
        entry.files = files;
        if let Some(formats) = &self.formats {
            // Only the new and changed files were identified: the linked ones keep
            // what the register held.
            crate::ops::formats::annotate(&mut entry, formats);
        }
        entry.tag_files = self.tag_files.clone();
        entry.payload_oxum = self.payload_oxum.clone();
        entry.entry_version = current.entry_version + 1;
        entry.version = current.version + 1;
        entry.updated = Some(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        Ok(Outcome::Replace {
            entry: Box::new(entry),
            retain: Some(current.version),
        })
    }

    fn events(
        &mut self,
        current: &RegisterEntry,
        outcome: &Outcome,
    ) -> Result<Vec<NewEvent>, Error> {
        let Outcome::Replace { entry, .. } = outcome else {
            return Err(Error::Internal("a revision that does not replace".into()));
        };
        let tag_manifests: BTreeMap<&String, &DigestMap> = self
            .tag_files
            .iter()
            .filter(|(n, _)| n.starts_with("tagmanifest-"))
            .collect();
        let mut events = Vec::new();
        if let Some(pre) = &self.accepted {
            events.push(accepted_damage_event(
                pre,
                current,
                &self.operator,
                &self.reason,
            ));
        }
        events.push(NewEvent::new(
            EventType::Modification,
            EventOutcome::Success,
            &current.id,
            format!(
                "version {} made from version {}: {} added, {} removed, {} changed; version {} kept in archive/.versions/{}/: {}",
                entry.version,
                current.version,
                self.added.len(),
                self.removed.len(),
                self.changed.len(),
                current.version,
                current.id,
                self.reason
            ),
        )
        .with_data({
            let mut data = serde_json::json!({
            "reason": self.reason,
            "operator": self.operator,
            "version": entry.version,
            "previous_version": current.version,
            "entry_version": entry.entry_version,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "payload_oxum": entry.payload_oxum,
            "tag_manifests": tag_manifests,
            });
            if let Some(d) = data.as_object_mut() {
                d.extend(self.data.clone());
            }
            data
        }));
        let fresh: BTreeSet<&str> = self
            .files
            .iter()
            .filter(|f| !f.linked)
            .map(|f| f.path.as_str())
            .collect();
        events.extend(qc_events(
            entry
                .files
                .iter()
                .filter(|f| fresh.contains(f.path.as_str())),
            &current.id,
            "",
        ));
        Ok(events)
    }
}

/// The decision to revise a damaged item, as its own event before the modification:
/// a PREMIS "validation" (the current bag checked against its register entry) whose
/// outcome is `warning`: it failed, and the archivist went on on purpose.
fn accepted_damage_event(
    pre: &Precheck,
    current: &RegisterEntry,
    operator: &str,
    reason: &str,
) -> NewEvent {
    NewEvent::new(
        EventType::Validation,
        EventOutcome::Warning,
        &current.id,
        format!(
            "{} failed its full check against its manifests and register entry: {}; revised anyway with --accept-damage by {operator}, so version {} is made from it: {reason}",
            pre.what,
            pre.damage(),
            current.version + 1,
        ),
    )
    .with_data(serde_json::json!({
        "decision": "accept-damage",
        "operator": operator,
        "reason": reason,
        "version": current.version,
        "check": pre.depth,
        "findings": pre.findings,
        "errors": pre.errors,
    }))
}

impl ReviseChange {
    /// bag-info.txt with the new Payload-Oxum and today's Bagging-Date.
    fn bag_info(&self, bytes: &[u8], current: &Path) -> Result<Vec<u8>, Error> {
        let path = current.join("bag-info.txt");
        let text = std::str::from_utf8(bytes).map_err(|_| Error::Refused {
            path: path.clone(),
            reason: "bag-info.txt is not UTF-8; Cairn revises only UTF-8 bags".into(),
        })?;
        let (mut info, errors) = parse_bag_info(text, Version::V1_0);
        if !errors.is_empty() {
            return Err(Error::Refused {
                path,
                reason: "bag-info.txt does not parse; run `cairn bag validate`".into(),
            });
        }
        for (label, value) in info.entries.iter_mut() {
            if label.eq_ignore_ascii_case("Payload-Oxum") {
                *value = self.payload_oxum.clone();
            } else if label.eq_ignore_ascii_case("Bagging-Date") {
                *value = self.bagging_date.clone();
            }
        }
        Ok(info.render().into_bytes())
    }
}
