//! Dublin Core terms and records: the 15 DCMES elements (`dc.*`), the 55 DCMI Metadata
//! Terms properties (`dcterms.*`), and [`DublinCore`], an ordered, repeatable list of
//! term/value pairs.
//!
//! Pure: no filesystem, no clock, no environment. JSON (de)serialisation lives in
//! `json.rs`; the rules a value must satisfy live in `rules/`.

use std::fmt;
use std::str::FromStr;

/// The two namespaces Cairn accepts term names in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    /// DCMES 1.1, `http://purl.org/dc/elements/1.1/`, written `dc.`.
    Dc,
    /// DCMI Metadata Terms, `http://purl.org/dc/terms/`, written `dcterms.`.
    Dcterms,
}

impl Namespace {
    /// The prefix as written in a term name, without the dot.
    pub fn prefix(self) -> &'static str {
        match self {
            Namespace::Dc => "dc",
            Namespace::Dcterms => "dcterms",
        }
    }

    /// The namespace URI.
    pub fn uri(self) -> &'static str {
        match self {
            Namespace::Dc => "http://purl.org/dc/elements/1.1/",
            Namespace::Dcterms => "http://purl.org/dc/terms/",
        }
    }
}

/// One of the 15 DCMES 1.1 elements: the only vocabulary oai_dc can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Element {
    Title,
    Creator,
    Subject,
    Description,
    Publisher,
    Contributor,
    Date,
    Type,
    Format,
    Identifier,
    Source,
    Language,
    Relation,
    Coverage,
    Rights,
}

impl Element {
    /// All 15 elements in DCMES order, which is also the order oai_dc records use.
    pub const ALL: [Element; 15] = [
        Element::Title,
        Element::Creator,
        Element::Subject,
        Element::Description,
        Element::Publisher,
        Element::Contributor,
        Element::Date,
        Element::Type,
        Element::Format,
        Element::Identifier,
        Element::Source,
        Element::Language,
        Element::Relation,
        Element::Coverage,
        Element::Rights,
    ];

    /// The element's local name as DCMI spells it (`title`).
    pub fn name(self) -> &'static str {
        TERMS[self as usize].local
    }

    /// The `dc.` term for this element.
    pub fn term(self) -> Term {
        // The first 15 rows of TERMS are the DCMES elements in declaration order.
        Term(self as u8)
    }
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

struct TermDef {
    ns: Namespace,
    local: &'static str,
    /// The dotted name, kept precomputed so `Term::name` can hand out a `&'static str`.
    full: &'static str,
    parent: Option<Element>,
}

macro_rules! dc {
    ($local:literal, $el:ident) => {
        TermDef {
            ns: Namespace::Dc,
            local: $local,
            full: concat!("dc.", $local),
            parent: Some(Element::$el),
        }
    };
}

macro_rules! dcterms {
    ($local:literal, None) => {
        TermDef {
            ns: Namespace::Dcterms,
            local: $local,
            full: concat!("dcterms.", $local),
            parent: None,
        }
    };
    ($local:literal, $el:ident) => {
        TermDef {
            ns: Namespace::Dcterms,
            local: $local,
            full: concat!("dcterms.", $local),
            parent: Some(Element::$el),
        }
    };
}

