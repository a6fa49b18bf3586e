//! Reading a dc.xml back: [`parse_oai_dc`] and the problems it reports, each with its
//! byte offset, line and column. Pure: parses a string.

use std::fmt;

use quick_xml::events::{BytesCData, BytesRef, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use quick_xml::XmlVersion;

use super::is_xml_char;
use crate::metadata::dublin_core::{DublinCore, Namespace, Term};

/// The namespace of the oai_dc root element.
pub const OAI_DC_NAMESPACE: &str = "http://www.openarchives.org/OAI/2.0/oai_dc/";

/// Why a dc.xml could not be read: every problem found, in document order. A document
/// that is not well-formed XML stops the reading, so its last problem is then the
/// [`OaiDcProblemKind::Malformed`] one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OaiDcError {
    pub problems: Vec<OaiDcProblem>,
}

impl fmt::Display for OaiDcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a usable oai_dc record:")?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for OaiDcError {}

/// One problem, with where it is: `offset` is the byte offset into the text handed to
/// [`parse_oai_dc`] (a byte-order mark included), `line` and `column` count from 1, the
/// column in characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column} (byte {offset}): {kind}")]
pub struct OaiDcProblem {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
    pub kind: OaiDcProblemKind,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OaiDcProblemKind {
    /// Not well-formed XML (or not namespace-well-formed): reading stopped here.
    #[error("not well-formed XML: {message}")]
    Malformed { message: String },

    /// The root element is not `dc` in [`OAI_DC_NAMESPACE`]; nothing else was read.
    #[error(
        "the root element is <{name}> ({}); expected <oai_dc:dc> in namespace {OAI_DC_NAMESPACE}",
        match .namespace { Some(ns) => format!("namespace {ns}"), None => "no namespace".to_string() }
    )]
    WrongRoot {
        /// The name as written, prefix included.
        name: String,
        namespace: Option<String>,
    },

    /// An element in the DCMES or DCMI terms namespace that is not a term of it.
    #[error(
        "<{name}> is not a Dublin Core element: {}{local} is not in the vocabulary{}",
        .namespace.uri(),
        match .suggestion { Some(s) => format!("; did you mean {s}?"), None => String::new() }
    )]
    UnknownElement {
        /// The name as written, prefix included.
        name: String,
        namespace: Namespace,
        local: String,
        /// The nearest term (as [`Term::parse`] suggests it), e.g. `dc.title`.
        suggestion: Option<&'static str>,
    },

    /// A Dublin Core element with an element inside it: values are text only.
    #[error("<{element}> contains the element <{child}>; a Dublin Core value must be text only")]
    NestedElement { element: String, child: String },

    /// Text directly inside the root, outside any element: a value with no term.
    #[error("text outside any Dublin Core element: \"{text}\"")]
    StrayText {
        /// The text, trimmed, cut to 40 characters.
        text: String,
    },
}

