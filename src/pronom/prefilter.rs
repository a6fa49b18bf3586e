//! Which signatures are worth matching in full: the literals every match of a
//! signature must contain, found in one pass over each window.

use std::collections::{BTreeMap, HashMap};

use aho_corasick::AhoCorasick;

use super::pattern::{max_len, min_len, Tok};
use super::sigfile::Signature;
use super::sigfile::{Anchor, ByteSeq};

/// Literals to look for in one window (the file's head, or its reversed tail), each
/// with the signatures it makes candidates, in three kinds:
///
/// - `fixed`: a literal that can only lie at one place in its window (a signature
///   anchored at the beginning or end of the file, at a fixed offset, with only
///   fixed-length tokens before the literal: most of them). It is compared there, one
///   binary search per (offset, length) group: no scan at all.
/// - `near`: a literal that can end no further than [`NEAR_REACH`] into its window is
///   searched for there only, by a small automaton.
/// - `far`: the rest, searched over the whole window.
///
/// An occurrence where a literal cannot be part of a match is not taken.
pub(super) struct Prefilter {
    fixed: Vec<FixedGroup>,
    near: Option<Automaton>,
    /// Per pattern of `near`: how far into the window it can end, and its signatures.
    near_pats: Vec<(usize, Vec<usize>)>,
    /// The furthest reach of any `near` pattern: what `near` scans.
    near_len: usize,
    far: Option<Automaton>,
    far_pats: Vec<Vec<usize>>,
}

/// The literals of one length at one offset, sorted, each with its signatures.
struct FixedGroup {
    offset: usize,
    len: usize,
    lits: Vec<(Vec<u8>, Vec<usize>)>,
    /// For literals of at most 8 bytes, each as a big-endian number (in the order of
    /// `lits`): one integer comparison per step of the binary search.
    keys: Option<Vec<u64>>,
}

/// Up to 8 bytes as a big-endian number (the order of the byte strings of one length).
fn key(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |k, b| k << 8 | u64::from(*b))
}

/// A literal that can end no further than this into its window is searched for only
/// there.
const NEAR_REACH: usize = 1024;

/// Literals searched for by an automaton are cut to this many bytes (any part of a
/// literal every match contains is one too). Longer ones add states, and so memory
/// and cache misses to every file's scan, while making random bytes no less unlikely
/// to match.
const AUTOMATON_LITERAL: usize = 8;

/// Collects a window's literals, then [`PrefilterBuilder::build`]s the [`Prefilter`].
#[derive(Default)]
pub(super) struct PrefilterBuilder {
    fixed: BTreeMap<(usize, usize), BTreeMap<Vec<u8>, Vec<usize>>>,
    /// Literal → its signatures and how far into the window it can end (None:
    /// anywhere).
    searched: HashMap<Vec<u8>, (Vec<usize>, Option<usize>)>,
}

impl PrefilterBuilder {
    /// Signature `sig` can only match where `lit` lies at `offset` in the window.
    pub(super) fn fixed(&mut self, offset: usize, lit: &[u8], sig: usize) {
        self.fixed
            .entry((offset, lit.len()))
            .or_default()
            .entry(lit.to_vec())
            .or_default()
            .push(sig);
    }

    /// Signature `sig` can only match where `lit` occurs, ending no further than
    /// `reach` into the window (None: anywhere).
    pub(super) fn searched(&mut self, lit: &[u8], reach: Option<usize>, sig: usize) {
        let lit = &lit[..lit.len().min(AUTOMATON_LITERAL)];
        let e = self
            .searched
            .entry(lit.to_vec())
            .or_insert((Vec::new(), Some(0)));
        e.0.push(sig);
        e.1 = e.1.zip(reach).map(|(a, b)| a.max(b));
    }

