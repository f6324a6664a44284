//! Ticks the scheduler did not turn into jobs — skipped by the overlap policy or missed — kept
//! per entry for the dashboard's timeline (`GET /api/schedules/timeline`). Runs themselves are
//! read back from the queue (their ids say entry and tick); these leave no job behind.
//!
//! Bound: the latest [`PER_ENTRY`] marks per entry id, 16 bytes each plus the id, so 10,000
//! entries that all miss cost a few MB at most. Memory only: a restart forgets them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Marks kept per entry (a minutely entry's last two days).
pub const PER_ENTRY: usize = 64;

/// Why a tick left no job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MarkKind {
    /// The previous run was still going (overlap = forbid).
    Skipped,
    /// Too late to run (suspend, clock jump), or the store did not take it in time.
    Missed,
    /// The entry was paused by an operator.
    Paused,
}

/// Recent skipped and missed ticks per entry. Written by the scheduler, read by the API; a std
/// mutex, never held across an await.
#[derive(Debug, Default)]
pub struct TickMarks {
    marks: Mutex<HashMap<String, VecDeque<(i64, MarkKind)>>>,
}

impl TickMarks {
    /// Notes that `entry`'s tick at `at_ms` (Unix ms) left no job, for `kind`.
    pub fn note(&self, entry: &str, at_ms: i64, kind: MarkKind) {
        let mut marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        let ring = marks.entry(entry.to_string()).or_default();
        if ring.len() == PER_ENTRY {
            ring.pop_front();
        }
        ring.push_back((at_ms, kind));
    }

    /// `entry`'s marks at or after `since_ms`, oldest first.
    pub fn since(&self, entry: &str, since_ms: i64) -> Vec<(i64, MarkKind)> {
        let marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        marks
            .get(entry)
            .map(|r| r.iter().filter(|m| m.0 >= since_ms).copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_bounded_per_entry() {
        let m = TickMarks::default();
        for i in 0..(PER_ENTRY as i64 + 3) {
            m.note("a", i, MarkKind::Missed);
        }
        m.note("b", 5, MarkKind::Skipped);
        let a = m.since("a", 0);
        assert_eq!(a.len(), PER_ENTRY);
        assert_eq!(a[0].0, 3);
        assert_eq!(m.since("b", 6), vec![]);
        assert_eq!(m.since("b", 0), vec![(5, MarkKind::Skipped)]);
    }
}
