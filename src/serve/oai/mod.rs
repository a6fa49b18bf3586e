//! OAI-PMH 2.0 (<http://www.openarchives.org/OAI/openarchivesprotocol.html>): the six
//! verbs over a [`Snapshot`], answered as XML text. Pure: the caller hands in the
//! request's arguments (from the query string or the form body), the snapshot and the
//! time, and sends back the text.
//!
//! - Records are `oai_dc`, the `<oai_dc:dc>` element of each bag's metadata/dc.xml
//!   byte for byte; identifiers `oai:{repository_identifier}:{ID}`; datestamps are the
//!   archiving time, seconds granularity, UTC.
//! - Errors are answered inside a normal response (HTTP 200), with the codes of §3.6;
//!   after badVerb and badArgument the `request` element carries no attributes (§3.2).
//! - Lists are in (datestamp, identifier) order and paged with resumption tokens
//!   ([`super::token`]).
//! - A request's arguments are checked against its verb in `request.rs`.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::snapshot::{Item, Snapshot, Tombstone};
use super::token::{Resume, TokenKey, MAX_TOKEN_LEN};
use crate::config::ServeSection;

mod request;

use request::{checked_request, Request};

pub const OAI_DC_PREFIX: &str = "oai_dc";
const OAI_DC_SCHEMA: &str = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd";
const OAI_DC_NS: &str = "http://www.openarchives.org/OAI/2.0/oai_dc/";

/// What a request is answered with.
pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub config: &'a ServeSection,
    /// The baseURL (…/oai).
    pub base_url: &'a str,
    pub key: &'a TokenKey,
    pub now: DateTime<Utc>,
}

/// An OAI-PMH error condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BadArgument,
    BadResumptionToken,
    BadVerb,
    CannotDisseminateFormat,
    IdDoesNotExist,
    NoRecordsMatch,
    NoSetHierarchy,
}

impl Code {
    pub fn name(self) -> &'static str {
        match self {
            Code::BadArgument => "badArgument",
            Code::BadResumptionToken => "badResumptionToken",
            Code::BadVerb => "badVerb",
            Code::CannotDisseminateFormat => "cannotDisseminateFormat",
            Code::IdDoesNotExist => "idDoesNotExist",
            Code::NoRecordsMatch => "noRecordsMatch",
            Code::NoSetHierarchy => "noSetHierarchy",
        }
    }
}

struct OaiError(Code, String);

fn err<T>(code: Code, msg: impl Into<String>) -> Result<T, OaiError> {
    Err(OaiError(code, msg.into()))
}

const VERBS: [&str; 6] = [
    "Identify",
    "ListMetadataFormats",
    "ListSets",
    "GetRecord",
    "ListIdentifiers",
    "ListRecords",
];

/// Answers one request. `args` are the decoded arguments in request order, repeats
/// included (a repeated argument is an error).
pub fn respond(ctx: &Context, args: &[(String, String)]) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<OAI-PMH xmlns=\"http://www.openarchives.org/OAI/2.0/\"",
        " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"",
        " xsi:schemaLocation=\"http://www.openarchives.org/OAI/2.0/",
        " http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd\">\n"
    ));
    let _ = writeln!(
        out,
        "<responseDate>{}</responseDate>",
        datestamp(ctx.now.timestamp())
    );
    match checked_request(args) {
        Err(OaiError(code, msg)) => {
            // §3.2: after badVerb or badArgument, the base URL only.
            let _ = writeln!(out, "<request>{}</request>", esc(ctx.base_url));
            push_error(&mut out, code, &msg);
        }
        Ok(req) => {
            out.push_str("<request");
            for (k, v) in args {
                let _ = write!(out, " {k}=\"{}\"", esc(v));
            }
            let _ = writeln!(out, ">{}</request>", esc(ctx.base_url));
            let mut body = String::new();
            match answer(ctx, &req, &mut body) {
                Ok(()) => out.push_str(&body),
                Err(OaiError(code, msg)) => push_error(&mut out, code, &msg),
            }
        }
    }
    out.push_str("</OAI-PMH>\n");
    out
}