    pub(super) fn build(self) -> Prefilter {
        let mut near: Vec<(Vec<u8>, usize, Vec<usize>)> = Vec::new();
        let mut far: Vec<(Vec<u8>, Vec<usize>)> = Vec::new();
        for (lit, (sigs, reach)) in self.searched {
            match reach {
                Some(r) if r <= NEAR_REACH => near.push((lit, r, sigs)),
                _ => far.push((lit, sigs)),
            }
        }
        near.sort();
        far.sort();
        // DFAs: the overlapping search of every file's windows is the prefilter's hot
        // loop (a contiguous NFA scans about five times slower); with the fixed
        // literals apart and the others cut short, they are small and quick to build.
        let automaton = |pats: Vec<&Vec<u8>>| {
            let ac = aho_corasick::AhoCorasickBuilder::new()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(&pats)
                .ok()?;
            // Teddy over up to 128 patterns (its heuristic stops at 64): on random
            // content, perf stat measured 160 against 190 ms of CPU to identify 1,000
            // files of 8 KiB without it.
            let first = aho_corasick::packed::Config::new()
                .heuristic_pattern_limits(false)
                .builder()
                .extend(&pats)
                .build();
            Some(Automaton { ac, first })
        };
        let pre = Prefilter {
            fixed: self
                .fixed
                .into_iter()
                .map(|((offset, len), lits)| {
                    let lits: Vec<(Vec<u8>, Vec<usize>)> = lits.into_iter().collect();
                    FixedGroup {
                        offset,
                        len,
                        keys: (len <= 8).then(|| lits.iter().map(|(l, _)| key(l)).collect()),
                        lits,
                    }
                })
                .collect(),
            near: automaton(near.iter().map(|(p, _, _)| p).collect()),
            near_len: near.iter().map(|(_, r, _)| *r).max().unwrap_or(0),
            near_pats: near.into_iter().map(|(_, r, s)| (r, s)).collect(),
            far: automaton(far.iter().map(|(p, _)| p).collect()),
            far_pats: far.into_iter().map(|(_, s)| s).collect(),
        };
        tracing::debug!(
            fixed = pre.fixed.iter().map(|g| g.lits.len()).sum::<usize>(),
            fixed_groups = pre.fixed.len(),
            near = pre.near_pats.len(),
            near_bytes = pre.near.as_ref().map_or(0, |a| a.ac.memory_usage()),
            far = pre.far_pats.len(),
            far_bytes = pre.far.as_ref().map_or(0, |a| a.ac.memory_usage()),
            "prefilter built"
        );
        pre
    }
}

impl Prefilter {
    /// Marks as candidates the signatures whose literal occurs in `buf` where it can be
    /// part of a match.
    pub(super) fn mark(&self, buf: &[u8], candidates: &mut [bool]) {
        for g in &self.fixed {
            let Some(at) = buf.get(g.offset..g.offset + g.len) else {
                continue;
            };
            let found = match &g.keys {
                Some(keys) => keys.binary_search(&key(at)),
                None => g.lits.binary_search_by(|(l, _)| l.as_slice().cmp(at)),
            };
            if let Ok(i) = found {
                for s in &g.lits[i].1 {
                    candidates[*s] = true;
                }
            }
        }
        if let Some(ac) = &self.near {
            let window = &buf[..buf.len().min(self.near_len)];
            occurrences(ac, window, |p, end| {
                let (reach, sigs) = &self.near_pats[p];
                if end <= *reach {
                    for s in sigs {
                        candidates[*s] = true;
                    }
                }
            });
        }
        if let Some(ac) = &self.far {
            let mut seen = vec![false; self.far_pats.len()];
            occurrences(ac, buf, |p, _| {
                if !seen[p] {
                    seen[p] = true;
                    for s in &self.far_pats[p] {
                        candidates[*s] = true;
                    }
                }
            });
        }
    }
}

/// Calls `f` with the pattern and end of every occurrence of `a`'s patterns in `hay`,
/// overlapping ones included. A vectorised search (Teddy) for the leftmost occurrence
/// runs first: none starts before it, so the automaton's overlapping search (slower per
/// byte) starts there. In most windows there is no occurrence at all.
fn occurrences(a: &Automaton, hay: &[u8], mut f: impl FnMut(usize, usize)) {
    let from = match &a.first {
        Some(p) => match p.find(hay) {
            Some(m) => m.start(),
            None => return,
        },
        None => 0,
    };
    for m in a.ac.find_overlapping_iter(&hay[from..]) {
        f(m.pattern().as_usize(), from + m.end());
    }
}

/// An automaton for the overlapping search, and a packed searcher that finds the
/// leftmost occurrence first.
struct Automaton {
    ac: AhoCorasick,
    first: Option<aho_corasick::packed::Searcher>,
}

/// Where in its window literal token `k` of subsequence `i` of `seq`, `len` bytes long,
/// can lie in a match: the least offset it can start at, and how far it can end (None:
/// a variable position or an unbounded gap comes before it). When the two are `len`
/// apart the literal has one place only. Offsets count from the file's beginning, or
/// from its end for a sequence anchored there. Mirrors [`super::sequence`]'s
/// `match_subs`: subsequence 0 starts at its offsets from the anchor, each later one at
/// its offsets from the end of the one before.
pub(super) fn literal_span(
    seq: &ByteSeq,
    i: usize,
    k: usize,
    len: usize,
) -> (usize, Option<usize>) {
    let mut start = 0usize;
    for s in &seq.subs[..i] {
        start = start.saturating_add(s.min).saturating_add(min_len(&s.toks));
    }
    let sub = &seq.subs[i];
    let start = start
        .saturating_add(sub.min)
        .saturating_add(min_len(&sub.toks[..k]));
    (start, literal_end(seq, i, k, len))
}