/// Every term Cairn knows. The first 15 rows must stay in [`Element`] order
/// (`Element::term` indexes by discriminant). The dcterms rows are the complete list of
/// properties in the `http://purl.org/dc/terms/` namespace (DCMI Metadata Terms,
/// 2020-01-20), alphabetical as DCMI lists them.
///
/// The parent is the DCMES element a value "dumbs down" to when only the 15 elements
/// can be written (oai_dc). It follows DCMI's `rdfs:subPropertyOf` declarations, with
/// one deliberate addition: `rightsHolder`, which DCMI declares no super-property for,
/// maps to `rights`, because a rights statement that drops the holder's name loses the
/// one fact a reader of oai_dc most needs. Properties about audience, accrual,
/// instructional method and provenance have no honest DCMES parent, so they are kept
/// only in dc.json.
static TERMS: [TermDef; 70] = [
    dc!("title", Title),
    dc!("creator", Creator),
    dc!("subject", Subject),
    dc!("description", Description),
    dc!("publisher", Publisher),
    dc!("contributor", Contributor),
    dc!("date", Date),
    dc!("type", Type),
    dc!("format", Format),
    dc!("identifier", Identifier),
    dc!("source", Source),
    dc!("language", Language),
    dc!("relation", Relation),
    dc!("coverage", Coverage),
    dc!("rights", Rights),
    dcterms!("abstract", Description),
    dcterms!("accessRights", Rights),
    dcterms!("accrualMethod", None),
    dcterms!("accrualPeriodicity", None),
    dcterms!("accrualPolicy", None),
    dcterms!("alternative", Title),
    dcterms!("audience", None),
    dcterms!("available", Date),
    dcterms!("bibliographicCitation", Identifier),
    dcterms!("conformsTo", Relation),
    dcterms!("contributor", Contributor),
    dcterms!("coverage", Coverage),
    dcterms!("created", Date),
    dcterms!("creator", Creator),
    dcterms!("date", Date),
    dcterms!("dateAccepted", Date),
    dcterms!("dateCopyrighted", Date),
    dcterms!("dateSubmitted", Date),
    dcterms!("description", Description),
    dcterms!("educationLevel", None),
    dcterms!("extent", Format),
    dcterms!("format", Format),
    dcterms!("hasFormat", Relation),
    dcterms!("hasPart", Relation),
    dcterms!("hasVersion", Relation),
    dcterms!("identifier", Identifier),
    dcterms!("instructionalMethod", None),
    dcterms!("isFormatOf", Relation),
    dcterms!("isPartOf", Relation),
    dcterms!("isReferencedBy", Relation),
    dcterms!("isReplacedBy", Relation),
    dcterms!("isRequiredBy", Relation),
    dcterms!("issued", Date),
    dcterms!("isVersionOf", Relation),
    dcterms!("language", Language),
    dcterms!("license", Rights),
    dcterms!("mediator", None),
    dcterms!("medium", Format),
    dcterms!("modified", Date),
    dcterms!("provenance", None),
    dcterms!("publisher", Publisher),
    dcterms!("references", Relation),
    dcterms!("relation", Relation),
    dcterms!("replaces", Relation),
    dcterms!("requires", Relation),
    dcterms!("rights", Rights),
    dcterms!("rightsHolder", Rights),
    dcterms!("source", Source),
    dcterms!("spatial", Coverage),
    dcterms!("subject", Subject),
    dcterms!("tableOfContents", Description),
    dcterms!("temporal", Coverage),
    dcterms!("title", Title),
    dcterms!("type", Type),
    dcterms!("valid", Date),
];

/// The row of TERMS with this exact name, found at compile time so the named constants
/// below cannot drift from the table (a typo fails the build).
const fn index_of(full: &str) -> u8 {
    let mut i = 0;
    while i < TERMS.len() {
        let a = TERMS[i].full.as_bytes();
        let b = full.as_bytes();
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i as u8;
            }
        }
        i += 1;
    }
    panic!("no such term in TERMS")
}

/// A validated metadata term such as `dc.title` or `dcterms.spatial`.
///
/// Holding one means the name is in the DCMES or DCMI Metadata Terms vocabulary; the only
/// ways to get one are [`Term::parse`], [`Element::term`] and [`Term::all`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Term(u8);

impl Term {
    pub const DC_TITLE: Term = Term(Element::Title as u8);
    pub const DC_DATE: Term = Term(Element::Date as u8);
    pub const DC_TYPE: Term = Term(Element::Type as u8);
    pub const DC_LANGUAGE: Term = Term(Element::Language as u8);
    pub const DC_IDENTIFIER: Term = Term(Element::Identifier as u8);
    pub const DCTERMS_TITLE: Term = Term(index_of("dcterms.title"));
    pub const DCTERMS_IDENTIFIER: Term = Term(index_of("dcterms.identifier"));

    /// Parses a term name. Matching ignores ASCII case, so `DC.Title` is accepted and
    /// becomes `dc.title`: spreadsheets are typed by people, and the canonical spelling is
    /// restored on output. The separator must be a dot (the Archivematica convention);
    /// anything else is unknown, with the nearest valid name as a suggestion.
    pub fn parse(name: &str) -> Result<Term, UnknownTerm> {
        TERMS
            .iter()
            .position(|t| t.full.eq_ignore_ascii_case(name))
            // TERMS has 70 rows, so the index always fits in a u8.
            .map(|i| Term(i as u8))
            .ok_or_else(|| UnknownTerm {
                name: name.to_string(),
                suggestion: suggest_term(name),
            })
    }