fn push_error(out: &mut String, code: Code, msg: &str) {
    let _ = writeln!(out, "<error code=\"{}\">{}</error>", code.name(), esc(msg));
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= '\u{20}' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Escapes text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Seconds since the epoch as an OAI-PMH datestamp, `YYYY-MM-DDThh:mm:ssZ`.
pub fn datestamp(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub fn oai_identifier(config: &ServeSection, id: &str) -> String {
    format!("oai:{}:{id}", config.repository_identifier)
}

fn answer(ctx: &Context, req: &Request, out: &mut String) -> Result<(), OaiError> {
    match req.verb {
        "Identify" => identify(ctx, out),
        "ListMetadataFormats" => list_formats(ctx, req, out),
        "ListSets" => list_sets(ctx, req, out),
        "GetRecord" => get_record(ctx, req, out),
        _ => list(ctx, req, out),
    }
}

fn identify(ctx: &Context, out: &mut String) -> Result<(), OaiError> {
    let snap = ctx.snapshot;
    let earliest = snap
        .items
        .first()
        .map(|i| i.datestamp)
        .into_iter()
        .chain(snap.tombstones.iter().map(|t| t.datestamp))
        .min()
        .unwrap_or(0);
    let _ = write!(
        out,
        "<Identify>\n<repositoryName>{}</repositoryName>\n<baseURL>{}</baseURL>\n<protocolVersion>2.0</protocolVersion>\n<adminEmail>{}</adminEmail>\n<earliestDatestamp>{}</earliestDatestamp>\n<deletedRecord>{}</deletedRecord>\n<granularity>YYYY-MM-DDThh:mm:ssZ</granularity>\n</Identify>\n",
        esc(&ctx.config.repository_name),
        esc(ctx.base_url),
        esc(&ctx.config.admin_email),
        datestamp(earliest),
        snap.deleted_record(),
    );
    Ok(())
}

/// The item an OAI identifier names, if this repository has it.
fn lookup<'a>(ctx: &'a Context, identifier: &str) -> Result<&'a Arc<Item>, OaiError> {
    let prefix = format!("oai:{}:", ctx.config.repository_identifier);
    identifier
        .strip_prefix(&prefix)
        .and_then(|id| ctx.snapshot.item(id))
        .ok_or_else(|| {
            OaiError(
                Code::IdDoesNotExist,
                format!(
                    "no item has this identifier here (identifiers are {prefix}ID; ListIdentifiers lists them)"
                ),
            )
        })
}

fn list_formats(ctx: &Context, req: &Request, out: &mut String) -> Result<(), OaiError> {
    if let Some(id) = req.identifier {
        lookup(ctx, id)?;
    }
    let _ = write!(
        out,
        "<ListMetadataFormats>\n<metadataFormat>\n<metadataPrefix>{OAI_DC_PREFIX}</metadataPrefix>\n<schema>{OAI_DC_SCHEMA}</schema>\n<metadataNamespace>{OAI_DC_NS}</metadataNamespace>\n</metadataFormat>\n</ListMetadataFormats>\n"
    );
    Ok(())
}

fn list_sets(ctx: &Context, req: &Request, out: &mut String) -> Result<(), OaiError> {
    if req.token.is_some() {
        return err(
            Code::BadResumptionToken,
            "ListSets is answered in one response; there is no token to resume",
        );
    }
    if ctx.snapshot.sets.is_empty() {
        return err(
            Code::NoSetHierarchy,
            "this repository has no sets: no item names a collection (dcterms.isPartOf)",
        );
    }
    out.push_str("<ListSets>\n");
    for s in ctx.snapshot.sets.iter() {
        let _ = writeln!(
            out,
            "<set><setSpec>{}</setSpec><setName>{}</setName></set>",
            esc(&s.spec),
            esc(&s.name)
        );
    }
    out.push_str("</ListSets>\n");
    Ok(())
}

fn check_prefix(prefix: &str) -> Result<(), OaiError> {
    if prefix != OAI_DC_PREFIX {
        return err(
            Code::CannotDisseminateFormat,
            format!("this repository disseminates {OAI_DC_PREFIX} only"),
        );
    }
    Ok(())
}