fn literal_end(seq: &ByteSeq, i: usize, k: usize, len: usize) -> Option<usize> {
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

/// The shortest literal worth a place in the Aho-Corasick prefilter.
const MIN_LITERAL: usize = 3;

/// Enters signature `sig` (index `idx`) in the prefilter of its window (`head`, or
/// `tail` for an end-of-file literal) by the literal that filters best, or among those
/// `always` tried when it has none worth it.
pub(super) fn register(
    sig: &Signature,
    idx: usize,
    head: &mut PrefilterBuilder,
    tail: &mut PrefilterBuilder,
    always: &mut Vec<usize>,
) {
    // Every literal a match must contain: the longest that has one place in its
    // window; and the best set of literals one of which every match contains (a
    // single literal, or a literal followed by alternatives that each begin with
    // a literal: `@` then `ARTICLE|BOOK|…` gives `@ARTICLE`, `@BOOK`, …; or such a
    // choice alone), the set whose shortest member is longest, with how far into its
    // window a member can end (None: anywhere).
    let mut fixed: Option<(&[u8], bool, usize)> = None;
    let mut best: Option<(Vec<Vec<u8>>, bool, Option<usize>)> = None;
    let shortest = |set: &[Vec<u8>]| set.iter().map(Vec::len).min().unwrap_or(0);
    for seq in &sig.seqs {
        let eof = seq.anchor == Anchor::Eof;
        for (i, sub) in seq.subs.iter().enumerate() {
            for (k, tok) in sub.toks.iter().enumerate() {
                if let Some(set) = alternatives(&[], tok) {
                    // A choice whose every alternative begins with a literal.
                    let longest = set.iter().map(Vec::len).max().unwrap_or(0);
                    let reach = literal_span(seq, i, k, longest).1;
                    if best
                        .as_ref()
                        .is_none_or(|(b, _, _)| shortest(&set) > shortest(b))
                    {
                        best = Some((set, eof, reach));
                    }
                }
                let Tok::Lit(l) = tok else { continue };
                let (start, reach) = literal_span(seq, i, k, l.len());
                if reach == Some(start + l.len()) && fixed.is_none_or(|(b, _, _)| l.len() > b.len())
                {
                    fixed = Some((l, eof, start));
                }
                let mut offer = |set: Vec<Vec<u8>>, reach: Option<usize>| {
                    if best
                        .as_ref()
                        .is_none_or(|(b, _, _)| shortest(&set) > shortest(b))
                    {
                        best = Some((set, eof, reach));
                    }
                };
                offer(vec![l.clone()], reach);
                if let Some(set) = sub.toks.get(k + 1).and_then(|t| alternatives(l, t)) {
                    let longest = set.iter().map(Vec::len).max().unwrap_or(0);
                    offer(set, reach.and_then(|r| r.checked_add(longest - l.len())));
                }
            }
        }
    }
    // A literal at one place is compared there, at no cost: it is the best
    // filter when it has two bytes or more. A literal of one or two bytes
    // searched for occurs in almost any window: rather than flood the automaton
    // with matches, a signature with nothing better is simply always tried
    // (cheap when it is anchored).
    match (fixed, best) {
        (Some((lit, eof, at)), _) if lit.len() >= 2 => {
            if eof { &mut *tail } else { &mut *head }.fixed(at, lit, idx)
        }
        (_, Some((set, eof, reach))) if shortest(&set) >= MIN_LITERAL => {
            for lit in &set {
                if eof { &mut *tail } else { &mut *head }.searched(lit, reach, idx)
            }
        }
        (Some((lit, eof, at)), _) => if eof { &mut *tail } else { &mut *head }.fixed(at, lit, idx),
        _ => always.push(idx),
    }
}

/// When `next` (the token after literal `lit`) is a choice whose every alternative
/// begins with a literal: `lit` followed by each of those literals, one of which every
/// match contains.
fn alternatives(lit: &[u8], next: &Tok) -> Option<Vec<Vec<u8>>> {
    let Tok::Alt(alts) = next else {
        return None;
    };
    alts.iter()
        .map(|a| match a.first() {
            Some(Tok::Lit(b)) => Some([lit, b].concat()),
            _ => None,
        })
        .collect()
}
