//! Format identification for the archive: which signature files are in force (the ones
//! built into Cairn, or newer ones installed with `cairn formats update`), identifying
//! files (`cairn identify`), and installing a signature file.

use std::io::Seek;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::durable::{sync_dir, write_atomic};
use crate::fs::register::RegisterEntry;
use crate::ops::commit::AnnotateFormats;
use crate::pronom::{sigfile, Identification, Identifier};
use crate::qc::{self, Validation};
use crate::techmd::{self, TechMd};

pub use crate::fs::layout::FORMATS_DIR;

/// Which kind of signature file a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigKind {
    Droid,
    Container,
}

fn installed(dir: &Path) -> Result<(Option<PathBuf>, Option<PathBuf>), Error> {
    let mut droid = None;
    let mut container = None;
    for path in crate::fs::list_dir_if_present(dir)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') || !name.ends_with(".xml") {
            continue;
        }
        if name.starts_with("DROID_SignatureFile") {
            droid = Some(path);
        } else if name.starts_with("container-signature") {
            container = Some(path);
        }
    }
    Ok((droid, container))
}

/// The identifier for an archive: its installed signature files where there are
/// some, else those built into Cairn.
pub fn load_identifier(archive: Option<&Archive>) -> Result<Identifier, Error> {
    load_identifier_from(archive.map(|a| a.manifests.join(FORMATS_DIR)).as_deref())
}

/// [`load_identifier`] given the folder of installed signature files (None: only those
/// built in).
fn load_identifier_from(formats_dir: Option<&Path>) -> Result<Identifier, Error> {
    let (droid, container) = match formats_dir {
        Some(dir) => installed(dir)?,
        None => (None, None),
    };
    let read = |p: &PathBuf| crate::fs::read_to_string(p);
    let name = |p: &PathBuf| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let (dn, dx) = match &droid {
        Some(p) => (name(p), read(p)?),
        None => (
            crate::pronom::BUILTIN_DROID_NAME.to_string(),
            crate::pronom::BUILTIN_DROID.to_string(),
        ),
    };
    let (cn, cx) = match &container {
        Some(p) => (name(p), read(p)?),
        None => (
            crate::pronom::BUILTIN_CONTAINER_NAME.to_string(),
            crate::pronom::BUILTIN_CONTAINER.to_string(),
        ),
    };
    let started = std::time::Instant::now();
    let id = Identifier::from_xml(&dn, &dx, &cn, &cx);
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "PRONOM signature files compiled"
    );
    id.map_err(|e| Error::Corrupt {
        path: droid.or(container).unwrap_or_default(),
        detail: format!(
            "the installed signature file cannot be read ({e}); install a good one with `cairn formats update FILE`"
        ),
    })
}

/// One file's identification and technical metadata.
#[derive(Debug, Clone, Serialize)]
pub struct IdentifiedFile {
    pub path: PathBuf,
    pub size: u64,
    #[serde(flatten)]
    pub format: Identification,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub techmd: Option<TechMd>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The format validation ([`crate::qc`]), when it was asked for and the format is
    /// one validated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
}

/// `cairn identify`: each file (folders are walked, in name order).
#[derive(Debug, Clone, Serialize)]
pub struct IdentifyReport {
    pub signature_file: String,
    pub container_signature_file: String,
    pub files: Vec<IdentifiedFile>,
    /// Paths that could not be read.
    pub errors: Vec<String>,
}

/// Identifies one file on disk and reads its technical metadata.
pub fn identify_file(id: &Identifier, path: &Path) -> Result<IdentifiedFile, std::io::Error> {
    identify_and_validate(id, path, false)
}

