//! DROID's byte-pattern syntax and a backtracking matcher for it.
//!
//! One parser reads both forms the signature files use: the compiled form of the DROID
//! signature file (hex bytes and `[xx:yy]` / `[!xx]` / `[&xx]` byte classes, with gaps
//! and alternatives expressed as fragments, see the `sigfile` module) and the
//! PRONOM/container form (`'text'`, `??`, `{n}`, `{n-m}`, `{n-*}`, `*`, `(a|b)`,
//! `['a'-'z']`). Pure: no I/O.
//!
//! Matching backtracks over gaps and alternatives, so a hostile pattern or input could
//! make it exponential; every match runs under a step budget ([`Budget`]) and gives up
//! (no match) when the budget is spent.

use std::fmt;

/// A set of byte values.
#[derive(Clone, PartialEq, Eq)]
pub struct ByteSet([u64; 4]);

impl ByteSet {
    pub fn empty() -> ByteSet {
        ByteSet([0; 4])
    }
    pub fn insert(&mut self, b: u8) {
        self.0[(b >> 6) as usize] |= 1 << (b & 63);
    }
    pub fn contains(&self, b: u8) -> bool {
        self.0[(b >> 6) as usize] & (1 << (b & 63)) != 0
    }
    fn from_fn(f: impl Fn(u8) -> bool) -> ByteSet {
        let mut s = ByteSet::empty();
        for b in 0..=255u8 {
            if f(b) {
                s.insert(b);
            }
        }
        s
    }
}

impl fmt::Debug for ByteSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = (0..=255u8).filter(|b| self.contains(*b)).count();
        write!(f, "ByteSet({n} values)")
    }
}

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// These bytes exactly.
    Lit(Vec<u8>),
    /// One byte from the set (`??` is the full set).
    Class(ByteSet),
    /// `n` bytes whose value lies in `lo..=hi` (both `n` bytes, most significant first),
    /// or outside it when `neg`. `le`: the bytes in the file are little-endian.
    /// `rev`: the pattern was reversed for matching from the end of the file.
    Range {
        lo: Vec<u8>,
        hi: Vec<u8>,
        neg: bool,
        le: bool,
        rev: bool,
    },
    /// `n` bytes that are not exactly these (`[!0000]`).
    NotSeq(Vec<u8>),
    /// Any `min..=max` bytes (`max` None: any number).
    Gap { min: usize, max: Option<usize> },
    /// One of several sequences.
    Alt(Vec<Vec<Tok>>),
}

/// Why a pattern could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte pattern {pattern:?}: {detail} at character {at}")]
pub struct PatternError {
    pub pattern: String,
    pub at: usize,
    pub detail: String,
}

