//! Consuming a queue of the embedded store: a fetch loop bounded by a semaphore (the owned
//! permit moves into each job's task), claiming as many ready jobs as there are free permits in
//! one write, running each through the [`Processor`] and applying its [`Outcome`] in one
//! transaction.
//!
//! Noticing new jobs without polling, so an idle daemon uses no CPU:
//! - adds, retries, promotions, resumes and releases in this process wake an idle loop at once
//!   through `Inner::ready` (notified by whoever made a job ready; waited on by idle loops);
//! - other processes' writes (the CLI writes into the file directly) through the same
//!   `Inner::ready`, notified by the store's watch of the database and its WAL (see `wake`);
//! - a delayed job through a timer armed to the earliest due time the claim reported.
//!
//! There is no lock expiry to watch: one daemon consumes a file (see `lock`), and the jobs a
//! dead daemon left active are recovered when the next one takes the lock.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::fetch::{self, Claim, Claimed};
use super::finish::{self, Defaults};
use super::{events, lock, now_ms, EmbeddedStore, JobLogRef};
use crate::queue::consumer::ConsumerHandle;
use crate::queue::consumer::{ActiveJob, Consumer, ConsumerOptions, LoopBeat, Processor};
use crate::queue::contract::Consume;
use crate::queue::{error::Error, job::Outcome};
use async_trait::async_trait;

/// Poll interval, only when inotify is unavailable (no instance left for this user).
const FALLBACK_POLL: Duration = Duration::from_millis(250);
/// Pause after a failed claim.
const ERROR_DELAY: Duration = Duration::from_millis(500);
/// How often the loop trims its queue's event log (about 4 events per job: at 5,000 jobs/s a
/// trim removes ~40,000 rows, a few tens of milliseconds of the writer's time).
const TRIM_EVERY: Duration = Duration::from_secs(2);
/// Tries of writing a job's outcome before leaving it to recovery at the next start.
const FINISH_TRIES: u32 = 5;

/// The embedded fetch loop's handle.
pub struct EmbeddedConsumer {
    /// Cancelled by [`EmbeddedConsumer::close`]: the fetch loop stops claiming at once.
    stop: CancellationToken,
    /// The fetch loop task (ends soon after `stop`).
    fetch: JoinHandle<()>,
    /// Every job task of this consumer; `close` waits on it.
    jobs: TaskTracker,
}

#[async_trait]
impl ConsumerHandle for EmbeddedConsumer {
    /// Stops fetching at once, waits up to `wait` for running jobs. A job still running then is
    /// left `active`; the next start recovers it (counting a stall), as stalled recovery does.
    async fn close(self: Box<Self>, _queue: &str, wait: Duration) {
        self.stop.cancel();
        let _ = self.fetch.await;
        self.jobs.close();
        if tokio::time::timeout(wait, self.jobs.wait()).await.is_err() {
            tracing::warn!(
                running = self.jobs.len(),
                "jobs still running at close; the next start puts them back"
            );
        }
    }
}

/// What the fetch loop and its job tasks share.
struct Loop {
    store: EmbeddedStore,
    queue: String,
    worker: String,
    processor: Arc<dyn Processor>,
    defaults: Defaults,
    beat: Arc<LoopBeat>,
    /// One permit per job that may run at once; each job task owns one.
    slots: Arc<Semaphore>,
    jobs: TaskTracker,
}

impl EmbeddedStore {
    /// Takes the daemon lock unless this process holds it; then recovers orphaned active jobs.
    async fn become_daemon(&self, queue: &str, max_stalled: u32) -> Result<(), Error> {
        if self
            .inner
            .daemon
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return Ok(());
        }
        let path = self.inner.path.clone();
        let held = tokio::task::spawn_blocking(move || lock::acquire(&path))
            .await
            .map_err(|e| Error::engine(queue, e))?
            .map_err(|m| Error::engine(queue, m))?;
        {
            let mut slot = self.inner.daemon.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_some() {
                return Ok(()); // another queue's consume won the race in this process
            }
            *slot = Some(held);
        }
        let found = self
            .write(queue, move |c| fetch::recover(c, max_stalled))
            .await?;
        for (q, id) in &found.requeued {
            tracing::warn!(queue = %q, job_id = %id, "job left active by a stopped daemon moved back to wait (stall counted)");
        }
        for (q, id) in &found.failed {
            tracing::warn!(queue = %q, job_id = %id, "job stalled more than max_stalled_count times; failed");
        }
        if !found.requeued.is_empty() {
            self.inner.ready.notify_waiters();
        }
        Ok(())
    }
}

