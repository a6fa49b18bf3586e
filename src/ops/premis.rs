//! `show ID --premis`: an item as a PREMIS 3.0 XML document, for an auditor: one
//! `intellectualEntity`, a `file` object per payload file (size, fixity in every
//! recorded algorithm, format), every event of the item with its outcome and detail,
//! and the agents (Cairn with its version, the operators named in the events).
//!
//! Event types, hash functions, agent types and agent roles carry the Library of
//! Congress preservation vocabularies (id.loc.gov) as `authority`, `authorityURI` and
//! `valueURI` attributes where PREMIS allows them and a term exists; Cairn's own event
//! names map onto the vocabulary's labels (`export` is `exporting`). Pure: the report in,
//! the document out. Validated against the PREMIS 3.0 schema in tests/it/premis.rs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::fs::events::Event;
use crate::ops::show::ShowReport;
use crate::vocab::EventType;

const VOCAB: &str = "http://id.loc.gov/vocabulary/preservation";

/// The LoC event-type label and code for one of Cairn's event types.
fn event_type(kind: &str) -> (String, Option<&'static str>) {
    let code = match EventType::of(kind) {
        Some(EventType::Ingestion) => "ing",
        Some(EventType::FixityCheck) => "fix",
        Some(EventType::MessageDigestCalculation) => "mes",
        Some(EventType::Validation) => "val",
        Some(EventType::MetadataModification) => "mem",
        Some(EventType::Modification) => "mod",
        Some(EventType::Deaccession) => "dea",
        Some(EventType::Replication) => "rep",
        Some(EventType::Recovery) => "rec",
        // Logged as "export"; PREMIS's label is "exporting".
        Some(EventType::Exporting) => return ("exporting".into(), Some("exp")),
        Some(EventType::FormatIdentification) => "for",
        // Cairn's own type: no LoC code.
        Some(EventType::LogRepair) => return (kind.to_string(), None),
        None if kind == crate::vocab::DELETION => "del",
        None if kind == crate::vocab::QUARANTINE => "qua",
        None => return (kind.to_string(), None),
    };
    (kind.to_string(), Some(code))
}

/// The LoC cryptographic hash function code and label of an algorithm, when it has one.
fn hash_function(alg: &str) -> (String, Option<&'static str>) {
    match alg {
        "md5" => ("MD5".into(), Some("md5")),
        "sha1" => ("SHA-1".into(), Some("sha1")),
        "sha256" => ("SHA-256".into(), Some("sha256")),
        "sha384" => ("SHA-384".into(), Some("sha384")),
        "sha512" => ("SHA-512".into(), Some("sha512")),
        "blake3" => ("BLAKE3".into(), None),
        other => (other.to_uppercase(), None),
    }
}