/// [`identify_file`], and when `validate`, the file's format validation too (which
/// reads the whole file for the formats that need it: every PNG chunk's CRC, every
/// JPEG marker).
pub fn identify_and_validate(
    id: &Identifier,
    path: &Path,
    validate: bool,
) -> Result<IdentifiedFile, std::io::Error> {
    // One open for both reads (a small file costs more in opens than in bytes).
    let mut file = crate::fs::open_read(path)?;
    let size = file.metadata()?.len();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let format = id.identify_reader(&mut file, size, name.as_deref())?;
    let (techmd, warnings, validation) = measure(&mut file, name.as_deref(), validate)?;
    Ok(IdentifiedFile {
        path: path.to_path_buf(),
        size,
        format,
        techmd,
        warnings,
        validation,
    })
}

/// What [`measure`] finds: technical metadata, the damage its headers show, and the
/// format validation when asked for.
pub type Measures = (Option<TechMd>, Vec<String>, Option<Validation>);

/// A file's technical metadata, the damage its headers show, and when `validate` its
/// format validation: what needs no identification, so that it can run while the
/// signature files are compiled (`cairn qc`).
pub fn measure(
    file: &mut std::fs::File,
    name: Option<&str>,
    validate: bool,
) -> Result<Measures, std::io::Error> {
    file.seek(std::io::SeekFrom::Start(0))?;
    // By the file's own header, whatever the identification: a damaged scan often
    // fails its format's signature (a JPEG without its end marker) and is exactly what
    // the warnings are for.
    let (techmd, warnings) = match techmd::read(&mut std::io::BufReader::with_capacity(
        16 * 1024,
        &mut *file,
    ))? {
        Some(t) => {
            let w = t.warnings.clone();
            (Some(t), w)
        }
        None => (None, Vec::new()),
    };
    let validation = if validate {
        file.seek(std::io::SeekFrom::Start(0))?;
        // The JPEG and PNG validators stream through the file: a large buffer. The
        // others seek from structure to structure (IFDs, tile-parts, objects), and a
        // seek empties the buffer: a small one, or each seek would read 64 KiB for the
        // few bytes wanted.
        let mut head = [0u8; 12];
        let n = crate::qc::read_up_to(&mut *file, &mut head)?;
        file.seek(std::io::SeekFrom::Start(0))?;
        let streams = matches!(qc::kind_of(&head[..n]), Some("jpeg" | "png"));
        let capacity = if streams { 256 * 1024 } else { 8 * 1024 };
        qc::validate_named(
            &mut std::io::BufReader::with_capacity(capacity, &mut *file),
            name,
        )?
    } else {
        None
    };
    let mut techmd = techmd;
    if let (Some(t), Some(pages)) = (&mut techmd, validation.as_ref().and_then(|v| v.pages)) {
        // The validator follows every cross-reference section and object stream; the
        // header reader only the classic table, so a PDF whose page tree lies in an
        // object stream has its page count from the validator.
        t.pages.get_or_insert(pages);
    }
    Ok((techmd, warnings, validation))
}

/// Identifies files and folders' files.
pub fn identify(id: &Identifier, paths: &[PathBuf]) -> IdentifyReport {
    let mut report = IdentifyReport {
        signature_file: format!("{} (version {})", id.droid_name, id.droid_version),
        container_signature_file: format!(
            "{} (version {})",
            id.container_name, id.container_version
        ),
        files: Vec::new(),
        errors: Vec::new(),
    };
    for p in paths {
        for f in files_under(p, &mut report.errors) {
            match identify_file(id, &f) {
                Ok(r) => report.files.push(r),
                Err(e) => report.errors.push(format!("{}: {e}", f.display())),
            }
        }
    }
    report
}

/// The files a command-line path names, as `cairn identify` and `cairn qc` walk it: a
/// folder's files in name order (a folder that cannot be read is noted in `errors`),
/// else the path itself.
pub fn files_under(p: &Path, errors: &mut Vec<String>) -> Vec<PathBuf> {
    if !p.is_dir() {
        return vec![p.to_path_buf()];
    }
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(p)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| match e {
            Ok(e) if e.file_type().is_file() => Some(e.into_path()),
            Ok(_) => None,
            Err(err) => {
                errors.push(format!("{}: {err}", p.display()));
                None
            }
        })
        .collect();
    files.sort();
    files
}

