//! Which ticks of an entry fall in a window: the latest one at or before an instant (the
//! overlap memory at start, the "last run" of a schedule row) and the latest one between two
//! instants (catch-up after downtime, missed ticks). Pure arithmetic over the schedule.

use chrono::{DateTime, Utc};

use super::super::plan::PlannedEntry;

/// The latest tick at or before `now`, searched back one day at most (and only a few
/// intervals for frequent schedules, to keep start-up cheap).
pub(crate) fn previous_tick(e: &PlannedEntry, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let window = e
        .schedule
        .min_interval_secs()
        .map_or(86_400, |i| (i * 3).clamp(60, 86_400));
    latest_tick_between(e, now - chrono::Duration::seconds(window as i64), now)
}

pub(crate) fn latest_tick_between(
    e: &PlannedEntry,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut t = e.schedule.next_after(from, e.tz)?;
    if t > to {
        return None;
    }
    // Bounded: a one-second schedule over a day is 86,400 steps at most.
    for _ in 0..100_000 {
        match e.schedule.next_after(t, e.tz) {
            Some(n) if n <= to => t = n,
            _ => break,
        }
    }
    Some(t)
}
