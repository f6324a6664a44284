//! The one fetch loop of the stores that run their own (the Bull 3/4 layout and the embedded
//! store; the Redis BullMQ layout keeps the engine's loop). Written once over the [`Fetcher`]
//! seam, which each store implements in its own files: claim up to N ready jobs or say when to
//! look again, wait for a wake-up, turn a claimed job into an [`ActiveJob`], keep its lock while
//! it runs, and write its [`Outcome`].
//!
//! The loop: take a free slot (a semaphore permit; more at once where the store claims in
//! batches), claim, hand each job with its permit to a task of the [`TaskTracker`]; when nothing
//! was ready, wait for the store's wake-up or its "look again" time; after an error, pause
//! (doubling) and retry. [`FetchLoop`] is the handle whose `close` stops it and drains.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::consumer::{ActiveJob, Consumer, ConsumerHandle, LoopBeat, Processor};
use super::error::Error;
use super::job::Outcome;
use crate::backoff::Doubling;

/// What one claim found.
pub(crate) struct Batch<J> {
    /// The claimed jobs (at most the `n` asked for).
    pub(crate) jobs: Vec<J>,
    /// When nothing was claimed: look again after this long at most (a delayed job falls due,
    /// or the store must poll); `None`: only a wake-up ends the wait.
    pub(crate) look_again: Option<Duration>,
}

/// How the loop pauses; each store keeps the timing it always had.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pauses {
    /// The first pause after a failed claim, doubling up to `max` until a job is claimed.
    pub(crate) first: Duration,
    /// The longest pause.
    pub(crate) max: Duration,
    /// Whether an empty claim pauses too (the same doubling) before the idle wait: a store
    /// whose wake-up can fire while nothing is claimable (Bull: ids in a paused `wait`, or
    /// another worker was quicker) needs it so such states never spin.
    pub(crate) after_empty: bool,
    /// Whether one claim takes as many jobs as there are free slots (else one per claim).
    pub(crate) batch: bool,
}

impl Pauses {
    /// Doubling from `first` to `max` after errors only; one job per claim.
    pub(crate) const fn new(first: Duration, max: Duration) -> Self {
        Pauses {
            first,
            max,
            after_empty: false,
            batch: false,
        }
    }

    /// Pauses after an empty claim too.
    pub(crate) const fn pausing_when_empty(self) -> Self {
        Pauses {
            after_empty: true,
            ..self
        }
    }

    /// Claims as many jobs as there are free slots.
    pub(crate) const fn batched(self) -> Self {
        Pauses {
            batch: true,
            ..self
        }
    }
}

/// A store's side of the fetch loop. Called by [`start`]'s loop and job tasks only.
#[async_trait]
pub(crate) trait Fetcher: Send + Sync + 'static {
    /// A claimed job, as the store needs it to finish it.
    type Job: Send + Sync + 'static;

    /// The store's pause timing.
    const PAUSES: Pauses;

    /// What happens to jobs still running when `close` gives up on them (for the log line).
    const LEFT_RUNNING: &'static str;

    /// Claims up to `n` ready jobs (n >= 1).
    async fn claim(&self, n: usize) -> Result<Batch<Self::Job>, Error>;

    /// A wake-up armed *before* the claim, so work that arrives between the claim and the wait
    /// still ends the wait. Default: none.
    fn armed(&self) -> BoxFuture<'_, ()> {
        std::future::pending().boxed()
    }

    /// Blocks until work may be ready, after an empty claim (e.g. a blocking Redis command).
    /// Default: never returns (the armed wake-up and `look_again` end the wait).
    async fn idle(&self) {
        std::future::pending::<()>().await
    }

    /// Chores done once per turn, before taking a slot (e.g. trimming an event log).
    async fn housekeep(&self) {}

    /// Turns a claimed job into what the processor receives.
    async fn begin(&self, job: &Self::Job) -> ActiveJob;

    /// Keeps the job's lock while the processor runs; dropped when it returns, so it may loop
    /// for ever. Default: stores without locks wait for nothing.
    async fn hold(&self, _job: &Self::Job) {
        std::future::pending::<()>().await
    }

    /// Writes the job's outcome; a stored outcome turns `beat`, a failed write marks an error.
    async fn finish(&self, job: Self::Job, outcome: Outcome, beat: &LoopBeat);
}

/// A running fetch loop: the store's [`ConsumerHandle`], held by `Consumer`.
pub(crate) struct FetchLoop {
    /// Cancelled by `close` (and ends the store's side tasks given [`FetchLoop::stop`]).
    stop: CancellationToken,
    /// The loop task; ends soon after `stop`.
    fetch: JoinHandle<()>,
    /// Every job task; `close` waits on it.
    jobs: TaskTracker,
    /// What happens to jobs still running after `close`'s wait.
    left_running: &'static str,
    /// The loop's liveness, also held by the job tasks and read by `/health` via `Consumer`.
    beat: Arc<LoopBeat>,
}

