//! oai_dc: the Dublin Core XML record that OAI-PMH harvesters and most repository
//! software read, written as metadata/dc.xml.
//!
//! Pure: renders a string, and parses one back ([`parse_oai_dc`]); no filesystem.
//!
//! oai_dc can only carry the 15 DCMES elements, so `dcterms.*` values are written as
//! their DCMES parent ("dumbed down", see [`super::Term::dumb_down`]) and terms with no
//! parent are left out; dc.json keeps everything.

use std::fmt;

use quick_xml::events::{BytesRef, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use quick_xml::XmlVersion;

use super::dublin_core::{DublinCore, Element, Namespace, Term};

const HEADER: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    "<oai_dc:dc xmlns:oai_dc=\"http://www.openarchives.org/OAI/2.0/oai_dc/\"",
    " xmlns:dc=\"http://purl.org/dc/elements/1.1/\"",
    " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"",
    " xsi:schemaLocation=\"http://www.openarchives.org/OAI/2.0/oai_dc/",
    " http://www.openarchives.org/OAI/2.0/oai_dc.xsd\">\n",
);

const FOOTER: &str = "</oai_dc:dc>\n";

/// Renders the record as an oai_dc XML document (XML 1.0, UTF-8, trailing newline).
///
/// Elements come in DCMES order (title, creator, … rights), as the oai_dc schema's
/// examples and most harvesters expect; within an element, values keep record order, so
/// `dc.date` and a `dcterms.created` appear as the record lists them. Values are written
/// byte for byte apart from XML escaping.
pub fn render_oai_dc(record: &DublinCore) -> String {
    let mut out = String::from(HEADER);
    for element in Element::ALL {
        for (term, value) in &record.entries {
            if term.dumb_down() == Some(element) {
                let name = element.name();
                out.push_str("  <dc:");
                out.push_str(name);
                out.push('>');
                escape_text_into(value, &mut out);
                out.push_str("</dc:");
                out.push_str(name);
                out.push_str(">\n");
            }
        }
    }
    out.push_str(FOOTER);
    out
}

/// Escapes element content. `&` and `<` must be escaped; `>` is too, so `]]>` can never
/// appear. Quotes need no escaping in element content (Cairn writes no values into
/// attributes).
///
/// [`super::validate_record`] refuses control characters, so the cases below do not
/// arise for a validated record; they exist so that rendering an unvalidated one still
/// yields well-formed XML. Tab, LF and CR become character references, which parsers
/// return unchanged (a literal CR would be normalised to LF). Characters XML 1.0 cannot
/// carry at all, even as references, become U+FFFD: a visible mark of damage, rather
/// than a document no parser will open.
fn escape_text_into(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
}