/// Parses a pattern in DROID syntax. `little_endian` applies to multi-byte ranges.
pub fn parse(text: &str, little_endian: bool) -> Result<Vec<Tok>, PatternError> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        text,
        le: little_endian,
        depth: 0,
    };
    let toks = p.seq(false)?;
    if p.i < p.s.len() {
        return Err(p.err("unexpected character"));
    }
    Ok(normalize(toks))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    text: &'a str,
    le: bool,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, detail: &str) -> PatternError {
        PatternError {
            pattern: self.text.chars().take(200).collect(),
            at: self.i,
            detail: detail.to_string(),
        }
    }

    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }

    /// A sequence up to `)` or `|` (when `inner`) or the end.
    fn seq(&mut self, inner: bool) -> Result<Vec<Tok>, PatternError> {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                b')' | b'|' if inner => break,
                b'(' => {
                    self.depth += 1;
                    if self.depth > 32 {
                        return Err(self.err("alternatives nested too deeply"));
                    }
                    self.i += 1;
                    let mut alts = vec![self.seq(true)?];
                    loop {
                        match self.peek() {
                            Some(b'|') => {
                                self.i += 1;
                                alts.push(self.seq(true)?);
                            }
                            Some(b')') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(self.err("unclosed `(`")),
                        }
                    }
                    self.depth -= 1;
                    out.push(Tok::Alt(alts));
                }
                b'\'' => {
                    let s = self.quoted()?;
                    out.push(Tok::Lit(s));
                }
                b'?' => {
                    self.i += 1;
                    if self.s.get(self.i) != Some(&b'?') {
                        return Err(self.err("expected `??`"));
                    }
                    self.i += 1;
                    out.push(Tok::Class(ByteSet::from_fn(|_| true)));
                }
                b'*' => {
                    self.i += 1;
                    out.push(Tok::Gap { min: 0, max: None });
                }
                b'{' => {
                    self.i += 1;
                    out.push(self.gap()?);
                }
                b'[' => {
                    self.i += 1;
                    out.push(self.class()?);
                }
                _ if c.is_ascii_hexdigit() => {
                    let b = self.hex_byte()?;
                    out.push(Tok::Lit(vec![b]));
                }
                _ => return Err(self.err("unexpected character")),
            }
        }
        Ok(out)
    }

    fn quoted(&mut self) -> Result<Vec<u8>, PatternError> {
        // At the opening quote.
        self.i += 1;
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != b'\'' {
            self.i += 1;
        }
        if self.i >= self.s.len() {
            return Err(self.err("unclosed quote"));
        }
        let v = self.s[start..self.i].to_vec();
        self.i += 1;
        Ok(v)
    }

    fn hex_byte(&mut self) -> Result<u8, PatternError> {
        let hi = self.s.get(self.i).and_then(|c| (*c as char).to_digit(16));
        let lo = self
            .s
            .get(self.i + 1)
            .and_then(|c| (*c as char).to_digit(16));
        match (hi, lo) {
            (Some(h), Some(l)) => {
                self.i += 2;
                Ok((h * 16 + l) as u8)
            }
            _ => Err(self.err("expected two hex digits")),
        }
    }

    /// Hex bytes or a quoted string (inside `[...]`).
    fn value(&mut self) -> Result<Vec<u8>, PatternError> {
        match self.peek() {
            Some(b'\'') => self.quoted(),
            Some(c) if c.is_ascii_hexdigit() => {
                let mut v = Vec::new();
                while self.s.get(self.i).is_some_and(|c| c.is_ascii_hexdigit()) {
                    v.push(self.hex_byte()?);
                }
                Ok(v)
            }
            _ => Err(self.err("expected a byte value")),
        }
    }

    fn number(&mut self) -> Result<usize, PatternError> {
        self.skip_ws();
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()
            .and_then(|t| t.parse::<usize>().ok())
            .filter(|n| *n <= 1 << 30)
            .ok_or_else(|| self.err("expected a number"))
    }

    fn gap(&mut self) -> Result<Tok, PatternError> {
        let min = self.number()?;
        let max = match self.peek() {
            Some(b'-') => {
                self.i += 1;
                if self.peek() == Some(b'*') {
                    self.i += 1;
                    None
                } else {
                    Some(self.number()?)
                }
            }
            _ => Some(min),
        };
        if self.peek() != Some(b'}') {
            return Err(self.err("expected `}`"));
        }
        self.i += 1;
        if max.is_some_and(|m| m < min) {
            return Err(self.err("gap maximum below its minimum"));
        }
        Ok(Tok::Gap { min, max })
    }

    fn class(&mut self) -> Result<Tok, PatternError> {
        let mut neg = false;
        if self.peek() == Some(b'!') {
            self.i += 1;
            neg = true;
        }
        let tok = match self.peek() {
            Some(m @ (b'&' | b'~')) => {
                self.i += 1;
                let v = self.value()?;
                let [mask] = v[..] else {
                    return Err(self.err("a bit mask is one byte"));
                };
                if m == b'&' {
                    ByteSet::from_fn(|b| (b & mask == mask) != neg)
                } else {
                    ByteSet::from_fn(|b| (b & mask != 0) != neg)
                }
            }
            _ => {
                let lo = self.value()?;
                let hi = match self.peek() {
                    Some(b':' | b'-') => {
                        self.i += 1;
                        Some(self.value()?)
                    }
                    _ => None,
                };
                if self.peek() != Some(b']') {
                    return Err(self.err("expected `]`"));
                }
                self.i += 1;
                return match hi {
                    None if lo.len() == 1 => {
                        let v = lo[0];
                        Ok(Tok::Class(ByteSet::from_fn(|b| (b == v) != neg)))
                    }
                    None if lo.is_empty() => Err(self.err("empty byte value")),
                    None if neg => Ok(Tok::NotSeq(lo)),
                    None => Ok(Tok::Lit(lo)),
                    Some(hi) if hi.len() != lo.len() || lo.is_empty() => {
                        Err(self.err("range ends of different lengths"))
                    }
                    Some(hi) if lo.len() == 1 => {
                        let (a, z) = (lo[0].min(hi[0]), lo[0].max(hi[0]));
                        Ok(Tok::Class(ByteSet::from_fn(|b| {
                            (a..=z).contains(&b) != neg
                        })))
                    }
                    Some(hi) => {
                        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
                        Ok(Tok::Range {
                            lo,
                            hi,
                            neg,
                            le: self.le,
                            rev: false,
                        })
                    }
                };
            }
        };
        if self.peek() != Some(b']') {
            return Err(self.err("expected `]`"));
        }
        self.i += 1;
        Ok(Tok::Class(tok))
    }
}