async fn fetch_loop(ctx: Arc<Loop>, stop: CancellationToken) {
    let watched = ctx.store.watch_file();
    let mut trimmed = tokio::time::Instant::now();
    loop {
        if trimmed.elapsed() > TRIM_EVERY {
            trimmed = tokio::time::Instant::now();
            let q = ctx.queue.clone();
            let _ = ctx
                .store
                .write(&ctx.queue, move |c| Ok(events::trim(c, &q)?))
                .await;
        }
        let first = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            p = ctx.slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        let mut permits = vec![first];
        while let Ok(p) = ctx.slots.clone().try_acquire_owned() {
            permits.push(p);
        }
        // Registered before the claim, so an add between the claim and the wait (in this
        // process or, through the file watch, another) still wakes us.
        let woken = ctx.store.inner.ready.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let claim = claim(&ctx, permits.len()).await;
        // How long to sleep at most; `None`: until woken.
        let timer = match claim {
            Ok(Claim { jobs, .. }) if !jobs.is_empty() => {
                ctx.beat.turned();
                for (job, permit) in jobs.into_iter().zip(permits) {
                    spawn_job(&ctx, job, permit);
                }
                continue;
            }
            Ok(Claim { next_due, .. }) => {
                ctx.beat.turned();
                next_due.map(|due| Duration::from_millis((due - now_ms()).max(1) as u64))
            }
            Err(e) => {
                if ctx.beat.errored() {
                    tracing::warn!(queue = %ctx.queue, error = %e, "queue loop error; retrying");
                }
                Some(ERROR_DELAY)
            }
        };
        let timer = match watched {
            true => timer,
            false => Some(timer.map_or(FALLBACK_POLL, |t| t.min(FALLBACK_POLL))),
        };
        drop(permits);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = &mut woken => {}
            _ = sleep(timer) => {}
        }
    }
}

/// Sleeps `timer`; forever when `None`.
async fn sleep(timer: Option<Duration>) {
    match timer {
        Some(t) => tokio::time::sleep(t).await,
        None => std::future::pending().await,
    }
}

async fn claim(ctx: &Loop, n: usize) -> Result<Claim, Error> {
    let (q, worker) = (ctx.queue.clone(), ctx.worker.clone());
    ctx.store
        .write(&ctx.queue, move |c| fetch::claim(c, &q, n, &worker))
        .await
}

fn spawn_job(ctx: &Arc<Loop>, job: Claimed, permit: OwnedSemaphorePermit) {
    let ctx2 = ctx.clone();
    ctx.jobs.spawn(async move {
        let _permit = permit;
        let id = job.id.clone();
        let active = ActiveJob {
            queue: ctx2.queue.clone(),
            id: job.id,
            name: job.name,
            data: serde_json::from_str(&job.data).map_err(|e| bad_data(&job.data, e)),
            attempt: job.attempts_made + 1,
            max_attempts: job.max_attempts,
            ready_ms: job.ready_ms,
            log: Box::new(JobLogRef {
                store: ctx2.store.clone(),
                queue: ctx2.queue.clone(),
                id: id.clone(),
            }),
        };
        // A processor that panics fails the attempt (retryable) instead of leaving it active.
        let outcome = AssertUnwindSafe(ctx2.processor.process(active))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Outcome::Retry("the job's processor panicked".into()));
        finish_job(&ctx2, id, outcome).await;
    });
}

async fn finish_job(ctx: &Loop, id: String, outcome: Outcome) {
    let outcome = Arc::new(outcome);
    for attempt in 1..=FINISH_TRIES {
        let (q, id2, o, d) = (ctx.queue.clone(), id.clone(), outcome.clone(), ctx.defaults);
        match ctx
            .store
            .write(&ctx.queue, move |c| finish::finish(c, &q, &id2, &o, d))
            .await
        {
            Ok(ready) => {
                ctx.beat.turned();
                if ready {
                    ctx.store.inner.ready.notify_waiters();
                }
                return;
            }
            Err(e) => {
                ctx.beat.errored();
                tracing::warn!(queue = %ctx.queue, job_id = %id, attempt, error = %e, "cannot store the job's outcome");
                tokio::time::sleep(ERROR_DELAY * attempt).await;
            }
        }
    }
    tracing::error!(queue = %ctx.queue, job_id = %id, "the job's outcome was not stored; it stays active until the next start puts it back");
}

fn bad_data(raw: &str, err: serde_json::Error) -> String {
    let shown: String = raw.chars().take(80).collect();
    format!("job data is not valid JSON ({err}): {shown:?}; producers must store JSON text in the `data` field")
}

#[async_trait]
impl Consume for EmbeddedStore {
    /// Starts consuming `queue` with `processor`. The first call in a process takes the daemon
    /// lock (see `lock`) and puts back the jobs a dead daemon left active.
    async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        self.become_daemon(queue, opts.max_stalled_count).await?;
        let q = queue.to_string();
        self.write(queue, move |c| Ok(super::producer::ensure_queue(c, &q)?))
            .await?;
        let beat = Arc::new(LoopBeat::default());
        beat.turned();
        let stop = CancellationToken::new();
        let jobs = TaskTracker::new();
        let ctx = Arc::new(Loop {
            store: self.clone(),
            queue: queue.to_string(),
            worker: opts.worker_name.clone(),
            processor,
            defaults: Defaults {
                on_complete: opts.remove_on_complete,
                on_fail: opts.remove_on_fail,
                metrics_points: opts.metrics_points,
            },
            beat: beat.clone(),
            slots: Arc::new(Semaphore::new(opts.concurrency.max(1))),
            jobs: jobs.clone(),
        });
        let fetch = tokio::spawn(fetch_loop(ctx, stop.clone()));
        Ok(Consumer {
            queue: queue.to_string(),
            beat,
            inner: Box::new(EmbeddedConsumer { stop, fetch, jobs }),
        })
    }
}