fn get_record(ctx: &Context, req: &Request, out: &mut String) -> Result<(), OaiError> {
    let identifier = req.identifier.unwrap_or_default();
    if let Some(t) = lookup_deleted(ctx, identifier) {
        check_prefix(req.prefix.unwrap_or_default())?;
        out.push_str("<GetRecord>\n<record>");
        push_deleted_header(ctx, t, out);
        out.push_str("</record>\n</GetRecord>\n");
        return Ok(());
    }
    let item = lookup(ctx, identifier)?;
    check_prefix(req.prefix.unwrap_or_default())?;
    out.push_str("<GetRecord>\n");
    push_record(ctx, item, out);
    out.push_str("</GetRecord>\n");
    Ok(())
}

/// The tombstone an OAI identifier names, if the item was withdrawn.
fn lookup_deleted<'a>(ctx: &'a Context, identifier: &str) -> Option<&'a Tombstone> {
    let prefix = format!("oai:{}:", ctx.config.repository_identifier);
    let id = identifier.strip_prefix(&prefix)?;
    ctx.snapshot.tombstones.iter().find(|t| t.id == id)
}

/// A deleted record's header (OAI-PMH 2.0 §2.5.1): `status="deleted"`, the time of
/// the withdrawal, the sets it was in; no metadata.
fn push_deleted_header(ctx: &Context, t: &Tombstone, out: &mut String) {
    let _ = write!(
        out,
        "<header status=\"deleted\"><identifier>{}</identifier><datestamp>{}</datestamp>",
        esc(&oai_identifier(ctx.config, &t.id)),
        datestamp(t.datestamp)
    );
    for s in &t.sets {
        let _ = write!(out, "<setSpec>{}</setSpec>", esc(s));
    }
    out.push_str("</header>");
}

fn push_header(ctx: &Context, item: &Item, out: &mut String) {
    let _ = write!(
        out,
        "<header><identifier>{}</identifier><datestamp>{}</datestamp>",
        esc(&oai_identifier(ctx.config, &item.id)),
        datestamp(item.datestamp)
    );
    for s in &item.sets {
        let _ = write!(out, "<setSpec>{}</setSpec>", esc(s));
    }
    out.push_str("</header>");
}

fn push_record(ctx: &Context, item: &Item, out: &mut String) {
    out.push_str("<record>");
    push_header(ctx, item, out);
    out.push_str("\n<metadata>\n");
    out.push_str(&item.oai_dc());
    out.push_str("\n</metadata></record>\n");
}

/// What a list request asks for: a metadata prefix, date bounds, a set, and where a
/// resumption token left off (a (datestamp, id) position).
struct ListArguments {
    prefix: String,
    from: Option<i64>,
    until: Option<i64>,
    set: Option<String>,
    after: Option<(i64, String)>,
}

/// The first stage of a list request (OAI-PMH 2.0 §3.5): its arguments, from the
/// resumption token when there is one (which carries them all), else from the request.
fn list_arguments(ctx: &Context, req: &Request) -> Result<ListArguments, OaiError> {
    Ok(match req.token {
        Some(t) => {
            let r = decode_token(ctx, t, req.verb)?;
            ListArguments {
                prefix: r.prefix,
                from: r.from,
                until: r.until,
                set: r.set,
                after: Some((r.after_datestamp, r.after_id)),
            }
        }
        None => ListArguments {
            prefix: req.prefix.unwrap_or_default().to_string(),
            from: req.from.map(|b| b.seconds),
            until: req.until.map(|b| b.seconds),
            set: req.set.map(str::to_string),
            after: None,
        },
    })
}

/// The last stage of a list response (OAI-PMH 2.0 §3.5): when records are left
/// (`more`), a token that resumes after the last one shown (`next.after`); when this
/// page was itself resumed and completes the list, an empty token; else none. `sizes`
/// is (completeListSize, cursor).
fn push_resumption(
    ctx: &Context,
    verb: &str,
    next: ListArguments,
    more: bool,
    resumed: bool,
    sizes: (usize, usize),
    out: &mut String,
) {
    let (complete, cursor) = sizes;
    if more {
        let (after_datestamp, after_id) = next.after.unwrap_or_default();
        let token = ctx.key.encode(&Resume {
            verb: verb.to_string(),
            prefix: next.prefix,
            from: next.from,
            until: next.until,
            set: next.set,
            after_datestamp,
            after_id,
        });
        let _ = writeln!(
            out,
            "<resumptionToken completeListSize=\"{complete}\" cursor=\"{cursor}\">{token}</resumptionToken>"
        );
    } else if resumed {
        let _ = writeln!(
            out,
            "<resumptionToken completeListSize=\"{complete}\" cursor=\"{cursor}\"/>"
        );
    }
}

