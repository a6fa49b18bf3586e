//! Ingest's kind of change for the commit protocol ([`crate::ops::commit`]): an
//! intake item copied and hashed into the staged bag with its tag files, its register
//! entry made from the built digests, and its events.

use std::path::Path;

use crate::bagit::ValidateReport;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::bag_writer::{build_bag, BuildOptions, BuiltBag};
use crate::fs::events::NewEvent;
use crate::fs::register::{DigestMap, FileRecord, RegisterEntry};
use crate::fs::walk::Walk;
use crate::metadata::{self, DublinCore, SIDECAR_NAME};
use crate::ops::commit::{
    addition_events, publish_new_bag, relative_bag_path, stage_new_bag, Change,
};
use crate::ops::formats::ItemFormats;

use super::past::{self, Known, Past};
use super::ItemContext;

/// Step 5 of [`super::ingest_item`]: the commit protocol's build, register and log steps for
/// one intake item.
pub(super) struct IngestChange<'a> {
    pub(super) ctx: &'a ItemContext<'a>,
    pub(super) id: &'a str,
    pub(super) name: &'a str,
    /// The intake item.
    pub(super) path: &'a Path,
    pub(super) record: &'a DublinCore,
    pub(super) sidecar: Option<Vec<u8>>,
    pub(super) walk: &'a Walk,
    /// Files `ingest.exclude` left out, named in the ingestion event.
    pub(super) excluded: &'a [String],
    pub(super) built: Option<BuiltBag>,
    /// The item's formats, once ingest has joined the thread that identified them
    /// ([`commit_item`]).
    pub(super) formats: Option<ItemFormats>,
    /// What the archive held before: the built payload is compared with it.
    pub(super) past: &'a Past,
    /// The matches `--allow-duplicate-of` admitted, named in the ingestion event.
    pub(super) duplicate_of: Vec<Known>,
    /// Why the item was turned down as a match with the past, if it was.
    pub(super) refused_as_duplicate: Option<String>,
}

impl Change for IngestChange<'_> {
    fn kind(&self) -> &'static str {
        "ingest"
    }

    /// Copies the item under data/ while hashing, then writes the tag files.
    fn build(&mut self, staged: &Path) -> Result<(), Error> {
        let build = BuildOptions {
            algorithms: self.ctx.algorithms.to_vec(),
            info: self.bag_info(),
            bagging_date: self.ctx.clock.now().date_naive(),
            extra_tags: self.metadata_tags(),
            sniff: true,
        };
        self.built = Some(build_bag(
            staged,
            &self.walk.files,
            &self.walk.dirs,
            &build,
        )?);
        Ok(())
    }

    /// The format policy's refusal turns the item down here, before anything is
    /// published (the refusals stay in `self.formats` for the item's report).
    fn before_publish(&mut self) -> Result<(), Error> {
        let formats = self
            .formats
            .as_ref()
            .ok_or_else(|| Error::Internal("the item's formats were not joined".into()))?;
        if !formats.refusals.is_empty() {
            return Err(Error::Refused {
                path: self.path.to_path_buf(),
                reason: formats.refusals.join("; "),
            });
        }
        // The archive's past, compared on the digests the build just computed (no
        // second read of the item).
        let built = self
            .built
            .as_ref()
            .ok_or_else(|| Error::Internal("the bag was not built".into()))?;
        let files: Vec<(&str, &[_])> = built
            .payload
            .iter()
            .map(|(p, f)| (p.as_str(), f.digests.values.as_slice()))
            .collect();
        let matches = self.past.matches(&files);
        let allowed = &self.ctx.opts.allow_duplicate_of;
        if let Some(why) = past::refusal(&matches, allowed, "ingested") {
            self.refused_as_duplicate = Some(why.clone());
            return Err(Error::Refused {
                path: self.path.to_path_buf(),
                reason: why,
            });
        }
        self.duplicate_of = matches.into_iter().map(|m| m.known).collect();
        Ok(())
    }

    fn record(
        &mut self,
        archive: &Archive,
        id: &str,
        _check: &ValidateReport,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<RegisterEntry, Error> {
        let built = self
            .built
            .as_ref()
            .ok_or_else(|| Error::Internal("the bag was not built".into()))?;
        let formats = self
            .formats
            .as_ref()
            .ok_or_else(|| Error::Internal("the item's formats were not joined".into()))?;
        let mut entry = register_entry(archive, id, self.name, self.record, built, now);
        crate::ops::formats::annotate(&mut entry, formats);
        Ok(entry)
    }

    fn events(&mut self, entry: &RegisterEntry) -> Result<Vec<NewEvent>, Error> {
        let mut extra = serde_json::Map::new();
        if !self.excluded.is_empty() {
            extra.insert("excluded".into(), serde_json::json!(self.excluded));
        }
        if !self.duplicate_of.is_empty() {
            // The link between the two: admitted on purpose (--allow-duplicate-of).
            let links: Vec<serde_json::Value> =
                self.duplicate_of.iter().map(Known::to_json).collect();
            extra.insert("duplicate_of".into(), serde_json::Value::Array(links));
        }
        if !self.ctx.opts.operator.is_empty() {
            extra.insert("operator".into(), serde_json::json!(self.ctx.opts.operator));
        }
        let extra = serde_json::Value::Object(extra);
        Ok(addition_events(entry, "", None, extra))
    }
}