/// Merges adjacent literals (so that a pattern's literals are as long as they can be).
pub fn normalize(toks: Vec<Tok>) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    for t in toks {
        let t = match t {
            Tok::Alt(alts) => Tok::Alt(alts.into_iter().map(normalize).collect()),
            Tok::Gap {
                min: 0,
                max: Some(0),
            } => continue,
            t => t,
        };
        match (out.last_mut(), t) {
            (Some(Tok::Lit(a)), Tok::Lit(b)) => a.extend(b),
            (_, t) => out.push(t),
        }
    }
    out
}

/// The pattern as seen from the other end (for matching backwards from the end of a
/// file against the reversed tail).
pub fn reverse(toks: &[Tok]) -> Vec<Tok> {
    toks.iter()
        .rev()
        .map(|t| match t {
            Tok::Lit(v) => Tok::Lit(v.iter().rev().copied().collect()),
            Tok::NotSeq(v) => Tok::NotSeq(v.iter().rev().copied().collect()),
            Tok::Range {
                lo,
                hi,
                neg,
                le,
                rev,
            } => Tok::Range {
                lo: lo.clone(),
                hi: hi.clone(),
                neg: *neg,
                le: *le,
                rev: !rev,
            },
            Tok::Alt(alts) => Tok::Alt(alts.iter().map(|a| reverse(a)).collect()),
            t => t.clone(),
        })
        .collect()
}

/// The number of bytes a pattern spans at least.
pub fn min_len(toks: &[Tok]) -> usize {
    toks.iter()
        .map(|t| match t {
            Tok::Lit(v) | Tok::NotSeq(v) => v.len(),
            Tok::Class(_) => 1,
            Tok::Range { lo, .. } => lo.len(),
            Tok::Gap { min, .. } => *min,
            Tok::Alt(alts) => alts.iter().map(|a| min_len(a)).min().unwrap_or(0),
        })
        .sum()
}

/// The number of bytes a pattern spans at most (None: a gap with no maximum).
pub fn max_len(toks: &[Tok]) -> Option<usize> {
    toks.iter().try_fold(0usize, |sum, t| {
        let n = match t {
            Tok::Lit(v) | Tok::NotSeq(v) => v.len(),
            Tok::Class(_) => 1,
            Tok::Range { lo, .. } => lo.len(),
            Tok::Gap { max, .. } => (*max)?,
            Tok::Alt(alts) => alts
                .iter()
                .map(|a| max_len(a))
                .try_fold(0, |m, x| Some(m.max(x?)))?,
        };
        sum.checked_add(n)
    })
}

/// A step budget shared by the matches of one file.
#[derive(Debug)]
pub struct Budget(pub u64);

impl Budget {
    fn spend(&mut self) -> bool {
        if self.0 == 0 {
            return false;
        }
        self.0 -= 1;
        true
    }
}

