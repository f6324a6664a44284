//! One engine (`bullmq-official`) `Worker` for one queue: started when the queue has work,
//! closed at shutdown or let go when idle (`consumer.rs` decides which). It fetches (one
//! blocking `BZPOPMIN` on the marker, then `moveToActive`), renews locks and finishes each job
//! with `moveToFinished`; [`run_one`] plugs cronq's processor in.
//!
//! What the engine gets wrong, and how this room works around it:
//! - `Worker::close` aborts jobs still running at its timeout, leaving them `active` until
//!   stalled recovery counts a stall. cronq never lets that happen: its processor answers
//!   [`crate::queue::Outcome::Release`] at the drain deadline, which moves the job back to `wait`
//!   with its token (`moveJobFromActiveToWait`, no attempt counted) before `close` gives up.
//! - The engine decodes ids and fields lossily and turns a `data` field that is not JSON into
//!   `null` silently; `guard.rs` checks each job before it runs, `quarantine.rs` moves what no
//!   client can finish to `failed` (run on each WRONGTYPE fetch error and by the store's
//!   stalled-check task).
//! - An idle loop costs Redis a fetch script per drain delay: `wakeup.rs` keeps it rare, and
//!   an idle queue holds no engine worker at all (`idle_waiter.rs`).
//! - The engine's stalled check is a script call per queue per interval even when nothing is
//!   active: it is off (`skip_stalled_check`), and `stalled.rs` runs BullMQ's algorithm for all
//!   the store's queues behind one `EXISTS`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bullmq::worker::{CancellationToken as EngineToken, WorkerEvent};
use bullmq::{Job, Worker, WorkerOptions};
use tokio::task::JoinHandle;

use super::handback::{self, HandedBack};
use super::keys::QueueKeys;
use super::producer::retention;
use super::run_one::{run_one, RunCtx};
use super::wakeup::{self, IDLE_BLOCK};
use super::RedisStore;
use crate::queue::consumer::{now_ms, ConsumerOptions, LoopBeat, Processor};
use crate::queue::error::Error;

/// Pause of the fetch loop after a failed fetch (Redis lost).
const RUN_RETRY_DELAY: Duration = Duration::from_millis(500);

/// How long the engine gets to stop once none of our jobs runs: its fetcher is then either
/// parked on the marker (ends at once) or waiting on a Redis that may never answer.
const IDLE_CLOSE: Duration = Duration::from_millis(300);

/// Why an engine worker starts: decides what runs before its first fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// The consumer's first worker: this WORKER_ID's cut-off jobs are recovered first.
    First,
    /// A queue woken by the idle waiter: its job should start at once.
    Wake,
}

/// A started engine worker and the task draining its events.
pub(crate) struct EngineWorker {
    worker: Arc<Worker>,
    /// Drains the engine's unbounded event channel (it would grow forever otherwise) into the
    /// beat and the log. Ends when the worker closes its sender.
    events: JoinHandle<()>,
    /// Unix ms of the last job this worker took or finished; written by the event task, read
    /// by [`EngineWorker::idle_for`].
    last_busy: Arc<AtomicU64>,
}