/// Reads an oai_dc record (a metadata/dc.xml written by Cairn or by another archive).
///
/// The root must be `dc` in [`OAI_DC_NAMESPACE`]. Its children in the DCMES namespace
/// (`http://purl.org/dc/elements/1.1/`) become `dc.*` terms and those in the DCMI terms
/// namespace (`http://purl.org/dc/terms/`) `dcterms.*` terms, in document order.
/// Namespaces are resolved, so any prefix, or a default namespace, works; element names
/// are case-sensitive, as in XML (`<dc:Title>` is refused, suggesting `dc.title`).
/// Elements in any other namespace, or none, are skipped with everything inside them,
/// and attributes (`xml:lang`, `xsi:type`) are ignored: a Cairn record has nowhere to
/// keep them.
///
/// Values are the element's text with references decoded (`&amp;`, `&#x17D2;`), CDATA
/// sections included and comments dropped, then trimmed at both ends like every other
/// value Cairn reads; inside, they are kept byte for byte (never Unicode-normalised).
/// XML's own line-end rule still applies: a literal CR LF in the file reads as LF, while
/// `&#13;` (what [`render_oai_dc`] writes for CR) reads as CR. Elements that are empty
/// after trimming are skipped. Only the five predefined entities exist: a DTD's entity
/// declarations are not read, so their references are errors.
///
/// Round trip: oai_dc carries only the 15 DCMES elements, so
/// `parse_oai_dc(&render_oai_dc(&r))` gives back `r` *dumbed down*: every `dcterms.*`
/// value as its DCMES parent's `dc.*` term, terms with no parent gone, values grouped in
/// DCMES order (each element's values in record order). That equals `r` exactly when `r`
/// uses only `dc.*` terms, in DCMES order, with trimmed values. dc.json is the lossless
/// form.
///
/// Problems are reported together: an unknown or misspelt Dublin Core element (with the
/// nearest term), an element nested in a value, text outside any element. A wrong root
/// or ill-formed XML ends the reading. Each problem carries its byte offset, line and
/// column.
pub fn parse_oai_dc(text: &str) -> Result<DublinCore, OaiDcError> {
    let mut parser = Parser {
        source: text,
        problems: Vec::new(),
        record: DublinCore::new(),
    };
    if let Err(fatal) = parser.run() {
        parser.problems.push(fatal);
    }
    if parser.problems.is_empty() {
        Ok(parser.record)
    } else {
        Err(OaiDcError {
            problems: parser.problems,
        })
    }
}

/// What an open element is to the parser.
enum Role {
    /// The `oai_dc:dc` root, collecting any text found directly inside it.
    Root { stray: String, stray_at: usize },
    /// A Dublin Core element: `term` is `None` for an unknown one (already reported),
    /// `broken` once an element was found inside it.
    Value {
        term: Option<Term>,
        text: String,
        broken: bool,
    },
    /// An element whose content is not read (foreign, or inside a value).
    Skipped,
}

struct Frame {
    name: String,
    offset: usize,
    role: Role,
}

/// Where an element's namespace is.
enum Ns {
    OaiDc,
    Dc(Namespace),
    Other(Option<String>),
}

struct Parser<'a> {
    source: &'a str,
    problems: Vec<OaiDcProblem>,
    record: DublinCore,
}

