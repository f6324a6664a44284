//! In-process counters and the job duration histogram, recorded by the worker pools and read
//! by `/metrics` (which adds queue depths, cron counters, Redis latency and RSS at scrape time).
//! Supercronic's families for crontab entries live in [`supercronic`].
//!
//! Label cardinality is bounded: job names come from producers (a foreign one may invent a new
//! name per job), and each (queue, name) costs a histogram and up to four counters for the
//! process's life. Names without a handler are counted under [`OTHER`], and past
//! [`MAX_NAMED_SERIES`] pairs every new name is too.

pub mod queue_ops;
pub mod supercronic;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the duration histogram buckets.
pub const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// The `name` label of runs whose job name has no handler, and of every name past the cap.
pub const OTHER: &str = "other";

/// At most this many distinct (queue, name) label pairs; later names count as [`OTHER`]. Far
/// above any real handler table, far below what a runaway producer would create.
pub const MAX_NAMED_SERIES: usize = 500;

/// Label pairs in their exposition order (`queue`, `name`, then `outcome` for runs).
pub type Labels = Vec<(&'static str, LabelValue)>;

/// A label value, escaped when encoded: `prometheus-client` 0.24 writes label values as they
/// are, and a queue or job name (from a foreign producer too) may hold `"`, `\` or a newline.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LabelValue(pub String);

impl From<&str> for LabelValue {
    fn from(v: &str) -> Self {
        LabelValue(v.to_string())
    }
}

impl prometheus_client::encoding::EncodeLabelValue for LabelValue {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder<'_>,
    ) -> std::fmt::Result {
        use std::fmt::Write;
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

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

/// The job metrics, kept in `prometheus-client` types; `/metrics` registers them with the
/// scrape-time values in one registry per scrape.
#[derive(Debug)]
pub struct Metrics {
    /// `cronq_jobs_total{queue,name,outcome}`.
    runs: Family<Labels, Counter>,
    /// `cronq_job_duration_seconds{queue,name}`.
    durations: Family<Labels, Histogram, fn() -> Histogram>,
    /// Runs that ended (not released): read by the recycle limit, which needs no labels.
    finished: AtomicU64,
    /// queue → name → that pair's series handles. `get_or_create` builds and hashes a label
    /// vector (four `String`s) on every call; looking the handles up by `&str` here costs no
    /// allocation per run (BENCHMARKS.md, issue 18). Grows with the same pairs the families do.
    series: RwLock<HashMap<String, HashMap<String, Arc<Series>>>>,
    /// Pairs in `series`, for the cap.
    named: AtomicU64,
    /// Supercronic's families, for runs of crontab entries.
    pub cron: supercronic::CronMetrics,
    /// `cronq_cron_local_runs_total{entry,outcome}`: crontab runs made in the daemon while the
    /// store was down (`worker/local.rs`). Entries are the crontab's: bounded.
    local_runs: Family<Labels, Counter>,
    /// Cancels and dead letters (`queue_ops.rs`).
    pub ops: queue_ops::QueueOps,
}

/// Handles on one (queue, name)'s series, sharing their values with the families.
#[derive(Debug)]
struct Series {
    /// The `name` label these series carry (the job name, or [`OTHER`]).
    name: String,
    /// By [`RunEnd`]; created at its first use, so a series that never happened is not shown.
    runs: [OnceLock<Counter>; 4],
    duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            runs: Family::default(),
            durations: Family::new_with_constructor(|| Histogram::new(BUCKETS)),
            finished: AtomicU64::new(0),
            series: RwLock::new(HashMap::new()),
            named: AtomicU64::new(0),
            cron: Default::default(),
            local_runs: Family::default(),
            ops: Default::default(),
        }
    }
}

