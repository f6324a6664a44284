//! Supercronic's Prometheus families, with its names, help and labels (`command`, `position`,
//! `schedule`), so that dashboards and alerts built on Supercronic keep working: one series per
//! crontab entry, next to cronq's own `cronq_*` families. Recorded by the worker pool for runs
//! of crontab entries only, as Supercronic has no other jobs.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{Labels, RunEnd};

/// Supercronic's execution-time buckets (seconds): cron jobs run for minutes, not milliseconds.
pub const CRON_BUCKETS: [f64; 8] = [10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];

/// A crontab entry as Supercronic labels it.
#[derive(Debug, Clone, Copy)]
pub struct EntryLabels<'a> {
    /// The command line.
    pub command: &'a str,
    /// Its index among the crontab's jobs, from 0.
    pub position: usize,
    /// The schedule as written.
    pub schedule: &'a str,
}

impl EntryLabels<'_> {
    fn labels(&self) -> Labels {
        vec![
            ("command", self.command.into()),
            ("position", self.position.to_string().as_str().into()),
            ("schedule", self.schedule.into()),
        ]
    }
}

/// The families; each handle is shared with the scrape's registry.
#[derive(Debug)]
pub struct CronMetrics {
    running: Family<Labels, Gauge>,
    executions: Family<Labels, Counter>,
    successes: Family<Labels, Counter>,
    failures: Family<Labels, Counter>,
    durations: Family<Labels, Histogram, fn() -> Histogram>,
}

impl Default for CronMetrics {
    fn default() -> Self {
        CronMetrics {
            running: Family::default(),
            executions: Family::default(),
            successes: Family::default(),
            failures: Family::default(),
            durations: Family::new_with_constructor(|| Histogram::new(CRON_BUCKETS)),
        }
    }
}

impl CronMetrics {
    /// A run of `entry` starts.
    pub fn started(&self, entry: EntryLabels<'_>) {
        self.running.get_or_create(&entry.labels()).inc();
    }

    /// A run of `entry` ended. A run cut off by shutdown (released, to run again) is not an
    /// execution; a failed attempt that will be retried is a failed execution, as each run is.
    pub fn finished(&self, entry: EntryLabels<'_>, end: RunEnd, took: std::time::Duration) {
        let labels = entry.labels();
        self.running.get_or_create(&labels).dec();
        if end == RunEnd::Released {
            return;
        }
        self.executions.get_or_create(&labels).inc();
        match end {
            RunEnd::Completed => self.successes.get_or_create(&labels).inc(),
            _ => self.failures.get_or_create(&labels).inc(),
        };
        self.durations
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Adds the families to a scrape's registry. `deadlines`: per entry, the ticks that found
    /// its previous run still going (Supercronic's "job is still running" warning), counted by
    /// the scheduler and read at scrape time.
    pub fn register<'a>(
        &self,
        registry: &mut Registry,
        deadlines: impl IntoIterator<Item = (EntryLabels<'a>, u64)>,
    ) {
        let deadline_exceeded = Family::<Labels, Counter>::default();
        for (entry, n) in deadlines {
            deadline_exceeded.get_or_create(&entry.labels()).inc_by(n);
        }
        // Counter names without `_total`: the encoder appends it.
        let families = [
            (
                "supercronic_executions",
                "count of cron executions",
                &self.executions,
            ),
            (
                "supercronic_successful_executions",
                "count of successful cron executions",
                &self.successes,
            ),
            (
                "supercronic_failed_executions",
                "count of failed cron executions",
                &self.failures,
            ),
            (
                "supercronic_deadline_exceeded",
                "count of cron executions still running at their next scheduled time",
                &deadline_exceeded,
            ),
        ];
        for (name, help, family) in families {
            registry.register(name, help, family.clone());
        }
        registry.register(
            "supercronic_currently_running",
            "count of currently running cron executions",
            self.running.clone(),
        );
        registry.register(
            "supercronic_cron_execution_time_seconds",
            "duration of the cron executions",
            self.durations.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn families_carry_supercronic_names_and_labels() {
        let m = CronMetrics::default();
        let e = EntryLabels {
            command: "echo hi",
            position: 0,
            schedule: "*/5 * * * *",
        };
        m.started(e);
        m.finished(e, RunEnd::Completed, Duration::from_secs(12));
        m.started(e);
        m.finished(e, RunEnd::Failed, Duration::from_secs(1));
        m.started(e);
        let mut reg = Registry::default();
        m.register(&mut reg, [(e, 1)]);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        let l = r#"{command="echo hi",position="0",schedule="*/5 * * * *"}"#;
        for line in [
            format!("supercronic_executions_total{l} 2"),
            format!("supercronic_successful_executions_total{l} 1"),
            format!("supercronic_failed_executions_total{l} 1"),
            format!("supercronic_deadline_exceeded_total{l} 1"),
            format!("supercronic_currently_running{l} 1"),
            format!("supercronic_cron_execution_time_seconds_count{l} 2"),
        ] {
            assert!(text.lines().any(|x| x == line), "{line} in:\n{text}");
        }
        let bucket = r#"supercronic_cron_execution_time_seconds_bucket{le="30.0",command="echo hi",position="0",schedule="*/5 * * * *"} 2"#;
        assert!(text.contains(bucket), "{text}");
    }
}
