//! Job metrics as BullMQ keeps them: completed and failed counts per minute, recorded by the
//! worker as each job finishes (BullMQ's Worker `metrics` option). Redis keeps them in BullMQ's
//! own keys (so Node's `queue.getMetrics()` and Bull Board see cronq's work); the embedded
//! store keeps the same series in a table. Read back as [`MinuteCounts`].

use std::collections::BTreeMap;

/// One minute, as Unix milliseconds of its start.
pub type Minute = i64;

/// Finished jobs per minute of one queue, over a window of recent minutes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MinuteCounts {
    /// Jobs completed, by minute (minutes with none are absent).
    pub completed: BTreeMap<Minute, u64>,
    /// Jobs failed for good, by minute.
    pub failed: BTreeMap<Minute, u64>,
    /// Jobs completed since the series began (BullMQ's `meta.count`).
    pub completed_total: u64,
    /// Jobs failed since the series began.
    pub failed_total: u64,
}

/// The start of the minute holding `ms`.
pub fn minute_of(ms: i64) -> Minute {
    ms.div_euclid(60_000) * 60_000
}

/// Rebuilds the per-minute counts of BullMQ's series: `count` jobs in all, `prev_count` of them
/// before the minute of `prev_ts`, and `data` (newest first) the counts of the minutes before
/// that one, one entry per minute (see `collectMetrics` in BullMQ's `moveToFinished`). Only
/// minutes from `since` on are kept.
pub(crate) fn from_bullmq(
    count: u64,
    prev_ts: i64,
    prev_count: u64,
    data: &[u64],
    since: Minute,
) -> BTreeMap<Minute, u64> {
    let mut out = BTreeMap::new();
    if count == 0 {
        return out;
    }
    let current = minute_of(prev_ts);
    let latest = count.saturating_sub(prev_count);
    if latest > 0 && current >= since {
        out.insert(current, latest);
    }
    for (i, n) in data.iter().enumerate() {
        let minute = current - 60_000 * (i as i64 + 1);
        if minute < since {
            break;
        }
        if *n > 0 {
            out.insert(minute, *n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_minute_and_the_list_map_to_minutes_newest_first() {
        // 7 jobs in all; 5 before the minute of prevTS (12:03), which holds 2; the list holds
        // 12:02 → 0, 12:01 → 4, 12:00 → 1.
        let m = |k: i64| 12 * 3_600_000 + k * 60_000;
        let got = from_bullmq(7, m(3) + 1234, 5, &[0, 4, 1], m(1));
        let want: BTreeMap<_, _> = [(m(3), 2), (m(1), 4)].into_iter().collect();
        assert_eq!(got, want, "12:00 lies before the window");
    }

    #[test]
    fn an_empty_series_has_no_minutes() {
        assert!(from_bullmq(0, 0, 0, &[], 0).is_empty());
    }
}
