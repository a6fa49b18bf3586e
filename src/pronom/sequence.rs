//! Matching one signature's byte sequence (its subsequences, each at its offsets from
//! the anchor or from the one before) in a window, within a step budget.

use super::pattern::{match_at, Budget, Tok};
use super::sigfile::{Anchor, ByteSeq, SubSeq};

/// Whether a byte sequence matches in `buf` (the head, or the reversed tail).
pub(super) fn match_seq(seq: &ByteSeq, buf: &[u8], budget: &mut Budget) -> bool {
    match_subs(&seq.subs, 0, seq.anchor == Anchor::Variable, buf, 0, budget).is_some()
}

/// Where the first match of `subs` ends, the first subsequence's offsets counted from
/// `from` (anywhere at or after `from + min` when `variable`). The first match: the
/// earliest start of the first subsequence for which the rest match.
pub(super) fn match_subs(
    subs: &[SubSeq],
    i: usize,
    variable: bool,
    buf: &[u8],
    from: usize,
    budget: &mut Budget,
) -> Option<usize> {
    let Some(s) = subs.get(i) else {
        return Some(from);
    };
    if budget.0 == 0 {
        return None;
    }
    let start = from.saturating_add(s.min);
    if start > buf.len() {
        return None;
    }
    let max = if variable && i == 0 { None } else { s.max };
    let last = max.map_or(buf.len(), |m| from.saturating_add(m).min(buf.len()));
    if start > last {
        return None;
    }
    let mut end = None;
    let mut k = |e: usize, b: &mut Budget| {
        end = match_subs(subs, i + 1, variable, buf, e, b);
        end.is_some()
    };
    if let Some(Tok::Lit(lit)) = s.toks.first() {
        // Jump between occurrences of the first literal.
        let stop = (last + lit.len()).min(buf.len());
        let mut p = start;
        while p < stop {
            let off = memchr::memmem::find(&buf[p..stop], lit)?;
            if match_at(&s.toks, buf, p + off, budget, &mut k) {
                return end;
            }
            if budget.0 == 0 {
                return None;
            }
            p += off + 1;
        }
        return None;
    }
    for p in start..=last {
        if budget.0 == 0 {
            return None;
        }
        if match_at(&s.toks, buf, p, budget, &mut k) {
            return end;
        }
    }
    None
}