impl EngineWorker {
    /// Starts an engine worker on `queue`, recording its uuid as this run's (`identity.rs`:
    /// a restart after a crash then recovers the jobs it held at once) and moving this
    /// WORKER_ID's jobs cut off by an earlier run back to wait.
    pub(crate) async fn start(
        store: &RedisStore,
        queue: &str,
        opts: &ConsumerOptions,
        processor: Arc<dyn Processor>,
        beat: Arc<LoopBeat>,
        start: Start,
        groups: Option<Arc<super::groups::GroupRun>>,
    ) -> Result<EngineWorker, Error> {
        let mut wopts = WorkerOptions::new()
            .connection(store.inner.engine_opts.clone())
            .prefix(store.prefix().to_string())
            .name(opts.worker_name.clone())
            .concurrency(opts.concurrency.max(1))
            .lock_duration(opts.lock_duration)
            .stalled_interval(opts.stalled_interval)
            .max_stalled_count(opts.max_stalled_count)
            // `close` ends the block early (see `wakeup.rs`), so a long one costs no shutdown
            // time; whole seconds because the engine takes seconds.
            .drain_delay(Duration::from_secs(
                opts.drain_delay.max(IDLE_BLOCK).as_secs().max(1),
            ))
            .manual_start();
        // Ours instead (`stalled.rs`): the same algorithm, one gate for every queue.
        wopts.skip_stalled_check = true;
        // The engine (like Node's `runRetryDelay`) waits 15 s after a failed fetch, so a worker
        // whose Redis restarted sits idle for 15 s with jobs waiting while /health already says
        // Redis is fine. Half a second keeps recovery within the 2 s we promise.
        wopts.run_retry_delay = RUN_RETRY_DELAY.as_millis() as u64;
        wopts.remove_on_complete = opts.remove_on_complete.map(retention);
        wopts.remove_on_fail = opts.remove_on_fail.map(retention);
        // BullMQ's job metrics (`metrics:completed|failed`), written by `moveToFinished`.
        wopts.metrics = (opts.metrics_points > 0).then_some(bullmq::options::MetricsOptions {
            max_data_points: opts.metrics_points as usize,
        });

        let run_store = store.clone();
        let queue_name = queue.to_string();
        let lock_duration = opts.lock_duration;
        // Outcomes handed to the engine until it reports them written (handback.rs).
        let handed = HandedBack::new(lock_duration);
        let handed_run = handed.clone();
        let run = move |job: Job, _cancel: EngineToken| {
            let store = run_store.clone();
            let processor = processor.clone();
            let queue = queue_name.clone();
            let handed = handed_run.clone();
            let groups = groups.clone();
            async move {
                let ctx = RunCtx {
                    store: &store,
                    queue: &queue,
                    lock_duration,
                    handed: &handed,
                    groups: groups.as_ref(),
                };
                run_one(ctx, job, processor.as_ref()).await
            }
        };
        // Where a wake's time goes (issue 26): the engine opens its two connections here (no
        // API hands it open ones: `Worker::with_options` always connects).
        let t0 = std::time::Instant::now();
        let worker = Worker::with_options(queue, run, wopts)
            .await
            .map_err(|e| Error::engine(queue, e))?;
        let connected = t0.elapsed();
        if start == Start::First {
            // Our own cut-off jobs (an earlier run of this WORKER_ID): back to wait before the
            // first fetch, not after their locks expire. Redis failing here: stalled recovery
            // still gets them.
            recover(store, queue, Some(worker.id()), opts.max_stalled_count).await;
        }
        let worker = Arc::new(worker);
        beat.turned();
        let last_busy = Arc::new(AtomicU64::new(now_ms()));
        let events = tokio::spawn(forward_events(
            store.clone(),
            queue.to_string(),
            worker.clone(),
            beat,
            handed,
            last_busy.clone(),
        ));
        worker.run().await.map_err(|e| Error::engine(queue, e))?;
        if start == Start::Wake {
            // A wake: the earlier runs' jobs were recovered when this queue first started, so
            // only this worker's uuid is recorded, and after `run` (the engine's first fetch is
            // already on its way): the recover script's round trip left the woken job's path.
            // A crash in the moment between is recovered by lock expiry, as before issue 26.
            record(store, queue, worker.id()).await;
        }
        tracing::debug!(
            queue,
            ?start,
            connect_ms = connected.as_secs_f64() * 1e3,
            total_ms = t0.elapsed().as_secs_f64() * 1e3,
            "engine worker started"
        );
        Ok(EngineWorker {
            worker,
            events,
            last_busy,
        })
    }

    /// Resolves once no job of this worker has run for `idle` (checked each second, in
    /// memory: no Redis command).
    pub(crate) async fn idle_for(&self, idle: Duration) {
        let mut tick = tokio::time::interval(Duration::from_secs(1).min(idle));
        loop {
            tick.tick().await;
            let quiet = now_ms().saturating_sub(self.last_busy.load(Ordering::Relaxed));
            if quiet >= idle.as_millis() as u64 && self.worker.active_count().await == 0 {
                return;
            }
        }
    }

