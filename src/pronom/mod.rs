//! PRONOM format identification: which format a file is in, by The National Archives'
//! registry identifiers (PUIDs such as `fmt/353`), from its bytes, as DROID and
//! siegfried do.
//!
//! - [`pattern`]: DROID's byte-pattern syntax and a bounded backtracking matcher.
//! - [`sigfile`]: the DROID signature file and the container signature file.
//! - [`Identifier`]: the signatures compiled once, then [`Identifier::identify_reader`] per
//!   file (this file).
//! - `prefilter`: the literals that make a signature worth matching in full;
//!   `sequence`: one signature's byte sequence matched in a window; `container`: ZIP
//!   containers matched against the container signature file.
//!
//! How a file is identified:
//! 1. The first and the last [`SCAN_LEN`] bytes are read (DROID's default "maximum
//!    bytes to scan" is the same 64 KiB). A signature whose start is anchored in the
//!    head and whose rest may lie anywhere after it is followed through the whole file,
//!    read once in pieces (`deep`), as siegfried follows it; one that may start
//!    anywhere is looked for in the head only. Memory per file is bounded whatever its
//!    size.
//! 2. A prefilter finds the signatures worth matching, by a literal every match of
//!    the signature must contain: a literal that can lie at one place only (most
//!    signatures anchored at a fixed offset) is compared there; the others are found by
//!    one Aho-Corasick pass over each window. Only those signatures, and the few with no
//!    usable literal, are then matched in full.
//! 3. Of the formats whose signatures match, those that another match has priority
//!    over (`HasPriorityOverFileFormatID`) are dropped.
//! 4. A ZIP match is opened and matched against the container signatures (OOXML, ODF,
//!    EPUB…); OLE2 containers are left as OLE2.
//! 5. If several formats remain, the file's extension breaks the tie, and the basis
//!    says so. With no signature match, a text file is plain text (`x-fmt/111`), and
//!    an extension that only one format uses names that format (basis `extension`).

pub mod pattern;
pub mod policy;
pub mod sigfile;

mod container;
mod deep;
mod prefilter;
mod sequence;

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

use pattern::Budget;
use prefilter::{Prefilter, PrefilterBuilder};
use sequence::match_seq;
use sigfile::{Anchor, ContainerFile, DroidFile, Signature};

/// Bytes read from each end of a file (64 KiB, DROID's default).
pub const SCAN_LEN: usize = 64 * 1024;

/// Matching steps allowed per file before a pathological signature gives up.
const STEPS_PER_FILE: u64 = 2_000_000;

/// The signature files compiled into Cairn.
pub const BUILTIN_DROID: &str = include_str!("../../data/pronom/DROID_SignatureFile_V122.xml");
pub const BUILTIN_CONTAINER: &str =
    include_str!("../../data/pronom/container-signature-20260119.xml");
pub const BUILTIN_DROID_NAME: &str = "DROID_SignatureFile_V122.xml";
pub const BUILTIN_CONTAINER_NAME: &str = "container-signature-20260119.xml";

/// What a format identification rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// A byte signature of the DROID signature file matched.
    Signature,
    /// A container signature matched (files inside a ZIP).
    Container,
    /// No signature matched; the content is text.
    Text,
    /// No signature matched; only one format uses the file's extension.
    Extension,
    /// Nothing identified the file.
    None,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Signature => "signature",
            Basis::Container => "container",
            Basis::Text => "text",
            Basis::Extension => "extension",
            Basis::None => "none",
        }
    }
}

/// One file's identification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identification {
    /// The PUID, or None when nothing matched.
    pub puid: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mime: String,
    pub basis: Basis,
    /// What matched, in words (signature ids, the extension tie-break).
    #[serde(default)]
    pub detail: String,
    /// The other candidates (a tie broken by extension, or extension-only possibilities).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<String>,
}

/// Why the signature files could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{which}: {detail}")]
pub struct LoadError {
    pub which: String,
    pub detail: String,
}

struct Compiled {
    sig: Signature,
    formats: Vec<usize>,
    /// Which of its sequences reaches past the head window, if one does ([`deep`]).
    deep_seq: Option<usize>,
}

