//! Which signatures are worth matching in full: the literals every match of a
//! signature must contain, found in one pass over each window.

use std::collections::HashMap;

use aho_corasick::AhoCorasick;

use super::pattern::Tok;
use super::sigfile::{Anchor, ByteSeq};

/// Literals to look for in one window (the file's head, or its reversed tail), each
/// with the signatures it makes candidates. Most literals can only end within the first
/// few hundred bytes of their window (a signature anchored at the beginning or end of
/// the file, at bounded offsets): those are searched there only, by a small automaton;
/// the rest over the whole window. An occurrence past a literal's reach cannot be part
/// of a match, so it is not taken.
pub(super) struct Prefilter {
    near: Option<AhoCorasick>,
    /// Per pattern of `near`: how far into the window it can end, and its signatures.
    near_pats: Vec<(usize, Vec<usize>)>,
    /// The furthest reach of any `near` pattern: what `near` scans.
    near_len: usize,
    far: Option<AhoCorasick>,
    far_pats: Vec<Vec<usize>>,
}

/// A literal that can end no further than this into its window is searched for only
/// there.
const NEAR_REACH: usize = 1024;

impl Prefilter {
    pub(super) fn build(lits: HashMap<Vec<u8>, (Vec<usize>, Option<usize>)>) -> Prefilter {
        let mut near: Vec<(Vec<u8>, usize, Vec<usize>)> = Vec::new();
        let mut far: Vec<(Vec<u8>, Vec<usize>)> = Vec::new();
        for (lit, (sigs, reach)) in lits {
            match reach {
                Some(r) if r <= NEAR_REACH => near.push((lit, r, sigs)),
                _ => far.push((lit, sigs)),
            }
        }
        near.sort();
        far.sort();
        // DFAs: the overlapping search of every file's two windows is the identifier's
        // hot loop (a contiguous NFA spent half the time of identifying small files
        // there); building them costs a few milliseconds.
        let automaton = |pats: Vec<&Vec<u8>>| {
            aho_corasick::AhoCorasickBuilder::new()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(pats)
                .ok()
        };
        Prefilter {
            near: automaton(near.iter().map(|(p, _, _)| p).collect()),
            near_len: near.iter().map(|(_, r, _)| *r).max().unwrap_or(0),
            near_pats: near.into_iter().map(|(_, r, s)| (r, s)).collect(),
            far: automaton(far.iter().map(|(p, _)| p).collect()),
            far_pats: far.into_iter().map(|(_, s)| s).collect(),
        }
    }

    /// Marks as candidates the signatures whose literal occurs in `buf` within reach.
    pub(super) fn mark(&self, buf: &[u8], candidates: &mut [bool]) {
        if let Some(ac) = &self.near {
            let window = &buf[..buf.len().min(self.near_len)];
            for m in ac.find_overlapping_iter(window) {
                let (reach, sigs) = &self.near_pats[m.pattern().as_usize()];
                if m.end() <= *reach {
                    for s in sigs {
                        candidates[*s] = true;
                    }
                }
            }
        }
        if let Some(ac) = &self.far {
            let mut seen = vec![false; self.far_pats.len()];
            for m in ac.find_overlapping_iter(buf) {
                let p = m.pattern().as_usize();
                if !seen[p] {
                    seen[p] = true;
                    for s in &self.far_pats[p] {
                        candidates[*s] = true;
                    }
                }
            }
        }
    }
}

/// The most bytes a pattern can span (None: no bound).
fn max_len(toks: &[Tok]) -> Option<usize> {
    toks.iter().try_fold(0usize, |sum, t| {
        let n = match t {
            Tok::Lit(v) | Tok::NotSeq(v) => Some(v.len()),
            Tok::Class(_) => Some(1),
            Tok::Range { lo, .. } => Some(lo.len()),
            Tok::Gap { max, .. } => *max,
            Tok::Alt(alts) => alts
                .iter()
                .map(|a| max_len(a))
                .try_fold(0usize, |m, l| l.map(|l| m.max(l))),
        }?;
        sum.checked_add(n)
    })
}

/// How far into its window (from the file's beginning, or from its end for a sequence
/// anchored there) literal token `k` of subsequence `i` of `seq`, `len` bytes long, can
/// end in a match; None when a variable position or an unbounded gap comes before it.
/// Mirrors [`super::sequence`]'s `match_subs`: subsequence 0 starts at its offsets from the anchor, each
/// later one at its offsets from the end of the one before.
pub(super) fn literal_reach(seq: &ByteSeq, i: usize, k: usize, len: usize) -> Option<usize> {
    if seq.anchor == Anchor::Variable {
        return None;
    }
    let mut end = 0usize;
    for s in &seq.subs[..i] {
        end = end.checked_add(s.max?)?.checked_add(max_len(&s.toks)?)?;
    }
    let sub = &seq.subs[i];
    end.checked_add(sub.max?)?
        .checked_add(max_len(&sub.toks[..k])?)?
        .checked_add(len)
}