/// The signature files in force, for `cairn formats`.
#[derive(Debug, Clone, Serialize)]
pub struct FormatsStatus {
    pub signature_file: String,
    pub signature_version: String,
    pub container_signature_file: String,
    pub container_signature_version: String,
    /// "installed" (manifests/formats/) or "built-in".
    pub source: String,
    pub formats: usize,
    pub signatures: usize,
    pub container_signatures: usize,
    pub scan_bytes: usize,
    /// The archive's format profile (from the register).
    pub profile: Vec<ProfileRow>,
}

pub fn status(archive: Option<&Archive>) -> Result<FormatsStatus, Error> {
    let id = load_identifier(archive)?;
    let (formats, signatures, containers) = id.counts();
    let installed = id.droid_name != crate::pronom::BUILTIN_DROID_NAME
        || id.container_name != crate::pronom::BUILTIN_CONTAINER_NAME;
    Ok(FormatsStatus {
        signature_file: id.droid_name.clone(),
        signature_version: id.droid_version.clone(),
        container_signature_file: id.container_name.clone(),
        container_signature_version: id.container_version.clone(),
        source: if installed { "installed" } else { "built-in" }.into(),
        formats,
        signatures,
        container_signatures: containers,
        scan_bytes: crate::pronom::SCAN_LEN,
        profile: match archive {
            Some(a) => profile(a)?,
            None => Vec::new(),
        },
    })
}

/// What `cairn formats update` installed.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateReport {
    pub kind: SigKind,
    pub installed: PathBuf,
    pub version: String,
    pub replaced: Vec<PathBuf>,
}

/// Installs a DROID or container signature file into manifests/formats/, after
/// checking that it parses and compiles; the older file of the same kind is removed.
pub fn update(archive: &Archive, file: &Path) -> Result<UpdateReport, Error> {
    let _lock = archive.lock("formats update")?;
    let text = crate::fs::read_to_string(file)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (kind, version, target_name) = if let Ok(d) = sigfile::parse_droid(&text) {
        (
            SigKind::Droid,
            d.version.clone(),
            format!("DROID_SignatureFile_V{}.xml", d.version),
        )
    } else {
        match sigfile::parse_container(&text) {
            Ok(c) => (
                SigKind::Container,
                c.version.clone(),
                if name.starts_with("container-signature") && name.ends_with(".xml") {
                    name.clone()
                } else {
                    format!("container-signature-v{}.xml", c.version)
                },
            ),
            Err(_) => {
                let why = sigfile::parse_droid(&text)
                    .err()
                    .map(|e| e.detail)
                    .unwrap_or_default();
                return Err(Error::Usage(format!(
                    "{} is neither a DROID signature file nor a container signature file ({why}); nothing was installed",
                    file.display()
                )));
            }
        }
    };
    if target_name.contains(['/', '\\']) || target_name.starts_with('.') {
        return Err(Error::Usage(format!(
            "{}: unusable version {version:?}",
            file.display()
        )));
    }
    // Compile it with the other file in force, so a file that parses but cannot be
    // used is refused here, not at the next ingest.
    let dir = archive.manifests.join(FORMATS_DIR);
    let (old_droid, old_container) = installed(&dir)?;
    {
        let current = load_identifier(Some(archive)).ok();
        let (dn, dx, cn, cx) = match kind {
            SigKind::Droid => (
                target_name.clone(),
                text.clone(),
                current
                    .as_ref()
                    .map(|c| c.container_name.clone())
                    .unwrap_or_default(),
                match &old_container {
                    Some(p) => crate::fs::read_to_string(p)?,
                    None => crate::pronom::BUILTIN_CONTAINER.to_string(),
                },
            ),
            SigKind::Container => (
                current
                    .as_ref()
                    .map(|c| c.droid_name.clone())
                    .unwrap_or_default(),
                match &old_droid {
                    Some(p) => crate::fs::read_to_string(p)?,
                    None => crate::pronom::BUILTIN_DROID.to_string(),
                },
                target_name.clone(),
                text.clone(),
            ),
        };
        Identifier::from_xml(&dn, &dx, &cn, &cx).map_err(|e| {
            Error::Usage(format!(
                "{} cannot be used: {e}; nothing was installed",
                file.display()
            ))
        })?;
    }
    if !dir.exists() {
        crate::fs::create_dir(&dir)?;
        sync_dir(&archive.manifests)?;
    }
    let target = dir.join(&target_name);
    write_atomic(&target, text.as_bytes())?;
    let old = match kind {
        SigKind::Droid => old_droid,
        SigKind::Container => old_container,
    };
    let mut replaced = Vec::new();
    if let Some(o) = old.filter(|o| *o != target) {
        crate::fs::remove_file(&o, "remove")?;
        replaced.push(o);
    }
    sync_dir(&dir)?;
    Ok(UpdateReport {
        kind,
        installed: target,
        version,
        replaced,
    })
}

