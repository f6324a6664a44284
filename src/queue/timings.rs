//! cronq's own measurements of recent runs, per queue: how long each run took and how long its
//! job waited (from when it could first run — added, plus its own delay — to this attempt's
//! start). Fed by each pool's dispatch as runs end; read by `GET /api/queues/{q}/metrics`.
//!
//! Bound: the latest [`RING`] runs per queue, 24 bytes each (about 240 KB per busy queue), and
//! only queues this daemon consumes (the configured ones) are ever recorded. Older runs fall
//! off: on a queue finishing more than 10,000 runs in the chosen range, percentiles describe the
//! latest 10,000. Kept in memory only: a restart starts afresh.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Runs kept per queue.
pub const RING: usize = 10_000;

/// One finished run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// When it ended, Unix ms.
    pub ended_ms: i64,
    /// How long the handler ran, ms.
    pub duration_ms: u64,
    /// How long the job waited before this attempt started, ms.
    pub wait_ms: u64,
}

impl Timing {
    /// A run that just ended after `took`, of a job ready since `ready_ms`. A job whose
    /// stored timestamp lies ahead of this clock (another host's skew) waited 0.
    pub fn of_run(ready_ms: i64, took: std::time::Duration) -> Timing {
        let ended_ms = crate::queue::consumer::now_ms() as i64;
        let duration_ms = took.as_millis() as u64;
        let started_ms = ended_ms - duration_ms as i64;
        Timing {
            ended_ms,
            duration_ms,
            wait_ms: started_ms.saturating_sub(ready_ms).max(0) as u64,
        }
    }
}

/// Recent runs per queue. Shared (in an `Arc`) by the pools, which write, and the HTTP API,
/// which reads; a std mutex, never held across an await.
#[derive(Debug, Default)]
pub struct Timings {
    runs: Mutex<HashMap<String, VecDeque<Timing>>>,
}

impl Timings {
    /// Records one run of `queue`, dropping the oldest beyond [`RING`].
    pub fn record(&self, queue: &str, t: Timing) {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let ring = match runs.get_mut(queue) {
            Some(r) => r,
            None => runs.entry(queue.to_string()).or_default(),
        };
        if ring.len() == RING {
            ring.pop_front();
        }
        ring.push_back(t);
    }

    /// The runs of `queue` that ended at or after `since_ms`, oldest first.
    pub fn since(&self, queue: &str, since_ms: i64) -> Vec<Timing> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.get(queue)
            .map(|r| {
                r.iter()
                    .filter(|t| t.ended_ms >= since_ms)
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The `p`-th percentile (0–100) of `values` by nearest rank; `None` when empty. Sorts them.
pub fn percentile(values: &mut [u64], p: u32) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (p as usize * values.len()).div_ceil(100).max(1);
    Some(values[rank.min(values.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_latest_runs_only() {
        let t = Timings::default();
        for i in 0..(RING as i64 + 5) {
            t.record(
                "q",
                Timing {
                    ended_ms: i,
                    duration_ms: 1,
                    wait_ms: 0,
                },
            );
        }
        let kept = t.since("q", 0);
        assert_eq!(kept.len(), RING);
        assert_eq!(kept[0].ended_ms, 5, "the five oldest fell off");
        assert!(t.since("other", 0).is_empty());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(percentile(&mut v, 50), Some(50));
        assert_eq!(percentile(&mut v, 95), Some(95));
        assert_eq!(percentile(&mut v, 99), Some(99));
        assert_eq!(percentile(&mut [7], 99), Some(7));
        assert_eq!(percentile(&mut [], 50), None);
    }
}