    /// Lets an idle worker go: no job of ours runs, its fetcher is parked on the marker, so
    /// the engine's `close` ends it at its short timeout (dropping the block and both of the
    /// worker's connections). No marker is written to end the block: it would wake this
    /// queue again through the idle waiter. A marker the block took as it was cut short is
    /// made good by the consumer, which looks at the queue before it waits again.
    pub(crate) async fn release(self, store: &RedisStore, queue: &str) {
        self.worker.pause();
        match tokio::time::timeout(
            IDLE_CLOSE * 2,
            // 1 ms: nothing of ours runs, so the engine's wait for its parked fetcher (it polls
            // every 100 ms, then aborts it at the timeout) only delays a job added meanwhile
            // (measured: p99 176 ms for a job landing during the release with 300 ms here).
            self.worker.close(1),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(queue, error = %e, "letting the idle worker go failed"),
            Err(_) => tracing::debug!(queue, "letting the idle worker go timed out"),
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), self.events).await;
        if store.inner.owner.get().is_some() {
            // This worker held no job: its uuid leaves this run's record (`identity.rs`),
            // which would otherwise grow by one entry per wake for as long as the run lasts.
            let runs = QueueKeys::new(store.prefix(), queue).key("cronq:runs");
            let res: Result<i64, _> = store
                .inner
                .conn
                .cmd(redis::cmd("HDEL").arg(runs).arg(self.worker.id()))
                .await;
            if let Err(e) = res {
                tracing::debug!(queue, error = %e, "could not forget the idle worker's id");
            }
        }
    }

    /// Waits up to `wait` for the running jobs (each finishes, or is released at the drain
    /// deadline), then closes the engine in [`IDLE_CLOSE`].
    ///
    /// The engine's own `close(timeout)` also waits for its fetcher, which never returns while
    /// Redis hangs or is gone: SIGTERM with nothing running took the whole drain deadline plus
    /// the engine's timeout (32 s, past Kubernetes' 30 s grace). With no job of ours running,
    /// nothing is lost by not waiting: a fetch cut short at worst leaves one job `active` with
    /// a lock nobody renews, which stalled recovery moves back (as after a crash).
    pub(crate) async fn close(self, store: &RedisStore, queue: &str, wait: Duration) {
        // Stop fetching at once (the engine's `close` would do it too, but only after it
        // returns, and it is bounded below).
        self.worker.pause();
        let deadline = tokio::time::Instant::now() + wait;
        while self.worker.active_count().await > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = self.worker.active_count().await;
        if left > 0 {
            // A finish that cannot be written (Redis gone): its lock runs out and stalled
            // recovery runs the job again. The dispatcher logged each job it cut off by id.
            tracing::warn!(queue = %queue, jobs = left,
                "jobs still active at the drain deadline are left to stalled recovery");
        }
        // `close` sets its closing flag before its first await and `join!` polls it first, so
        // the marker `wake` then writes ends the idle block for good (no new block starts).
        // Both are bounded: with Redis gone neither would return.
        let closing = async {
            tokio::join!(
                self.worker.close(IDLE_CLOSE.as_millis() as u64),
                wakeup::wake(store, queue)
            )
            .0
        };
        match tokio::time::timeout(IDLE_CLOSE * 2, closing).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(queue = %queue, error = %e, "closing the consumer failed"),
            Err(_) => tracing::warn!(queue = %queue, "closing the consumer timed out"),
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), self.events).await;
    }
}