fn list(ctx: &Context, req: &Request, out: &mut String) -> Result<(), OaiError> {
    let records = req.verb == "ListRecords";
    let ListArguments {
        prefix,
        from,
        until,
        set,
        after,
    } = list_arguments(ctx, req)?;
    check_prefix(&prefix)?;
    let snap = ctx.snapshot;
    if set.is_some() && snap.sets.is_empty() {
        return err(
            Code::NoSetHierarchy,
            "this repository has no sets: no item names a collection (dcterms.isPartOf)",
        );
    }
    // The list is every item, or one set's, in (datestamp, id) order: the date bounds
    // and the token's position are binary searches, so a page costs the same wherever
    // it is in a list of any length.
    let members: Option<&[u32]> = match &set {
        Some(s) => Some(snap.set_members.get(s).map_or(&[][..], |v| &v[..])),
        None => None,
    };
    let len_all = members.map_or(snap.items.len(), <[u32]>::len);
    let at = |i: usize| -> &Arc<Item> {
        match members {
            Some(m) => &snap.items[m[i] as usize],
            None => &snap.items[i],
        }
    };
    let lo = from.map_or(0, |f| bisect(len_all, |i| at(i).datestamp < f));
    let hi = until.map_or(len_all, |u| bisect(len_all, |i| at(i).datestamp <= u));
    let hi = hi.max(lo);
    let start = match &after {
        Some((d, id)) => bisect(len_all, |i| {
            let it = at(i);
            (it.datestamp, it.id.as_str()) <= (*d, id.as_str())
        })
        .clamp(lo, hi),
        None => lo,
    };
    // Deleted records (withdrawn items, fewer by far) are merged into the same
    // (datestamp, id) order, with the same bounds and the same token position.
    let deleted: Vec<&Tombstone> = snap
        .tombstones
        .iter()
        .filter(|t| set.as_ref().is_none_or(|s| t.sets.contains(s)))
        .collect();
    let t_lo = from.map_or(0, |f| bisect(deleted.len(), |i| deleted[i].datestamp < f));
    let t_hi = until
        .map_or(deleted.len(), |u| {
            bisect(deleted.len(), |i| deleted[i].datestamp <= u)
        })
        .max(t_lo);
    let t_start = match &after {
        Some((d, id)) => bisect(deleted.len(), |i| {
            (deleted[i].datestamp, deleted[i].id.as_str()) <= (*d, id.as_str())
        })
        .clamp(t_lo, t_hi),
        None => t_lo,
    };
    let complete = hi - lo + (t_hi - t_lo);
    if start >= hi && t_start >= t_hi {
        if req.token.is_some() && complete > 0 {
            return err(
                Code::BadResumptionToken,
                "the list this token continues has no records left",
            );
        }
        return err(Code::NoRecordsMatch, "no record matches these arguments");
    }
    let size = ctx.config.page_size as usize;
    let (mut i, mut t) = (start, t_start);
    let mut last: Option<(i64, String)> = None;
    out.push_str(if records {
        "<ListRecords>\n"
    } else {
        "<ListIdentifiers>\n"
    });
    for _ in 0..size {
        let item = (i < hi).then(|| at(i));
        let gone = (t < t_hi).then(|| deleted[t]);
        let take_deleted = match (item, gone) {
            (None, None) => break,
            (Some(it), Some(g)) => (g.datestamp, g.id.as_str()) < (it.datestamp, it.id.as_str()),
            (None, Some(_)) => true,
            (Some(_), None) => false,
        };
        if let (true, Some(g)) = (take_deleted, gone) {
            if records {
                out.push_str("<record>");
                push_deleted_header(ctx, g, out);
                out.push_str("</record>\n");
            } else {
                push_deleted_header(ctx, g, out);
                out.push('\n');
            }
            last = Some((g.datestamp, g.id.clone()));
            t += 1;
        } else if let Some(it) = item {
            if records {
                push_record(ctx, it, out);
            } else {
                push_header(ctx, it, out);
                out.push('\n');
            }
            last = Some((it.datestamp, it.id.clone()));
            i += 1;
        }
    }
    let cursor = start - lo + (t_start - t_lo);
    let next = ListArguments {
        prefix,
        from,
        until,
        set,
        after: last,
    };
    let more = i < hi || t < t_hi;
    push_resumption(
        ctx,
        req.verb,
        next,
        more,
        req.token.is_some(),
        (complete, cursor),
        out,
    );
    out.push_str(if records {
        "</ListRecords>\n"
    } else {
        "</ListIdentifiers>\n"
    });
    Ok(())
}