struct ContainerCompiled {
    id: u32,
    files: Vec<(String, Vec<Signature>)>,
    puids: Vec<String>,
}

/// The signatures, compiled once.
pub struct Identifier {
    /// `DROID_SignatureFile_V122.xml` or the installed file's name.
    pub droid_name: String,
    pub droid_version: String,
    pub container_name: String,
    pub container_version: String,
    formats: Vec<sigfile::Format>,
    sigs: Vec<Compiled>,
    head: Prefilter,
    tail: Prefilter,
    always: Vec<usize>,
    by_ext: HashMap<String, Vec<usize>>,
    by_puid: HashMap<String, usize>,
    /// Per format: whether it has a byte or container signature. An extension never
    /// names a format whose signature did not match (siegfried's rule).
    signed: Vec<bool>,
    zip_triggers: Vec<String>,
    containers: Vec<ContainerCompiled>,
    /// The signatures that reach past the head window ([`deep`]).
    deep: Vec<deep::Deep>,
}

impl std::fmt::Debug for Identifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identifier")
            .field("droid", &self.droid_name)
            .field("container", &self.container_name)
            .finish()
    }
}

impl Identifier {
    /// The signature files built into Cairn.
    pub fn builtin() -> Result<Identifier, LoadError> {
        Identifier::from_xml(
            BUILTIN_DROID_NAME,
            BUILTIN_DROID,
            BUILTIN_CONTAINER_NAME,
            BUILTIN_CONTAINER,
        )
    }

    /// Compiles signature files given as text.
    pub fn from_xml(
        droid_name: &str,
        droid_xml: &str,
        container_name: &str,
        container_xml: &str,
    ) -> Result<Identifier, LoadError> {
        let droid = sigfile::parse_droid(droid_xml).map_err(|e| LoadError {
            which: droid_name.to_string(),
            detail: e.detail,
        })?;
        let cont = sigfile::parse_container(container_xml).map_err(|e| LoadError {
            which: container_name.to_string(),
            detail: e.detail,
        })?;
        Ok(Identifier::compile(droid_name, droid, container_name, cont))
    }

    fn compile(
        droid_name: &str,
        droid: DroidFile,
        container_name: &str,
        cont: ContainerFile,
    ) -> Identifier {
        let mut sig_formats: HashMap<u32, Vec<usize>> = HashMap::new();
        let mut by_ext: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_puid = HashMap::new();
        for (i, f) in droid.formats.iter().enumerate() {
            for s in &f.signatures {
                sig_formats.entry(*s).or_default().push(i);
            }
            for e in &f.extensions {
                by_ext.entry(e.clone()).or_default().push(i);
            }
            by_puid.entry(f.puid.clone()).or_insert(i);
        }
        let mut sigs = Vec::new();
        let mut head = PrefilterBuilder::default();
        let mut tail = PrefilterBuilder::default();
        let mut always = Vec::new();
        let mut deeps = Vec::new();
        for sig in droid.signatures {
            let Some(formats) = sig_formats.get(&sig.id).cloned() else {
                continue;
            };
            if sig.seqs.is_empty() {
                continue;
            }
            let idx = sigs.len();
            let deep = deep::deep_of(idx, &sig);
            let deep_seq = deep.as_ref().map(|d| d.seq);
            deeps.extend(deep);
            prefilter::register(&sig, idx, &mut head, &mut tail, &mut always);
            sigs.push(Compiled {
                sig,
                formats,
                deep_seq,
            });
        }
        tracing::debug!(always = always.len(), "signatures always tried");
        let head = head.build();
        let tail = tail.build();
        let compiled_formats: std::collections::HashSet<usize> = sigs
            .iter()
            .flat_map(|c| c.formats.iter().copied())
            .collect();
        let in_container: std::collections::HashSet<&str> =
            cont.mappings.iter().map(|(_, p)| p.as_str()).collect();
        let signed: Vec<bool> = droid
            .formats
            .iter()
            .enumerate()
            .map(|(i, f)| compiled_formats.contains(&i) || in_container.contains(f.puid.as_str()))
            .collect();
        let mut containers = Vec::new();
        for c in cont.signatures {
            if c.kind != "ZIP" {
                continue;
            }
            let puids: Vec<String> = cont
                .mappings
                .iter()
                .filter(|(id, _)| *id == c.id)
                .map(|(_, p)| p.clone())
                .collect();
            if !puids.is_empty() {
                containers.push(ContainerCompiled {
                    id: c.id,
                    files: c.files,
                    puids,
                });
            }
        }
        Identifier {
            droid_name: droid_name.to_string(),
            droid_version: droid.version,
            container_name: container_name.to_string(),
            container_version: cont.version,
            formats: droid.formats,
            sigs,
            head,
            tail,
            always,
            by_ext,
            by_puid,
            signed,
            zip_triggers: cont
                .triggers
                .into_iter()
                .filter(|(k, _)| k == "ZIP")
                .map(|(_, p)| p)
                .collect(),
            containers,
            deep: deeps,
        }
    }

