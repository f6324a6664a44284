//! Running a crontab command entry in this daemon, without the store: the scheduler's
//! [`LocalRuns`] for ticks it could not add while Redis is down (`cron/scheduler/local.rs`).
//! A local run goes through the entry's own route (the crontab queue's route table, swapped on
//! reload), so it runs the same exec handler with the same environment policy, secrets
//! redaction, output echo, timeout and shutdown cut-off as a run fetched from the queue. Its
//! output has no job log to go to (the store is down): lines reach the daemon's output only.
//! Its end is logged (`job completed` / `job failed`, with `local = true`), counted in the
//! job metrics under its queue and entry id like any run and in
//! `cronq_cron_local_runs_total{entry,outcome}`, and kept in the [`Backlog`] to be recorded in
//! the store as a finished job once the store answers again (`local_backlog.rs`). A run cut
//! off by shutdown is not recorded: it did not finish.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::claims::SharedEntries;
use super::dispatch::{supervise, RouteTable};
use super::handler::echo::Echo;
use super::handler::{JobInput, LogSender};
use super::local_backlog::Backlog;
use crate::cron::scheduler::{LocalRuns, LocalTick};
use crate::metrics::{Metrics, RunEnd};
use crate::queue::{FinishedRun, Outcome};
use crate::telemetry::supercronic::{SC_FAILED, SC_STARTING, SC_SUCCEEDED};

/// Local runs of one daemon's crontab entries. The scheduler holds it (as [`LocalRuns`]) to
/// start runs; `app` holds it to wait for them at shutdown ([`LocalRunner::drain`]).
pub struct LocalRunner {
    /// The crontab queue's name (log lines and metrics).
    queue: String,
    /// The crontab queue's routes: entry id → its command.
    routes: RouteTable,
    /// Entries another live daemon vouched for at the last contact (`claims::run` writes it).
    shared: SharedEntries,
    /// The drain deadline, held by `app`: running commands are stopped when it fires.
    cut_off: CancellationToken,
    metrics: Arc<Metrics>,
    /// Finished runs to record in the store; `local_backlog::flush` (started by `app`) takes.
    backlog: Arc<Backlog>,
    /// Every local run's task; `drain` closes it and waits.
    runs: TaskTracker,
    /// Entry id → (run number, cancel token) of its local run going on. The run removes its
    /// own slot when it ends (the number tells it from a newer run that replaced it); `start`
    /// with `replace` fires the token.
    going: Mutex<HashMap<String, (u64, CancellationToken)>>,
    next: std::sync::atomic::AtomicU64,
}

impl LocalRunner {
    /// A runner of `queue`'s entries in `routes`; `cut_off` is `app`'s drain deadline.
    pub fn new(
        queue: &str,
        routes: RouteTable,
        shared: SharedEntries,
        cut_off: CancellationToken,
        metrics: Arc<Metrics>,
        backlog: Arc<Backlog>,
    ) -> Arc<Self> {
        Arc::new(LocalRunner {
            queue: queue.to_string(),
            routes,
            shared,
            cut_off,
            metrics,
            backlog,
            runs: TaskTracker::new(),
            going: Mutex::new(HashMap::new()),
            next: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Shutdown: no new run starts; waits for those going on (the drain deadline cuts them).
    pub async fn drain(&self) {
        self.runs.close();
        self.runs.wait().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, CancellationToken)>> {
        self.going.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl LocalRuns for Arc<LocalRunner> {
    fn running(&self, entry_id: &str) -> bool {
        self.lock().contains_key(entry_id)
    }

    fn others_alive(&self, entry_id: &str) -> bool {
        let shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        shared.contains(entry_id)
    }

    fn start(&self, tick: LocalTick<'_>) -> bool {
        let LocalTick {
            entry_id,
            job_id,
            data,
            replace,
            keep,
        } = tick;
        if self.runs.is_closed() {
            return false;
        }
        let route = {
            let table = self.routes.read().unwrap_or_else(|p| p.into_inner());
            table.get(entry_id).cloned()
        };
        let Some(route) = route.filter(|r| r.entry.is_some()) else {
            return false;
        };
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cancel = CancellationToken::new();
        if let Some((_, previous)) = self
            .lock()
            .insert(entry_id.to_string(), (n, cancel.clone()))
        {
            if replace {
                previous.cancel();
            }
        }
        let input = JobInput {
            queue: self.queue.clone(),
            id: job_id.to_string(),
            name: entry_id.to_string(),
            attempt: 1,
            data,
            children: Default::default(),
            opts: Default::default(),
        };
        let me = self.clone();
        self.runs.spawn(async move {
            let label = route.entry.as_ref().map(|e| e.label.clone());
            let entry = label.as_deref();
            let (q, id, name) = (&input.queue, &input.id, &input.name);
            tracing::info!(queue = %q, job_id = %id, name = %name, entry, local = true, msg = SC_STARTING, "job started");
            let started = Instant::now();
            let processed_on = crate::queue::consumer::now_ms();
            // Lines reach the daemon's output through the echo; the job log is the store's,
            // which is down, so the receiving end only empties the channel.
            let (lines_tx, mut lines_rx) = mpsc::channel::<String>(256);
            let logs = LogSender::new(lines_tx, Echo::new(route.echo, q, id, route.entry.clone()));
            let stop = CancellationToken::new();
            let run = async {
                let r = route.handler.run(&input, Some(&logs), &stop).await;
                drop(logs);
                r
            };
            let discard = async { while lines_rx.recv().await.is_some() {} };
            let supervised = supervise(run, &stop, route.timeout, &me.cut_off, &cancel);
            let (outcome, ()) = tokio::join!(supervised, discard);
            let took = started.elapsed();
            let duration_ms = took.as_millis() as u64;
            let end = match &outcome {
                Outcome::Completed(_) => {
                    tracing::info!(queue = %q, job_id = %id, name = %name, entry, duration_ms, local = true, msg = SC_SUCCEEDED, "job completed");
                    RunEnd::Completed
                }
                Outcome::Release => {
                    tracing::warn!(queue = %q, job_id = %id, name = %name, entry, duration_ms, local = true, "job cut off by shutdown");
                    RunEnd::Failed
                }
                Outcome::Retry(reason) | Outcome::Fail(reason) => {
                    // One attempt: a local run is never retried (no store to keep the retry).
                    tracing::warn!(queue = %q, job_id = %id, name = %name, entry, duration_ms, local = true, will_retry = false, error = %reason, msg = SC_FAILED, "job failed");
                    crate::telemetry::sentry::job_failed(q, id, name, entry, reason);
                    RunEnd::Failed
                }
                Outcome::Defer(_) => RunEnd::Released,
            };
            me.metrics.record(q, name, true, end, took);
            let result = match outcome {
                Outcome::Completed(value) => Some(Ok(value)),
                Outcome::Retry(reason) | Outcome::Fail(reason) => Some(Err(reason)),
                // Cut off or not run: it did not finish, so there is nothing to record.
                Outcome::Release | Outcome::Defer(_) => None,
            };
            if let Some(result) = result {
                me.metrics.local_run(name, result.is_ok());
                me.backlog.push(FinishedRun {
                    id: id.clone(),
                    name: name.clone(),
                    data: input.data.clone(),
                    processed_on,
                    finished_on: crate::queue::consumer::now_ms(),
                    keep: if result.is_ok() { keep.0 } else { keep.1 },
                    result,
                });
            }
            let mut going = me.lock();
            if going.get(name.as_str()).is_some_and(|(m, _)| *m == n) {
                going.remove(name.as_str());
            }
        });
        true
    }
}
