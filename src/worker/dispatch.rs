//! The processor of one queue: picks the handler by job name from local configuration, runs
//! it under its timeout and the shutdown deadline, streams its output into the job log, and
//! reports one structured log line per start and end: at `info` for crontab runs (as Supercronic
//! does), at `debug` for queue jobs, whose `info` trace is the per-minute summary
//! (`summary.rs`). Failures are `warn` either way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use std::panic::AssertUnwindSafe;

use async_trait::async_trait;
use futures::FutureExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::handler::echo::{Echo, EchoMode, EntryInfo};
use super::handler::{Handler, JobInput, LogSender};
use super::summary::Summary;
use crate::metrics::{Metrics, RunEnd};
use crate::queue::{ActiveJob, Outcome, Processor};
use crate::telemetry::supercronic::{SC_FAILED, SC_STARTING, SC_SUCCEEDED};
pub(super) use control::supervise;
use control::{control_of, Control};
use dead_letter::DeadLetter;
use run_cancel::{RunCancel, Unregister};

/// A handler and the timeout its runs get.
#[derive(Debug)]
pub struct Route {
    /// What runs.
    pub handler: Handler,
    /// Kill the run after this long (a retryable failure).
    pub timeout: Option<Duration>,
    /// Whether its output lines also reach the daemon's output, and how.
    pub echo: EchoMode,
    /// The crontab entry it runs, for `cron` queue routes (log lines name it).
    pub entry: Option<Arc<EntryInfo>>,
    /// For a crontab entry's route: how late a first attempt may still start (see
    /// `dispatch/cron.rs`).
    pub window: Option<crate::cron::window::RunWindow>,
}

/// Handlers by job name. Swappable as a whole (crontab reload replaces the `cron` queue's
/// table without waiting for running jobs, which keep the `Arc` of the table they started with).
pub type RouteTable = Arc<RwLock<Arc<HashMap<String, Arc<Route>>>>>;

/// The [`Processor`] of one queue.
pub struct Dispatch {
    queue: String,
    routes: RouteTable,
    /// Fires at the drain deadline (held by `app`): running handlers are stopped and their jobs
    /// released back to `wait`.
    cut_off: CancellationToken,
    /// Jobs running now; read by `/health` (a saturated pool is busy, not stuck).
    running: Arc<AtomicUsize>,
    /// Run counters and durations, read by `/metrics`.
    metrics: Arc<Metrics>,
    /// Recent run timings, read by the metrics API (shared with `Status`).
    timings: Option<Arc<crate::queue::Timings>>,
    /// Job id → cancel handle of each running job (held by that job's run; `cancel` fires it).
    cancels: std::sync::Mutex<HashMap<String, RunCancel>>,
    /// Refuse jobs whose data carries a `command` (the `cron` queue: its commands come only
    /// from the local crontab, so such a job is forged or misrouted).
    refuse_commands: bool,
    /// This queue's counters for the per-minute summary line.
    summary: Summary,
    /// The crontab's queue only: the store asked who holds an entry this daemon does not, so
    /// its jobs are handed back rather than failed (`dispatch/cron.rs`).
    handback: Option<crate::queue::Store>,
    /// `[queues.NAME] dead_letter`: where a job failing for good is copied (`dispatch/dead_letter.rs`).
    dead_letter: Option<DeadLetter>,
}

impl Dispatch {
    /// A processor for `queue`. `cut_off` is the drain deadline token held by `app`: when it
    /// fires, running handlers are stopped and their jobs released to `wait`.
    pub fn new(
        queue: &str,
        routes: RouteTable,
        cut_off: CancellationToken,
        metrics: Arc<Metrics>,
    ) -> Self {
        Dispatch {
            queue: queue.to_string(),
            routes,
            cut_off,
            running: Arc::new(AtomicUsize::new(0)),
            metrics,
            timings: None,
            refuse_commands: false,
            cancels: std::sync::Mutex::new(HashMap::new()),
            summary: Summary::default(),
            handback: None,
            dead_letter: None,
        }
    }

    /// Hands jobs of crontab entries this daemon does not hold back for the daemons that do,
    /// asking `store` who they are (the crontab's queue).
    pub fn handing_back(mut self, store: crate::queue::Store) -> Self {
        self.handback = Some(store);
        self
    }

    /// Copies jobs failing for good to a dead-letter queue.
    pub fn dead_lettering(mut self, to: DeadLetter) -> Self {
        self.dead_letter = Some(to);
        self
    }

    /// The count of jobs running now (shared with `/health`).
    pub fn running(&self) -> Arc<AtomicUsize> {
        self.running.clone()
    }

    /// Records each finished run's duration and wait into `timings`.
    pub fn timing_into(mut self, timings: Arc<crate::queue::Timings>) -> Self {
        self.timings = Some(timings);
        self
    }

