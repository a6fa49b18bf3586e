//! Reading PRONOM's two signature files: the DROID signature file
//! (`DROID_SignatureFile_VNNN.xml`: internal byte signatures and the format registry
//! entries, with priorities and extensions) and the container signature file
//! (`container-signature-YYYYMMDD.xml`: files inside ZIP and OLE2 containers).
//!
//! A byte sequence is kept in matching order: BOF and variable sequences as written,
//! EOF sequences reversed (they are matched against the reversed tail of the file), so
//! that one forward matcher serves all three.

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::pattern::{self, normalize, Tok};

/// Where a byte sequence is anchored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Bof,
    Eof,
    /// Anywhere (searched from the beginning of the file).
    Variable,
}

/// One subsequence: its pattern (fragments folded in) and where it may start,
/// counted from the file's end (EOF) or beginning, or from the end of the previous
/// subsequence.
#[derive(Debug, Clone)]
pub struct SubSeq {
    pub toks: Vec<Tok>,
    pub min: usize,
    pub max: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct ByteSeq {
    pub anchor: Anchor,
    pub subs: Vec<SubSeq>,
}

/// An internal signature: every byte sequence must match.
#[derive(Debug, Clone)]
pub struct Signature {
    pub id: u32,
    pub seqs: Vec<ByteSeq>,
}

/// A format as the DROID signature file describes it.
#[derive(Debug, Clone, Default)]
pub struct Format {
    pub id: u32,
    pub puid: String,
    pub name: String,
    pub version: String,
    pub mime: String,
    pub extensions: Vec<String>,
    pub signatures: Vec<u32>,
    pub priority_over: Vec<u32>,
}

/// The DROID signature file.
#[derive(Debug, Clone, Default)]
pub struct DroidFile {
    pub version: String,
    pub created: String,
    pub signatures: Vec<Signature>,
    pub formats: Vec<Format>,
}

/// One container signature: files that must be present in the container, some with
/// byte signatures on their content.
#[derive(Debug, Clone)]
pub struct ContainerSig {
    pub id: u32,
    pub kind: String,
    pub description: String,
    pub files: Vec<(String, Vec<Signature>)>,
}

/// The container signature file.
#[derive(Debug, Clone, Default)]
pub struct ContainerFile {
    pub version: String,
    pub signatures: Vec<ContainerSig>,
    /// Container signature id → PUID.
    pub mappings: Vec<(u32, String)>,
    /// Container type → the PUIDs that make a file a candidate for it.
    pub triggers: Vec<(String, String)>,
}

/// Why a signature file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct SigFileError {
    pub detail: String,
}

