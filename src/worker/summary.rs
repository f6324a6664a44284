//! The per-queue summary line: completed, failed and mean duration over the last minute, at
//! `info`, while per-job lines of queue jobs are at `debug` (two `info` lines per job cost about
//! a seventh of the throughput at concurrency 1).
//!
//! Written lazily by the job that ends a window, not by a timer: an idle queue costs no wake-up
//! and prints nothing (there is nothing to summarise). The cost per job is three relaxed atomic
//! adds and one load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a busy queue logs its summary.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// Counters of one queue since its last summary line.
#[derive(Debug)]
pub struct Summary {
    completed: AtomicU64,
    failed: AtomicU64,
    /// Sum of run durations in µs, for the mean.
    total_us: AtomicU64,
    /// Start of the current window; taken by the one job that ends it (try_lock: the others
    /// never wait on it).
    since: Mutex<Instant>,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            total_us: AtomicU64::new(0),
            since: Mutex::new(Instant::now()),
        }
    }
}

impl Summary {
    /// Counts one run of `queue` that took `took`; `failed` when it failed or will retry. Logs
    /// the summary when the window is over.
    pub fn record(&self, queue: &str, failed: bool, took: Duration) {
        let counter = if failed {
            &self.failed
        } else {
            &self.completed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.total_us
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        let Ok(mut since) = self.since.try_lock() else {
            return; // Another job is writing the line.
        };
        let window = since.elapsed();
        if window < SUMMARY_EVERY {
            return;
        }
        *since = Instant::now();
        // A run counted between these swaps lands in one window or the next, never in neither.
        let completed = self.completed.swap(0, Ordering::Relaxed);
        let failed = self.failed.swap(0, Ordering::Relaxed);
        let total_us = self.total_us.swap(0, Ordering::Relaxed);
        let runs = (completed + failed).max(1);
        let mean_ms = (total_us as f64 / runs as f64 / 1000.0 * 1000.0).round() / 1000.0;
        tracing::info!(
            queue,
            completed,
            failed,
            mean_duration_ms = mean_ms,
            window_s = window.as_secs(),
            "queue summary"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reset_when_a_window_ends() {
        let s = Summary::default();
        s.record("q", false, Duration::from_millis(2));
        s.record("q", true, Duration::from_millis(4));
        assert_eq!(s.completed.load(Ordering::Relaxed), 1);
        assert_eq!(s.failed.load(Ordering::Relaxed), 1);
        // End the window by moving its start back.
        *s.since.lock().unwrap() = Instant::now() - SUMMARY_EVERY;
        s.record("q", false, Duration::from_millis(6));
        assert_eq!(s.completed.load(Ordering::Relaxed), 0);
        assert_eq!(s.total_us.load(Ordering::Relaxed), 0);
    }
}
