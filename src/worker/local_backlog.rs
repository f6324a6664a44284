//! Local runs waiting to be recorded in the store. A crontab command run in the daemon while
//! the store was down (`worker/local.rs`) is kept here, and [`flush`] writes each, once the
//! store answers again, as a finished job of the crontab queue (`queue/record.rs`): the
//! dashboard's timeline, `worker status`, the entry's `last` and QueueEvents then see it. It
//! is never run again: it is written into `completed`/`failed` only, and not at all when a job
//! with the tick's id exists (another daemon reached the store and enqueued that tick).
//!
//! Bounded: at most [`CAP`] runs are kept (about 1 KB each); past it the oldest is dropped,
//! and the drops are counted in the warning logged at the next flush.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::queue::{FinishedRun, Store};

/// Runs kept at most: a `* * * * * * *` line fills it in about 17 minutes of outage; a
/// minutely line in about 17 hours.
pub const CAP: usize = 1000;

/// How often [`flush`] tries the store while runs wait.
const EVERY: Duration = Duration::from_secs(1);

/// A run that failed to be written this many times while the store answered is dropped with
/// a warning: a key a foreign tool made unwritable must not make the flush retry forever.
const MAX_TRIES: u32 = 30;

/// The backlog. The local runner pushes; [`flush`] (one task, started by `app`) takes.
#[derive(Debug, Default)]
pub struct Backlog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    runs: VecDeque<(FinishedRun, u32)>,
    dropped: u64,
}

impl Backlog {
    /// An empty backlog, shared by the local runner and the flush task.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `run` to record; drops the oldest when [`CAP`] are kept.
    pub fn push(&self, run: FinishedRun) {
        let mut inner = self.lock();
        if inner.runs.len() >= CAP {
            inner.runs.pop_front();
            inner.dropped += 1;
        }
        inner.runs.push_back((run, 0));
    }

    /// Runs waiting.
    pub fn len(&self) -> usize {
        self.lock().runs.len()
    }

    /// No run waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the waiting runs of `queue` into `store`, oldest first; stops at the first that
    /// cannot be written (the store is still down), keeping it and the rest for the next round.
    pub async fn flush_once(&self, store: &Store, queue: &str) {
        let dropped = std::mem::take(&mut self.lock().dropped);
        if dropped > 0 {
            tracing::warn!(queue, dropped, cap = CAP,
                "local runs made while the store was down were not recorded: the backlog keeps the newest {CAP}");
        }
        loop {
            let Some((run, _)) = self.lock().runs.front().cloned() else {
                return;
            };
            match store.record_run(queue, &run).await {
                Ok(written) => {
                    tracing::info!(queue, job_id = %run.id.escape_debug(), written,
                        "local run recorded in the store{}",
                        if written { "" } else { " (nothing written: a job with its id exists, or this queue's layout keeps no local runs)" });
                    self.lock().runs.pop_front();
                }
                Err(e) => {
                    let mut inner = self.lock();
                    let give_up = match inner.runs.front_mut() {
                        Some((front, tries)) if front.id == run.id => {
                            *tries += 1;
                            *tries >= MAX_TRIES && store_answers(&e)
                        }
                        _ => false,
                    };
                    if give_up {
                        inner.runs.pop_front();
                        tracing::warn!(queue, job_id = %run.id.escape_debug(), error = %e,
                            "local run not recorded after {MAX_TRIES} tries; dropped (fix the key the error names)");
                        continue;
                    }
                    tracing::debug!(queue, error = %e, "local runs not recorded yet; retrying");
                    return;
                }
            }
        }
    }
}

/// Whether error `e` came from a store that answered (a refused write), not an outage.
fn store_answers(e: &crate::queue::Error) -> bool {
    !matches!(e, crate::queue::Error::Unreachable { .. })
        && !e.to_string().to_ascii_lowercase().contains("connection")
}

/// Records `backlog`'s runs into `store` whenever some wait, until `stop` fires (then one
/// last try). Started by `app` beside the scheduler; `stop` is the daemon's stop token.
pub async fn flush(backlog: Arc<Backlog>, store: Store, queue: String, stop: CancellationToken) {
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.cancelled() => break,
        }
        if !backlog.is_empty() {
            backlog.flush_once(&store, &queue).await;
        }
    }
    if !backlog.is_empty() {
        let _ =
            tokio::time::timeout(Duration::from_secs(2), backlog.flush_once(&store, &queue)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::Retention;

    fn run(i: usize) -> FinishedRun {
        FinishedRun {
            id: format!("cron-e-{i}"),
            name: "e".into(),
            data: serde_json::json!({"local": true}),
            processed_on: 1,
            finished_on: 2,
            result: Ok(serde_json::Value::Null),
            keep: Retention::KeepAll,
        }
    }

    #[test]
    fn past_the_cap_the_oldest_is_dropped_and_counted() {
        let b = Backlog::new();
        for i in 0..CAP + 3 {
            b.push(run(i));
        }
        let inner = b.lock();
        assert_eq!(inner.runs.len(), CAP);
        assert_eq!(inner.dropped, 3);
        assert_eq!(
            inner.runs.front().map(|r| r.0.id.as_str()),
            Some("cron-e-3")
        );
    }
}

#[cfg(test)]
mod metric_tests {
    use crate::metrics::Metrics;

    #[test]
    fn local_runs_have_a_family_of_their_own() {
        let m = Metrics::default();
        m.local_run("3a02a2109e61", true);
        m.local_run("3a02a2109e61", false);
        m.local_run("3a02a2109e61", false);
        let mut reg = prometheus_client::registry::Registry::default();
        m.register(&mut reg);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        for line in [
            r#"cronq_cron_local_runs_total{entry="3a02a2109e61",outcome="completed"} 1"#,
            r#"cronq_cron_local_runs_total{entry="3a02a2109e61",outcome="failed"} 2"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }
}
