//! Consuming a queue: the engine's `Worker` fetches (one blocking `BZPOPMIN` on the marker, then
//! `moveToActive`), renews locks, recovers stalled jobs and finishes each job with
//! `moveToFinished`, which also fetches the next one in the same round trip. cronq plugs in
//! a [`Processor`] and gets back an [`Outcome`] per job.
//!
//! What the engine gets wrong, and how this file works around it:
//! - `Worker::close` aborts jobs still running at its timeout, leaving them `active` until
//!   stalled recovery counts a stall. cronq never lets that happen: its processor answers
//!   [`Outcome::Release`] at the drain deadline, which moves the job back to `wait` with its
//!   token (`moveJobFromActiveToWait`, no attempt counted) before `close` gives up.
//! - The engine decodes ids and fields lossily and turns a `data` field that is not JSON into
//!   `null` silently; a non-UTF-8 id then loops forever, a non-hash job key breaks fetches and
//!   stalled checks. `guard.rs` checks each job before it runs, `quarantine.rs` moves what no
//!   client can finish to `failed` (run on each WRONGTYPE fetch error and by the store's
//!   stalled-check task).
//! - A backoff type the engine does not know (a Node custom strategy) is retried at once,
//!   silently: `guard.rs` fails such a job instead.
//! - An idle loop costs Redis a fetch script per drain delay: `wakeup.rs` keeps it rare.
//! - The engine's stalled check is a script call per queue per interval even when nothing is
//!   active: it is off (`skip_stalled_check`), and `stalled.rs` runs BullMQ's algorithm for all
//!   the store's queues behind one `EXISTS`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bullmq::worker::{CancellationToken as EngineToken, WorkerEvent};
use bullmq::{Job, Worker, WorkerOptions};
use tokio::task::JoinHandle;

use super::finish::Unwritten;
use super::guard::{self, Verdict};
use super::handback::{self, HandedBack};
use super::producer::retention;
use super::wakeup::{self, IDLE_BLOCK};
use super::RedisStore;
use crate::queue::consumer::{
    ActiveJob, Consumer, ConsumerHandle, ConsumerOptions, LoopBeat, Processor,
};
use crate::queue::contract::Consume;
use crate::queue::{error::Error, job::Outcome};

/// Pause of the fetch loop after a failed fetch (Redis lost).
const RUN_RETRY_DELAY: Duration = Duration::from_millis(500);

/// How long the engine gets to stop once none of our jobs runs: its fetcher is then either
/// parked on the marker (ends at once) or waiting on a Redis that may never answer.
const IDLE_CLOSE: Duration = Duration::from_millis(300);

/// A running engine job, as the consumer's [`crate::queue::consumer::JobHandle`] (`running.rs`).
pub(crate) struct EngineJob(pub(crate) Job);

/// The engine side of a [`Consumer`].
pub(crate) struct RedisConsumer {
    worker: Arc<Worker>,
    /// Drains the engine's unbounded event channel (it would grow forever otherwise) into the
    /// beat and the log. Ends when the worker closes its sender.
    events: JoinHandle<()>,
    /// This queue's place in the store's stalled checks and quarantine sweeps (`stalled.rs`);
    /// dropped first thing in `close` (each check is one atomic script on the server).
    stalled: super::stalled::Registration,
    /// For the marker that ends the idle block at close.
    store: RedisStore,
}