    /// Every known term: the 15 `dc.` elements in DCMES order, then the `dcterms.`
    /// properties alphabetically.
    pub fn all() -> impl Iterator<Item = Term> {
        (0..TERMS.len()).map(|i| Term(i as u8))
    }

    fn def(self) -> &'static TermDef {
        &TERMS[self.0 as usize]
    }

    /// The canonical dotted name, e.g. `dcterms.isPartOf`.
    pub fn name(self) -> &'static str {
        self.def().full
    }

    /// The name without its namespace prefix, e.g. `isPartOf`.
    pub fn local_name(self) -> &'static str {
        self.def().local
    }

    pub fn namespace(self) -> Namespace {
        self.def().ns
    }

    /// The DCMES element this term is written as in oai_dc, or `None` for terms that have
    /// no DCMES equivalent and live only in dc.json.
    pub fn dumb_down(self) -> Option<Element> {
        self.def().parent
    }

    /// The full URI of the term, e.g. `http://purl.org/dc/terms/spatial`.
    pub fn uri(self) -> String {
        format!("{}{}", self.namespace().uri(), self.local_name())
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Term({})", self.name())
    }
}

impl FromStr for Term {
    type Err = UnknownTerm;
    fn from_str(s: &str) -> Result<Term, UnknownTerm> {
        Term::parse(s)
    }
}

/// A term name that is in neither vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown metadata term \"{name}\"{}", match suggestion {
    Some(s) => format!("; did you mean {s}?"),
    None => "; expected dc.ELEMENT (the 15 DCMES elements) or dcterms.PROPERTY (DCMI Metadata Terms)".to_string(),
})]
pub struct UnknownTerm {
    /// The name as given.
    pub name: String,
    /// The nearest valid name, when one is close enough to be a plausible typo.
    pub suggestion: Option<&'static str>,
}

/// Finds the term an unknown name most plausibly meant.
///
/// Three cases cover nearly every real mistake: the right local name with a missing or
/// wrong prefix (`title`, `dc.spatial`, `dc:title`), and a misspelling (`dc.titel`). The
/// first is decided exactly, preferring `dc.` because that is what oai_dc carries.
fn suggest_term(name: &str) -> Option<&'static str> {
    let lower = name.trim().to_ascii_lowercase();
    let local = lower
        .rsplit(['.', ':'])
        .next()
        .unwrap_or(lower.as_str())
        .trim();
    if let Some(t) = TERMS.iter().find(|t| t.local.eq_ignore_ascii_case(local)) {
        return Some(t.full);
    }
    // No term is within 3 edits of a name much longer than every term: skip the
    // quadratic distance, which a hostile sheet with megabyte headers would make slow.
    let longest = TERMS.iter().map(|t| t.full.len()).max().unwrap_or(0);
    if lower.len() > longest + 3 {
        return None;
    }
    let (best, distance) = TERMS
        .iter()
        .map(|t| {
            let d = strsim::damerau_levenshtein(&lower, &t.full.to_ascii_lowercase());
            (t.full, d)
        })
        .min_by_key(|&(_, d)| d)?;
    // Beyond a few edits the "nearest" name is a guess, and a wrong guess misleads more
    // than no guess.
    (distance <= 3 && distance * 3 <= lower.chars().count()).then_some(best)
}

/// A Dublin Core record: an ordered list of (term, value) pairs. Terms repeat (two
/// subjects are two entries), and order is kept because archivists often mean it (the
/// first creator is the principal one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DublinCore {
    pub entries: Vec<(Term, String)>,
}

impl DublinCore {
    pub fn new() -> DublinCore {
        DublinCore::default()
    }

