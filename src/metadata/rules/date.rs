//! Dates: W3C-DTF (<https://www.w3.org/TR/NOTE-datetime>) and ISO 8601 intervals of
//! them, checked (never rewritten), with advice for the approximations archivists write.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// Advice for a date written as an approximation (`ca. 1978`, `c.1978`, `circa 1978`,
/// `about 1978`, `~1978`, `1978?`): W3C-DTF has no "about", so suggest the year, or a
/// range around it, with the uncertainty said in dc.description. Empty when the value
/// is not such an approximation.
pub(super) fn approximate_date_advice(value: &str) -> String {
    let lower = value.trim().to_lowercase();
    let rest = [
        "circa",
        "ca.",
        "ca",
        "c.",
        "about",
        "approx.",
        "approximately",
        "~",
    ]
    .iter()
    .find_map(|p| lower.strip_prefix(p))
    .map(str::trim)
    .or_else(|| lower.strip_suffix('?').map(str::trim));
    let Some(rest) = rest else {
        return String::new();
    };
    let digits: String = rest.chars().filter(|c| c.is_ascii_digit()).collect();
    let Some(year) = (digits.len() == 4 && rest.len() == 4)
        .then(|| digits.parse::<u32>().ok())
        .flatten()
    else {
        return "; an approximate date cannot be written this way: give the range it may \
                fall in (START/END), and say in dc.description that it is approximate"
            .to_string();
    };
    format!(
        "; an approximate date cannot be written this way: write the year ({year}) or a \
         range such as {}/{}, and say in dc.description that it is approximate",
        year - 1,
        year + 1
    )
}

pub(super) const DATE_FORMS: &str = "not a W3C-DTF date or date range (YYYY, YYYY-MM, YYYY-MM-DD, \
     or with time and zone; ranges START/END)";

/// A W3C-DTF value as the span of time it names: `1975` is all of 1975. Instants are in
/// UTC; dates without a time have no zone, and are compared as if they were UTC, which
/// is the best a date alone allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    start: NaiveDateTime,
    end: NaiveDateTime,
}

/// Checks one date value: a W3C-DTF date, or `START/END` where each side is one or `..`
/// (open), and the range does not end before it starts. Ok carries nothing: the value is
/// kept as written.
pub fn check_date(value: &str) -> Result<(), String> {
    match value.split_once('/') {
        None => parse_w3c_dtf(value).map(|_| ()),
        Some((start, end)) => {
            if start == ".." && end == ".." {
                return Err(format!("{DATE_FORMS}; a range needs at least one end"));
            }
            let side = |s: &str, which: &str| -> Result<Option<Span>, String> {
                if s == ".." {
                    Ok(None)
                } else {
                    parse_w3c_dtf(s)
                        .map(Some)
                        .map_err(|e| format!("the {which} of the range: {e}"))
                }
            };
            let from = side(start, "start")?;
            let to = side(end, "end")?;
            if let (Some(from), Some(to)) = (from, to) {
                // Overlapping spans are fine (`1975-04-17/1975`): only a range whose end
                // is wholly before its start is reversed.
                if to.end < from.start {
                    return Err(format!(
                        "the range ends ({end}) before it starts ({start}); write START/END"
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Parses a single W3C-DTF value into the span it covers, with precise reasons.
pub(super) fn parse_w3c_dtf(s: &str) -> Result<Span, String> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let generic = || DATE_FORMS.to_string();

    let year = digits(0..4).ok_or_else(generic)? as i32;
    if b.len() == 4 {
        let start = ymd(year, 1, 1).ok_or_else(generic)?;
        let end = ymd(year, 12, 31).ok_or_else(generic)?;
        return Ok(day_span(start, end));
    }
    if b.get(4) != Some(&b'-') {
        return Err(generic());
    }
    let month = digits(5..7).ok_or_else(generic)?;
    if b.len() > 7 && b.get(7) != Some(&b'-') {
        return Err(generic());
    }
    if !(1..=12).contains(&month) {
        return Err(format!("month {:02} does not exist (01 to 12)", month));
    }
    if b.len() == 7 {
        let start = ymd(year, month, 1).ok_or_else(generic)?;
        let end = last_day_of_month(year, month).ok_or_else(generic)?;
        return Ok(day_span(start, end));
    }
    let day = digits(8..10).ok_or_else(generic)?;
    let date = ymd(year, month, day).ok_or_else(|| {
        format!(
            "{year:04}-{month:02}-{day:02} is not a calendar date (that month has {} days)",
            last_day_of_month(year, month).map_or(0, |d| chrono::Datelike::day(&d))
        )
    })?;
    if b.len() == 10 {
        return Ok(day_span(date, date));
    }
    if b.get(10) != Some(&b'T') {
        return Err(generic());
    }
    // The time: hh:mm, then optionally :ss and .s (one or more digits), then the zone.
    let hour = digits(11..13).ok_or_else(generic)?;
    if b.get(13) != Some(&b':') {
        return Err(generic());
    }
    let minute = digits(14..16).ok_or_else(generic)?;
    let mut i = 16;
    let mut second = 0;
    let mut nanos = 0;
    if b.get(i) == Some(&b':') {
        second = digits(i + 1..i + 3).ok_or_else(generic)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            let frac_len = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if frac_len == 0 {
                return Err(generic());
            }
            // Nanosecond precision is plenty; further digits are checked but not used.
            let kept = &b[i + 1..i + 1 + frac_len.min(9)];
            let mut n: u32 = 0;
            for d in kept {
                n = n * 10 + u32::from(d - b'0');
            }
            nanos = n * 10u32.pow(9 - kept.len() as u32);
            i += 1 + frac_len;
        }
    }
    // W3C-DTF allows seconds 00–59 only: no leap second, and no 24:00.
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!("{} is not a time of day", &s[11..i]));
    }
    let offset_minutes: i64 = match &b[i..] {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), ..] if b.len() == i + 6 && b[i + 3] == b':' => {
            let h = digits(i + 1..i + 3).ok_or_else(generic)?;
            let m = digits(i + 4..i + 6).ok_or_else(generic)?;
            if h > 23 || m > 59 {
                return Err(format!("{} is not a time-zone offset", &s[i..]));
            }
            let total = i64::from(h * 60 + m);
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        [] => {
            return Err(format!(
                "{DATE_FORMS}; a time needs a zone (Z or +hh:mm or -hh:mm)"
            ))
        }
        _ => return Err(generic()),
    };
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).ok_or_else(generic)?;
    let utc = date
        .and_time(time)
        .checked_sub_signed(chrono::TimeDelta::minutes(offset_minutes))
        .ok_or_else(generic)?;
    Ok(Span {
        start: utc,
        end: utc,
    })
}

pub(super) fn ymd(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
}

pub(super) fn last_day_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    ymd(y, m, 1)?.pred_opt()
}

pub(super) fn day_span(first: NaiveDate, last: NaiveDate) -> Span {
    Span {
        start: first.and_time(NaiveTime::MIN),
        end: last.and_time(NaiveTime::MIN) + chrono::TimeDelta::days(1)
            - chrono::TimeDelta::nanoseconds(1),
    }
}