impl Parser<'_> {
    /// The line and column (from 1, the column in characters) of a byte offset.
    fn locate(&self, offset: usize) -> (usize, usize, usize) {
        let mut offset = offset.min(self.source.len());
        while !self.source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.source[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (offset, line, before[line_start..].chars().count() + 1)
    }

    fn problem(&self, offset: usize, kind: OaiDcProblemKind) -> OaiDcProblem {
        let (offset, line, column) = self.locate(offset);
        OaiDcProblem {
            offset,
            line,
            column,
            kind,
        }
    }

    fn malformed(&self, offset: usize, message: impl Into<String>) -> OaiDcProblem {
        self.problem(
            offset,
            OaiDcProblemKind::Malformed {
                message: message.into(),
            },
        )
    }

    /// Reads the document. Non-fatal problems go to `self.problems`; a fatal one (wrong
    /// root, ill-formed XML) is returned.
    ///
    /// The stages, in document order (XML 1.0 §2.1: prolog, one element, misc): each
    /// event read and dispatched, an element opened ([`Parser::open`]: namespaces and
    /// attributes checked, then its role from where it stands: [`Parser::root`],
    /// [`Parser::in_root`], or inside a value), character data checked and collected
    /// ([`Parser::char_data`], [`Parser::cdata`]), the declaration and doctype where
    /// they may stand; at the end, every element closed and a root seen
    /// ([`Parser::finish`]).
    fn run(&mut self) -> Result<(), OaiDcProblem> {
        // quick-xml is handed the text after any byte-order mark; `base` maps its
        // positions back to offsets in the caller's text.
        let body = self.source.strip_prefix('\u{FEFF}').unwrap_or(self.source);
        let base = self.source.len() - body.len();
        let mut reader = NsReader::from_str(body);
        let mut version = XmlVersion::Implicit1_0;
        let mut stack: Vec<Frame> = Vec::new();
        let mut root_seen = false;
        loop {
            let at = base + to_usize(reader.buffer_position());
            let (ns, event) = match reader.read_resolved_event() {
                Ok((ns, event)) => (classify(ns), event),
                Err(e) => {
                    let at = base + to_usize(reader.error_position());
                    return Err(self.malformed(at, e.to_string()));
                }
            };
            match event {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let frame = self.open(ns, e, at, &mut stack, &mut root_seen)?;
                    if matches!(event, Event::Start(_)) {
                        stack.push(frame);
                    } else {
                        self.close(frame);
                    }
                }
                Event::End(_) => {
                    // quick-xml has checked that the name matches the open element.
                    if let Some(frame) = stack.pop() {
                        self.close(frame);
                    }
                }
                Event::Text(ref t) => self.char_data(&mut stack, at, t, version)?,
                Event::CData(ref t) => self.cdata(&mut stack, at, t, version)?,
                Event::GeneralRef(ref r) => {
                    let c = resolve_reference(r).map_err(|m| self.malformed(at, m))?;
                    self.text(&mut stack, at, c.encode_utf8(&mut [0; 4]))?;
                }
                Event::Decl(ref d) => {
                    if at != base {
                        return Err(self.malformed(
                            at,
                            "an XML declaration is only allowed at the very start",
                        ));
                    }
                    version = d
                        .xml_version()
                        .map_err(|e| self.malformed(at, e.to_string()))?;
                }
                Event::DocType(_) => {
                    if root_seen {
                        return Err(self.malformed(
                            at,
                            "a document type declaration is only allowed before the root element",
                        ));
                    }
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => break,
            }
        }
        self.finish(&stack, root_seen)
    }

    /// A start tag (or an empty element): its namespace prefix declared, its
    /// attributes well-formed, then its role from where it stands: the root, a child
    /// of the root, or inside a value (reported once, and skipped).
    fn open(
        &mut self,
        ns: Result<Ns, String>,
        e: &BytesStart<'_>,
        at: usize,
        stack: &mut [Frame],
        root_seen: &mut bool,
    ) -> Result<Frame, OaiDcProblem> {
        let ns = ns.map_err(|prefix| {
            self.malformed(
                at,
                format!(
                    "namespace prefix `{prefix}` of <{}> is not declared",
                    e.name().0
                ),
            )
        })?;
        for attribute in e.attributes() {
            if let Err(err) = attribute {
                return Err(
                    self.malformed(at, format!("in the attributes of <{}>: {err}", e.name().0))
                );
            }
        }
        let name = e.name().0.to_string();
        let local = e.local_name().into_inner().to_string();
        let role = match stack.last_mut() {
            None if *root_seen => {
                return Err(self.malformed(
                    at,
                    format!("a second root element <{name}> after the first"),
                ))
            }
            None => {
                *root_seen = true;
                self.root(ns, &name, &local, at)?
            }
            Some(Frame {
                role: Role::Root { stray, stray_at },
                ..
            }) => {
                let stray = std::mem::take(stray);
                let stray_at = *stray_at;
                self.report_stray(&stray, stray_at);
                self.in_root(ns, &name, &local, at)
            }
            Some(Frame {
                role: Role::Value { term, broken, .. },
                name: parent,
                ..
            }) => {
                if term.is_some() && !*broken {
                    let problem = self.problem(
                        at,
                        OaiDcProblemKind::NestedElement {
                            element: parent.clone(),
                            child: name.clone(),
                        },
                    );
                    self.problems.push(problem);
                }
                *broken = true;
                Role::Skipped
            }
            Some(Frame {
                role: Role::Skipped,
                ..
            }) => Role::Skipped,
        };
        Ok(Frame {
            name,
            offset: at,
            role,
        })
    }

    /// The root element: `dc` in [`OAI_DC_NAMESPACE`], or the reading ends here.
    fn root(&self, ns: Ns, name: &str, local: &str, at: usize) -> Result<Role, OaiDcProblem> {
        let namespace = match ns {
            Ns::OaiDc if local == "dc" => {
                return Ok(Role::Root {
                    stray: String::new(),
                    stray_at: at,
                })
            }
            Ns::OaiDc => Some(OAI_DC_NAMESPACE.to_string()),
            Ns::Dc(n) => Some(n.uri().to_string()),
            Ns::Other(namespace) => namespace,
        };
        Err(self.problem(
            at,
            OaiDcProblemKind::WrongRoot {
                name: name.to_string(),
                namespace,
            },
        ))
    }

    /// A child of the root: a Dublin Core element is a value (of its term, when it
    /// names one); anything else is skipped with what it holds.
    fn in_root(&mut self, ns: Ns, name: &str, local: &str, at: usize) -> Role {
        match ns {
            Ns::Dc(namespace) => Role::Value {
                term: self.term_for(at, name, namespace, local),
                text: String::new(),
                broken: false,
            },
            Ns::OaiDc | Ns::Other(_) => Role::Skipped,
        }
    }

    /// Character data: every character one XML allows (XML 1.0 §2.2), then its
    /// content (references decoded, line ends normalised) collected.
    fn char_data(
        &mut self,
        stack: &mut [Frame],
        at: usize,
        t: &BytesText<'_>,
        version: XmlVersion,
    ) -> Result<(), OaiDcProblem> {
        let raw: &str = t;
        if let Some((i, bad)) = raw.char_indices().find(|&(_, c)| !is_xml_char(c)) {
            let offset = at + i;
            return Err(self.malformed(
                offset,
                format!("character U+{:04X} is not allowed in XML", bad as u32),
            ));
        }
        self.text(stack, at, &t.xml_content(version))
    }

    /// A CDATA section: as [`Parser::char_data`], its content taken as it stands.
    fn cdata(
        &mut self,
        stack: &mut [Frame],
        at: usize,
        t: &BytesCData<'_>,
        version: XmlVersion,
    ) -> Result<(), OaiDcProblem> {
        let content = t.xml_content(version);
        if let Some(bad) = content.chars().find(|&c| !is_xml_char(c)) {
            return Err(self.malformed(
                at,
                format!(
                    "character U+{:04X} is not allowed in XML (in a CDATA section)",
                    bad as u32
                ),
            ));
        }
        self.text(stack, at, &content)
    }

    /// The end of the document: every element closed, and there was a root.
    fn finish(&self, stack: &[Frame], root_seen: bool) -> Result<(), OaiDcProblem> {
        if let Some(open) = stack.first() {
            let (_, line, column) = self.locate(open.offset);
            return Err(self.malformed(
                self.source.len(),
                format!(
                    "<{}> (line {line}, column {column}) is not closed before the end of the \
                     document",
                    open.name
                ),
            ));
        }
        if !root_seen {
            return Err(self.malformed(self.source.len(), "no root element"));
        }
        Ok(())
    }

    /// The term for a child of the root in a Dublin Core namespace, or `None` (reported)
    /// when the name is not a term. Case matters, as everywhere in XML.
    fn term_for(
        &mut self,
        at: usize,
        name: &str,
        namespace: Namespace,
        local: &str,
    ) -> Option<Term> {
        let suggestion = match Term::parse(&format!("{}.{local}", namespace.prefix())) {
            Ok(term) if term.local_name() == local => return Some(term),
            Ok(term) => Some(term.name()),
            Err(unknown) => unknown.suggestion,
        };
        let problem = self.problem(
            at,
            OaiDcProblemKind::UnknownElement {
                name: name.to_string(),
                namespace,
                local: local.to_string(),
                suggestion,
            },
        );
        self.problems.push(problem);
        None
    }

    /// Character data (text, CDATA or one resolved reference) at `at`.
    fn text(&self, stack: &mut [Frame], at: usize, content: &str) -> Result<(), OaiDcProblem> {
        match stack.last_mut() {
            None if content.trim().is_empty() => Ok(()),
            None => Err(self.malformed(at, "text outside the root element")),
            Some(Frame {
                role: Role::Root { stray, stray_at },
                ..
            }) => {
                if stray.is_empty() {
                    *stray_at = at;
                }
                stray.push_str(content);
                Ok(())
            }
            Some(Frame {
                role: Role::Value { text, .. },
                ..
            }) => {
                text.push_str(content);
                Ok(())
            }
            Some(Frame {
                role: Role::Skipped,
                ..
            }) => Ok(()),
        }
    }

    /// An element ended: a value is recorded, the root's stray text reported.
    fn close(&mut self, frame: Frame) {
        match frame.role {
            Role::Value {
                term: Some(term),
                text,
                broken: false,
            } => {
                let value = text.trim();
                if !value.is_empty() {
                    self.record.push(term, value);
                }
            }
            Role::Root { stray, stray_at } => self.report_stray(&stray, stray_at),
            Role::Value { .. } | Role::Skipped => {}
        }
    }

    fn report_stray(&mut self, stray: &str, at: usize) {
        let stray = stray.trim();
        if stray.is_empty() {
            return;
        }
        let mut text: String = stray.chars().take(40).collect();
        if text.len() < stray.len() {
            text.push('…');
        }
        // Point at the text itself, not at the whitespace before it.
        let lead = self
            .source
            .get(at..)
            .and_then(|rest| rest.find(|c: char| !c.is_whitespace()))
            .unwrap_or(0);
        let problem = self.problem(at + lead, OaiDcProblemKind::StrayText { text });
        self.problems.push(problem);
    }
}