fn err(detail: impl Into<String>) -> SigFileError {
    SigFileError {
        detail: detail.into(),
    }
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, SigFileError> {
    for a in e.attributes() {
        let a = a.map_err(|x| err(format!("bad attribute: {x}")))?;
        if a.key.local_name().as_ref() == name {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|x| err(format!("bad attribute value: {x}")))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn num_attr(e: &BytesStart<'_>, name: &str) -> Result<Option<usize>, SigFileError> {
    match attr(e, name)? {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map(Some)
            .map_err(|_| err(format!("attribute {name}=\"{v}\" is not a number"))),
    }
}

/// A fragment of a compiled subsequence.
struct Frag {
    left: bool,
    position: usize,
    min: usize,
    max: Option<usize>,
    text: String,
}

#[derive(Default)]
struct SubBuilder {
    position: usize,
    min: usize,
    max: Option<usize>,
    sequence: String,
    frags: Vec<Frag>,
}

impl SubBuilder {
    /// The subsequence's whole pattern: left fragments (position 1 nearest the
    /// anchor), the anchor, right fragments; fragments at one position are
    /// alternatives, each with its own gap to its neighbour.
    fn build(self, le: bool) -> Result<SubSeq, SigFileError> {
        let p = |t: &str| pattern::parse(t, le).map_err(|e| err(e.to_string()));
        let mut toks = Vec::new();
        let max_left = self
            .frags
            .iter()
            .filter(|f| f.left)
            .map(|f| f.position)
            .max();
        if let Some(m) = max_left {
            for pos in (1..=m).rev() {
                let mut alts = Vec::new();
                for f in self.frags.iter().filter(|f| f.left && f.position == pos) {
                    let mut a = p(&f.text)?;
                    a.push(Tok::Gap {
                        min: f.min,
                        max: f.max,
                    });
                    alts.push(normalize(a));
                }
                push_alts(&mut toks, alts);
            }
        }
        toks.extend(p(&self.sequence)?);
        let max_right = self
            .frags
            .iter()
            .filter(|f| !f.left)
            .map(|f| f.position)
            .max();
        if let Some(m) = max_right {
            for pos in 1..=m {
                let mut alts = Vec::new();
                for f in self.frags.iter().filter(|f| !f.left && f.position == pos) {
                    let mut a = vec![Tok::Gap {
                        min: f.min,
                        max: f.max,
                    }];
                    a.extend(p(&f.text)?);
                    alts.push(normalize(a));
                }
                push_alts(&mut toks, alts);
            }
        }
        Ok(SubSeq {
            toks: normalize(toks),
            min: self.min,
            max: self.max,
        })
    }
}

fn push_alts(toks: &mut Vec<Tok>, mut alts: Vec<Vec<Tok>>) {
    match alts.len() {
        0 => {}
        1 => toks.extend(alts.pop().unwrap_or_default()),
        _ => toks.push(Tok::Alt(alts)),
    }
}

/// Builds internal signatures from the events of an `<InternalSignature>` element and
/// its children (shared by both files).
#[derive(Default)]
struct SigBuilder {
    id: u32,
    seqs: Vec<ByteSeq>,
    anchor: Option<Anchor>,
    le: bool,
    subs: Vec<SubBuilder>,
    built: Vec<(usize, SubSeq)>,
    /// Which text element is open.
    text: Option<TextTarget>,
}

enum TextTarget {
    Sequence,
    Fragment,
}

impl SigBuilder {
    fn start(&mut self, e: &BytesStart<'_>) -> Result<bool, SigFileError> {
        match e.local_name().as_ref() {
            "ByteSequence" => {
                self.anchor = Some(match attr(e, "Reference")?.as_deref() {
                    Some("BOFoffset") => Anchor::Bof,
                    Some("EOFoffset") => Anchor::Eof,
                    _ => Anchor::Variable,
                });
                self.le = attr(e, "Endianness")?.as_deref() == Some("Little-endian");
                self.built.clear();
            }
            "SubSequence" => {
                self.subs.push(SubBuilder {
                    position: num_attr(e, "Position")?.unwrap_or(1),
                    min: num_attr(e, "SubSeqMinOffset")?.unwrap_or(0),
                    max: num_attr(e, "SubSeqMaxOffset")?,
                    ..SubBuilder::default()
                });
            }
            "Sequence" => self.text = Some(TextTarget::Sequence),
            n @ ("LeftFragment" | "RightFragment") => {
                let f = Frag {
                    left: n == "LeftFragment",
                    position: num_attr(e, "Position")?.unwrap_or(1),
                    min: num_attr(e, "MinOffset")?.unwrap_or(0),
                    max: num_attr(e, "MaxOffset")?,
                    text: String::new(),
                };
                self.subs
                    .last_mut()
                    .ok_or_else(|| err("a fragment outside a subsequence"))?
                    .frags
                    .push(f);
                self.text = Some(TextTarget::Fragment);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn text(&mut self, t: &str) {
        let Some(sub) = self.subs.last_mut() else {
            return;
        };
        match self.text {
            Some(TextTarget::Sequence) => sub.sequence.push_str(t),
            Some(TextTarget::Fragment) => {
                if let Some(f) = sub.frags.last_mut() {
                    f.text.push_str(t)
                }
            }
            None => {}
        }
    }

    fn end(&mut self, name: &str) -> Result<(), SigFileError> {
        match name {
            "Sequence" | "LeftFragment" | "RightFragment" => self.text = None,
            "SubSequence" => {
                if let Some(sub) = self.subs.pop() {
                    let pos = sub.position;
                    self.built.push((pos, sub.build(self.le)?));
                }
            }
            "ByteSequence" => {
                let anchor = self.anchor.take().unwrap_or(Anchor::Variable);
                let mut subs = std::mem::take(&mut self.built);
                subs.sort_by_key(|(p, _)| *p);
                let mut subs: Vec<SubSeq> = subs.into_iter().map(|(_, s)| s).collect();
                if anchor == Anchor::Eof {
                    for s in &mut subs {
                        s.toks = pattern::reverse(&s.toks);
                    }
                }
                if !subs.is_empty() {
                    self.seqs.push(ByteSeq { anchor, subs });
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self) -> Signature {
        Signature {
            id: self.id,
            seqs: std::mem::take(&mut self.seqs),
        }
    }
}

fn text_of(e: &Event<'_>) -> Result<Option<String>, SigFileError> {
    Ok(match e {
        Event::Text(t) => Some(
            t.xml_content(quick_xml::XmlVersion::Implicit1_0)
                .into_owned(),
        ),
        Event::CData(t) => Some(
            t.xml_content(quick_xml::XmlVersion::Implicit1_0)
                .into_owned(),
        ),
        Event::GeneralRef(r) => {
            let name: &str = r;
            let c = match r.resolve_char_ref() {
                Ok(Some(c)) => c,
                _ => match name {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => return Err(err(format!("unknown reference &{name};"))),
                },
            };
            Some(c.to_string())
        }
        _ => None,
    })
}

fn at(reader: &Reader<&[u8]>, e: impl std::fmt::Display) -> SigFileError {
    err(format!("at byte {}: {e}", reader.buffer_position()))
}

/// Reads a DROID signature file.
pub fn parse_droid(xml: &str) -> Result<DroidFile, SigFileError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut out = DroidFile::default();
    let mut sig: Option<SigBuilder> = None;
    let mut fmt: Option<Format> = None;
    let mut field: Option<&'static str> = None;
    let mut text = String::new();
    let mut root = false;
    loop {
        let ev = reader.read_event().map_err(|e| at(&reader, e))?;
        match &ev {
            Event::Start(e) | Event::Empty(e) => {
                let empty = matches!(ev, Event::Empty(_));
                match e.local_name().as_ref() {
                    "FFSignatureFile" => {
                        root = true;
                        out.version = attr(e, "Version")?.unwrap_or_default();
                        out.created = attr(e, "DateCreated")?.unwrap_or_default();
                    }
                    "InternalSignature" => {
                        let id = num_attr(e, "ID")?.unwrap_or(0) as u32;
                        let b = SigBuilder {
                            id,
                            ..SigBuilder::default()
                        };
                        if empty {
                            out.signatures.push(Signature {
                                id,
                                seqs: Vec::new(),
                            });
                        } else {
                            sig = Some(b);
                        }
                    }
                    "FileFormat" => {
                        let f = Format {
                            id: num_attr(e, "ID")?.unwrap_or(0) as u32,
                            puid: attr(e, "PUID")?.unwrap_or_default(),
                            name: attr(e, "Name")?.unwrap_or_default(),
                            version: attr(e, "Version")?.unwrap_or_default(),
                            mime: attr(e, "MIMEType")?.unwrap_or_default(),
                            ..Format::default()
                        };
                        if empty {
                            out.formats.push(f);
                        } else {
                            fmt = Some(f);
                        }
                    }
                    "InternalSignatureID" if fmt.is_some() => field = Some("sig"),
                    "Extension" if fmt.is_some() => field = Some("ext"),
                    "HasPriorityOverFileFormatID" if fmt.is_some() => field = Some("prio"),
                    _ => {
                        if let Some(s) = sig.as_mut() {
                            s.start(e)?;
                            if empty {
                                s.end(e.local_name().as_ref())?;
                            }
                        }
                    }
                }
                text.clear();
            }
            Event::End(e) => {
                let name = e.local_name();
                match name.as_ref() {
                    "InternalSignature" => {
                        if let Some(mut s) = sig.take() {
                            out.signatures.push(s.finish());
                        }
                    }
                    "FileFormat" => {
                        if let Some(f) = fmt.take() {
                            out.formats.push(f);
                        }
                    }
                    "InternalSignatureID" | "Extension" | "HasPriorityOverFileFormatID" => {
                        if let (Some(f), Some(kind)) = (fmt.as_mut(), field.take()) {
                            let t = text.trim();
                            match kind {
                                "ext" => f.extensions.push(t.to_ascii_lowercase()),
                                _ => {
                                    let n: u32 = t.parse().map_err(|_| {
                                        at(&reader, format!("\"{t}\" is not an identifier"))
                                    })?;
                                    if kind == "sig" {
                                        f.signatures.push(n)
                                    } else {
                                        f.priority_over.push(n)
                                    }
                                }
                            }
                        }
                    }
                    n => {
                        if let Some(s) = sig.as_mut() {
                            s.end(n)?;
                        }
                    }
                }
            }
            Event::Eof => break,
            e => {
                // Most text is indentation or a <Shift> value nobody reads: decode
                // only what a signature or a format field is waiting for.
                let wanted = field.is_some() || sig.as_ref().is_some_and(|s| s.text.is_some());
                if wanted {
                    if let Some(t) = text_of(e)? {
                        if let Some(s) = sig.as_mut() {
                            s.text(&t);
                        }
                        text.push_str(&t);
                    }
                }
            }
        }
    }
    if !root {
        return Err(err("not a DROID signature file (no <FFSignatureFile>)"));
    }
    if out.formats.is_empty() {
        return Err(err("the signature file describes no formats"));
    }
    Ok(out)
}

/// Reads a container signature file.
pub fn parse_container(xml: &str) -> Result<ContainerFile, SigFileError> {
    let mut reader = Reader::from_str(xml);
    let mut out = ContainerFile::default();
    let mut cur: Option<ContainerSig> = None;
    let mut sig: Option<SigBuilder> = None;
    let mut file_sigs: Vec<Signature> = Vec::new();
    let mut path: Option<String> = None;
    let mut text = String::new();
    let mut root = false;
    loop {
        let ev = reader.read_event().map_err(|e| at(&reader, e))?;
        match &ev {
            Event::Start(e) | Event::Empty(e) => {
                let empty = matches!(ev, Event::Empty(_));
                match e.local_name().as_ref() {
                    "ContainerSignatureMapping" => {
                        root = true;
                        out.version = attr(e, "signatureVersion")?.unwrap_or_default();
                    }
                    "ContainerSignature" => {
                        cur = Some(ContainerSig {
                            id: num_attr(e, "Id")?.unwrap_or(0) as u32,
                            kind: attr(e, "ContainerType")?.unwrap_or_default(),
                            description: String::new(),
                            files: Vec::new(),
                        })
                    }
                    "File" => {
                        path = None;
                        file_sigs.clear();
                    }
                    "InternalSignature" => {
                        sig = Some(SigBuilder {
                            id: num_attr(e, "ID")?.unwrap_or(0) as u32,
                            ..SigBuilder::default()
                        })
                    }
                    "FileFormatMapping" => {
                        if let (Some(id), Some(puid)) =
                            (num_attr(e, "signatureId")?, attr(e, "Puid")?)
                        {
                            out.mappings.push((id as u32, puid));
                        }
                    }
                    "TriggerPuid" => {
                        if let (Some(k), Some(puid)) = (attr(e, "ContainerType")?, attr(e, "Puid")?)
                        {
                            out.triggers.push((k, puid));
                        }
                    }
                    _ => {
                        if let Some(s) = sig.as_mut() {
                            s.start(e)?;
                            if empty {
                                s.end(e.local_name().as_ref())?;
                            }
                        }
                    }
                }
                text.clear();
            }
            Event::End(e) => {
                let name = e.local_name();
                match name.as_ref() {
                    "Path" => path = Some(text.trim().to_string()),
                    "Description" => {
                        if let Some(c) = cur.as_mut() {
                            c.description = text.trim().to_string();
                        }
                    }
                    "InternalSignature" => {
                        if let Some(mut s) = sig.take() {
                            file_sigs.push(s.finish());
                        }
                    }
                    "File" => {
                        if let (Some(c), Some(p)) = (cur.as_mut(), path.take()) {
                            c.files.push((p, std::mem::take(&mut file_sigs)));
                        }
                    }
                    "ContainerSignature" => {
                        if let Some(c) = cur.take() {
                            out.signatures.push(c);
                        }
                    }
                    n => {
                        if let Some(s) = sig.as_mut() {
                            s.end(n)?;
                        }
                    }
                }
            }
            Event::Eof => break,
            e => {
                if let Some(t) = text_of(e)? {
                    if let Some(s) = sig.as_mut() {
                        s.text(&t);
                    }
                    text.push_str(&t);
                }
            }
        }
    }
    if !root {
        return Err(err(
            "not a container signature file (no <ContainerSignatureMapping>)",
        ));
    }
    Ok(out)
}