/// XML 1.0 `Char` (§2.2). Rust's `char` already excludes surrogates. The discouraged
/// characters (DEL, C1) are legal, so they are kept.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= '\u{20}' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

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
                            return Err(self.malformed(
                                at,
                                format!("in the attributes of <{}>: {err}", e.name().0),
                            ));
                        }
                    }
                    let name = e.name().0.to_string();
                    let local = e.local_name().into_inner().to_string();
                    let frame = match stack.last_mut() {
                        None if root_seen => {
                            return Err(self.malformed(
                                at,
                                format!("a second root element <{name}> after the first"),
                            ))
                        }
                        None => {
                            root_seen = true;
                            match ns {
                                Ns::OaiDc if local == "dc" => Role::Root {
                                    stray: String::new(),
                                    stray_at: at,
                                },
                                Ns::OaiDc => {
                                    return Err(self.problem(
                                        at,
                                        OaiDcProblemKind::WrongRoot {
                                            name,
                                            namespace: Some(OAI_DC_NAMESPACE.to_string()),
                                        },
                                    ))
                                }
                                Ns::Dc(n) => {
                                    return Err(self.problem(
                                        at,
                                        OaiDcProblemKind::WrongRoot {
                                            name,
                                            namespace: Some(n.uri().to_string()),
                                        },
                                    ))
                                }
                                Ns::Other(namespace) => {
                                    return Err(self.problem(
                                        at,
                                        OaiDcProblemKind::WrongRoot { name, namespace },
                                    ))
                                }
                            }
                        }
                        Some(Frame {
                            role: Role::Root { stray, stray_at },
                            ..
                        }) => {
                            let stray = std::mem::take(stray);
                            let stray_at = *stray_at;
                            self.report_stray(&stray, stray_at);
                            match ns {
                                Ns::Dc(namespace) => Role::Value {
                                    term: self.term_for(at, &name, namespace, &local),
                                    text: String::new(),
                                    broken: false,
                                },
                                Ns::OaiDc | Ns::Other(_) => Role::Skipped,
                            }
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
                    let frame = Frame {
                        name,
                        offset: at,
                        role: frame,
                    };
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
                Event::Text(ref t) => {
                    let raw: &str = t;
                    if let Some((i, bad)) = raw.char_indices().find(|&(_, c)| !is_xml_char(c)) {
                        let offset = at + i;
                        return Err(self.malformed(
                            offset,
                            format!("character U+{:04X} is not allowed in XML", bad as u32),
                        ));
                    }
                    self.text(&mut stack, at, &t.xml_content(version))?;
                }
                Event::CData(ref t) => {
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
                    self.text(&mut stack, at, &content)?;
                }
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
mod tests {
    use super::*;
    use crate::metadata::{parse_sheet, Term};

    fn t(name: &str) -> Term {
        Term::parse(name).expect("known term")
    }

    /// A small but strict XML 1.0 well-formedness checker, enough for the documents this
    /// module writes: declaration, one root element with attributes, child elements with
    /// text, entity and character references. Returns each leaf element's name and its
    /// unescaped text in document order.
    fn parse_xml(doc: &str) -> Result<Vec<(String, String)>, String> {
        let body = doc
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
            .ok_or("missing XML declaration")?;
        let mut stack: Vec<String> = Vec::new();
        let mut leaves = Vec::new();
        let mut text = String::new();
        let mut seen_root = false;
        let mut rest = body;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('<') {
                let end = after.find('>').ok_or("unterminated tag")?;
                let tag = &after[..end];
                rest = &after[end + 1..];
                if let Some(name) = tag.strip_prefix('/') {
                    let open = stack.pop().ok_or("close tag without open")?;
                    if open != name {
                        return Err(format!("</{name}> closes <{open}>"));
                    }
                    if stack.len() == 1 {
                        leaves.push((open, std::mem::take(&mut text)));
                    } else if !text.trim().is_empty() {
                        return Err("mixed content".into());
                    }
                    text.clear();
                } else {
                    if stack.is_empty() && seen_root {
                        return Err("second root element".into());
                    }
                    if !text.trim().is_empty() {
                        return Err("text before element".into());
                    }
                    text.clear();
                    let mut parts = tag.splitn(2, |c: char| c.is_ascii_whitespace());
                    let name = parts.next().unwrap_or_default();
                    check_name(name)?;
                    check_attributes(parts.next().unwrap_or_default())?;
                    if tag.contains('<') {
                        return Err("< inside tag".into());
                    }
                    stack.push(name.to_string());
                    seen_root = true;
                }
            } else {
                let end = rest.find('<').unwrap_or(rest.len());
                let raw = &rest[..end];
                rest = &rest[end..];
                if stack.is_empty() && !raw.trim().is_empty() {
                    return Err("text outside the root".into());
                }
                text.push_str(&unescape(raw)?);
            }
        }
        if !stack.is_empty() || !seen_root {
            return Err("unclosed or missing root".into());
        }
        Ok(leaves)
    }

    fn check_name(name: &str) -> Result<(), String> {
        let ok = name.split(':').count() <= 2
            && name.split(':').all(|p| {
                p.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            });
        if ok {
            Ok(())
        } else {
            Err(format!("bad name {name:?}"))
        }
    }

    fn check_attributes(mut attrs: &str) -> Result<(), String> {
        let mut names = Vec::new();
        loop {
            attrs = attrs.trim_start();
            if attrs.is_empty() {
                return Ok(());
            }
            let eq = attrs.find('=').ok_or("attribute without =")?;
            let name = &attrs[..eq];
            check_name(name)?;
            if names.contains(&name) {
                return Err(format!("repeated attribute {name}"));
            }
            names.push(name);
            let value = attrs[eq + 1..]
                .strip_prefix('"')
                .ok_or("unquoted attribute")?;
            let close = value.find('"').ok_or("unterminated attribute")?;
            unescape(&value[..close])?;
            attrs = &value[close + 1..];
        }
    }

    fn unescape(raw: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            let semi = rest[amp..].find(';').ok_or("unterminated reference")? + amp;
            let entity = &rest[amp + 1..semi];
            let c = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let n = if let Some(hex) = entity.strip_prefix("#x") {
                        u32::from_str_radix(hex, 16)
                    } else if let Some(dec) = entity.strip_prefix('#') {
                        dec.parse()
                    } else {
                        return Err(format!("unknown entity &{entity};"));
                    };
                    let c = n.ok().and_then(char::from_u32).ok_or("bad char ref")?;
                    if !is_xml_char(c) {
                        return Err(format!("reference to non-Char U+{:04X}", c as u32));
                    }
                    c
                }
            };
            out.push(c);
            rest = &rest[semi + 1..];
        }
        out.push_str(rest);
        for c in out.chars() {
            if !is_xml_char(c) {
                return Err(format!("non-Char U+{:04X} in text", c as u32));
            }
        }
        Ok(out)
    }

    #[test]
    fn checker_rejects_ill_formed() {
        for bad in [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a><b></a></b>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>x & y</a>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>x < y</a>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a></a><b></b>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a x=1></a>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>\u{1}</a>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>&#1;</a>",
        ] {
            assert!(parse_xml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_record() {
        let xml = render_oai_dc(&DublinCore::new());
        assert_eq!(xml, format!("{HEADER}{FOOTER}"));
        assert_eq!(parse_xml(&xml), Ok(vec![]));
    }

    #[test]
    fn dcmes_order_and_dumb_down() {
        let mut r = DublinCore::new();
        r.push(t("dc.rights"), "CC0");
        r.push(t("dcterms.spatial"), "Phnom Penh");
        r.push(t("dc.date"), "1977");
        r.push(t("dcterms.audience"), "researchers");
        r.push(t("dcterms.created"), "1976");
        r.push(t("dc.title"), "T");
        r.push(t("dcterms.alternative"), "Alt");
        r.push(t("dcterms.extent"), "2 pages");
        r.push(t("dcterms.isPartOf"), "S-21 collection");
        r.push(t("dcterms.provenance"), "Donated");
        let xml = render_oai_dc(&r);
        assert!(xml.starts_with(HEADER));
        let leaves = parse_xml(&xml).expect("well-formed");
        let got: Vec<(&str, &str)> = leaves
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("dc:title", "T"),
                ("dc:title", "Alt"),
                ("dc:date", "1977"),
                ("dc:date", "1976"),
                ("dc:format", "2 pages"),
                ("dc:relation", "S-21 collection"),
                ("dc:coverage", "Phnom Penh"),
                ("dc:rights", "CC0"),
            ]
        );
        assert!(!xml.contains("researchers") && !xml.contains("Donated"));
    }

    #[test]
    fn escaping() {
        let mut r = DublinCore::new();
        let tricky = r#"Fish & Chips <b>bold</b> "quoted" 'single' ]]> &amp;"#;
        r.push(t("dc.title"), tricky);
        let xml = render_oai_dc(&r);
        assert!(xml.contains(
            "<dc:title>Fish &amp; Chips &lt;b&gt;bold&lt;/b&gt; \"quoted\" 'single' ]]&gt; &amp;amp;</dc:title>"
        ));
        assert_eq!(
            parse_xml(&xml),
            Ok(vec![("dc:title".into(), tricky.into())])
        );
    }

    #[test]
    fn unvalidated_controls_still_well_formed() {
        let mut r = DublinCore::new();
        r.push(
            t("dc.description"),
            "tab\there\r\nnext\u{0}nul\u{1b}esc\u{FFFF}\u{85}c1",
        );
        let xml = render_oai_dc(&r);
        let leaves = parse_xml(&xml).expect("well-formed");
        assert_eq!(
            leaves[0].1,
            "tab\there\r\nnext\u{FFFD}nul\u{FFFD}esc\u{FFFD}\u{85}c1"
        );
    }

    #[test]
    fn khmer_and_nfd_survive_csv_json_xml() {
        let khmer = "ទួលស្លែង";
        let nfd = "proce\u{300}s";
        let csv = format!(
            "filename,dc.title,dc.subject,dcterms.spatial\n{khmer},Sample: {khmer},{nfd},\"{khmer}, {nfd}\"\n"
        );
        let sheet = parse_sheet(csv.as_bytes()).expect("parses");
        let row = sheet.row_for(khmer).expect("row");
        assert_eq!(row.item.as_bytes(), khmer.as_bytes());
        let record = &row.record;

        let json = record.render_json();
        let back: DublinCore = serde_json::from_str(&json).expect("json reads back");
        assert_eq!(&back, record);

        let leaves = parse_xml(&render_oai_dc(&back)).expect("well-formed");
        let expected = [
            ("dc:title".to_string(), format!("Sample: {khmer}")),
            ("dc:subject".to_string(), nfd.to_string()),
            ("dc:coverage".to_string(), format!("{khmer}, {nfd}")),
        ];
        assert_eq!(leaves, expected);
        // Not normalised on the way: the NFD sequence is still two code points.
        assert!(leaves[1].1.as_bytes().ends_with("e\u{300}s".as_bytes()));
    }

    #[test]
    fn sample_sheet_renders_well_formed() {
        let sheet = parse_sheet(include_bytes!("../../samples/s21/metadata.csv")).expect("parses");
        for row in &sheet.rows {
            let xml = render_oai_dc(&row.record);
            let leaves = parse_xml(&xml).unwrap_or_else(|e| panic!("{}: {e}\n{xml}", row.item));
            // Every sample value has a DCMES parent, so nothing is dropped.
            assert_eq!(leaves.len(), row.record.len(), "{}", row.item);
            let values: Vec<&str> = leaves.iter().map(|(_, v)| v.as_str()).collect();
            for (_, v) in &row.record.entries {
                assert!(values.contains(&v.as_str()));
            }
        }
    }

    // ---- parse_oai_dc ----

    /// What oai_dc can say about a record: each value as its DCMES parent, values with no
    /// parent dropped, grouped in DCMES order.
    fn dumbed_down(record: &DublinCore) -> DublinCore {
        let mut out = DublinCore::new();
        for element in Element::ALL {
            for (term, value) in &record.entries {
                if term.dumb_down() == Some(element) {
                    out.push(element.term(), value.clone());
                }
            }
        }
        out
    }

    fn pairs(record: &DublinCore) -> Vec<(&'static str, &str)> {
        record
            .entries
            .iter()
            .map(|(t, v)| (t.name(), v.as_str()))
            .collect()
    }

    fn problems(doc: &str) -> Vec<OaiDcProblem> {
        match parse_oai_dc(doc) {
            Ok(record) => panic!("expected problems, got {record:?}\n{doc}"),
            Err(e) => {
                assert!(!e.problems.is_empty());
                e.problems
            }
        }
    }

    fn only_problem(doc: &str) -> OaiDcProblem {
        let mut all = problems(doc);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    fn malformed(doc: &str) -> (OaiDcProblem, String) {
        let p = problems(doc).pop().expect("a problem");
        match &p.kind {
            OaiDcProblemKind::Malformed { message } => {
                let message = message.clone();
                (p, message)
            }
            other => panic!("expected Malformed, got {other:?}\n{doc}"),
        }
    }

    /// A document with Cairn's header around `body`.
    fn doc(body: &str) -> String {
        format!("{HEADER}{body}{FOOTER}")
    }

    #[test]
    fn round_trip_all_fifteen_elements() {
        let khmer = "ទួលស្លែង"; // has the coeng U+17D2
        assert!(khmer.contains('\u{17D2}'));
        let nfd = "Proce\u{300}s-verbal, Ba\u{301}n";
        let mut r = DublinCore::new();
        let values = [
            ("dc.title", format!("Sample: {khmer}")),
            ("dc.title", nfd.to_string()),
            ("dc.creator", "Fish & Chips <Ltd>".to_string()),
            ("dc.subject", khmer.to_string()),
            ("dc.subject", "Prisons".to_string()),
            ("dc.subject", "a < b && c > d".to_string()),
            (
                "dc.description",
                r#"He said "hi" and 'bye' ]]> &amp; <![CDATA[x]]>"#.into(),
            ),
            (
                "dc.description",
                "line one\nline two\r\nthree\tcols".to_string(),
            ),
            (
                "dc.publisher",
                "Documentation Center of Cambodia".to_string(),
            ),
            ("dc.contributor", "Ünïcödé (NFC)".to_string()),
            ("dc.date", "1977-03-01".to_string()),
            ("dc.type", "Text".to_string()),
            ("dc.format", "image/tiff".to_string()),
            (
                "dc.identifier",
                "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427".into(),
            ),
            ("dc.source", "Box 3 / folder 7".to_string()),
            ("dc.language", "km".to_string()),
            ("dc.relation", "S-21 collection".to_string()),
            ("dc.coverage", format!("{khmer}, {nfd}")),
            ("dc.rights", "© DC-Cam; CC BY 4.0".to_string()),
        ];
        for (term, value) in &values {
            r.push(t(term), value.as_str());
        }
        let xml = render_oai_dc(&r);
        let back = parse_oai_dc(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        assert_eq!(back, r);
        // Byte for byte: the NFD sequence is still two code points, Khmer untouched.
        assert_eq!(back.entries[1].1.as_bytes(), nfd.as_bytes());
        assert_eq!(back.values(t("dc.subject"))[0].as_bytes(), khmer.as_bytes());
        assert_eq!(back.len(), values.len());
    }

    #[test]
    fn dcterms_come_back_dumbed_down() {
        // oai_dc has only the 15 elements: dcterms values come back as their DCMES
        // parent, grouped in DCMES order; terms with no parent are not in the XML at all.
        let mut r = DublinCore::new();
        r.push(t("dc.rights"), "CC0");
        r.push(t("dcterms.spatial"), "Phnom Penh");
        r.push(t("dc.date"), "1977");
        r.push(t("dcterms.audience"), "researchers");
        r.push(t("dcterms.created"), "1976");
        r.push(t("dc.title"), "T");
        r.push(t("dcterms.alternative"), "Alt");
        r.push(t("dcterms.rightsHolder"), "DC-Cam");
        r.push(t("dcterms.provenance"), "Donated");
        let back = parse_oai_dc(&render_oai_dc(&r)).expect("parses");
        assert_eq!(
            pairs(&back),
            [
                ("dc.title", "T"),
                ("dc.title", "Alt"),
                ("dc.date", "1977"),
                ("dc.date", "1976"),
                ("dc.coverage", "Phnom Penh"),
                ("dc.rights", "CC0"),
                ("dc.rights", "DC-Cam"),
            ]
        );
        assert_eq!(back, dumbed_down(&r));
        // Dumbing down is idempotent, so a second round trip changes nothing.
        assert_eq!(parse_oai_dc(&render_oai_dc(&back)), Ok(back));
    }

    #[test]
    fn sample_sheet_round_trips_dumbed_down() {
        let sheet = parse_sheet(include_bytes!("../../samples/s21/metadata.csv")).expect("parses");
        assert!(!sheet.rows.is_empty());
        for row in &sheet.rows {
            let xml = render_oai_dc(&row.record);
            let back = parse_oai_dc(&xml).unwrap_or_else(|e| panic!("{}: {e}", row.item));
            assert_eq!(back, dumbed_down(&row.record), "{}", row.item);
        }
    }

    #[test]
    fn empty_record_round_trips() {
        assert_eq!(
            parse_oai_dc(&render_oai_dc(&DublinCore::new())),
            Ok(DublinCore::new())
        );
        let bare = format!("<o:dc xmlns:o=\"{OAI_DC_NAMESPACE}\"/>");
        assert_eq!(parse_oai_dc(&bare), Ok(DublinCore::new()));
    }

    #[test]
    fn namespaces_are_resolved_not_prefixes() {
        let xml = r#"<?xml version="1.0"?>
<record:dc xmlns:record="http://www.openarchives.org/OAI/2.0/oai_dc/"
           xmlns:x="http://purl.org/dc/elements/1.1/"
           xmlns:t="http://purl.org/dc/terms/"
           xmlns:dc="http://example.org/not-dublin-core/">
  <x:title>Prefixed x</x:title>
  <dc:title>Ignored: dc here is not Dublin Core</dc:title>
  <t:spatial>Phnom Penh</t:spatial>
  <title xmlns="http://purl.org/dc/elements/1.1/">Default namespace</title>
  <t:isPartOf>S-21 collection</t:isPartOf>
  <x:subject>one</x:subject>
  <x:subject>two</x:subject>
</record:dc>
"#;
        let r = parse_oai_dc(xml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            pairs(&r),
            [
                ("dc.title", "Prefixed x"),
                ("dcterms.spatial", "Phnom Penh"),
                ("dc.title", "Default namespace"),
                ("dcterms.isPartOf", "S-21 collection"),
                ("dc.subject", "one"),
                ("dc.subject", "two"),
            ]
        );

        // The whole document in default namespaces, redeclared per element.
        let xml = concat!(
            r#"<dc xmlns="http://www.openarchives.org/OAI/2.0/oai_dc/">"#,
            r#"<creator xmlns="http://purl.org/dc/elements/1.1/">C</creator>"#,
            r#"<created xmlns="http://purl.org/dc/terms/">1976</created>"#,
            r#"</dc>"#
        );
        assert_eq!(
            pairs(&parse_oai_dc(xml).expect("parses")),
            [("dc.creator", "C"), ("dcterms.created", "1976")]
        );
    }

    #[test]
    fn text_is_decoded_and_trimmed_only_at_the_ends() {
        let body = concat!(
            "  <dc:title>\n    Fish &amp; Chips &lt;&gt; &quot;&apos; &#x17D2;&#6098; &#233;  \n  </dc:title>\n",
            "  <dc:subject><![CDATA[<b>bold</b> & raw]]></dc:subject>\n",
            "  <dc:subject>a<!-- comment -->b<?pi ignored?>c</dc:subject>\n",
            "  <dc:description>  inner   spaces\tkept  </dc:description>\n",
            "  <dc:description>crlf\r\nbecomes lf, &#13;&#10; stays</dc:description>\n",
            "  <dc:title/>\n",
            "  <dc:creator>   </dc:creator>\n",
            "  <dc:creator><![CDATA[  ]]></dc:creator>\n",
            "  <dc:language xml:lang=\"en\" xsi:type=\"dcterms:ISO639-2\">khm</dc:language>\n",
        );
        let r = parse_oai_dc(&doc(body)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            pairs(&r),
            [
                ("dc.title", "Fish & Chips <> \"' \u{17D2}\u{17D2} é"),
                ("dc.subject", "<b>bold</b> & raw"),
                ("dc.subject", "abc"),
                ("dc.description", "inner   spaces\tkept"),
                ("dc.description", "crlf\nbecomes lf, \r\n stays"),
                ("dc.language", "khm"),
            ]
        );
    }

    #[test]
    fn foreign_elements_are_skipped_whole() {
        let body = concat!(
            "<dc:title>Kept</dc:title>",
            "<extra xmlns=\"http://example.org/\"><dc:title>inside a foreign element</dc:title>",
            "<deeper><x/></deeper>text</extra>",
            "<unqualified>no namespace</unqualified>",
            "<oai_dc:dc>nested root-namespace element</oai_dc:dc>",
            "<dc:date>1977</dc:date>",
        );
        let r = parse_oai_dc(&doc(body)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pairs(&r), [("dc.title", "Kept"), ("dc.date", "1977")]);
    }

    #[test]
    fn byte_order_mark_doctype_and_prolog_comments_accepted() {
        let xml = format!(
            "\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- written by hand -->\n\
             <!DOCTYPE oai_dc:dc>\n{}\n<!-- after -->\n",
            doc("<dc:title>T</dc:title>")
                .trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        );
        assert_eq!(
            pairs(&parse_oai_dc(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))),
            [("dc.title", "T")]
        );
    }

    #[test]
    fn wrong_root_is_named() {
        let p = only_problem("<metadata><dc:title xmlns:dc=\"http://purl.org/dc/elements/1.1/\">T</dc:title></metadata>");
        assert_eq!(
            p.kind,
            OaiDcProblemKind::WrongRoot {
                name: "metadata".into(),
                namespace: None
            }
        );
        assert!(p.to_string().contains("<metadata> (no namespace)"), "{p}");
        assert!(p.to_string().contains("expected <oai_dc:dc>"), "{p}");

        // The right local name in the wrong namespace, and the wrong name in the right one.
        let p = only_problem("<dc:dc xmlns:dc=\"http://purl.org/dc/elements/1.1/\"/>");
        assert_eq!(
            p.kind,
            OaiDcProblemKind::WrongRoot {
                name: "dc:dc".into(),
                namespace: Some("http://purl.org/dc/elements/1.1/".into())
            }
        );
        let p = only_problem(&format!(
            "<oai_dc:record xmlns:oai_dc=\"{OAI_DC_NAMESPACE}\"/>"
        ));
        assert!(
            matches!(&p.kind, OaiDcProblemKind::WrongRoot { name, .. } if name == "oai_dc:record")
        );
        // An OAI-PMH envelope is not a dc.xml either.
        let p = only_problem(
            "<OAI-PMH xmlns=\"http://www.openarchives.org/OAI/2.0/\"><GetRecord/></OAI-PMH>",
        );
        assert!(
            p.to_string()
                .contains("<OAI-PMH> (namespace http://www.openarchives.org/OAI/2.0/)"),
            "{p}"
        );
    }

    #[test]
    fn unknown_dc_elements_are_named_with_a_suggestion() {
        let body = concat!(
            "\n  <dc:titel>Misspelt</dc:titel>",
            "\n  <dc:spatial>Wrong namespace</dc:spatial>",
            "\n  <dc:Title>Wrong case</dc:Title>",
            "\n  <dc:shelfmark>No idea</dc:shelfmark>",
            "\n  <t:isPartof xmlns:t=\"http://purl.org/dc/terms/\">x</t:isPartof>",
            "\n  <dc:title>Fine</dc:title>",
            "\n  <dc:bogus/>\n",
        );
        let all = problems(&doc(body));
        let got: Vec<(&str, Option<&str>, usize)> = all
            .iter()
            .map(|p| match &p.kind {
                OaiDcProblemKind::UnknownElement {
                    name, suggestion, ..
                } => (name.as_str(), *suggestion, p.line),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            [
                ("dc:titel", Some("dc.title"), 4),
                ("dc:spatial", Some("dcterms.spatial"), 5),
                ("dc:Title", Some("dc.title"), 6),
                ("dc:shelfmark", None, 7),
                ("t:isPartof", Some("dcterms.isPartOf"), 8),
                ("dc:bogus", None, 10),
            ]
        );
        let message = all[0].to_string();
        assert!(message.starts_with("line 4, column 3 (byte "), "{message}");
        assert!(
            message.contains(
                "<dc:titel> is not a Dublin Core element: \
                 http://purl.org/dc/elements/1.1/titel is not in the vocabulary; \
                 did you mean dc.title?"
            ),
            "{message}"
        );
        assert!(!all[3].to_string().contains("did you mean"), "{}", all[3]);
        let whole = OaiDcError { problems: all }.to_string();
        assert!(
            whole.starts_with("not a usable oai_dc record:\n  line 4"),
            "{whole}"
        );
    }

    #[test]
    fn nested_elements_and_stray_text_are_refused() {
        let body = concat!(
            "<dc:title>Before</dc:title>\n",
            "<dc:description>Some <i>italic</i> and <b>bold</b></dc:description>\n",
            "<dc:subject><dc:subject>nested</dc:subject></dc:subject>\n",
            "A value with &amp; no element\n",
            "<dc:date>1977</dc:date>\n",
        );
        let all = problems(&doc(body));
        assert_eq!(all.len(), 3, "{all:?}");
        assert_eq!(
            all[0].kind,
            OaiDcProblemKind::NestedElement {
                element: "dc:description".into(),
                child: "i".into()
            }
        );
        assert_eq!((all[0].line, all[0].column), (4, 22));
        assert!(
            all[0].to_string().contains(
                "<dc:description> contains the element <i>; a Dublin Core value must be text only"
            ),
            "{}",
            all[0]
        );
        assert_eq!(
            all[1].kind,
            OaiDcProblemKind::NestedElement {
                element: "dc:subject".into(),
                child: "dc:subject".into()
            }
        );
        assert_eq!(
            all[2].kind,
            OaiDcProblemKind::StrayText {
                text: "A value with & no element".into()
            }
        );
        assert_eq!((all[2].line, all[2].column), (6, 1));

        // Long stray text is cut in the report.
        let long = "x".repeat(100);
        let p = only_problem(&doc(&long));
        assert_eq!(
            p.kind,
            OaiDcProblemKind::StrayText {
                text: format!("{}…", "x".repeat(40))
            }
        );
    }

    #[test]
    fn malformed_xml_reports_where() {
        // Mismatched end tag, on line 3.
        let (p, m) = malformed(&doc("<dc:title>T</dc:titel>\n"));
        assert_eq!((p.line, p.column), (3, 12), "{p}");
        assert_eq!(p.offset, HEADER.len() + 11);
        assert!(m.contains("dc:title") && m.contains("dc:titel"), "{m}");
        assert!(p.to_string().starts_with("line 3, column 12 (byte "), "{p}");
        assert!(p.to_string().contains("not well-formed XML"), "{p}");

        let cases: &[(&str, &str)] = &[
            ("<dc:title>Fish & Chips</dc:title>", "not closed"),
            ("<dc:title>&nbsp;</dc:title>", "&nbsp; is not defined"),
            ("<dc:title>&#1;</dc:title>", "U+0001"),
            ("<dc:title>&#xD800;</dc:title>", "&#xD800;"),
            ("<dc:title>\u{1}</dc:title>", "U+0001"),
            ("<dc:title><![CDATA[\u{B}]]></dc:title>", "U+000B"),
            (
                "<x:title>T</x:title>",
                "prefix `x` of <x:title> is not declared",
            ),
            ("<dc:title a=1>T</dc:title>", "attributes of <dc:title>"),
            (
                "<dc:title a=\"1\" a=\"2\">T</dc:title>",
                "attributes of <dc:title>",
            ),
            (
                "<dc:title>T</dc:title><?xml version=\"1.0\"?>",
                "only allowed at the very start",
            ),
            ("</dc:title>", "dc:title"),
        ];
        for (body, expected) in cases {
            let (p, m) = malformed(&doc(body));
            assert!(m.contains(expected), "{body}: {m}");
            assert_eq!(p.line, 3, "{body}: {p}");
        }

        let (p, m) = malformed(&format!("{HEADER}<dc:title>T</dc:title>\n"));
        assert!(
            m.contains("<oai_dc:dc> (line 2, column 1) is not closed"),
            "{m}"
        );
        assert_eq!((p.line, p.column), (4, 1));

        let (_, m) = malformed(&format!("{}<other/>", doc("")));
        assert!(m.contains("a second root element <other>"), "{m}");
        let (_, m) = malformed(&format!("{}trailing", doc("")));
        assert!(m.contains("text outside the root element"), "{m}");
        let (_, m) = malformed("");
        assert_eq!(m, "no root element");
        let (_, m) = malformed("<?xml version=\"1.0\"?>\n<!-- only a comment -->\n");
        assert_eq!(m, "no root element");
        let (_, m) = malformed("<?xml version=\"2.0\"?><x/>");
        assert!(!m.is_empty());
        let (p, _) = malformed("not xml at all");
        assert_eq!((p.offset, p.line, p.column), (0, 1, 1));
    }

    #[test]
    fn problems_before_a_fatal_one_are_kept_and_columns_count_characters() {
        // Problems found before the document turns out ill-formed are still reported.
        let all = problems(&doc("<dc:titel>x</dc:titel>\n<dc:title>ស្លែង</dc:title"));
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(matches!(
            all[0].kind,
            OaiDcProblemKind::UnknownElement { .. }
        ));
        assert!(matches!(all[1].kind, OaiDcProblemKind::Malformed { .. }));

        // Columns are in characters, offsets in bytes (Khmer is 3 bytes a character).
        let khmer = "ស្លែង";
        let p = only_problem(&doc(&format!("<dc:title>{khmer}<b/></dc:title>")));
        assert_eq!(p.column, 11 + khmer.chars().count());
        assert_eq!(p.offset, HEADER.len() + 10 + khmer.len());

        // A byte-order mark counts in the offset, as it is in the caller's text.
        let p = only_problem("\u{FEFF}<metadata/>");
        assert_eq!((p.offset, p.line, p.column), (3, 1, 2));
    }
}
