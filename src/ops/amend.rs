//! `amend`: corrects an item's descriptive metadata. The new Dublin Core is validated as
//! at ingest; a new bag is staged with the payload hard-linked from the current one
//! (never copied, never touched) and new metadata/dc.xml, metadata/dc.json, bag-info.txt
//! (External-Description mirrors the record) and tag manifests; it replaces the current
//! bag and register entry through the commit protocol ([`crate::ops::commit::Update`]),
//! which keeps the superseded entry in manifests/history/ID/ (docs/lifecycle.md). A
//! "metadata modification" event records the reason, the terms changed, and the tag
//! files' digests before and after.
//!
//! Every edit of a batch (`--from-csv`) is checked before any is committed: one bad row
//! and nothing changes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::bagit::manifest::{render_manifest, ManifestKind};
use crate::bagit::tags::{parse_bag_info, Version};
use crate::bagit::{BagPath, ValidateReport};
use crate::clock::Clock;
use crate::digest::{hash_reader, Algorithm, Digest, BUF_SIZE};
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::durable::sync_tree;
use crate::fs::events::NewEvent;
use crate::fs::lifecycle::link_payload;
use crate::fs::register::{DigestMap, RegisterEntry};
use crate::metadata::{self, DublinCore, Term};
use crate::ops::after_write::{after_write, AfterWrite};
use crate::ops::bag_check::{precheck, Precheck, Start};
use crate::ops::commit::{commit_update, recover, Outcome, Update};
use crate::ops::formats::Annotator;
use crate::vocab::{EventType, Outcome as EventOutcome};

/// Tag files an amend rewrites.
const REWRITTEN: [&str; 3] = ["bag-info.txt", "metadata/dc.xml", "metadata/dc.json"];

/// One item's correction.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub id: String,
    /// Terms whose values are replaced (all values of each term present here).
    pub set: DublinCore,
    /// Terms whose values are all removed.
    pub unset: Vec<Term>,
    /// Where the edit came from, for messages (`--set`, `metadata.csv line 3`).
    pub origin: String,
}

/// Parses `TERM=VALUE` arguments into a record (a term given twice has two values).
pub fn parse_set(args: &[String]) -> Result<DublinCore, Error> {
    let mut dc = DublinCore::new();
    for a in args {
        let Some((term, value)) = a.split_once('=') else {
            return Err(Error::Usage(format!(
                "--set {}: expected TERM=VALUE, such as dc.date=1977-03",
                crate::quoted(a)
            )));
        };
        let term = Term::parse(term.trim()).map_err(|e| Error::Usage(format!("--set: {e}")))?;
        let value = value.trim();
        if value.is_empty() {
            return Err(Error::Usage(format!(
                "--set {term}= has no value; to remove a term use --unset {term}"
            )));
        }
        dc.push(term, value);
    }
    Ok(dc)
}

/// Parses `--unset` term names.
pub fn parse_unset(args: &[String]) -> Result<Vec<Term>, Error> {
    args.iter()
        .map(|a| Term::parse(a.trim()).map_err(|e| Error::Usage(format!("--unset: {e}"))))
        .collect()
}

