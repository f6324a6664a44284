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

/// The ticks of `e` in `from..=to`, oldest first, only the newest `max` of them: the missed
/// ticks `catch_up_mode = "all"` runs. Bounded by `max` in memory whatever the schedule.
pub(crate) fn ticks_between(
    e: &PlannedEntry,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max: usize,
) -> Vec<DateTime<Utc>> {
    let mut out = std::collections::VecDeque::with_capacity(max.min(1024));
    let Some(mut t) = e
        .schedule
        .next_after(from - chrono::Duration::seconds(1), e.tz)
    else {
        return Vec::new();
    };
    // Bounded like `latest_tick_between`: a one-second schedule over a week is 604,800 steps
    // at most, and the window is at most a week.
    for _ in 0..1_000_000 {
        if t > to || max == 0 {
            break;
        }
        if out.len() == max {
            out.pop_front();
        }
        out.push_back(t);
        match e.schedule.next_after(t, e.tz) {
            Some(n) => t = n,
            None => break,
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::plan::tests::at;

    #[test]
    fn all_missed_ticks_oldest_first_newest_max_kept() {
        let e = crate::cron::plan::tests::test_entry("e", "*/10 * * * *");
        let (from, to) = (at("2027-01-01T03:00:00Z"), at("2027-01-01T03:55:00Z"));
        let all = ticks_between(&e, from, to, 100);
        assert_eq!(all.len(), 6, "03:00 … 03:50: {all:?}");
        assert_eq!(all[0], from, "the window's start counts");
        let capped = ticks_between(&e, from, to, 2);
        assert_eq!(
            capped,
            vec![at("2027-01-01T03:40:00Z"), at("2027-01-01T03:50:00Z")]
        );
        assert!(ticks_between(&e, from, to, 0).is_empty());
        assert_eq!(latest_tick_between(&e, from, to), capped.last().copied());
    }
}