/// The signature files being compiled on a thread of their own.
type Loading = std::thread::JoinHandle<Result<Identifier, String>>;

/// Identification during one ingest or import run: the signature files are compiled
/// on first use (a run with nothing to ingest never pays for it), or on a thread of
/// their own from [`RunFormats::start_loading`], while the run reads its intake. Shared
/// between threads: ingest identifies an item's files while its bag is being built.
pub struct RunFormats<'a> {
    archive: &'a Archive,
    loading: std::sync::Mutex<Option<Loading>>,
    identifier: std::sync::OnceLock<Result<Identifier, String>>,
    policy: crate::pronom::policy::Policy,
    enabled: bool,
    /// The digitisation profile of `[qc]` (None: none set; an error: a profile that
    /// cannot be used, reported at the first item).
    profile: Result<Option<qc::profile::Profile>, String>,
}

/// One item's formats.
#[derive(Debug, Clone, Default)]
pub struct ItemFormats {
    /// Bag path (`data/...`) → identification and technical metadata.
    pub files: std::collections::HashMap<String, (Identification, Option<TechMd>)>,
    /// Damage found and the policy's warnings, each naming the file.
    pub warnings: Vec<String>,
    /// The policy's refusals, each naming the file and the reason.
    pub refusals: Vec<String>,
    /// The signature files used, in words (None when identification is off).
    pub registry: Option<String>,
    /// Bag path → the file's format validation and its judgement by the `[qc]`
    /// profile (only when a profile is set).
    pub qc: std::collections::HashMap<String, FileQc>,
}

/// One file's quality control at ingest or revise: its format validation (None: a
/// format not validated) and what the profile said of it.
#[derive(Debug, Clone)]
pub struct FileQc {
    pub validation: Option<Validation>,
    pub judgement: qc::profile::Judgement,
}