/// The first index in `0..len` where `pred` turns false (`pred` true, then false).
fn bisect(len: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

fn decode_token(ctx: &Context, token: &str, verb: &str) -> Result<Resume, OaiError> {
    if token.len() > MAX_TOKEN_LEN {
        return err(
            Code::BadResumptionToken,
            "the token is too long to be one of ours",
        );
    }
    match ctx.key.decode(token) {
        Some(r) if r.verb == verb => Ok(r),
        Some(_) => err(
            Code::BadResumptionToken,
            format!("this token continues another verb's list, not {verb}"),
        ),
        None => err(
            Code::BadResumptionToken,
            "not a token this server issued (or it was issued before a restart); start the list again without it",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::request::parse_bound;
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn code_of(pairs: &[(&str, &str)]) -> Option<Code> {
        checked_request(&args(pairs)).err().map(|e| e.0)
    }

    #[test]
    fn argument_rules() {
        assert_eq!(code_of(&[]), Some(Code::BadVerb));
        assert_eq!(code_of(&[("verb", "Foo")]), Some(Code::BadVerb));
        assert_eq!(
            code_of(&[("verb", "Identify"), ("verb", "Identify")]),
            Some(Code::BadVerb)
        );
        assert_eq!(code_of(&[("verb", "Identify")]), None);
        assert_eq!(
            code_of(&[("verb", "Identify"), ("set", "a")]),
            Some(Code::BadArgument)
        );
        assert_eq!(code_of(&[("verb", "ListRecords")]), Some(Code::BadArgument));
        assert_eq!(
            code_of(&[
                ("verb", "ListRecords"),
                ("metadataPrefix", "oai_dc"),
                ("metadataPrefix", "oai_dc")
            ]),
            Some(Code::BadArgument)
        );
        assert_eq!(
            code_of(&[
                ("verb", "ListRecords"),
                ("resumptionToken", "x"),
                ("metadataPrefix", "oai_dc")
            ]),
            Some(Code::BadArgument)
        );
        assert_eq!(
            code_of(&[
                ("verb", "ListRecords"),
                ("metadataPrefix", "oai_dc"),
                ("from", "2020-01-01"),
                ("until", "2020-01-02T00:00:00Z")
            ]),
            Some(Code::BadArgument)
        );
        assert_eq!(
            code_of(&[
                ("verb", "ListRecords"),
                ("metadataPrefix", "oai_dc"),
                ("from", "2020-01-01T00:00:00.5Z")
            ]),
            Some(Code::BadArgument)
        );
        assert_eq!(
            code_of(&[
                ("verb", "ListRecords"),
                ("metadataPrefix", "oai_dc"),
                ("from", "2020-01-02"),
                ("until", "2020-01-01")
            ]),
            Some(Code::BadArgument)
        );
        assert_eq!(
            code_of(&[
                ("verb", "ListIdentifiers"),
                ("metadataPrefix", "oai_dc"),
                ("from", "2020-01-01"),
                ("until", "2020-01-01")
            ]),
            None
        );
    }

    #[test]
    fn bounds() {
        let f = parse_bound("2020-01-01", false).ok().unwrap();
        let u = parse_bound("2020-01-01", true).ok().unwrap();
        assert_eq!(u.seconds - f.seconds, 86_399);
        assert!(parse_bound("2020-02-30", false).is_err());
        assert!(parse_bound("2020-01-01T00:00:00", false).is_err());
        assert_eq!(
            datestamp(
                parse_bound("2021-03-04T05:06:07Z", false)
                    .ok()
                    .unwrap()
                    .seconds
            ),
            "2021-03-04T05:06:07Z"
        );
    }
}