/// Text for XML: escaped, and characters XML 1.0 cannot carry replaced by U+FFFD.
fn x(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A `stringPlusAuthority` element with the vocabulary's attributes when `code` is known.
fn authority(out: &mut String, element: &str, vocab: &str, label: &str, code: Option<&str>) {
    match code {
        Some(code) => {
            let _ = writeln!(
                out,
                "<premis:{element} authority=\"{vocab}\" authorityURI=\"{VOCAB}/{vocab}\" valueURI=\"{VOCAB}/{vocab}/{code}\">{}</premis:{element}>",
                x(label)
            );
        }
        None => {
            let _ = writeln!(out, "<premis:{element}>{}</premis:{element}>", x(label));
        }
    }
}

fn identifier(out: &mut String, element: &str, kind: &str, value: &str) {
    let _ = writeln!(
        out,
        "<premis:{element}><premis:{element}Type>{}</premis:{element}Type><premis:{element}Value>{}</premis:{element}Value></premis:{element}>",
        x(kind),
        x(value)
    );
}

/// The operator an event names (its data's `operator`), if any.
fn operator(e: &Event) -> Option<&str> {
    e.data
        .get("operator")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

/// Renders the item as a PREMIS 3.0 document: the PREMIS order of its parts, objects
/// (the intellectual entity, then one file object per payload file), events, agents.
pub fn render(report: &ShowReport) -> String {
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<premis:premis xmlns:premis=\"http://www.loc.gov/premis/v3\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://www.loc.gov/premis/v3 https://www.loc.gov/standards/premis/premis.xsd\" version=\"3.0\">\n");
    render_entity(&mut out, report);
    for f in &report.entry.files {
        render_file(&mut out, &report.entry, f);
    }
    let agents = render_events(&mut out, report);
    render_agents(&mut out, report, agents);
    out.push_str("</premis:premis>\n");
    out
}

/// The intellectual entity: the item, its identifiers, its status when withdrawn, its
/// intake name, the files it includes and the events that concern it.
fn render_entity(out: &mut String, report: &ShowReport) {
    let entry = &report.entry;
    let id = entry.id.as_str();
    out.push_str("<premis:object xsi:type=\"premis:intellectualEntity\">\n");
    identifier(out, "objectIdentifier", "local", id);
    for v in entry
        .dublin_core
        .strings(crate::metadata::Term::DC_IDENTIFIER)
    {
        identifier(out, "objectIdentifier", "dc.identifier", v);
    }
    if let Some(t) = &report.withdrawn {
        let _ = writeln!(
            out,
            "<premis:significantProperties><premis:significantPropertiesType>status</premis:significantPropertiesType><premis:significantPropertiesValue>withdrawn {} ({}): {}</premis:significantPropertiesValue></premis:significantProperties>",
            x(&t.withdrawn),
            x(&t.disposition),
            x(&t.reason)
        );
    }
    let _ = writeln!(
        out,
        "<premis:originalName>{}</premis:originalName>",
        x(&entry.intake_name)
    );
    for f in &entry.files {
        let _ = writeln!(
            out,
            "<premis:relationship><premis:relationshipType>structural</premis:relationshipType><premis:relationshipSubType>includes</premis:relationshipSubType><premis:relatedObjectIdentifier><premis:relatedObjectIdentifierType>local</premis:relatedObjectIdentifierType><premis:relatedObjectIdentifierValue>{}</premis:relatedObjectIdentifierValue></premis:relatedObjectIdentifier></premis:relationship>",
            x(&format!("{id}/{}", f.path))
        );
    }
    for e in &report.events {
        identifier(out, "linkingEventIdentifier", "UUID", &e.id);
    }
    out.push_str("</premis:object>\n");
}

/// A file object for one payload file: identifier, fixity in every recorded
/// algorithm, size, format, original name, and the item that includes it.
fn render_file(
    out: &mut String,
    entry: &crate::fs::register::RegisterEntry,
    f: &crate::fs::register::FileRecord,
) {
    let id = entry.id.as_str();
    out.push_str("<premis:object xsi:type=\"premis:file\">\n");
    identifier(
        out,
        "objectIdentifier",
        "local",
        &format!("{id}/{}", f.path),
    );
    out.push_str(
        "<premis:objectCharacteristics>\n<premis:compositionLevel>0</premis:compositionLevel>\n",
    );
    for (alg, digest) in f.digests.iter() {
        out.push_str("<premis:fixity>\n");
        let (label, code) = hash_function(alg.name());
        authority(
            out,
            "messageDigestAlgorithm",
            "cryptographicHashFunctions",
            &label,
            code,
        );
        let _ = writeln!(
                out,
                "<premis:messageDigest>{}</premis:messageDigest>\n<premis:messageDigestOriginator>{}</premis:messageDigestOriginator>",
                digest.to_hex(),
                x(&entry.software)
            );
        out.push_str("</premis:fixity>\n");
    }
    let _ = writeln!(out, "<premis:size>{}</premis:size>", f.size);
    out.push_str("<premis:format>\n");
    let (name, version) = match &f.format {
        Some(fmt) if !fmt.name.is_empty() => (fmt.name.clone(), fmt.version.clone()),
        _ => (f.mime.clone(), String::new()),
    };
    let _ = write!(
        out,
        "<premis:formatDesignation><premis:formatName>{}</premis:formatName>",
        x(&name)
    );
    if !version.is_empty() {
        let _ = write!(
            out,
            "<premis:formatVersion>{}</premis:formatVersion>",
            x(&version)
        );
    }
    out.push_str("</premis:formatDesignation>\n");
    if let Some(puid) = f.format.as_ref().and_then(|fmt| fmt.puid.as_deref()) {
        let _ = writeln!(
                out,
                "<premis:formatRegistry><premis:formatRegistryName>PRONOM</premis:formatRegistryName><premis:formatRegistryKey>{}</premis:formatRegistryKey></premis:formatRegistry>",
                x(puid)
            );
    }
    let _ = writeln!(
        out,
        "<premis:formatNote>MIME type {}</premis:formatNote>",
        x(&f.mime)
    );
    out.push_str("</premis:format>\n</premis:objectCharacteristics>\n");
    let _ = writeln!(
        out,
        "<premis:originalName>{}</premis:originalName>",
        x(&f.path)
    );
    let _ = writeln!(
            out,
            "<premis:relationship><premis:relationshipType>structural</premis:relationshipType><premis:relationshipSubType>is included in</premis:relationshipSubType><premis:relatedObjectIdentifier><premis:relatedObjectIdentifierType>local</premis:relatedObjectIdentifierType><premis:relatedObjectIdentifierValue>{}</premis:relatedObjectIdentifierValue></premis:relatedObjectIdentifier></premis:relationship>",
            x(id)
        );
    out.push_str("</premis:object>\n");
}

/// The agents the events name: each version of Cairn that acted, and each operator,
/// to the identifiers of their events.
type Agents<'a> = (
    BTreeMap<&'a str, Vec<&'a str>>,
    BTreeMap<&'a str, Vec<&'a str>>,
);