impl<'a> RunFormats<'a> {
    pub fn new(archive: &'a Archive) -> RunFormats<'a> {
        RunFormats {
            archive,
            loading: std::sync::Mutex::new(None),
            identifier: std::sync::OnceLock::new(),
            policy: archive.config.formats.policy(),
            enabled: archive.config.formats.enabled(),
            profile: archive.config.qc.profile(None),
        }
    }

    /// Starts compiling the signature files on another thread (tens of milliseconds of CPU), so
    /// that the first item does not wait for them. Call it once the run knows it has
    /// something to identify; without it they are compiled at first use.
    pub fn start_loading(&self) {
        if !self.identifies() || self.identifier.get().is_some() {
            return;
        }
        let mut loading = self
            .loading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if loading.is_none() {
            let dir = self.archive.manifests.join(FORMATS_DIR);
            *loading = Some(std::thread::spawn(move || {
                load_identifier_from(Some(&dir)).map_err(|e| e.to_string())
            }));
        }
    }

    fn identifier(&self) -> Result<&Identifier, Error> {
        self.identifier
            .get_or_init(|| {
                let loading = self
                    .loading
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                match loading {
                    Some(handle) => handle
                        .join()
                        .unwrap_or_else(|_| Err("compiling the signature files failed".into())),
                    None => load_identifier(Some(self.archive)).map_err(|e| e.to_string()),
                }
            })
            .as_ref()
            .map_err(|e| Error::Corrupt {
                path: self.archive.manifests.join(FORMATS_DIR),
                detail: e.clone(),
            })
    }

    /// Whether files are identified: `[formats]` identification on, or a `[qc]`
    /// profile set (which needs the files' measures).
    fn identifies(&self) -> bool {
        self.enabled || matches!(self.profile, Ok(Some(_)))
    }

    /// The `[qc]` profile applied with the format policy, if one is set.
    fn qc_profile(&self) -> Result<Option<&qc::profile::Profile>, Error> {
        self.profile
            .as_ref()
            .map(Option::as_ref)
            .map_err(|e| Error::Usage(format!("cairn.toml [qc]: {e}")))
    }

    /// Identifies an item's files (`(bag path, file on disk)`), reads their technical
    /// metadata and, when `apply_policy`, judges them by the format policy and, when
    /// `[qc]` sets a profile, validates their formats and judges them by the profile
    /// (ingest and revise: one path). A file the policy or the profile refuses is
    /// named in `refusals`, a warning of either in `warnings`.
    pub fn item(
        &self,
        files: &[(String, PathBuf)],
        apply_policy: bool,
    ) -> Result<ItemFormats, Error> {
        let mut out = ItemFormats::default();
        if !self.identifies() {
            return Ok(out);
        }
        let profile = if apply_policy {
            self.qc_profile()?
        } else {
            None
        };
        let id = self.identifier()?;
        out.registry = Some(id.describe());
        // Files in parallel (each reads at most two 64 KiB windows and its headers,
        // and with a profile the whole file for its validation), then judged in
        // order, so that messages come in the item's file order.
        use rayon::prelude::*;
        let results: Vec<_> = files
            .par_iter()
            .map(|(_, disk)| identify_and_validate(id, disk, profile.is_some()))
            .collect();
        for ((bag_path, disk), result) in files.iter().zip(results) {
            let shown = bag_path.strip_prefix("data/").unwrap_or(bag_path);
            let (format, tech, validation) = match result {
                Ok(f) => (f.format, f.techmd, f.validation),
                Err(e) => {
                    out.refusals.push(format!(
                        "{}: cannot read to identify its format: {e}",
                        disk.display()
                    ));
                    continue;
                }
            };
            if let Some(t) = &tech {
                for w in &t.warnings {
                    out.warnings.push(format!("{shown}: {w}"));
                }
            }
            if apply_policy {
                match self.policy.judge(&format, tech.as_ref()) {
                    crate::pronom::policy::Verdict::Accept => {}
                    crate::pronom::policy::Verdict::Warn(w) => out
                        .warnings
                        .push(format!("{shown}: {}: {w}", label(&format))),
                    crate::pronom::policy::Verdict::Refuse(r) => out
                        .refusals
                        .push(format!("{shown}: {}: {r}", label(&format))),
                }
            }
            // The profile judges the masters: files in one of the five formats, by their
            // bytes or their name. A transcription or a metadata file is outside it.
            if let (Some(profile), true) = (profile, validation.is_some()) {
                let judgement = profile.judge(tech.as_ref(), validation.as_ref());
                let failed = |outcome| {
                    judgement
                        .results
                        .iter()
                        .filter(move |r| r.outcome == outcome)
                        .map(|r| format!("{}: {}", r.rule, r.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                let named = format!("{shown}: QC profile {}", judgement.profile);
                match judgement.outcome {
                    qc::profile::Outcome::Pass => {}
                    qc::profile::Outcome::Warn => out
                        .warnings
                        .push(format!("{named}: {}", failed(qc::profile::Outcome::Warn))),
                    qc::profile::Outcome::Fail => out
                        .refusals
                        .push(format!("{named}: {}", failed(qc::profile::Outcome::Fail))),
                }
                out.qc.insert(
                    bag_path.clone(),
                    FileQc {
                        validation,
                        judgement,
                    },
                );
            }
            out.files.insert(bag_path.clone(), (format, tech));
        }
        Ok(out)
    }
}

fn label(f: &Identification) -> String {
    match &f.puid {
        Some(p) => format!("{p} ({})", f.name),
        None => "unidentified format".into(),
    }
}

/// The commit protocol's format hook ([`AnnotateFormats`]): the formats of a bag's files
/// identified when its register entry is rebuilt from the bag (import, recovery),
/// without the format policy.
pub struct Annotator;

impl AnnotateFormats for Annotator {
    fn annotate(
        &self,
        archive: &Archive,
        entry: &mut RegisterEntry,
        files: &[(String, PathBuf)],
    ) -> Result<(), Error> {
        let formats = RunFormats::new(archive).item(files, false)?;
        annotate(entry, &formats);
        Ok(())
    }
}

/// Writes an item's formats into its register entry.
pub fn annotate(entry: &mut crate::register::RegisterEntry, f: &ItemFormats) {
    let Some(registry) = &f.registry else {
        return;
    };
    entry.format_registry = Some(registry.clone());
    for rec in &mut entry.files {
        if let Some((id, tech)) = f.files.get(&rec.path) {
            rec.format = Some(id.clone());
            rec.techmd = tech.clone();
        }
        if let Some(q) = f.qc.get(&rec.path) {
            rec.validation = q.validation.clone();
            rec.qc = Some(q.judgement.clone());
        }
    }
}

/// The identifiers of the items holding a file of format `puid`.
pub fn ids_with_format(
    archive: &Archive,
    puid: &str,
) -> Result<std::collections::BTreeSet<String>, Error> {
    let mut out = std::collections::BTreeSet::new();
    for id in archive.register_ids()? {
        let e = crate::register::RegisterEntry::read(&archive.register_path(&id))?;
        if e.files
            .iter()
            .any(|f| f.format.as_ref().and_then(|x| x.puid.as_deref()) == Some(puid))
        {
            out.insert(id);
        }
    }
    Ok(out)
}

/// One line of the archive's format profile.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileRow {
    /// The PUID, or "UNKNOWN", or "not identified" for entries from before
    /// identification.
    pub puid: String,
    pub name: String,
    pub files: u64,
    pub bytes: u64,
    pub items: u64,
}

/// The archive's format profile: files and bytes per format, most files first.
pub fn profile(archive: &Archive) -> Result<Vec<ProfileRow>, Error> {
    let mut rows: std::collections::BTreeMap<String, ProfileRow> = Default::default();
    for id in archive.register_ids()? {
        let e = crate::register::RegisterEntry::read(&archive.register_path(&id))?;
        let mut seen = std::collections::BTreeSet::new();
        for f in &e.files {
            let (puid, name) = match &f.format {
                Some(x) => (
                    x.puid.clone().unwrap_or_else(|| "UNKNOWN".into()),
                    [x.name.as_str(), x.version.as_str()]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                None => ("not identified".into(), String::new()),
            };
            let row = rows.entry(puid.clone()).or_insert_with(|| ProfileRow {
                puid: puid.clone(),
                name,
                files: 0,
                bytes: 0,
                items: 0,
            });
            row.files += 1;
            row.bytes += f.size;
            if seen.insert(puid) {
                row.items += 1;
            }
        }
    }
    let mut v: Vec<ProfileRow> = rows.into_values().collect();
    v.sort_by(|a, b| b.files.cmp(&a.files).then(a.puid.cmp(&b.puid)));
    Ok(v)
}
