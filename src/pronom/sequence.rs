//! Matching one signature's byte sequence (its subsequences, each at its offsets from
//! the anchor or from the one before) in a window, within a step budget.

use super::pattern::{match_at, Budget, Tok};
use super::sigfile::{Anchor, ByteSeq, SubSeq};

/// Whether a byte sequence matches in `buf` (the head, or the reversed tail).
pub(super) fn match_seq(seq: &ByteSeq, buf: &[u8], budget: &mut Budget) -> bool {
    match_subs(&seq.subs, 0, seq.anchor == Anchor::Variable, buf, 0, budget)
}

fn match_subs(
    subs: &[SubSeq],
    i: usize,
    variable: bool,
    buf: &[u8],
    from: usize,
    budget: &mut Budget,
) -> bool {
    let Some(s) = subs.get(i) else {
        return true;
    };
    if budget.0 == 0 {
        return false;
    }
    let start = from.saturating_add(s.min);
    if start > buf.len() {
        return false;
    }
    let max = if variable && i == 0 { None } else { s.max };
    let last = max.map_or(buf.len(), |m| from.saturating_add(m).min(buf.len()));
    if start > last {
        return false;
    }
    let mut k = |e: usize, b: &mut Budget| match_subs(subs, i + 1, variable, buf, e, b);
    if let Some(Tok::Lit(lit)) = s.toks.first() {
        // Jump between occurrences of the first literal.
        let end = (last + lit.len()).min(buf.len());
        let mut p = start;
        while p < end {
            let Some(off) = memchr::memmem::find(&buf[p..end], lit) else {
                return false;
            };
            if match_at(&s.toks, buf, p + off, budget, &mut k) {
                return true;
            }
            if budget.0 == 0 {
                return false;
            }
            p += off + 1;
        }
        return false;
    }
    (start..=last).any(|p| budget.0 > 0 && match_at(&s.toks, buf, p, budget, &mut k))
}