/// Moves this WORKER_ID's jobs cut off by an earlier run back to wait and records `engine_id`
/// as this run's (`identity.rs`). A queue that starts idle has no engine worker, so no engine
/// id (`None`): one recovery for both, so the two starts cannot drift apart.
pub(super) async fn recover(
    store: &RedisStore,
    queue: &str,
    engine_id: Option<&str>,
    max_stalled: u32,
) {
    let Some(owner) = store.inner.owner.get() else {
        return;
    };
    // No engine uuid yet: a placeholder for this run, which the next run's recovery removes
    // with this run's other entries (no lock ever carries it).
    let placeholder = format!("idle-{}", owner.run_id);
    let engine_id = engine_id.unwrap_or(&placeholder);
    match store
        .recover_own(queue, owner, engine_id, max_stalled)
        .await
    {
        Ok(ids) if !ids.is_empty() => tracing::warn!(queue, jobs = ?ids,
            "jobs cut off by this WORKER_ID's previous run moved back to wait (a stall)"),
        Ok(_) => {}
        Err(e) => tracing::warn!(queue, error = %e,
            "could not recover the previous run's jobs; stalled recovery will"),
    }
}

/// Records `engine_id` as this run's in `cronq:runs` (the entry `recover` writes), so a crash
/// while this worker holds a job is recovered at once by the next run.
async fn record(store: &RedisStore, queue: &str, engine_id: &str) {
    let Some(owner) = store.inner.owner.get() else {
        return;
    };
    let runs = QueueKeys::new(store.prefix(), queue).key("cronq:runs");
    let value = format!("{} {}", owner.worker_id, owner.run_id);
    let res: Result<i64, _> = store
        .inner
        .conn
        .cmd(redis::cmd("HSET").arg(runs).arg(engine_id).arg(value))
        .await;
    if let Err(e) = res {
        tracing::debug!(queue, error = %e, "could not record the woken worker's id");
    }
}

/// Drains the engine's events: the beat, the log, the hand-back map (`handback.rs`), whose
/// repair task lives as long as this loop, and `last_busy` (what `idle_for` reads).
async fn forward_events(
    store: RedisStore,
    queue: String,
    worker: Arc<Worker>,
    beat: Arc<LoopBeat>,
    handed: Arc<HandedBack>,
    last_busy: Arc<AtomicU64>,
) {
    let repair = tokio::spawn(handback::repair(
        handed.clone(),
        store.clone(),
        queue.clone(),
        worker.id().to_string(),
    ));
    // When a wrong-typed queue key was last named (diagnose.rs: at most once a minute).
    let mut named_at = None;
    while let Some(event) = worker.next_event().await {
        match event {
            WorkerEvent::Completed { job_id, .. } => {
                last_busy.store(now_ms(), Ordering::Relaxed);
                handed.completed(&job_id);
                beat.turned();
            }
            WorkerEvent::Failed { job_id, .. } => {
                last_busy.store(now_ms(), Ordering::Relaxed);
                handed.failed(&job_id);
                beat.turned();
            }
            WorkerEvent::Active { .. } => {
                last_busy.store(now_ms(), Ordering::Relaxed);
                beat.turned();
            }
            WorkerEvent::Drained | WorkerEvent::Ready => beat.turned(),
            WorkerEvent::Error(message) => {
                // Any error may be a finishing write that failed (the engine names no job).
                handed.errored();
                // A job key that is not a hash fails `moveToActive` after it moved the id to
                // `active`: move it out now. One bad job, not an outage: the beat is untouched
                // (the sweep logs what it moved).
                if message.contains("WRONGTYPE") {
                    if let Err(e) = store.quarantine(&queue, None, Some(Duration::ZERO)).await {
                        tracing::debug!(queue = %queue, error = %e, "quarantine sweep failed");
                    }
                    // A queue key of the wrong type (not a job's) fails every fetch: name it.
                    named_at = store.name_broken_keys(&queue, named_at).await;
                    continue;
                }
                // One line when a loop starts failing, not one per retry (the engine retries fast).
                if beat.errored() {
                    tracing::warn!(queue = %queue, error = %message, "queue loop error; retrying");
                }
            }
            WorkerEvent::Closed => break,
            // `Stalled` never comes: the engine's stalled check is off (`skip_stalled_check`);
            // ours (`stalled_run.rs`) logs what it moves.
            WorkerEvent::Stalled { .. }
            | WorkerEvent::Progress { .. }
            | WorkerEvent::Paused
            | WorkerEvent::Resumed => {}
        }
    }
    // Closing: what is still unwritten falls to stalled recovery, as a finish cut off by the
    // drain deadline does.
    repair.abort();
}