    /// How many formats and signatures are loaded.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.formats.len(), self.sigs.len(), self.containers.len())
    }

    /// The signature files in words, for events and `cairn formats`.
    pub fn describe(&self) -> String {
        format!(
            "PRONOM {} (version {}); {} (version {})",
            self.droid_name, self.droid_version, self.container_name, self.container_version
        )
    }

    /// The registry entry of a PUID.
    pub fn format(&self, puid: &str) -> Option<&sigfile::Format> {
        self.by_puid.get(puid).map(|i| &self.formats[*i])
    }

    /// Identifies content read from `r` (`len` bytes long, named `name`), reading at
    /// most [`SCAN_LEN`] bytes from each end (and, for a ZIP, its central directory and
    /// the members that container signatures name, each up to [`SCAN_LEN`]). Opening
    /// the file is the caller's (ops::formats, through fs/), so that one open serves
    /// identification and the header reads after it.
    pub fn identify_reader<R: Read + Seek>(
        &self,
        f: &mut R,
        len: u64,
        name: Option<&str>,
    ) -> std::io::Result<Identification> {
        f.seek(SeekFrom::Start(0))?;
        let (head, tail) = read_ends(f, len)?;
        let followed = match tail {
            Some(_) => Some(self.follow_deep(f, len, &head, &mut Budget(STEPS_PER_FILE))?),
            None => None,
        };
        let mut id = self.identify_windows(&head, tail.as_deref(), name, true, followed.as_deref());
        if id.basis == Basis::Signature
            && id
                .puid
                .as_ref()
                .is_some_and(|p| self.zip_triggers.contains(p))
        {
            if let Some(c) = self.match_container(f, name) {
                id = c;
            }
        }
        Ok(id)
    }

    /// Identifies content from its first bytes `head` and, when the file is longer
    /// than `head`, its last bytes `tail` (each at most [`SCAN_LEN`] long); `name` is the
    /// file name (for its extension).
    pub fn identify_bytes(
        &self,
        head: &[u8],
        tail: Option<&[u8]>,
        name: Option<&str>,
    ) -> Identification {
        self.identify_windows(head, tail, name, true, None)
    }

    /// [`Identifier::identify_bytes`]; without `prefilter` every signature is matched
    /// in full (what the prefilter must never change the result of: see the tests).
    ///
    /// `followed`: for a file longer than the head, the signatures that reach past it
    /// ([`deep`]) and whose sequence matched when followed through the file; the
    /// others' such sequence did not.
    fn identify_windows(
        &self,
        head: &[u8],
        tail: Option<&[u8]>,
        name: Option<&str>,
        prefilter: bool,
        followed: Option<&[usize]>,
    ) -> Identification {
        let head = &head[..head.len().min(SCAN_LEN)];
        let rtail: Vec<u8> = tail
            .map(|t| &t[t.len().saturating_sub(SCAN_LEN)..])
            .unwrap_or(head)
            .iter()
            .rev()
            .copied()
            .collect();
        let ext = name
            .and_then(|n| n.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()))
            .filter(|e| !e.is_empty());
        let mut candidates: Vec<bool> = vec![!prefilter; self.sigs.len()];
        for i in &self.always {
            candidates[*i] = true;
        }
        if prefilter {
            self.head.mark(head, &mut candidates);
            self.tail.mark(&rtail, &mut candidates);
        }
        for i in followed.unwrap_or_default() {
            candidates[*i] = true;
        }

        let mut budget = Budget(STEPS_PER_FILE);
        let mut matched: Vec<(usize, u32)> = Vec::new();
        for (i, c) in self.sigs.iter().enumerate() {
            if !candidates[i] {
                continue;
            }
            let ok = c.sig.seqs.iter().enumerate().all(|(k, seq)| {
                if let (Some(f), Some(d)) = (followed, c.deep_seq) {
                    if d == k {
                        return f.contains(&i);
                    }
                }
                let buf = if seq.anchor == Anchor::Eof {
                    &rtail[..]
                } else {
                    head
                };
                match_seq(seq, buf, &mut budget)
            });
            if ok {
                for f in &c.formats {
                    if !matched.iter().any(|(m, _)| m == f) {
                        matched.push((*f, c.sig.id));
                    }
                }
            }
        }
        if matched.is_empty() {
            return self.no_signature(head, ext.as_deref());
        }
        let mut best = self.unbeaten(&matched);
        let mut detail = String::new();
        let mut alternatives = Vec::new();
        if best.len() > 1 {
            let all: Vec<String> = best
                .iter()
                .map(|(f, _)| self.formats[*f].puid.clone())
                .collect();
            let by_ext = self.with_extension(&best, ext.as_deref());
            if !by_ext.is_empty() && by_ext.len() < best.len() {
                detail = format!(
                    "; extension .{} broke a tie between {}",
                    ext.as_deref().unwrap_or(""),
                    all.join(", ")
                );
                best = by_ext;
            } else {
                detail = format!(
                    "; the signatures of {} all match, first taken",
                    all.join(", ")
                );
            }
            alternatives = best
                .iter()
                .skip(1)
                .map(|(f, _)| self.formats[*f].puid.clone())
                .collect();
        }
        let (f, sig) = best[0];
        self.result(
            f,
            Basis::Signature,
            format!("byte signature {sig}{detail}"),
            alternatives,
        )
    }

    /// Of the matches (format, signature), those no other matched format has
    /// priority over (`HasPriorityOverFileFormatID`); all of them when the priorities
    /// leave none.
    fn unbeaten(&self, matched: &[(usize, u32)]) -> Vec<(usize, u32)> {
        let beaten = |f: usize| {
            let id = self.formats[f].id;
            matched
                .iter()
                .any(|(g, _)| *g != f && self.formats[*g].priority_over.contains(&id))
        };
        let best: Vec<(usize, u32)> = matched
            .iter()
            .copied()
            .filter(|(f, _)| !beaten(*f))
            .collect();
        if best.is_empty() {
            matched.to_vec()
        } else {
            best
        }
    }

    /// Of the matches, those whose format uses the extension `ext`.
    fn with_extension(&self, matched: &[(usize, u32)], ext: Option<&str>) -> Vec<(usize, u32)> {
        matched
            .iter()
            .copied()
            .filter(|(f, _)| {
                ext.is_some_and(|e| self.formats[*f].extensions.iter().any(|x| x == e))
            })
            .collect()
    }

    fn result(
        &self,
        f: usize,
        basis: Basis,
        detail: String,
        alternatives: Vec<String>,
    ) -> Identification {
        let fm = &self.formats[f];
        Identification {
            puid: Some(fm.puid.clone()),
            name: fm.name.clone(),
            version: fm.version.clone(),
            mime: fm.mime.clone(),
            basis,
            detail,
            alternatives,
        }
    }

    /// No signature matched: the name's extension and the content decide, as siegfried
    /// does. Of the formats that use the extension, only those without a signature may
    /// be named (one with a signature that did not match is not that format): the one
    /// left names the file (basis `extension`). Text is plain text when no format uses
    /// the extension or plain text is one of them; else (a certificate's .crt is a C64
    /// cartridge's extension) the file is left unidentified, its possibilities listed.
    fn no_signature(&self, head: &[u8], ext: Option<&str>) -> Identification {
        let by_ext: Vec<usize> = ext
            .and_then(|e| self.by_ext.get(e))
            .cloned()
            .unwrap_or_default();
        let possibilities: Vec<String> = by_ext
            .iter()
            .map(|f| self.formats[*f].puid.clone())
            .collect();
        let unsigned: Vec<usize> = by_ext
            .iter()
            .copied()
            .filter(|f| !self.signed.get(*f).copied().unwrap_or(false))
            .collect();
        if !head.is_empty() && looks_like_text(head) {
            if let Some(&t) = self.by_puid.get("x-fmt/111") {
                if by_ext.is_empty() || by_ext.contains(&t) {
                    return self.result(
                        t,
                        Basis::Text,
                        "no signature matched; the content is text".into(),
                        Vec::new(),
                    );
                }
            }
        }
        if let [only] = unsigned[..] {
            let detail = if by_ext.len() == 1 {
                format!(
                    "no signature matched; .{} is the extension of this format only",
                    ext.unwrap_or("")
                )
            } else {
                format!(
                    "no signature matched; of the formats whose extension is .{}, this is the one without a signature",
                    ext.unwrap_or("")
                )
            };
            return self.result(only, Basis::Extension, detail, Vec::new());
        }
        Identification {
            puid: None,
            name: String::new(),
            version: String::new(),
            mime: String::new(),
            basis: Basis::None,
            detail: match (possibilities.is_empty(), unsigned.is_empty()) {
                (true, _) => "no signature matched".into(),
                (false, true) => format!(
                    "no signature matched, nor that of any format whose extension is .{}",
                    ext.unwrap_or("")
                ),
                (false, false) => format!(
                    "no signature matched; the extension .{} is used by several formats",
                    ext.unwrap_or("")
                ),
            },
            alternatives: possibilities,
        }
    }
}

