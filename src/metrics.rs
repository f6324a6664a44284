//! In-process counters and the job duration histogram, recorded by the worker pools and read
//! by `/metrics` (which adds queue depths, cron counters, Redis latency and RSS at scrape time).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the duration histogram buckets.
pub const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// How a job run ended, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunEnd {
    /// Completed.
    Completed,
    /// Failed, another attempt follows.
    Retried,
    /// Failed for good.
    Failed,
    /// Cut off by shutdown and requeued.
    Released,
}

impl RunEnd {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RunEnd::Completed => "completed",
            RunEnd::Retried => "retried",
            RunEnd::Failed => "failed",
            RunEnd::Released => "released",
        }
    }
}

/// A cumulative histogram.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// Count per bucket of [`BUCKETS`] (cumulative when rendered).
    pub buckets: [u64; BUCKETS.len()],
    /// All observations.
    pub count: u64,
    /// Sum of observations (seconds).
    pub sum: f64,
}

/// The registry.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (queue, name, end) → runs.
    runs: Mutex<BTreeMap<(String, String, RunEnd), u64>>,
    /// (queue, name) → durations.
    durations: Mutex<BTreeMap<(String, String), Histogram>>,
}

impl Metrics {
    /// Records one finished run.
    pub fn record(&self, queue: &str, name: &str, end: RunEnd, took: Duration) {
        let key = (queue.to_string(), name.to_string());
        *lock(&self.runs)
            .entry((key.0.clone(), key.1.clone(), end))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        let mut d = lock(&self.durations);
        let h = d.entry(key).or_default();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            h.buckets[i] += 1;
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Runs that ended (completed, retried or failed; not those released at shutdown).
    pub fn finished(&self) -> u64 {
        lock(&self.runs)
            .iter()
            .filter(|((_, _, end), _)| *end != RunEnd::Released)
            .map(|(_, n)| n)
            .sum()
    }

    /// A copy of the run counters.
    pub fn runs(&self) -> BTreeMap<(String, String, RunEnd), u64> {
        lock(&self.runs).clone()
    }

    /// A copy of the histograms.
    pub fn durations(&self) -> BTreeMap<(String, String), Histogram> {
        lock(&self.durations).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Resident set size of this process in bytes (Linux `/proc/self/status`), if readable.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_counts_and_buckets() {
        let m = Metrics::default();
        m.record("q", "n", RunEnd::Completed, Duration::from_millis(3));
        m.record("q", "n", RunEnd::Failed, Duration::from_secs(120));
        assert_eq!(m.runs()[&("q".into(), "n".into(), RunEnd::Completed)], 1);
        let h = &m.durations()[&("q".into(), "n".into())];
        assert_eq!(h.count, 2);
        assert_eq!(h.buckets[0], 1, "3 ms falls in the first bucket");
        assert_eq!(
            h.buckets.iter().sum::<u64>(),
            1,
            "120 s is beyond the last bucket (+Inf only)"
        );
        assert!(rss_bytes().unwrap() > 0);
    }
}