impl FetchLoop {
    /// The token that stops this loop, for the store's side tasks (timers, checks) to end with it.
    pub(crate) fn stop(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// The [`Consumer`] that drains this loop, for the store's `consume` to return.
    pub(crate) fn into_consumer(self, queue: &str) -> Consumer {
        Consumer {
            queue: queue.to_string(),
            beat: self.beat.clone(),
            inner: Box::new(self),
        }
    }
}

#[async_trait]
impl ConsumerHandle for FetchLoop {
    /// Stops claiming at once, waits up to `wait` for running jobs, then returns; a job still
    /// running is left to the store's recovery (`left_running`).
    async fn close(self: Box<Self>, queue: &str, wait: Duration) {
        self.stop.cancel();
        let _ = self.fetch.await;
        self.jobs.close();
        if tokio::time::timeout(wait, self.jobs.wait()).await.is_err() {
            tracing::warn!(queue = %queue, running = self.jobs.len(),
                "jobs still running at close; {}", self.left_running);
        }
    }
}

/// Starts the fetch loop of `queue` over `fetcher`, running at most `concurrency` jobs at once.
pub(crate) fn start<F: Fetcher>(
    fetcher: Arc<F>,
    queue: &str,
    concurrency: usize,
    processor: Arc<dyn Processor>,
) -> FetchLoop {
    let beat = Arc::new(LoopBeat::default());
    beat.turned();
    let ctx = Arc::new(Ctx {
        fetcher,
        queue: queue.to_string(),
        processor,
        beat: beat.clone(),
        slots: Arc::new(Semaphore::new(concurrency.max(1))),
        jobs: TaskTracker::new(),
    });
    let stop = CancellationToken::new();
    let jobs = ctx.jobs.clone();
    let fetch = tokio::spawn(run_loop(ctx, stop.clone()));
    FetchLoop {
        stop,
        fetch,
        jobs,
        left_running: F::LEFT_RUNNING,
        beat,
    }
}

/// What the loop and its job tasks share.
struct Ctx<F> {
    fetcher: Arc<F>,
    queue: String,
    processor: Arc<dyn Processor>,
    beat: Arc<LoopBeat>,
    /// One permit per job that may run at once: the loop holds them while it claims, then each
    /// job task owns one until its outcome is written.
    slots: Arc<Semaphore>,
    /// Every job task; `FetchLoop::close` waits on it.
    jobs: TaskTracker,
}

async fn run_loop<F: Fetcher>(ctx: Arc<Ctx<F>>, stop: CancellationToken) {
    let pauses = F::PAUSES;
    let mut backoff = Doubling::new(pauses.first, pauses.max);
    loop {
        ctx.fetcher.housekeep().await;
        let first = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            p = ctx.slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        let mut permits = vec![first];
        if pauses.batch {
            while let Ok(p) = ctx.slots.clone().try_acquire_owned() {
                permits.push(p);
            }
        }
        let woken = ctx.fetcher.armed();
        let look_again = match ctx.fetcher.claim(permits.len()).await {
            Ok(Batch { jobs, .. }) if !jobs.is_empty() => {
                ctx.beat.turned();
                backoff.reset();
                for (job, permit) in jobs.into_iter().zip(permits) {
                    spawn_job(&ctx, job, permit);
                }
                continue;
            }
            Ok(Batch { look_again, .. }) => {
                ctx.beat.turned();
                drop(permits);
                if pauses.after_empty && !pause(&stop, backoff.next_delay()).await {
                    return;
                }
                look_again
            }
            Err(e) => {
                if ctx.beat.errored() {
                    tracing::warn!(queue = %ctx.queue, error = %e, "queue loop error; retrying");
                }
                drop(permits);
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = woken => {}
                    _ = tokio::time::sleep(backoff.next_delay()) => {}
                }
                continue;
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = woken => {}
            _ = ctx.fetcher.idle() => {}
            _ = sleep(look_again) => {}
        }
    }
}

/// Sleeps `d` unless stopped first; false when stopped.
async fn pause(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// Sleeps `timer`; for ever when `None`.
async fn sleep(timer: Option<Duration>) {
    match timer {
        Some(t) => tokio::time::sleep(t).await,
        None => std::future::pending().await,
    }
}

fn spawn_job<F: Fetcher>(ctx: &Arc<Ctx<F>>, job: F::Job, permit: OwnedSemaphorePermit) {
    let ctx = ctx.clone();
    let tracker = ctx.jobs.clone();
    tracker.spawn(async move {
        // Released when the outcome is written: the slot stays taken until then.
        let _permit = permit;
        let fetcher = &ctx.fetcher;
        let active = fetcher.begin(&job).await;
        // A processor that panics fails the attempt (retryable) instead of leaving it active.
        let work = AssertUnwindSafe(ctx.processor.process(active)).catch_unwind();
        tokio::pin!(work);
        let done = tokio::select! {
            o = &mut work => o,
            _ = fetcher.hold(&job) => work.await,
        };
        let outcome =
            done.unwrap_or_else(|_| Outcome::Retry("the job's processor panicked".into()));
        fetcher.finish(job, outcome, &ctx.beat).await;
    });
}

#[cfg(test)]
#[path = "fetch_loop_tests.rs"]
mod tests;
