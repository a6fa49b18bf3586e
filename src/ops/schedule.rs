//! The fixity schedule's pure part: each bag's last check folded from the event log,
//! the order `fixity --due` takes bags in, the shard an identifier falls in, and the
//! per-day counts the charts draw. No disk, no lock: what `fixity`, `fixity --replica`,
//! `audit`, `show`, `report` and `cairn serve` share (docs/fixity.md).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::fs::events::EventBrief;
use crate::vocab::{EventType, Outcome};

/// Which bags to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Those whose last check is older than the interval (then the next-oldest while a
    /// budget lasts).
    Due,
    All,
    Ids(Vec<String>),
}

/// Which shard (1-based) of `n` an identifier falls in: stable across machines and runs.
pub fn shard_of(id: &str, n: u64) -> u64 {
    let h = blake3::hash(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_le_bytes(first) % n.max(1) + 1
}

/// Each object's last check, by identifier: a hash map, since it is looked up once per
/// event of the log (a million lookups at 100,000 items) and never iterated in order.
pub type LastChecks = HashMap<String, DateTime<Utc>>;

/// One object's last fixity check of the archive's own bag, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixitySeen {
    /// The event's time, as the log spells it.
    pub time: String,
    /// The event's outcome, as the log spells it.
    pub outcome: String,
}

/// Each object's last fixity check of the archive's own bag, by identifier.
#[derive(Debug, Clone, Default)]
pub struct LastFixity(HashMap<String, FixitySeen>);

impl LastFixity {
    pub fn new() -> LastFixity {
        LastFixity::default()
    }

    /// The last fixity check of `id`'s bag, if the log has one.
    pub fn get(&self, id: &str) -> Option<&FixitySeen> {
        self.0.get(id)
    }
}

/// Takes one event into [`LastFixity`]: a fixity check of the archive's bag; a
/// replica's (`fixity --replica`) says nothing of it.
pub fn fold_last_fixity(out: &mut LastFixity, e: &EventBrief) {
    if EventType::FixityCheck.is(&e.event_type) && !e.replica {
        let seen = FixitySeen {
            time: e.time.clone(),
            outcome: e.outcome.clone(),
        };
        match out.0.get_mut(e.object.as_str()) {
            Some(slot) => *slot = seen,
            None => {
                out.0.insert(e.object.clone(), seen);
            }
        }
    }
}

/// Fixity checks of the archive's own bags per day (UTC): (passed, failed). What the
/// charts of `cairn serve` and `cairn report --html` draw, folded as the log goes by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixityDays(pub BTreeMap<chrono::NaiveDate, (u32, u32)>);

impl FixityDays {
    /// Counts one event: a fixity check of the archive's bag on its day, passed when
    /// its outcome is `success`. A replica's check (`fixity --replica`), any other
    /// event, and a time that does not parse count for nothing.
    pub fn note(&mut self, event_type: &str, time: &str, outcome: &str, replica: bool) {
        if !EventType::FixityCheck.is(event_type) || replica {
            return;
        }
        let Ok(t) = DateTime::parse_from_rfc3339(time) else {
            return;
        };
        let day = self
            .0
            .entry(t.with_timezone(&Utc).date_naive())
            .or_default();
        if Outcome::Success.is(outcome) {
            day.0 = day.0.saturating_add(1);
        } else {
            day.1 = day.1.saturating_add(1);
        }
    }
}

/// Takes one event into a map of each object's last check (its latest fixity check
/// or ingest validation): a check of a replica, or a time that does not parse, counts
/// for nothing.
pub fn fold_last_check(out: &mut LastChecks, e: &EventBrief) {
    if !EventType::FixityCheck.is(&e.event_type) && !EventType::Validation.is(&e.event_type) {
        return;
    }
    // A replica's check (`fixity --replica`) says nothing of the archive's bag.
    if e.replica {
        return;
    }
    let Ok(t) = DateTime::parse_from_rfc3339(&e.time) else {
        return;
    };
    let t = t.with_timezone(&Utc);
    match out.get_mut(e.object.as_str()) {
        Some(slot) if t > *slot => *slot = t,
        Some(_) => {}
        None => {
            out.insert(e.object.clone(), t);
        }
    }
}

/// The order in which to check: for `Due`, due bags oldest first, then (with a
/// budget) the rest oldest first; never-checked bags count as oldest.
pub fn plan(
    ids: &[String],
    last: &LastChecks,
    now: DateTime<Utc>,
    interval: chrono::Duration,
    selection: &Selection,
    budgeted: bool,
) -> (Vec<String>, usize) {
    match selection {
        Selection::All => (ids.to_vec(), 0),
        Selection::Ids(wanted) => (wanted.clone(), 0),
        Selection::Due => {
            let mut order: Vec<(Option<DateTime<Utc>>, String)> = ids
                .iter()
                .map(|id| (last.get(id).copied(), id.clone()))
                .collect();
            order.sort();
            let due_count = order
                .iter()
                .filter(|(t, _)| t.is_none_or(|t| now - t >= interval))
                .count();
            let take = if budgeted { order.len() } else { due_count };
            (
                order.into_iter().take(take).map(|(_, id)| id).collect(),
                due_count,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_deterministically() {
        let ids: Vec<String> = (0..1000).map(|i| format!("cairn-{i:06}")).collect();
        let mut counts = [0usize; 4];
        for id in &ids {
            let k = shard_of(id, 4);
            assert!((1..=4).contains(&k));
            assert_eq!(k, shard_of(id, 4));
            counts[(k - 1) as usize] += 1;
        }
        assert_eq!(counts.iter().sum::<usize>(), 1000);
        assert!(counts.iter().all(|&c| c > 180), "{counts:?}");
    }

    #[test]
    fn due_plan_orders_oldest_first_and_extends_with_a_budget() {
        let t = |d: i64| DateTime::<Utc>::from_timestamp(d * 86400, 0).unwrap();
        let ids: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let mut last = LastChecks::new();
        last.insert("a".to_string(), t(10));
        last.insert("b".to_string(), t(2));
        last.insert("c".to_string(), t(5));
        // d never checked.
        let (order, due) = plan(
            &ids,
            &last,
            t(12),
            chrono::Duration::days(7),
            &Selection::Due,
            false,
        );
        assert_eq!(order, vec!["d", "b", "c"]);
        assert_eq!(due, 3);
        let (order, _) = plan(
            &ids,
            &last,
            t(12),
            chrono::Duration::days(7),
            &Selection::Due,
            true,
        );
        assert_eq!(order, vec!["d", "b", "c", "a"]);
    }
}