impl Metrics {
    /// Records one finished run; `known`: the job name has a handler (else it counts as
    /// [`OTHER`]).
    pub fn record(&self, queue: &str, name: &str, known: bool, end: RunEnd, took: Duration) {
        let series = self.series(queue, if known { name } else { OTHER });
        series.runs[end as usize]
            .get_or_init(|| {
                let run: Labels = vec![
                    ("queue", queue.into()),
                    ("name", series.name.as_str().into()),
                    ("outcome", end.as_str().into()),
                ];
                self.runs.get_or_create(&run).clone()
            })
            .inc();
        series.duration.observe(took.as_secs_f64());
        if end != RunEnd::Released {
            self.finished.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The handles of (`queue`, `name`), created at the pair's first run.
    fn series(&self, queue: &str, name: &str) -> Arc<Series> {
        let found = self
            .series
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(queue)
            .and_then(|by_name| by_name.get(name))
            .cloned();
        if let Some(s) = found {
            return s;
        }
        let mut all = self.series.write().unwrap_or_else(|p| p.into_inner());
        let full = self.named.load(Ordering::Relaxed) as usize >= MAX_NAMED_SERIES;
        let name = match all.get(queue).is_some_and(|n| n.contains_key(name)) {
            true => name,
            false if full => OTHER,
            false => {
                self.named.fetch_add(1, Ordering::Relaxed);
                name
            }
        };
        let by_name = all.entry(queue.to_string()).or_default();
        by_name
            .entry(name.to_string())
            .or_insert_with(|| {
                let job: Labels = vec![("queue", queue.into()), ("name", name.into())];
                Arc::new(Series {
                    name: name.to_string(),
                    runs: Default::default(),
                    duration: self.durations.get_or_create(&job).clone(),
                })
            })
            .clone()
    }

    /// A crontab run of `entry` made in the daemon while the store was down ended.
    pub fn local_run(&self, entry: &str, completed: bool) {
        let outcome = if completed { "completed" } else { "failed" };
        let labels: Labels = vec![("entry", entry.into()), ("outcome", outcome.into())];
        self.local_runs.get_or_create(&labels).inc();
    }

    /// Runs that ended (completed, retried or failed; not those released at shutdown).
    pub fn finished(&self) -> u64 {
        self.finished.load(Ordering::Relaxed)
    }

    /// Adds the job counters and the duration histogram to a scrape's registry (the families
    /// are shared handles: the registry reads the live values).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            // The encoder appends `_total` to a counter's name.
            "cronq_jobs",
            "Job runs finished by this process, by queue, job name and outcome (completed, retried, failed, released).",
            self.runs.clone(),
        );
        registry.register(
            "cronq_job_duration_seconds",
            "Handler run time, by queue and job name.",
            self.durations.clone(),
        );
        registry.register(
            "cronq_cron_local_runs",
            "Crontab runs made in this daemon while the store was down ([cron] when_store_down), by entry id and outcome.",
            self.local_runs.clone(),
        );
        self.ops.register(registry);
    }
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
        m.record("q", "n", true, RunEnd::Completed, Duration::from_millis(3));
        m.record("q", "n", true, RunEnd::Failed, Duration::from_secs(120));
        m.record("q", "n", true, RunEnd::Released, Duration::from_secs(1));
        assert_eq!(m.finished(), 2, "released runs are not finished");
        let mut registry = Registry::default();
        m.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            r#"cronq_jobs_total{queue="q",name="n",outcome="completed"} 1"#,
            r#"cronq_jobs_total{queue="q",name="n",outcome="failed"} 1"#,
            // 3 ms falls in the first bucket; 120 s only in +Inf.
            r#"cronq_job_duration_seconds_bucket{le="0.005",queue="q",name="n"} 1"#,
            r#"cronq_job_duration_seconds_bucket{le="60.0",queue="q",name="n"} 2"#,
            r#"cronq_job_duration_seconds_bucket{le="+Inf",queue="q",name="n"} 3"#,
            r#"cronq_job_duration_seconds_count{queue="q",name="n"} 3"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
        assert!(rss_bytes().unwrap() > 0);
    }

    fn exposition(m: &Metrics) -> String {
        let mut registry = Registry::default();
        m.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn producer_chosen_names_cannot_grow_the_exposition_without_bound() {
        let m = Metrics::default();
        // 3,000 names without a handler: one `other` series.
        for i in 0..3000 {
            m.record(
                "q",
                &format!("junk-{i}"),
                false,
                RunEnd::Failed,
                Duration::ZERO,
            );
        }
        let text = exposition(&m);
        assert!(!text.contains("junk-"), "{}", &text[..500.min(text.len())]);
        assert!(text.contains(r#"cronq_jobs_total{queue="q",name="other",outcome="failed"} 3000"#));
        // Known names keep their label up to the cap; later ones fold into `other`.
        for i in 0..MAX_NAMED_SERIES + 100 {
            m.record(
                "q",
                &format!("h{i}"),
                true,
                RunEnd::Completed,
                Duration::ZERO,
            );
        }
        let text = exposition(&m);
        let named = text
            .lines()
            .filter(|l| l.starts_with("cronq_jobs_total{"))
            .count();
        assert!(named <= MAX_NAMED_SERIES + 1, "{named} series");
        assert!(text.len() < 1 << 20, "{} bytes", text.len());
        // A name seen before the cap keeps its own series.
        m.record("q", "h0", true, RunEnd::Completed, Duration::ZERO);
        assert!(exposition(&m)
            .contains(r#"cronq_jobs_total{queue="q",name="h0",outcome="completed"} 2"#));
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::default();
        m.record("q", "a\"b\\c\nd", true, RunEnd::Completed, Duration::ZERO);
        let mut registry = Registry::default();
        m.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains(r#"name="a\"b\\c\nd""#), "{text}");
    }
}