#[async_trait]
impl ConsumerHandle for RedisConsumer {
    /// Waits up to `wait` for the running jobs (each finishes, or is released at the drain
    /// deadline), then closes the engine in [`IDLE_CLOSE`].
    ///
    /// The engine's own `close(timeout)` also waits for its fetcher, which never returns while
    /// Redis hangs or is gone: SIGTERM with nothing running took the whole drain deadline plus
    /// the engine's timeout (32 s, past Kubernetes' 30 s grace). With no job of ours running,
    /// nothing is lost by not waiting: a fetch cut short at worst leaves one job `active` with
    /// a lock nobody renews, which stalled recovery moves back (as after a crash).
    async fn close(self: Box<Self>, queue: &str, wait: Duration) {
        drop(self.stalled);
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
        let store = self.store.clone();
        let closing = async {
            tokio::join!(
                self.worker.close(IDLE_CLOSE.as_millis() as u64),
                wakeup::wake(&store, queue)
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

#[async_trait]
impl Consume for RedisStore {
    /// Starts consuming `queue` with `processor`.
    async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        let mut wopts = WorkerOptions::new()
            .connection(self.inner.engine_opts.clone())
            .prefix(self.prefix().to_string())
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

        let store = self.clone();
        let queue_name = queue.to_string();
        let lock_duration = opts.lock_duration;
        // Outcomes handed to the engine until it reports them written (handback.rs).
        let handed = HandedBack::new(lock_duration);
        let handed_run = handed.clone();
        let run = move |job: Job, _cancel: EngineToken| {
            let store = store.clone();
            let processor = processor.clone();
            let queue = queue_name.clone();
            let handed = handed_run.clone();
            async move {
                let ctx = RunCtx {
                    store: &store,
                    queue: &queue,
                    lock_duration,
                    handed: &handed,
                };
                run_one(ctx, job, processor.as_ref()).await
            }
        };
        let worker = Worker::with_options(queue, run, wopts)
            .await
            .map_err(|e| Error::engine(queue, e))?;
        if let Some(owner) = self.inner.owner.get() {
            // Our own cut-off jobs (an earlier run of this WORKER_ID): back to wait now, not
            // after their locks expire. Redis failing here: stalled recovery still gets them.
            match self
                .recover_own(queue, owner, worker.id(), opts.max_stalled_count)
                .await
            {
                Ok(ids) if !ids.is_empty() => tracing::warn!(queue, jobs = ?ids,
                    "jobs cut off by this WORKER_ID's previous run moved back to wait (a stall)"),
                Ok(_) => {}
                Err(e) => tracing::warn!(queue, error = %e,
                    "could not recover the previous run's jobs; stalled recovery will"),
            }
        }
        let worker = Arc::new(worker);
        let beat = Arc::new(LoopBeat::default());
        beat.turned();
        let events = tokio::spawn(forward_events(
            self.clone(),
            queue.to_string(),
            worker.clone(),
            beat.clone(),
            handed,
        ));
        let stalled = self.watch_stalled(
            queue,
            super::stalled::CheckOpts {
                interval: opts.stalled_interval,
                max_stalled: opts.max_stalled_count,
            },
        );
        worker.run().await.map_err(|e| Error::engine(queue, e))?;
        Ok(Consumer {
            queue: queue.to_string(),
            beat,
            inner: Box::new(RedisConsumer {
                worker,
                events,
                stalled,
                store: self.clone(),
            }),
        })
    }
}

/// What [`run_one`] needs besides the job, borrowed from the consumer's closure.
struct RunCtx<'a> {
    store: &'a RedisStore,
    queue: &'a str,
    lock_duration: Duration,
    handed: &'a HandedBack,
}

/// One job through the processor, mapped back onto the engine's vocabulary.
async fn run_one(
    ctx: RunCtx<'_>,
    engine: Job,
    processor: &dyn Processor,
) -> Result<serde_json::Value, bullmq::Error> {
    let RunCtx {
        store,
        queue,
        lock_duration,
        handed,
    } = ctx;
    // Not an orphan while here (orphans.rs); a second copy of a running id is not run.
    let _running = match handed.running(engine.id(), engine.token().unwrap_or_default()) {
        Ok(running) => running,
        Err(first) => {
            let (id, token) = (engine.id(), engine.token().unwrap_or_default());
            let ms = lock_duration.as_millis() as u64;
            store.drop_duplicate(queue, id, token, &first, ms).await;
            handed.until_done(id).await;
            // `Delayed`: moved already, the engine touches it no further.
            return Err(bullmq::Error::Delayed);
        }
    };
    // Across daemons, a second copy of this attempt is dropped too (run_claim.rs).
    let (id, token) = (engine.id(), engine.token().unwrap_or_default());
    let _claim = match store
        .claim_run(
            queue,
            id,
            token,
            engine.attempts_made() as u64,
            lock_duration,
        )
        .await
    {
        Ok(Some(claim)) => Some(claim),
        Ok(None) => return Err(bullmq::Error::Delayed),
        Err(e) => {
            tracing::debug!(queue, job_id = %id.escape_debug(), error = %e, "run not claimed");
            None
        }
    };
    let outcome = match guard::before_run(store, queue, &engine).await {
        // `Delayed` tells the engine the job was moved already: it touches it no further.
        Verdict::Skip => return Err(bullmq::Error::Delayed),
        Verdict::Fail(reason) => {
            tracing::warn!(queue, job_id = %engine.id().escape_debug(), reason = %reason,
                "job failed without running");
            Outcome::Fail(reason)
        }
        Verdict::Run(data) => {
            let job = ActiveJob {
                queue: queue.to_string(),
                id: engine.id().to_string(),
                name: engine.name().to_string(),
                data,
                attempt: engine.attempts_made() + 1,
                max_attempts: engine.opts().attempts.unwrap_or(0),
                ready_ms: (engine.timestamp() + engine.delay()) as i64,
                log: Box::new(EngineJob(engine.clone())),
            };
            match processor.process(job).await {
                Outcome::Retry(reason) => match guard::unsupported_backoff(&engine, &reason) {
                    Some(reason) => Outcome::Fail(reason),
                    None => Outcome::Retry(reason),
                },
                other => other,
            }
        }
    };
    // After an engine error (an outage, a failover): a result Redis cannot take yet is kept
    // until it can, while the lock is ours (finish.rs). In steady state this script call per
    // job is skipped; a write that fails anyway is repaired from the hand-back map below.
    if !matches!(outcome, Outcome::Release | Outcome::Defer(_))
        && handed.troubled()
        && !super::finish::lock_still_ours(&engine, queue, lock_duration).await
    {
        // `Delayed`: the engine touches the job no further; stalled recovery owns it.
        return Err(bullmq::Error::Delayed);
    }
    if let (Outcome::Retry(reason) | Outcome::Fail(reason), Some(token)) =
        (&outcome, engine.token())
    {
        // The engine writes no stacktrace entry (see `stacktrace.rs`); a lost entry only
        // costs the dashboard a line, so a Redis error here does not change the outcome.
        if let Err(e) = store
            .append_stacktrace(queue, engine.id(), token, reason)
            .await
        {
            tracing::debug!(queue, job_id = engine.id(), error = %e, "stacktrace entry not stored");
        }
    }
    // Options the engine could not parse whole (lenient.rs): retried by the stored ones.
    if let Outcome::Retry(_) = &outcome {
        match store.retry_by_stored_opts(queue, &engine).await {
            Ok(true) => return Err(bullmq::Error::Delayed),
            Ok(false) => {}
            Err(e) => tracing::warn!(queue, job_id = engine.id(), error = %e,
                "could not read the job's stored options; the engine's defaults apply"),
        }
    }
    // Kept until the engine reports the write (no Redis command): if Redis dies before the
    // engine's write lands, cronq writes it with the token once Redis answers (handback.rs).
    // The engine job moves into the map (no copy on the per-job path); only the outcome is
    // copied, once for the map and once for the engine.
    let (unwritten, reply) = match outcome {
        Outcome::Completed(value) => (Unwritten::Completed(value.clone()), Ok(value)),
        Outcome::Retry(reason) => (
            Unwritten::Retry(reason.clone()),
            Err(bullmq::Error::ProcessingError(reason)),
        ),
        Outcome::Fail(reason) => (
            Unwritten::Fail(reason.clone()),
            Err(bullmq::Error::Unrecoverable(reason)),
        ),
        Outcome::Release => {
            // Bounded: a Redis that hangs must not hold the exit past the orchestrator's grace.
            let moved = tokio::time::timeout(Duration::from_secs(2), engine.move_to_wait(None));
            let failed = match moved.await {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("Redis did not answer within 2 s".to_string()),
            };
            if let Some(error) = failed {
                // The lock expires and stalled recovery brings it back.
                tracing::warn!(queue, job_id = engine.id(), error = %error,
                    "could not move the cut-off job back to wait; stalled recovery will");
            }
            // `Delayed` tells the engine the processor already moved the job.
            return Err(bullmq::Error::Delayed);
        }
        Outcome::Defer(delay) => {
            // BullMQ's `moveToDelayed` with its skip-attempt flag, under the job's token.
            let due = crate::queue::consumer::now_ms() + delay.as_millis() as u64;
            let moved = tokio::time::timeout(Duration::from_secs(2), engine.move_to_delayed(due));
            if !matches!(moved.await, Ok(Ok(()))) {
                // The lock expires and stalled recovery brings it back (no attempt lost).
                tracing::warn!(
                    queue,
                    job_id = engine.id(),
                    "could not hand the job back; stalled recovery will"
                );
            }
            return Err(bullmq::Error::Delayed);
        }
    };
    handed.record(engine, unwritten);
    reply
}

/// Drains the engine's events: the beat, the log, and the hand-back map (`handback.rs`), whose
/// repair task lives as long as this loop.
async fn forward_events(
    store: RedisStore,
    queue: String,
    worker: Arc<Worker>,
    beat: Arc<LoopBeat>,
    handed: Arc<HandedBack>,
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
                handed.completed(&job_id);
                beat.turned();
            }
            WorkerEvent::Failed { job_id, .. } => {
                handed.failed(&job_id);
                beat.turned();
            }
            WorkerEvent::Active { .. } | WorkerEvent::Drained | WorkerEvent::Ready => beat.turned(),
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