    /// Refuses jobs whose data carries a `command` field (see the field).
    pub fn refusing_commands(mut self) -> Self {
        self.refuse_commands = true;
        self
    }

    fn route(&self, name: &str) -> Option<Arc<Route>> {
        let table = self
            .routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        // A name without a handler of its own goes to the queue's catch-all, if it has one.
        table
            .get(name)
            .or_else(|| table.get(super::routes::CATCH_ALL))
            .cloned()
    }
}

/// Decrements the running count however the run ends (even on panic).
struct RunningGuard(Arc<AtomicUsize>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl Processor for Dispatch {
    /// Only persistent handlers hand a job its options (`job.opts` in a processor file).
    fn wants_opts(&self, name: &str) -> bool {
        self.route(name)
            .is_some_and(|r| matches!(r.handler, Handler::Process(_)))
    }

    async fn process(&self, mut job: ActiveJob) -> Outcome {
        self.running.fetch_add(1, Ordering::Relaxed);
        let _guard = RunningGuard(self.running.clone());
        let started = Instant::now();
        // Looked up once per run (a reload swaps the table, never a running job's route).
        let route = self.route(&job.name);
        // For /metrics: a name without a handler is not a label of its own (see `metrics`), and
        // a crontab entry's run is also counted in Supercronic's families.
        let known = route.is_some();
        let cron_entry = route.as_ref().and_then(|r| r.entry.clone());
        if let Some(e) = &cron_entry {
            self.metrics.cron.started(e.metric_labels());
        }
        // A crontab entry's run lines carry its command, schedule and position too, which the
        // log formats show under Supercronic's `job.*` names.
        let command = cron_entry.as_ref().map(|e| e.command.as_str());
        let schedule = cron_entry.as_ref().map(|e| e.schedule.as_str());
        let position = cron_entry.as_ref().map(|e| e.position as u64);
        // A crontab entry's run names the entry readably (its job name is only the entry id).
        let entry = route
            .as_ref()
            .and_then(|r| r.entry.as_ref().map(|e| e.label.clone()));
        let entry = entry.as_deref();
        // The handler gets the data itself, not a copy; only a queue with a dead-letter queue
        // keeps one, for the letter.
        let kept = self.dead_letter.as_ref().map(|_| job.data.clone());
        let data = std::mem::replace(&mut job.data, Ok(serde_json::Value::Null));
        if entry.is_some() {
            tracing::info!(queue = %job.queue, job_id = %job.id, name = %job.name, entry, command, schedule, position, attempt = job.attempt, msg = SC_STARTING, "job started");
        } else {
            tracing::debug!(queue = %job.queue, job_id = %job.id, name = %job.name, attempt = job.attempt, "job started");
        }
        // A handler that panics fails its job (retryable) instead of leaving it active until
        // stalled recovery, and never takes the pool down.
        let mut cancelled = false;
        let outcome = match AssertUnwindSafe(self.run(&job, route, data, &mut cancelled))
            .catch_unwind()
            .await
        {
            Ok(o) => o,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(queue = %job.queue, job_id = %job.id, panic = %what, "handler panicked");
                Outcome::Retry(format!("handler panicked: {what}"))
            }
        };
        let took = started.elapsed();
        let duration_ms = took.as_millis() as u64;
        let (q, id, name, attempt) = (&job.queue, &job.id, &job.name, job.attempt);
        let end = match &outcome {
            Outcome::Completed(_) => {
                if entry.is_some() {
                    tracing::info!(queue = %q, job_id = %id, name = %name, entry, command, schedule, position, attempt, duration_ms, msg = SC_SUCCEEDED, "job completed");
                } else {
                    tracing::debug!(queue = %q, job_id = %id, name = %name, attempt, duration_ms, "job completed");
                }
                RunEnd::Completed
            }
            Outcome::Retry(reason) if crate::queue::retry::retries(attempt, job.max_attempts) => {
                tracing::warn!(queue = %q, job_id = %id, name = %name, entry, command, schedule, position, attempt, duration_ms, will_retry = true, error = %reason, msg = entry.map(|_| SC_FAILED), "job failed");
                RunEnd::Retried
            }
            Outcome::Retry(reason) | Outcome::Fail(reason) => {
                tracing::warn!(queue = %q, job_id = %id, name = %name, entry, command, schedule, position, attempt, duration_ms, will_retry = false, error = %reason, msg = entry.map(|_| SC_FAILED), "job failed");
                crate::telemetry::sentry::job_failed(q, id, name, entry, reason);
                RunEnd::Failed
            }
            Outcome::Release => {
                tracing::warn!(queue = %q, job_id = %id, name = %name, entry, command, schedule, position, attempt, duration_ms, "job cut off by shutdown; back to wait");
                RunEnd::Released
            }
            // Logged where decided (`dispatch/cron.rs`); not a run, so not counted as one.
            Outcome::Defer(_) => RunEnd::Released,
        };
        if let (RunEnd::Failed, false, Some(to), Some(data)) =
            (end, cancelled, &self.dead_letter, kept)
        {
            if let Outcome::Retry(reason) | Outcome::Fail(reason) = &outcome {
                to.send(&job, data, reason, &self.metrics).await;
            }
        }
        self.metrics.record(q, name, known, end, took);
        if let Some(e) = &cron_entry {
            self.metrics.cron.finished(e.metric_labels(), end, took);
        }
        if let (Some(t), false) = (&self.timings, matches!(end, RunEnd::Released)) {
            t.record(q, crate::queue::Timing::of_run(job.ready_ms, took));
        }
        if !matches!(end, RunEnd::Released) {
            self.summary
                .record(q, !matches!(end, RunEnd::Completed), took);
        }
        outcome
    }
}

