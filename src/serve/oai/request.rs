//! An OAI-PMH request's arguments checked against its verb (§3.1, §4): which are
//! required, allowed or exclusive, repeats refused, dates and setSpecs well-formed.

use chrono::{NaiveDate, NaiveDateTime};

use super::{err, is_xml_char, Code, OaiError, VERBS};

/// A request whose arguments are legal for its verb and well-formed.
pub(super) struct Request<'a> {
    pub(super) verb: &'a str,
    pub(super) identifier: Option<&'a str>,
    pub(super) prefix: Option<&'a str>,
    pub(super) from: Option<Bound>,
    pub(super) until: Option<Bound>,
    pub(super) set: Option<&'a str>,
    pub(super) token: Option<&'a str>,
}

#[derive(Clone, Copy)]
pub(super) struct Bound {
    pub(super) seconds: i64,
    pub(super) day: bool,
}

pub(super) fn checked_request(args: &[(String, String)]) -> Result<Request<'_>, OaiError> {
    let verbs: Vec<&str> = args
        .iter()
        .filter(|(k, _)| k == "verb")
        .map(|(_, v)| v.as_str())
        .collect();
    let verb = match verbs.as_slice() {
        [] => return err(Code::BadVerb, "the verb argument is missing"),
        [v] if VERBS.contains(v) => *v,
        [_] => return err(Code::BadVerb, "not an OAI-PMH verb"),
        _ => return err(Code::BadVerb, "the verb argument is repeated"),
    };
    let (required, optional, exclusive): (&[&str], &[&str], Option<&str>) = match verb {
        "Identify" => (&[], &[], None),
        "ListMetadataFormats" => (&[], &["identifier"], None),
        "ListSets" => (&[], &[], Some("resumptionToken")),
        "GetRecord" => (&["identifier", "metadataPrefix"], &[], None),
        _ => (
            &["metadataPrefix"],
            &["from", "until", "set"],
            Some("resumptionToken"),
        ),
    };
    for (i, (k, _)) in args.iter().enumerate() {
        if k == "verb" {
            continue;
        }
        if !required.contains(&k.as_str())
            && !optional.contains(&k.as_str())
            && exclusive != Some(k.as_str())
        {
            return err(
                Code::BadArgument,
                format!("{verb} takes no argument {}", short(k)),
            );
        }
        if args[..i].iter().any(|(k2, _)| k2 == k) {
            return err(Code::BadArgument, format!("the argument {k} is repeated"));
        }
    }
    let get = |name: &str| {
        args.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let token = exclusive.and_then(get);
    if token.is_some() {
        if args.len() > 2 {
            return err(
                Code::BadArgument,
                "resumptionToken is an exclusive argument: send it with the verb alone",
            );
        }
    } else {
        for r in required {
            if get(r).is_none() {
                return err(Code::BadArgument, format!("{verb} needs the argument {r}"));
            }
        }
    }
    for (k, v) in args {
        if !v.chars().all(is_xml_char) {
            return err(
                Code::BadArgument,
                format!("the value of {k} holds characters XML cannot carry"),
            );
        }
    }
    if let Some(p) = get("metadataPrefix") {
        if p.is_empty() || !p.chars().all(is_spec_char) {
            return err(Code::BadArgument, "metadataPrefix has an illegal syntax");
        }
    }
    if let Some(id) = get("identifier") {
        if id.is_empty()
            || id.len() > 2048
            || !id
                .chars()
                .all(|c| c.is_ascii_graphic() && !"<>\"{}|\\^`".contains(c))
        {
            return err(Code::BadArgument, "identifier is not a URI");
        }
    }
    if let Some(s) = get("set") {
        if !is_set_spec(s) {
            return err(Code::BadArgument, "set has an illegal syntax");
        }
    }
    let from = get("from")
        .map(|v| parse_bound(v, false))
        .transpose()
        .map_err(|m| OaiError(Code::BadArgument, format!("from: {m}")))?;
    let until = get("until")
        .map(|v| parse_bound(v, true))
        .transpose()
        .map_err(|m| OaiError(Code::BadArgument, format!("until: {m}")))?;
    if let (Some(f), Some(u)) = (from, until) {
        if f.day != u.day {
            return err(
                Code::BadArgument,
                "from and until must have the same granularity",
            );
        }
        if f.seconds > u.seconds {
            return err(Code::BadArgument, "from is later than until");
        }
    }
    Ok(Request {
        verb,
        identifier: get("identifier"),
        prefix: get("metadataPrefix"),
        from,
        until,
        set: get("set"),
        token,
    })
}

/// An argument name as quoted in a message: at most 64 characters.
pub(super) fn short(s: &str) -> String {
    let cut: String = s.chars().take(64).collect();
    if cut.len() < s.len() {
        format!("\"{cut}…\"")
    } else {
        format!("\"{cut}\"")
    }
}

/// `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ssZ`; an `until` day ends at 23:59:59.
pub(super) fn parse_bound(v: &str, until: bool) -> Result<Bound, String> {
    if v.len() == 10 {
        let d = NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map_err(|_| "not a date (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)".to_string())?;
        let t = if until {
            d.and_hms_opt(23, 59, 59)
        } else {
            d.and_hms_opt(0, 0, 0)
        };
        let t = t.ok_or("not a date")?;
        return Ok(Bound {
            seconds: t.and_utc().timestamp(),
            day: true,
        });
    }
    if v.len() == 20 && v.ends_with('Z') && v.as_bytes()[10] == b'T' {
        let t = NaiveDateTime::parse_from_str(&v[..19], "%Y-%m-%dT%H:%M:%S")
            .map_err(|_| "not a UTC date and time (YYYY-MM-DDThh:mm:ssZ)".to_string())?;
        return Ok(Bound {
            seconds: t.and_utc().timestamp(),
            day: false,
        });
    }
    Err("use YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (this repository's granularity is seconds)".into())
}

pub(super) fn is_spec_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()".contains(c)
}

/// The schema's setSpecType: `([A-Za-z0-9\-_\.!~\*'\(\)])+(:[A-Za-z0-9\-_\.!~\*'\(\)]+)*`.
pub(super) fn is_set_spec(s: &str) -> bool {
    !s.is_empty()
        && s.split(':')
            .all(|part| !part.is_empty() && part.chars().all(is_spec_char))
}