/// Reads a metadata.csv of corrections: the first column (`filename`, or `id`) names an
/// archived item's identifier; the other columns are terms whose values replace the
/// item's (blank cells change nothing).
pub fn edits_from_csv(path: &Path) -> Result<Vec<Edit>, Error> {
    let mut bytes = crate::fs::read_file(path)?;
    // The header may say `id`: the sheet's parser knows it as `filename`.
    let body_start = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let head = &bytes[body_start..];
    let id_len = if head.len() >= 2 && head[..2].eq_ignore_ascii_case(b"id") {
        match head.get(2) {
            Some(b',') | Some(b'\n') | Some(b'\r') | None => Some(2),
            _ => None,
        }
    } else {
        None
    };
    if let Some(n) = id_len {
        bytes.splice(body_start..body_start + n, b"filename".iter().copied());
    }
    let sheet = metadata::parse_sheet(&bytes).map_err(|errors| Error::Refused {
        path: path.to_path_buf(),
        reason: errors
            .errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    Ok(sheet
        .rows
        .into_iter()
        .map(|row| Edit {
            id: row.item,
            set: row.record,
            unset: Vec::new(),
            origin: format!("{} line {}", path.display(), row.line),
        })
        .collect())
}

/// Options for [`amend`].
#[derive(Debug, Clone, Default)]
pub struct AmendOptions {
    pub edits: Vec<Edit>,
    pub reason: String,
    /// Who asks (recorded in the event).
    pub operator: String,
    /// Added to each "metadata modification" event's data (an OCFL import records the
    /// OCFL version there).
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// What happened to one item.
#[derive(Debug, Clone, Serialize)]
pub struct AmendedItem {
    pub id: String,
    /// `amended`, or `unchanged` (the record already says so: nothing written).
    pub outcome: &'static str,
    pub terms: Vec<String>,
    pub entry_version: u32,
    /// The full check of the current bag made before the change (none when nothing
    /// changes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precheck: Option<Precheck>,
}

/// The run's report.
#[derive(Debug, Clone, Serialize)]
pub struct AmendReport {
    pub items: Vec<AmendedItem>,
    /// What the start-up recovery did after an interrupted run.
    pub recovered: Vec<String>,
    /// What the write policy did afterwards ([`crate::ops::after_write`]).
    #[serde(skip)]
    pub after_write: AfterWrite,
}

/// Amends every item of `opts.edits`, each in its own commit, after checking them all.
/// The write policy ([`crate::ops::after_write`]) runs afterwards.
pub fn amend(
    archive: &Archive,
    opts: &AmendOptions,
    clock: &dyn Clock,
) -> Result<AmendReport, Error> {
    let mut report = amend_inner(archive, opts, clock)?;
    report.after_write = after_write(archive, &[], clock);
    Ok(report)
}

/// [`amend`], before the write policy.
pub(crate) fn amend_inner(
    archive: &Archive,
    opts: &AmendOptions,
    clock: &dyn Clock,
) -> Result<AmendReport, Error> {
    let reason = opts.reason.trim();
    if reason.is_empty() {
        return Err(Error::Usage(
            "--reason is empty: say why the record is corrected (it is kept in the event log)"
                .into(),
        ));
    }
    if opts.edits.is_empty() {
        return Err(Error::Usage(
            "nothing to change: give --set or --unset, or --from-csv with at least one row".into(),
        ));
    }
    let lock = archive.lock("amend")?;
    let recovered = recover(archive, &lock, clock, &Annotator)?;
    // Check every edit before committing any.
    let mut usage = Vec::new();
    let mut refused = Vec::new();
    let mut planned: Vec<Planned> = Vec::new();
    let mut damaged: Vec<Precheck> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for edit in &opts.edits {
        if !seen.insert(edit.id.clone()) {
            usage.push(format!(
                "{}: {} is named twice; give each item one row",
                edit.origin,
                crate::quoted(&edit.id)
            ));
            continue;
        }
        let entry = match current_entry(archive, &edit.id) {
            Ok(e) => e,
            Err(why) => {
                usage.push(format!("{}: {why}", edit.origin));
                continue;
            }
        };
        let before = current_record(archive, &entry)?;
        let mut after = before.clone();
        after.entries.retain(|(t, _)| !edit.unset.contains(t));
        after.overlay(&edit.set);
        if before.identifiers() != after.identifiers() {
            refused.push(format!(
                "{}: {}: the identifier names the item and cannot be amended",
                edit.origin, edit.id
            ));
            continue;
        }
        let mut problems = metadata::validate_record(&after);
        // The same limit as ingest's (`ingest.max_value_size`).
        let max_value = archive.config.max_value_size().map_err(Error::Usage)?;
        problems.extend(metadata::oversized_values(&after, max_value));
        if !problems.is_empty() {
            for p in problems {
                refused.push(format!("{}: {}: {p}", edit.origin, edit.id));
            }
            continue;
        }
        let terms = changed_terms(&before, &after);
        // Every change starts from a verified item: the payload is carried forward
        // as it is, so a damaged bag is refused before anything is built.
        let pre = if terms.is_empty() {
            None
        } else {
            let pre = precheck(
                &archive.bag_path(&entry.id),
                &entry,
                format!("the current bag of {}", entry.id),
            )?;
            if !pre.intact() {
                damaged.push(pre);
                continue;
            }
            Some(pre)
        };
        planned.push(Planned {
            id: edit.id.clone(),
            record: after,
            terms,
            entry_version: entry.entry_version,
            precheck: pre,
        });
    }
    if !usage.is_empty() {
        return Err(Error::Usage(format!(
            "{}; nothing was changed",
            usage.join("; ")
        )));
    }
    if !refused.is_empty() {
        return Err(Error::Refused {
            path: Path::new("the new record").to_path_buf(),
            reason: format!("{}; nothing was changed", refused.join("; ")),
        });
    }
    if let Some(first) = damaged.first() {
        return Err(first.refusal(Start::Amend, &damaged[1..]));
    }
    let mut items = Vec::new();
    for Planned {
        id,
        record,
        terms,
        entry_version: version,
        precheck: pre,
    } in planned
    {
        if terms.is_empty() {
            items.push(AmendedItem {
                id,
                outcome: "unchanged",
                terms,
                entry_version: version,
                precheck: None,
            });
            continue;
        }
        let mut change = AmendChange {
            record,
            terms: terms.clone(),
            reason: reason.to_string(),
            operator: opts.operator.clone(),
            data: opts.data.clone(),
            tag_files: BTreeMap::new(),
            before: BTreeMap::new(),
        };
        let committed = commit_update(archive, &lock, &id, &mut change, clock)?;
        let entry_version = match &committed.outcome {
            Outcome::Replace { entry, .. } => entry.entry_version,
            Outcome::Withdraw { .. } => version,
        };
        items.push(AmendedItem {
            id,
            outcome: "amended",
            terms,
            entry_version,
            precheck: pre,
        });
    }
    Ok(AmendReport {
        items,
        recovered,
        after_write: AfterWrite::default(),
    })
}

/// One item's edit, checked and ready to commit.
struct Planned {
    id: String,
    record: DublinCore,
    terms: Vec<String>,
    entry_version: u32,
    /// The check of the current bag (none when nothing changes).
    precheck: Option<Precheck>,
}

/// The current register entry of `id`, or why there is none to change.
pub(crate) fn current_entry(archive: &Archive, id: &str) -> Result<RegisterEntry, String> {
    let bad = id.is_empty() || id.contains(['/', '\\', '~']) || id.starts_with('.');
    let path = archive.register_path(id);
    if !bad && path.exists() {
        return RegisterEntry::read(&path).map_err(|e| e.to_string());
    }
    if !bad {
        if let Ok(Some(t)) = archive.tombstone(id) {
            return Err(format!(
                "{} was withdrawn on {} ({}); a withdrawn item is not changed. `cairn show {}` shows its tombstone",
                id,
                t.withdrawn,
                t.reason,
                id
            ));
        }
    }
    Err(format!(
        "no item {} in the register; `cairn list` shows the identifiers",
        crate::quoted(id)
    ))
}

/// The item's record as its bag holds it (metadata/dc.json in its own term order), or
/// as the register keeps it.
pub(crate) fn current_record(
    archive: &Archive,
    entry: &RegisterEntry,
) -> Result<DublinCore, Error> {
    let bag = archive.bag_path(&entry.id);
    if let Ok(bytes) = crate::fs::read_file(&bag.join("metadata/dc.json")) {
        if let Ok(dc) = serde_json::from_slice::<DublinCore>(&bytes) {
            return Ok(dc);
        }
    }
    if let Ok(text) = crate::fs::read_to_string(&bag.join("metadata/dc.xml")) {
        if let Ok(dc) = metadata::parse_oai_dc(&text) {
            return Ok(dc);
        }
    }
    entry.dublin_core.read_record().map_err(|e| Error::Corrupt {
        path: archive.register_path(&entry.id),
        detail: format!("its Dublin Core record cannot be read: {e}"),
    })
}

/// The terms whose values differ between two records, in DCMI order.
fn changed_terms(before: &DublinCore, after: &DublinCore) -> Vec<String> {
    let mut terms: Vec<Term> = before.terms();
    for t in after.terms() {
        if !terms.contains(&t) {
            terms.push(t);
        }
    }
    terms.sort();
    terms
        .into_iter()
        .filter(|t| before.values(*t) != after.values(*t))
        .map(|t| t.name().to_string())
        .collect()
}

/// A correction of one item's metadata, as the commit protocol drives it.
struct AmendChange {
    record: DublinCore,
    terms: Vec<String>,
    reason: String,
    operator: String,
    /// [`AmendOptions::data`].
    data: serde_json::Map<String, serde_json::Value>,
    /// Digests of every tag file of the new bag: name → algorithm → hex.
    tag_files: BTreeMap<String, DigestMap>,
    /// The same for the current bag's rewritten tag files and tag manifests.
    before: BTreeMap<String, DigestMap>,
}

impl Update for AmendChange {
    fn kind(&self) -> &'static str {
        "amend"
    }

    fn replaces_bag(&self) -> bool {
        true
    }

    /// Hard-links the payload, copies the tag files that do not change, writes the new
    /// metadata and bag-info.txt, then the tag manifests over every other tag file.
    fn build(&mut self, current: &Path, staged: &Path) -> Result<(), Error> {
        link_payload(current, staged)?;
        let tags = tag_files_of(current)?;
        let algs = tag_algorithms(&tags);
        let mut buf = vec![0u8; BUF_SIZE];
        let mut new_tags: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for name in &tags {
            if name.starts_with("tagmanifest-") {
                let bytes = read_tag(current, name)?;
                self.before
                    .insert(name.clone(), hex_digests(&bytes, &algs, &mut buf, name)?);
                continue;
            }
            let bytes = read_tag(current, name)?;
            if REWRITTEN.contains(&name.as_str()) {
                self.before
                    .insert(name.clone(), hex_digests(&bytes, &algs, &mut buf, name)?);
                if name == "bag-info.txt" {
                    new_tags.insert(name.clone(), self.bag_info(&bytes, current)?);
                }
                continue;
            }
            new_tags.insert(name.clone(), bytes);
        }
        new_tags.insert(
            "metadata/dc.xml".into(),
            metadata::render_oai_dc(&self.record).into_bytes(),
        );
        new_tags.insert(
            "metadata/dc.json".into(),
            self.record.render_json().into_bytes(),
        );
        // The tag manifests, over every other tag file.
        let mut digests: BTreeMap<BagPath, Vec<(Algorithm, Digest)>> = BTreeMap::new();
        for (name, bytes) in &new_tags {
            let p = BagPath::parse(name)
                .map_err(|e| Error::Internal(format!("tag file {name}: {e}")))?;
            let d =
                hash_reader(&bytes[..], &algs, &mut buf).map_err(|e| Error::io("hash", name, e))?;
            self.tag_files.insert(name.clone(), DigestMap::of(&d));
            digests.insert(p, d.values);
        }
        for alg in &algs {
            let entries: Vec<(&BagPath, &Digest)> = digests
                .iter()
                .filter_map(|(p, ds)| ds.iter().find(|(a, _)| a == alg).map(|(_, d)| (p, d)))
                .collect();
            let name = ManifestKind::Tag.file_name(*alg);
            let bytes = render_manifest(entries).into_bytes();
            self.tag_files
                .insert(name.clone(), hex_digests(&bytes, &algs, &mut buf, &name)?);
            new_tags.insert(name, bytes);
        }
        crate::fs::bag_writer::write_tags_bagit_last(staged, &new_tags)?;
        sync_tree(staged)
    }

    fn outcome(
        &mut self,
        _archive: &Archive,
        current: &RegisterEntry,
        staged: Option<(&Path, &ValidateReport)>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Outcome, Error> {
        let Some((path, check)) = staged else {
            return Err(Error::Internal("an amend without a staged bag".into()));
        };
        // The payload read back must be the one the register recorded, digest for
        // digest: an amend never carries a damaged or altered payload forward.
        let mut differs = Vec::new();
        let computed: BTreeMap<&str, &Vec<(Algorithm, Digest)>> = check
            .computed
            .iter()
            .filter(|(p, _)| p.starts_with("data/"))
            .map(|(p, d)| (p.as_str(), d))
            .collect();
        if computed.len() != current.files.len() {
            differs.push(format!(
                "{} payload files where the register records {}",
                computed.len(),
                current.files.len()
            ));
        }
        for f in &current.files {
            let Some(got) = computed.get(f.path.as_str()) else {
                differs.push(format!("{} is missing", f.path));
                continue;
            };
            for (alg, want) in f.digests.iter() {
                if let Some((_, d)) = got.iter().find(|(a, _)| a == alg) {
                    if d != want {
                        differs.push(format!("{}: {alg} differs from the register", f.path));
                    }
                }
            }
        }
        if !differs.is_empty() {
            return Err(Error::VerifyFailed {
                path: path.to_path_buf(),
                detail: format!(
                    "{}; the bag does not match its register entry, so it was not amended. Run `cairn fixity --id {}`",
                    differs.join("; "),
                    current.id
                ),
            });
        }
        let mut entry = current.clone();
        entry.dublin_core.set_record(self.record.clone());
        entry.tag_files = self.tag_files.clone();
        entry.entry_version = current.entry_version + 1;
        entry.updated = Some(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        Ok(Outcome::Replace {
            entry: Box::new(entry),
            retain: None,
        })
    }

    fn events(
        &mut self,
        current: &RegisterEntry,
        outcome: &Outcome,
    ) -> Result<Vec<NewEvent>, Error> {
        let Outcome::Replace { entry, .. } = outcome else {
            return Err(Error::Internal("an amend that does not replace".into()));
        };
        let after: BTreeMap<&String, &DigestMap> = self
            .tag_files
            .iter()
            .filter(|(n, _)| REWRITTEN.contains(&n.as_str()) || n.starts_with("tagmanifest-"))
            .collect();
        let tag_manifests: BTreeMap<&String, &DigestMap> = self
            .tag_files
            .iter()
            .filter(|(n, _)| n.starts_with("tagmanifest-"))
            .collect();
        let mut data = serde_json::json!({
            "reason": self.reason,
            "operator": self.operator,
            "terms": self.terms,
            "previous_version": current.entry_version,
            "entry_version": entry.entry_version,
            "before": self.before,
            "after": after,
            "tag_manifests": tag_manifests,
        });
        if let Some(d) = data.as_object_mut() {
            d.extend(self.data.clone());
        }
        Ok(vec![NewEvent::new(
            EventType::MetadataModification,
            EventOutcome::Success,
            &current.id,
            format!(
                "{} changed (register entry version {} → {}): {}",
                self.terms.join(", "),
                current.entry_version,
                entry.entry_version,
                self.reason
            ),
        )
        .with_data(data)])
    }
}

impl AmendChange {
    /// bag-info.txt with External-Description mirroring the new record (its
    /// description, else its title), every other field as it was.
    fn bag_info(&self, bytes: &[u8], current: &Path) -> Result<Vec<u8>, Error> {
        let path = current.join("bag-info.txt");
        let text = std::str::from_utf8(bytes).map_err(|_| Error::Refused {
            path: path.clone(),
            reason: "bag-info.txt is not UTF-8; Cairn amends only UTF-8 bags".into(),
        })?;
        let (mut info, errors) = parse_bag_info(text, Version::V1_0);
        if !errors.is_empty() {
            return Err(Error::Refused {
                path,
                reason: "bag-info.txt does not parse; run `cairn bag validate`".into(),
            });
        }
        let description = self
            .record
            .first(metadata::Element::Description.term())
            .or(self.record.title())
            .map(str::to_string);
        if let Some(d) = description {
            match info
                .entries
                .iter_mut()
                .find(|(l, _)| l.eq_ignore_ascii_case("External-Description"))
            {
                Some((_, v)) => *v = d,
                None => info.push("External-Description", d),
            }
        }
        Ok(info.render().into_bytes())
    }
}

/// Every tag file of a bag (every file outside data/), as bag paths, sorted.
pub(crate) fn tag_files_of(bag: &Path) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(bag)
        .follow_links(false)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !(e.depth() == 1 && e.file_name() == "data"));
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(bag).to_path_buf();
            Error::io("list", path, std::io::Error::other(e.to_string()))
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        if !entry.file_type().is_file() {
            return Err(Error::Refused {
                path: entry.path().to_path_buf(),
                reason: "a symbolic link or special file in an archived bag".into(),
            });
        }
        let rel = entry
            .path()
            .strip_prefix(bag)
            .map_err(|_| Error::Internal("a walked path outside the bag".into()))?;
        let rel = rel.to_str().ok_or_else(|| Error::Refused {
            path: entry.path().to_path_buf(),
            reason: "a tag file name that is not UTF-8".into(),
        })?;
        out.push(rel.to_string());
    }
    out.sort();
    Ok(out)
}

/// The algorithms of the bag's tag manifests, else of its payload manifests.
pub(crate) fn tag_algorithms(tags: &[String]) -> Vec<Algorithm> {
    let of = |kind: ManifestKind| -> Vec<Algorithm> {
        tags.iter()
            .filter_map(|n| match ManifestKind::from_file_name(n) {
                Some((k, a)) if k == kind => Algorithm::from_manifest_name(a),
                _ => None,
            })
            .collect()
    };
    let t = of(ManifestKind::Tag);
    if t.is_empty() {
        of(ManifestKind::Payload)
    } else {
        t
    }
}

pub(crate) fn read_tag(bag: &Path, name: &str) -> Result<Vec<u8>, Error> {
    let path = bag.join(name);
    crate::fs::read_file(&path)
}

pub(crate) fn hex_digests(
    bytes: &[u8],
    algs: &[Algorithm],
    buf: &mut [u8],
    name: &str,
) -> Result<DigestMap, Error> {
    let d = hash_reader(bytes, algs, buf).map_err(|e| Error::io("hash", name, e))?;
    Ok(DigestMap::of(&d))
}