impl IngestChange<'_> {
    /// bag-info.txt's fields after the ones every bag gets.
    fn bag_info(&self) -> Vec<(String, String)> {
        let config = &self.ctx.archive.config.ingest;
        let record = self.record;
        let mut info: Vec<(String, String)> = Vec::new();
        if !config.source_organization.is_empty() {
            info.push((
                "Source-Organization".into(),
                config.source_organization.clone(),
            ));
        }
        let external_id = record
            .identifiers()
            .first()
            .map(|s| s.to_string())
            .unwrap_or_else(|| self.id.to_string());
        info.push(("External-Identifier".into(), external_id));
        if let Some(d) = record
            .first(metadata::Element::Description.term())
            .or(record.title())
        {
            info.push(("External-Description".into(), d.to_string()));
        }
        if !config.collection.is_empty() {
            info.push(("Bag-Group-Identifier".into(), config.collection.clone()));
        }
        info.push(("Internal-Sender-Identifier".into(), self.name.to_string()));
        info
    }

    /// The metadata/ tag files: dc.xml, dc.json, and the item's sidecar as it came.
    fn metadata_tags(&mut self) -> Vec<(String, Vec<u8>)> {
        let mut extra_tags = vec![
            (
                "metadata/dc.xml".to_string(),
                metadata::render_oai_dc(self.record).into_bytes(),
            ),
            (
                "metadata/dc.json".to_string(),
                self.record.render_json().into_bytes(),
            ),
        ];
        if let Some(bytes) = self.sidecar.take() {
            extra_tags.push((format!("metadata/{SIDECAR_NAME}"), bytes));
        }
        extra_tags
    }
}

/// Drives one item's change through the commit protocol. Its formats are identified on
/// a thread of their own (`formats`) while the bag is built and read back
/// (identification reads the intake files' ends and headers, the build copies them
/// whole: the two overlap rather than add up); ingest joins it between the protocol's
/// verify and publish steps.
pub(super) fn commit_item(
    change: &mut IngestChange<'_>,
    formats: std::thread::ScopedJoinHandle<'_, Result<ItemFormats, Error>>,
) -> Result<RegisterEntry, Error> {
    let ctx = change.ctx;
    let Some(lock) = ctx.lock else {
        return Err(Error::Internal("a dry run reached the commit step".into()));
    };
    let id = change.id;
    let staged = stage_new_bag(ctx.archive, lock, id, change)?;
    let joined = formats
        .join()
        .map_err(|_| Error::Internal("identifying the item's formats panicked".into()))
        .and_then(|f| f);
    match joined {
        Ok(f) => change.formats = Some(f),
        Err(e) => {
            staged.discard(ctx.archive);
            return Err(e);
        }
    }
    publish_new_bag(ctx.archive, lock, staged, change, ctx.clock)
}

pub(super) fn register_entry(
    archive: &Archive,
    id: &str,
    name: &str,
    record: &DublinCore,
    built: &BuiltBag,
    now: chrono::DateTime<chrono::Utc>,
) -> RegisterEntry {
    let files = built
        .payload
        .iter()
        .map(|(path, f)| FileRecord {
            path: path.as_str().to_string(),
            size: f.digests.len,
            mime: f
                .mime
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
            digests: DigestMap::new(f.digests.values.clone()),
            format: None,
            techmd: None,
            validation: None,
            qc: None,
            extra: Default::default(),
        })
        .collect();
    let tag_files = built
        .tag_files
        .iter()
        .map(|(name, d)| (name.clone(), DigestMap::of(d)))
        .collect();
    RegisterEntry {
        id: id.to_string(),
        archived: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        software: crate::agent(),
        intake_name: name.to_string(),
        bag: relative_bag_path(archive, id),
        bagit_version: "1.0".into(),
        payload_oxum: built.payload_oxum.clone(),
        dublin_core: record.clone().into(),
        files,
        format_registry: None,
        tag_files,
        entry_version: 1,
        updated: None,
        version: 1,
        extra: Default::default(),
    }
}
