//! Counters of what happens to jobs beside their runs (issue 30): cancels and dead letters.
//! Queues are the config's (a cancel router and a dead-letter target only act on consumed,
//! configured queues), so the label sets stay bounded.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::Labels;

/// How a cancel took effect, for `cronq_job_cancels_total{queue,how}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelHow {
    /// A running job's handler was stopped in this daemon.
    Stopped,
    /// A job not started yet was removed through this daemon's API.
    Removed,
}

/// Whether a dead letter was written, for `cronq_dead_letters_total{queue,target,outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterOutcome {
    /// Added to the target queue (or already there: a replay after a crash).
    Added,
    /// The target did not take it: the job is in its queue's failed set all the same.
    Error,
}

/// The families; `Metrics::ops` holds one.
#[derive(Debug, Default)]
pub struct QueueOps {
    cancels: Family<Labels, Counter>,
    dead_letters: Family<Labels, Counter>,
}

impl QueueOps {
    /// Counts one cancel of a job of `queue`.
    pub fn cancelled(&self, queue: &str, how: CancelHow) {
        let how = match how {
            CancelHow::Stopped => "stopped",
            CancelHow::Removed => "removed",
        };
        let labels: Labels = vec![("queue", queue.into()), ("how", how.into())];
        self.cancels.get_or_create(&labels).inc();
    }

    /// Counts one dead letter from `queue` to `target`.
    pub fn dead_lettered(&self, queue: &str, target: &str, outcome: DeadLetterOutcome) {
        let outcome = match outcome {
            DeadLetterOutcome::Added => "added",
            DeadLetterOutcome::Error => "error",
        };
        let labels: Labels = vec![
            ("queue", queue.into()),
            ("target", target.into()),
            ("outcome", outcome.into()),
        ];
        self.dead_letters.get_or_create(&labels).inc();
    }

    /// The current count of cancels of `queue` done `how` (for tests and the dashboard).
    pub fn cancels(&self, queue: &str, how: &'static str) -> u64 {
        let labels: Labels = vec![("queue", queue.into()), ("how", how.into())];
        self.cancels.get_or_create(&labels).get()
    }

    /// Adds the families to a scrape's registry.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "cronq_job_cancels",
            "Jobs cancelled on request, by queue and how (stopped: its run was stopped in this daemon; removed: it had not started and was removed through this daemon's API).",
            self.cancels.clone(),
        );
        registry.register(
            "cronq_dead_letters",
            "Jobs that failed for the last time copied to their queue's dead_letter queue by this daemon, by queue, target and outcome (added, error).",
            self.dead_letters.clone(),
        );
    }
}