/// Calls `k` with the end of every match of `toks` that starts at `pos` in `buf`
/// (stopping at the first for which `k` returns true). Returns whether `k` did.
pub fn match_at(
    toks: &[Tok],
    buf: &[u8],
    pos: usize,
    budget: &mut Budget,
    k: &mut dyn FnMut(usize, &mut Budget) -> bool,
) -> bool {
    if !budget.spend() {
        return false;
    }
    let Some((first, rest)) = toks.split_first() else {
        return k(pos, budget);
    };
    let avail = buf.len().saturating_sub(pos);
    match first {
        Tok::Lit(v) => {
            buf.get(pos..pos + v.len()) == Some(v.as_slice())
                && match_at(rest, buf, pos + v.len(), budget, k)
        }
        Tok::Class(set) => {
            buf.get(pos).is_some_and(|b| set.contains(*b))
                && match_at(rest, buf, pos + 1, budget, k)
        }
        Tok::NotSeq(v) => {
            buf.get(pos..pos + v.len())
                .is_some_and(|w| w != v.as_slice())
                && match_at(rest, buf, pos + v.len(), budget, k)
        }
        Tok::Range {
            lo,
            hi,
            neg,
            le,
            rev,
        } => {
            let Some(w) = buf.get(pos..pos + lo.len()) else {
                return false;
            };
            // Most significant byte first: as stored, unless exactly one of
            // little-endian and reversed holds.
            let value: Vec<u8> = if le != rev {
                w.iter().rev().copied().collect()
            } else {
                w.to_vec()
            };
            let inside = value.as_slice() >= lo.as_slice() && value.as_slice() <= hi.as_slice();
            inside != *neg && match_at(rest, buf, pos + lo.len(), budget, k)
        }
        Tok::Gap { min, max } => {
            if *min > avail {
                return false;
            }
            let top = max.map_or(avail, |m| m.min(avail));
            // Jump straight to where the next literal occurs. It may begin at most `top`
            // bytes on (the gap's bound counts the bytes skipped, not the literal's), so
            // the search for its first byte ends there.
            if let Some(Tok::Lit(next)) = rest.first() {
                if let Some(&b0) = next.first() {
                    let mut from = pos + min;
                    let end = (pos + top + 1).min(buf.len());
                    while from < end {
                        let Some(off) = memchr::memchr(b0, &buf[from..end]) else {
                            return false;
                        };
                        if match_at(rest, buf, from + off, budget, k) {
                            return true;
                        }
                        if budget.0 == 0 {
                            return false;
                        }
                        from += off + 1;
                    }
                    return false;
                }
            }
            (*min..=top).any(|g| budget.0 > 0 && match_at(rest, buf, pos + g, budget, k))
        }
        Tok::Alt(alts) => alts.iter().any(|alt| {
            match_at(alt, buf, pos, budget, &mut |e, b| {
                match_at(rest, buf, e, b, k)
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pat: &str, data: &[u8]) -> bool {
        let toks = parse(pat, false).unwrap();
        (0..=data.len()).any(|p| match_at(&toks, data, p, &mut Budget(100_000), &mut |_, _| true))
    }

    #[test]
    fn syntax() {
        assert!(matches("49492A00", b"II*\0"));
        assert!(matches(
            "'Word.Document.' ['6'-'7'] 00",
            b"Word.Document.7\0"
        ));
        assert!(!matches(
            "'Word.Document.' ['6'-'7'] 00",
            b"Word.Document.8\0"
        ));
        assert!(matches("41 ?? 43", b"AxC"));
        assert!(matches("41 {2} 43", b"AxyC"));
        assert!(!matches("41 {2} 43", b"AxC"));
        assert!(matches("41 {1-3} 43", b"AxyzC"));
        assert!(matches("41 {1-*} 43", b"AxxxxxxxxC"));
        assert!(matches("41 * 43", b"AC"));
        assert!(matches("41 (42|4344) 45", b"ACDE"));
        assert!(matches("[!00] 41", b"\x01A"));
        assert!(!matches("[!00] 41", b"\x00A"));
        assert!(matches("[30:39]", b"5"));
        assert!(matches("[!&01]00", b"\x02\x00"));
        assert!(!matches("[!&01]00", b"\x03\x00"));
        assert!(matches("[0000:1000]", b"\x05\x00"));
        assert!(!matches("[0000:1000]", b"\x10\x01"));
        assert!(matches("[!0000] 41", b"\x00\x01A"));
        assert!(!matches("[!0000] 41", b"\x00\x00A"));
        assert!(parse("(41", false).is_err());
        assert!(parse("4", false).is_err());
        assert!(parse("{3-1}", false).is_err());
    }

    /// Whether `pat` matches `data` from its first byte.
    fn matches_at_start(pat: &str, data: &[u8]) -> bool {
        let toks = parse(pat, false).unwrap();
        match_at(&toks, data, 0, &mut Budget(100_000), &mut |_, _| true)
    }

    /// A bounded gap skips at most its maximum, whatever follows it: a literal of one,
    /// two or four bytes (the search for the literal's first byte), a byte class or a
    /// choice (the general path). The gap of `{min-max}` before a literal of L bytes
    /// once accepted up to max + L - 1 bytes.
    #[test]
    fn a_bounded_gap_skips_at_most_its_maximum() {
        for lit in ["42", "4243", "42434445"] {
            let bytes: Vec<u8> = (0..lit.len() / 2)
                .map(|i| u8::from_str_radix(&lit[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            for (gap, min, max) in [("{0-2}", 0, 2), ("{3}", 3, 3), ("{1-4}", 1, 4)] {
                let pat = format!("41 {gap} {lit}");
                for skipped in 0..=max + bytes.len() + 1 {
                    let mut data = vec![b'A'];
                    data.extend(std::iter::repeat_n(b'x', skipped));
                    data.extend_from_slice(&bytes);
                    let want = (min..=max).contains(&skipped);
                    assert_eq!(
                        matches_at_start(&pat, &data),
                        want,
                        "{pat} over {skipped} skipped bytes"
                    );
                }
            }
        }
        for (pat, ok, too_far) in [
            ("41 {0-2} [42:43]", &b"AxxB"[..], &b"AxxxB"[..]),
            ("41 {0-2} (42|4344)", b"AxxCD", b"AxxxCD"),
        ] {
            assert!(matches_at_start(pat, ok), "{pat}");
            assert!(!matches_at_start(pat, too_far), "{pat}");
        }
        // An unbounded gap reaches the literal wherever it is.
        assert!(matches_at_start("41 {1-*} 4243", b"AxxxxxxxxxxBC"));
        // The same bound on a reversed (end-of-file) pattern.
        let toks = reverse(&parse("4243 {0-2} 41", false).unwrap());
        let fits: Vec<u8> = b"BCxxA".iter().rev().copied().collect();
        let beyond: Vec<u8> = b"BCxxxA".iter().rev().copied().collect();
        assert!(match_at(&toks, &fits, 0, &mut Budget(1000), &mut |_, _| {
            true
        }));
        assert!(!match_at(
            &toks,
            &beyond,
            0,
            &mut Budget(1000),
            &mut |_, _| true
        ));
    }

    #[test]
    fn reversed_patterns_match_reversed_data() {
        let toks = parse("41 {1-2} (4243|44) [0000:0100]", false).unwrap();
        let data = b"AxBC\x00\x50";
        let rdata: Vec<u8> = data.iter().rev().copied().collect();
        let rt = reverse(&toks);
        assert!(match_at(&toks, data, 0, &mut Budget(1000), &mut |e, _| e == 6));
        assert!(match_at(&rt, &rdata, 0, &mut Budget(1000), &mut |e, _| e == 6));
    }

    #[test]
    fn budget_bounds_backtracking() {
        let toks = parse("* * * * * 42", false).unwrap();
        let data = vec![b'A'; 4000];
        let mut b = Budget(10_000);
        assert!(!match_at(&toks, &data, 0, &mut b, &mut |_, _| true));
    }
}