impl Dispatch {
    async fn run(
        &self,
        job: &ActiveJob,
        route: Option<Arc<Route>>,
        data: Result<serde_json::Value, String>,
        cancelled: &mut bool,
    ) -> Outcome {
        let Some(route) = route else {
            return match &self.handback {
                Some(store) => cron::hand_back(store, job, &data).await,
                None => Outcome::Fail(format!("no handler for {}/{}", self.queue, job.name)),
            };
        };
        if let Some(reason) = route
            .window
            .as_ref()
            .and_then(|w| cron::too_late(w, job, &data, chrono::Utc::now()))
        {
            tracing::warn!(queue = %job.queue, job_id = %job.id, entry_id = %job.name, "{reason}");
            return Outcome::Fail(reason);
        }
        let data = match data {
            Ok(d) => d,
            Err(reason) => return Outcome::Fail(reason),
        };
        if self.refuse_commands && data.get("command").is_some() {
            return Outcome::Fail(format!(
                "refused: job data carries a command, but {} runs only commands from the local crontab (entry {:?})",
                self.queue, job.name
            ));
        }
        // Only exec handlers receive a flow parent's children values: one more round trip is
        // nothing beside a process spawn, but would tax every in-process job.
        let children = match route.handler {
            Handler::Exec(_) => match job.children_values().await {
                Ok(c) => c,
                Err(e) => return Outcome::Retry(format!("reading the job's children values: {e}")),
            },
            _ => Default::default(),
        };
        let input = JobInput {
            queue: job.queue.clone(),
            id: job.id.clone(),
            name: job.name.clone(),
            attempt: job.attempt,
            data,
            children,
            // Only persistent handlers hand a job its options (`job.opts` in a processor file).
            opts: match route.handler {
                Handler::Process(_) => job.opts.clone(),
                _ => Default::default(),
            },
        };
        // Output lines flow handler → channel → this task → the job's log list in Redis. Only
        // exec handlers print: the others get no channel, reader or echo (allocations per job
        // that an in-process handler never uses; BENCHMARKS.md, issue 18); persistent
        // handlers' processes print too.
        let (logs_tx, mut logs_rx) = match route.handler.prints() {
            true => {
                let (lines_tx, logs_rx) = mpsc::channel::<String>(256);
                let echo = Echo::new(route.echo, &job.queue, &job.id, route.entry.clone());
                (Some(LogSender::new(lines_tx, echo)), Some(logs_rx))
            }
            false => (None, None),
        };
        let stop = CancellationToken::new();
        let run = async {
            let r = route.handler.run(&input, logs_tx.as_ref(), &stop).await;
            drop(logs_tx);
            r
        };
        let write_logs = async {
            let Some(logs_rx) = logs_rx.as_mut() else {
                return;
            };
            while let Some(line) = logs_rx.recv().await {
                let stored = match control_of(&line) {
                    Some(Control::Progress(value)) => job.progress(value).await,
                    Some(Control::Data(value)) => job.update_data(value).await,
                    None => job.log(&line).await,
                };
                if let Err(e) = stored {
                    tracing::debug!(job_id = %job.id, error = %e, "job log line or progress not stored");
                }
            }
        };
        // A cancel request (overlap = "replace", from any daemon) reaches this run through its
        // entry in `cancels`, removed however the run ends.
        let cancel = RunCancel::default();
        self.lock_cancels().insert(job.id.clone(), cancel.clone());
        let _unregister = Unregister(self, &job.id);
        let supervised = supervise(run, &stop, route.timeout, &self.cut_off, &cancel.token);
        let (result, ()) = tokio::join!(supervised, write_logs);
        // A cancelled run fails with the reason its request gave (who asked).
        match (result, cancel.reason.get()) {
            (Outcome::Fail(_), Some(reason)) if cancel.token.is_cancelled() => {
                *cancelled = true;
                Outcome::Fail(reason.clone())
            }
            (result, _) => result,
        }
    }
}

mod control;
mod cron;
pub mod dead_letter;
mod run_cancel;
#[cfg(test)]
mod tests;