/// Reads the first [`SCAN_LEN`] bytes and, when the file is longer, the last
/// [`SCAN_LEN`] (None when the head already holds the whole file). At most
/// 2 x [`SCAN_LEN`] bytes are held, whatever the file's size.
pub fn read_ends<R: Read + Seek>(
    f: &mut R,
    len: u64,
) -> std::io::Result<(Vec<u8>, Option<Vec<u8>>)> {
    let n = (len.min(SCAN_LEN as u64)) as usize;
    let mut head = vec![0u8; n];
    f.read_exact(&mut head)?;
    if len <= SCAN_LEN as u64 {
        return Ok((head, None));
    }
    // The last SCAN_LEN bytes, even where they overlap the head: an end-of-file
    // sequence's offsets count from the end whatever the file's length.
    let t = len - SCAN_LEN as u64;
    let mut tail = vec![0u8; SCAN_LEN];
    f.seek(SeekFrom::Start(t))?;
    f.read_exact(&mut tail)?;
    Ok((head, Some(tail)))
}

/// Whether content looks like text, in the encodings siegfried (after file(1)) takes
/// for text: UTF-16 with its byte order mark, with no control character but tab, line
/// breaks, form feed and escape; else single bytes, each one that appears in text in
/// ASCII, UTF-8, ISO 8859 or an extended ASCII code page (Windows-125x, Mac, IBM PC;
/// Big5's and other double-byte codes' bytes are among them): every byte but NUL, the
/// controls 0x01-0x06, 0x0e-0x1a, 0x1c-0x1f, and DEL.
pub fn looks_like_text(head: &[u8]) -> bool {
    let text_control = |c: u32| matches!(c, 0x07..=0x0d | 0x1b);
    if let Some(units) = utf16_units(head) {
        return units
            .into_iter()
            .all(|u| u >= 0x20 && u != 0x7f || text_control(u32::from(u)));
    }
    head.iter()
        .all(|&b| b >= 0x20 && b != 0x7f || text_control(u32::from(b)))
}

/// The code units after a UTF-16 byte order mark (`None`: no mark). A last odd byte is
/// the window's cut, left out.
fn utf16_units(head: &[u8]) -> Option<Vec<u16>> {
    let le = match head.get(..2)? {
        [0xff, 0xfe] => true,
        [0xfe, 0xff] => false,
        _ => return None,
    };
    Some(
        head[2..]
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests;
