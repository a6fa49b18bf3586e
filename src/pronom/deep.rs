//! Signatures that reach past the head window: a beginning-of-file sequence whose
//! start lies at bounded offsets (so it is seen in the first [`SCAN_LEN`] bytes) and
//! whose later subsequences may lie anywhere after it. QuickTime's `mdat` at byte 4 with
//! `moov` wherever the camera wrote it (at the end, often hundreds of megabytes in); a
//! Nikon raw file's maker name in a TIFF structure; a PNG's chunk that tells its
//! version. siegfried follows such a sequence to the end of the file; so does Cairn,
//! once the head shows that its start matched.
//!
//! **The window**, as DROID's "maximum bytes to scan" states one: the first and last
//! [`SCAN_LEN`] bytes for every signature, and the whole file for the sequences above
//! when their start matched in the head. A sequence that may start anywhere
//! (`Variable`, or a first subsequence with no maximum offset) is looked for in the
//! first [`SCAN_LEN`] bytes only: searching every large file whole for those would read
//! every byte of every scan for a few rare formats.
//!
//! **Memory**: the file is read once, in pieces of [`PIECE`] bytes, each overlapping
//! the one before by the longest stretch a group of subsequences can span (at most
//! [`MAX_SPAN`]); every signature being followed advances through each piece. Nothing
//! else is kept: memory is one piece and its overlap whatever the file's size.

use std::io::{Read, Seek, SeekFrom};

use super::pattern::{max_len, Budget};
use super::sequence::match_subs;
use super::sigfile::{Anchor, Signature, SubSeq};
use super::{Identifier, SCAN_LEN};

/// Bytes read at a time when a file is followed past its head.
pub const PIECE: usize = 1 << 20;

/// The longest stretch one group of subsequences may span to be followed in pieces;
/// a signature with a longer one stays inside the head window.
pub const MAX_SPAN: usize = 64 * 1024;

/// A signature that reaches past the head.
pub(super) struct Deep {
    /// Its index among the compiled signatures.
    pub(super) sig: usize,
    /// Which of its byte sequences reaches past the head.
    pub(super) seq: usize,
    /// The subsequences before the first with no maximum offset (matched in the head).
    start: Vec<SubSeq>,
    /// The rest: one group per subsequence with no maximum offset, each with the
    /// bounded ones after it.
    groups: Vec<Group>,
}

/// Subsequences found anywhere after a point: the first at least `min` bytes on, the
/// others at bounded offsets after it (the first's own `min` is 0 here).
struct Group {
    subs: Vec<SubSeq>,
    min: usize,
    /// The most bytes a match spans from its start.
    span: usize,
}

/// The most bytes a group (a first subsequence found anywhere, the others at bounded
/// offsets after it) spans from its first subsequence's start.
fn span(group: &[SubSeq]) -> Option<usize> {
    let mut total = max_len(&group.first()?.toks)?;
    for s in &group[1..] {
        total = total.checked_add(s.max?)?.checked_add(max_len(&s.toks)?)?;
    }
    Some(total)
}

/// The deep signature of `sig` (index `idx`), if it is one: exactly one sequence that
/// is not anchored at the end, anchored at the beginning, with a bounded start and a
/// later subsequence with no maximum offset, and every group short enough to follow.
pub(super) fn deep_of(idx: usize, sig: &Signature) -> Option<Deep> {
    let mut front = sig
        .seqs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.anchor != Anchor::Eof);
    let (k, seq) = front.next()?;
    if front.next().is_some() || seq.anchor != Anchor::Bof {
        return None;
    }
    let cut = seq.subs.iter().position(|s| s.max.is_none())?;
    if cut == 0 {
        return None;
    }
    let mut groups = Vec::new();
    let mut i = cut;
    while i < seq.subs.len() {
        let j = seq.subs[i + 1..]
            .iter()
            .position(|s| s.max.is_none())
            .map_or(seq.subs.len(), |p| i + 1 + p);
        let mut subs = seq.subs[i..j].to_vec();
        let span = span(&subs).filter(|n| *n <= MAX_SPAN)?;
        let min = std::mem::take(&mut subs[0].min);
        groups.push(Group { subs, min, span });
        i = j;
    }
    Some(Deep {
        sig: idx,
        seq: k,
        start: seq.subs[..cut].to_vec(),
        groups,
    })
}

/// One signature being followed: the group it looks for next, and from where in the
/// file (its first subsequence's offsets count from there).
struct Following<'a> {
    deep: &'a Deep,
    group: usize,
    from: u64,
}

impl Identifier {
    /// For a file longer than the head window (`head` its first [`SCAN_LEN`] bytes):
    /// the deep signatures whose sequence matched, following each through the file
    /// from where its start matched in the head. Reads the file once, and only when
    /// some start matched.
    pub(super) fn follow_deep<R: Read + Seek>(
        &self,
        f: &mut R,
        len: u64,
        head: &[u8],
        budget: &mut Budget,
    ) -> std::io::Result<Vec<usize>> {
        let head = &head[..head.len().min(SCAN_LEN)];
        let mut active: Vec<Following> = Vec::new();
        for d in &self.deep {
            if let Some(end) = match_subs(&d.start, 0, false, head, 0, budget) {
                active.push(Following {
                    deep: d,
                    group: 0,
                    from: end as u64,
                });
            }
        }
        let mut matched = Vec::new();
        if active.is_empty() {
            return Ok(matched);
        }
        let overlap = active
            .iter()
            .flat_map(|a| a.deep.groups.iter().map(|g| g.span))
            .max()
            .unwrap_or(0);
        let mut buf: Vec<u8> = Vec::with_capacity(PIECE + overlap);
        let mut base = active.iter().map(|a| a.from).min().unwrap_or(0);
        f.seek(SeekFrom::Start(base))?;
        let mut at_end = false;
        while !active.is_empty() {
            let want = (PIECE + overlap).saturating_sub(buf.len());
            let got = f.by_ref().take(want as u64).read_to_end(&mut buf)?;
            at_end = at_end || got < want || base + buf.len() as u64 >= len;
            active.retain_mut(|a| {
                while let Some(g) = a.deep.groups.get(a.group) {
                    // From `min` bytes after the last match's end, or from the piece's
                    // start when that lies before it (searched in the pieces before).
                    let from = a.from.saturating_add(g.min as u64).max(base) - base;
                    let Ok(from) = usize::try_from(from) else {
                        return !at_end;
                    };
                    match match_subs(&g.subs, 0, true, &buf, from, budget) {
                        Some(end) => {
                            a.from = base + end as u64;
                            a.group += 1;
                        }
                        None => return !at_end && budget.0 > 0,
                    }
                }
                matched.push(a.deep.sig);
                false
            });
            if at_end {
                break;
            }
            // Keep the overlap: a match that straddles the cut lies whole in the next
            // piece.
            let keep = overlap.min(buf.len());
            let drop = buf.len() - keep;
            buf.drain(..drop);
            base += drop as u64;
        }
        Ok(matched)
    }
}
