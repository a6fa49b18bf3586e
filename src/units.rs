//! Sizes and durations as people write them on a command line or in cairn.toml.
//!
//! Pure.

use std::time::Duration;

/// Parses a size: a number with an optional unit K, M, G, T (powers of 1024; `KiB`,
/// `MB`… spellings accepted).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("\"{s}\" is not a size such as 500M or 2G"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("\"{s}\": unknown unit (use K, M, G or T)")),
    };
    Ok((value * mult as f64) as u64)
}

/// Parses a duration such as `90s`, `30m`, `2h`, `1h30m`, `1d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let mut total = 0u64;
    let mut num = String::new();
    let mut any = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("\"{s}\" is not a duration such as 90s, 30m, 2h or 1h30m"))?;
        num.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(format!("\"{s}\": unknown unit \"{c}\" (use s, m, h or d)")),
        };
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(format!(
            "\"{s}\" is not a duration such as 90s, 30m, 2h or 1h30m"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// `n` with its noun in the right number: "1 file", "2 files", "0 files".
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("500").unwrap(), 500);
        assert_eq!(parse_size("2K").unwrap(), 2048);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("3w").is_err());
    }
}