/// Every event of the item, with the agents that acted in it; returns those agents.
fn render_events<'a>(out: &mut String, report: &'a ShowReport) -> Agents<'a> {
    let id = report.entry.id.as_str();
    let mut software: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut people: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in &report.events {
        out.push_str("<premis:event>\n");
        identifier(out, "eventIdentifier", "UUID", &e.id);
        let (label, code) = event_type(&e.event_type);
        authority(out, "eventType", "eventType", &label, code);
        let _ = writeln!(
            out,
            "<premis:eventDateTime>{}</premis:eventDateTime>",
            x(&e.time)
        );
        let _ = writeln!(
            out,
            "<premis:eventDetailInformation><premis:eventDetail>{}</premis:eventDetail></premis:eventDetailInformation>",
            x(&e.detail)
        );
        let _ = write!(
            out,
            "<premis:eventOutcomeInformation><premis:eventOutcome>{}</premis:eventOutcome>",
            x(&e.outcome)
        );
        if !e.data.is_null() {
            let _ = write!(
                out,
                "<premis:eventOutcomeDetail><premis:eventOutcomeDetailNote>{}</premis:eventOutcomeDetailNote></premis:eventOutcomeDetail>",
                x(&e.data.to_string())
            );
        }
        out.push_str("</premis:eventOutcomeInformation>\n");
        let _ = writeln!(
            out,
            "<premis:linkingAgentIdentifier><premis:linkingAgentIdentifierType>local</premis:linkingAgentIdentifierType><premis:linkingAgentIdentifierValue>{}</premis:linkingAgentIdentifierValue><premis:linkingAgentRole authority=\"eventRelatedAgentRole\" authorityURI=\"{VOCAB}/eventRelatedAgentRole\" valueURI=\"{VOCAB}/eventRelatedAgentRole/exe\">executing program</premis:linkingAgentRole></premis:linkingAgentIdentifier>",
            x(&e.agent)
        );
        software.entry(&e.agent).or_default().push(&e.id);
        if let Some(op) = operator(e) {
            let _ = writeln!(
                out,
                "<premis:linkingAgentIdentifier><premis:linkingAgentIdentifierType>operator</premis:linkingAgentIdentifierType><premis:linkingAgentIdentifierValue>{}</premis:linkingAgentIdentifierValue><premis:linkingAgentRole authority=\"eventRelatedAgentRole\" authorityURI=\"{VOCAB}/eventRelatedAgentRole\" valueURI=\"{VOCAB}/eventRelatedAgentRole/imp\">implementer</premis:linkingAgentRole></premis:linkingAgentIdentifier>",
                x(op)
            );
            people.entry(op).or_default().push(&e.id);
        }
        let _ = writeln!(
            out,
            "<premis:linkingObjectIdentifier><premis:linkingObjectIdentifierType>local</premis:linkingObjectIdentifierType><premis:linkingObjectIdentifierValue>{}</premis:linkingObjectIdentifierValue></premis:linkingObjectIdentifier>",
            x(id)
        );
        // An event about one file of the item (a `[qc]` validation): the file too.
        if let Some(file) = e.data.get("file").and_then(|f| f.as_str()) {
            let _ = writeln!(
                out,
                "<premis:linkingObjectIdentifier><premis:linkingObjectIdentifierType>local</premis:linkingObjectIdentifierType><premis:linkingObjectIdentifierValue>{}</premis:linkingObjectIdentifierValue></premis:linkingObjectIdentifier>",
                x(&format!("{id}/{file}"))
            );
        }
        out.push_str("</premis:event>\n");
    }
    (software, people)
}

/// The agents: each version of Cairn that acted (and the one that wrote the entry), and
/// each operator.
fn render_agents<'a>(out: &mut String, report: &'a ShowReport, agents: Agents<'a>) {
    let (mut software, people) = agents;
    software.entry(report.entry.software.as_str()).or_default();
    for (agent, events) in &software {
        out.push_str("<premis:agent>\n");
        identifier(out, "agentIdentifier", "local", agent);
        let (name, version) = agent.split_once(' ').unwrap_or((agent, ""));
        let _ = writeln!(out, "<premis:agentName>{}</premis:agentName>", x(name));
        authority(out, "agentType", "agentType", "software", Some("sof"));
        if !version.is_empty() {
            let _ = writeln!(
                out,
                "<premis:agentVersion>{}</premis:agentVersion>",
                x(version)
            );
        }
        for e in events {
            identifier(out, "linkingEventIdentifier", "UUID", e);
        }
        out.push_str("</premis:agent>\n");
    }
    for (person, events) in &people {
        out.push_str("<premis:agent>\n");
        identifier(out, "agentIdentifier", "operator", person);
        let _ = writeln!(out, "<premis:agentName>{}</premis:agentName>", x(person));
        authority(out, "agentType", "agentType", "person", Some("per"));
        for e in events {
            identifier(out, "linkingEventIdentifier", "UUID", e);
        }
        out.push_str("</premis:agent>\n");
    }
}