    pub fn push(&mut self, term: Term, value: impl Into<String>) {
        self.entries.push((term, value.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// All values of one term, in order.
    pub fn values(&self, term: Term) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(t, _)| *t == term)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn first(&self, term: Term) -> Option<&str> {
        self.entries
            .iter()
            .find(|(t, _)| *t == term)
            .map(|(_, v)| v.as_str())
    }

    pub fn contains(&self, term: Term) -> bool {
        self.entries.iter().any(|(t, _)| *t == term)
    }

    /// The distinct terms present, in order of first appearance.
    pub fn terms(&self) -> Vec<Term> {
        let mut seen = Vec::new();
        for (t, _) in &self.entries {
            if !seen.contains(t) {
                seen.push(*t);
            }
        }
        seen
    }

    /// The title: the first non-blank `dc.title`, else the first non-blank
    /// `dcterms.title` (which oai_dc writes as `dc:title` anyway).
    pub fn title(&self) -> Option<&str> {
        [Term::DC_TITLE, Term::DCTERMS_TITLE]
            .into_iter()
            .find_map(|term| {
                self.entries
                    .iter()
                    .find(|(t, v)| *t == term && !v.trim().is_empty())
                    .map(|(_, v)| v.as_str())
            })
    }

    /// Every identifier, `dc.identifier` and `dcterms.identifier`, in record order.
    pub fn identifiers(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(t, _)| *t == Term::DC_IDENTIFIER || *t == Term::DCTERMS_IDENTIFIER)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Field-by-field override: for every term present in `other`, all of this record's
    /// values for that term are replaced by `other`'s; other terms are untouched.
    ///
    /// Used so that an item's sidecar wins over its batch-sheet row. Replacing whole terms
    /// (rather than adding values) is what an archivist correcting one field expects: a
    /// sidecar `dc.date` fixes the date; it does not give the item two dates. The replaced
    /// values take the place of the first value they replace, so the sheet's column order
    /// survives; terms new to this record are appended in `other`'s order.
    pub fn overlay(&mut self, other: &DublinCore) {
        let overridden = other.terms();
        let mut merged = Vec::with_capacity(self.entries.len() + other.entries.len());
        let mut placed: Vec<Term> = Vec::new();
        for (term, value) in self.entries.drain(..) {
            if !overridden.contains(&term) {
                merged.push((term, value));
            } else if !placed.contains(&term) {
                placed.push(term);
                merged.extend(other.entries.iter().filter(|(t, _)| *t == term).cloned());
            }
        }
        merged.extend(
            other
                .entries
                .iter()
                .filter(|(t, _)| !placed.contains(t))
                .cloned(),
        );
        self.entries = merged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str) -> Term {
        Term::parse(name).expect("known term")
    }

    #[test]
    fn vocabulary_sizes_and_order() {
        assert_eq!(Term::all().count(), 70);
        assert_eq!(
            Term::all()
                .filter(|t| t.namespace() == Namespace::Dcterms)
                .count(),
            55
        );
        for (i, el) in Element::ALL.iter().enumerate() {
            assert_eq!(el.term().name(), format!("dc.{}", el.name()));
            assert_eq!(el.term().dumb_down(), Some(*el));
            assert_eq!(*el as usize, i);
        }
        // Names are unique even ignoring case, which parse relies on.
        let mut lower: Vec<String> = TERMS.iter().map(|t| t.full.to_lowercase()).collect();
        lower.sort();
        lower.dedup();
        assert_eq!(lower.len(), 70);
    }

    #[test]
    fn parse_normalises_case() {
        assert_eq!(t("DC.Title"), Term::DC_TITLE);
        assert_eq!(t("dc.title").name(), "dc.title");
        assert_eq!(t("DCTERMS.ISPARTOF").name(), "dcterms.isPartOf");
        assert_eq!(t("dcterms.spatial").local_name(), "spatial");
        assert_eq!(t("dcterms.spatial").to_string(), "dcterms.spatial");
        assert_eq!(
            t("dcterms.rightsHolder").uri(),
            "http://purl.org/dc/terms/rightsHolder"
        );
        assert_eq!("dc.subject".parse::<Term>(), Ok(t("dc.subject")));
    }

    #[test]
    fn unknown_terms_suggest_the_nearest() {
        let e = Term::parse("dc.titel").unwrap_err();
        assert_eq!(e.suggestion, Some("dc.title"));
        assert!(e.to_string().contains("did you mean dc.title?"), "{e}");
        assert_eq!(
            Term::parse("title").unwrap_err().suggestion,
            Some("dc.title")
        );
        assert_eq!(
            Term::parse("dc.spatial").unwrap_err().suggestion,
            Some("dcterms.spatial")
        );
        assert_eq!(
            Term::parse("dc:title").unwrap_err().suggestion,
            Some("dc.title")
        );
        assert_eq!(
            Term::parse("dcterms.isPartof ").unwrap_err().suggestion,
            Some("dcterms.isPartOf")
        );
        assert_eq!(
            Term::parse("dc.descripton").unwrap_err().suggestion,
            Some("dc.description")
        );
        let far = Term::parse("shelfmark").unwrap_err();
        assert_eq!(far.suggestion, None);
        assert!(far.to_string().contains("dcterms.PROPERTY"), "{far}");
        assert!(Term::parse("").is_err());
        assert!(Term::parse("dc.").is_err());
    }

    #[test]
    fn dumb_down_follows_dcmi() {
        let cases = [
            ("dcterms.spatial", Some(Element::Coverage)),
            ("dcterms.temporal", Some(Element::Coverage)),
            ("dcterms.created", Some(Element::Date)),
            ("dcterms.dateCopyrighted", Some(Element::Date)),
            ("dcterms.valid", Some(Element::Date)),
            ("dcterms.extent", Some(Element::Format)),
            ("dcterms.medium", Some(Element::Format)),
            ("dcterms.isPartOf", Some(Element::Relation)),
            ("dcterms.conformsTo", Some(Element::Relation)),
            ("dcterms.abstract", Some(Element::Description)),
            ("dcterms.tableOfContents", Some(Element::Description)),
            ("dcterms.alternative", Some(Element::Title)),
            ("dcterms.license", Some(Element::Rights)),
            ("dcterms.rightsHolder", Some(Element::Rights)),
            ("dcterms.bibliographicCitation", Some(Element::Identifier)),
            ("dcterms.title", Some(Element::Title)),
            ("dcterms.audience", None),
            ("dcterms.educationLevel", None),
            ("dcterms.mediator", None),
            ("dcterms.provenance", None),
            ("dcterms.accrualPolicy", None),
            ("dcterms.instructionalMethod", None),
        ];
        for (name, parent) in cases {
            assert_eq!(t(name).dumb_down(), parent, "{name}");
        }
        // Every same-named dcterms property maps to its own element.
        for el in Element::ALL {
            assert_eq!(t(&format!("dcterms.{}", el.name())).dumb_down(), Some(el));
        }
    }

    #[test]
    fn record_accessors() {
        let mut r = DublinCore::new();
        assert_eq!(r.title(), None);
        r.push(t("dcterms.title"), "Alt title");
        assert_eq!(r.title(), Some("Alt title"));
        r.push(Term::DC_TITLE, "Main");
        r.push(t("dc.subject"), "a");
        r.push(t("dc.subject"), "b");
        r.push(Term::DC_IDENTIFIER, "id-1");
        r.push(t("dcterms.identifier"), "id-2");
        assert_eq!(r.title(), Some("Main"));
        assert_eq!(r.values(t("dc.subject")), ["a", "b"]);
        assert_eq!(r.first(t("dc.subject")), Some("a"));
        assert_eq!(r.first(t("dc.rights")), None);
        assert_eq!(r.identifiers(), ["id-1", "id-2"]);
        assert_eq!(r.len(), 6);
        assert_eq!(
            r.terms(),
            [
                t("dcterms.title"),
                Term::DC_TITLE,
                t("dc.subject"),
                Term::DC_IDENTIFIER,
                t("dcterms.identifier")
            ]
        );
    }

    #[test]
    fn overlay_replaces_whole_terms_in_place() {
        let mut sheet = DublinCore::new();
        sheet.push(Term::DC_TITLE, "From sheet");
        sheet.push(t("dc.subject"), "s1");
        sheet.push(Term::DC_DATE, "1977");
        sheet.push(t("dc.subject"), "s2");
        sheet.push(t("dc.rights"), "CC0");

        let mut sidecar = DublinCore::new();
        sidecar.push(t("dcterms.spatial"), "Phnom Penh");
        sidecar.push(t("dc.subject"), "only");
        sidecar.push(Term::DC_DATE, "1978");

        sheet.overlay(&sidecar);
        let got: Vec<(&str, &str)> = sheet
            .entries
            .iter()
            .map(|(t, v)| (t.name(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("dc.title", "From sheet"),
                ("dc.subject", "only"),
                ("dc.date", "1978"),
                ("dc.rights", "CC0"),
                ("dcterms.spatial", "Phnom Penh"),
            ]
        );

        // Overlaying an empty record changes nothing; overlaying onto an empty one copies.
        let before = sheet.clone();
        sheet.overlay(&DublinCore::new());
        assert_eq!(sheet, before);
        let mut empty = DublinCore::new();
        empty.overlay(&sidecar);
        assert_eq!(empty, sidecar);
    }
}