/// Sorts a resolved namespace: `Err(prefix)` for an undeclared prefix.
fn classify(ns: ResolveResult<'_>) -> Result<Ns, String> {
    match ns {
        ResolveResult::Bound(ns) if ns.0 == OAI_DC_NAMESPACE => Ok(Ns::OaiDc),
        ResolveResult::Bound(ns) if ns.0 == Namespace::Dc.uri() => Ok(Ns::Dc(Namespace::Dc)),
        ResolveResult::Bound(ns) if ns.0 == Namespace::Dcterms.uri() => {
            Ok(Ns::Dc(Namespace::Dcterms))
        }
        ResolveResult::Bound(ns) => Ok(Ns::Other(Some(ns.0.to_string()))),
        ResolveResult::Unbound => Ok(Ns::Other(None)),
        ResolveResult::Unknown(prefix) => Err(prefix),
    }
}

/// The character an entity or character reference stands for. Only XML's five
/// predefined entities exist, and a character reference must name an XML 1.0 `Char`.
fn resolve_reference(r: &BytesRef<'_>) -> Result<char, String> {
    let name: &str = r;
    match r.resolve_char_ref() {
        Ok(Some(c)) if is_xml_char(c) => Ok(c),
        Ok(Some(c)) => Err(format!(
            "&{name}; refers to U+{:04X}, which XML does not allow",
            c as u32
        )),
        Err(e) => Err(format!("&{name}; is not a valid character reference: {e}")),
        Ok(None) => match name {
            "amp" => Ok('&'),
            "lt" => Ok('<'),
            "gt" => Ok('>'),
            "quot" => Ok('"'),
            "apos" => Ok('\''),
            _ => Err(format!(
                "&{name}; is not defined (only &amp; &lt; &gt; &quot; &apos; and character \
                 references are)"
            )),
        },
    }
}

fn to_usize(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests;
