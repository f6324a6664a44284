//! Consuming a queue of the embedded store: its side of the shared fetch loop
//! (`queue/fetch_loop.rs`: slots, job tasks, pauses, `close`), claiming as many ready jobs as
//! there are free slots in one write and applying each [`Outcome`] in one transaction.
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

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::time::Instant;

use super::fetch::{self, Claim, Claimed};
use super::finish::{self, Defaults};
use super::{events, lock, EmbeddedStore, JobLogRef};
use crate::queue::consumer::{
    now_ms, parse_data, ActiveJob, Attempts, Consumer, ConsumerOptions, LoopBeat, Processor,
};
use crate::queue::contract::Consume;
use crate::queue::error::Error;
use crate::queue::fetch_loop::{self, Batch, Fetcher, Pauses};
use crate::queue::groups::GroupPolicy;
use crate::queue::job::Outcome;

/// Poll interval, only when inotify is unavailable (no instance left for this user).
const FALLBACK_POLL: Duration = Duration::from_millis(250);
/// Pause after a failed claim.
const ERROR_DELAY: Duration = Duration::from_millis(500);
/// How often the loop trims its queue's event log (about 4 events per job: at 5,000 jobs/s a
/// trim removes ~40,000 rows, a few tens of milliseconds of the writer's time).
const TRIM_EVERY: Duration = Duration::from_secs(2);
/// Tries of writing a job's outcome before leaving it to recovery at the next start.
const FINISH_TRIES: u32 = 5;

/// The embedded store's side of the shared fetch loop (`queue/fetch_loop.rs`): one write
/// claims as many jobs as there are free slots; `Inner::ready` wakes an idle loop.
struct EmbeddedFetcher {
    store: EmbeddedStore,
    queue: String,
    worker: String,
    defaults: Defaults,
    /// Whether the store watches its file (else the idle wait polls every `FALLBACK_POLL`).
    watched: bool,
    /// When the event log was last trimmed; only the loop's `housekeep` touches it.
    trimmed: Mutex<Instant>,
    /// The queue's group policy (`groups.rs`); `None`: the plain claim.
    groups: Option<Arc<GroupPolicy>>,
}

#[async_trait]
impl Fetcher for EmbeddedFetcher {
    type Job = Claimed;

    async fn housekeep(&self) {
        {
            let mut trimmed = self.trimmed.lock().unwrap_or_else(|p| p.into_inner());
            if trimmed.elapsed() <= TRIM_EVERY {
                return;
            }
            *trimmed = Instant::now();
        }
        let q = self.queue.clone();
        let _ = self
            .store
            .write(&self.queue, move |c| Ok(events::trim(c, &q)?))
            .await;
    }

    fn armed(&self) -> BoxFuture<'_, ()> {
        // Registered before the claim, so an add between the claim and the wait (in this
        // process or, through the file watch, another) still wakes us.
        let mut woken = Box::pin(self.store.inner.ready.notified());
        woken.as_mut().enable();
        woken.boxed()
    }

    async fn claim(&self, n: usize) -> Result<Batch<Claimed>, Error> {
        let (q, worker) = (self.queue.clone(), self.worker.clone());
        let policy = self.groups.clone();
        let Claim { jobs, next_due } = self
            .store
            .write(&self.queue, move |c| {
                fetch::claim(c, &q, n, &worker, policy.as_deref())
            })
            .await?;
        let due = next_due.map(|due| Duration::from_millis((due - now_ms() as i64).max(1) as u64));
        let look_again = match self.watched {
            true => due,
            false => Some(due.map_or(FALLBACK_POLL, |t| t.min(FALLBACK_POLL))),
        };
        Ok(Batch { jobs, look_again })
    }

    async fn begin(&self, job: &Claimed) -> ActiveJob {
        let attempts = Attempts {
            made: job.attempts_made,
            max: job.max_attempts,
            ready_ms: job.ready_ms,
        };
        let log = Box::new(JobLogRef {
            store: self.store.clone(),
            queue: self.queue.clone(),
            id: job.id.clone(),
        });
        let data = parse_data(&job.data);
        let opts = crate::queue::job_opts::decode(&job.opts);
        ActiveJob::new(&self.queue, &job.id, &job.name, data, opts, attempts, log)
    }

    // A wake-up comes only with work (or a write of the file), so an empty claim waits at
    // once; a failed claim waits a fixed `ERROR_DELAY` (or less, woken).
    const PAUSES: Pauses = Pauses::new(ERROR_DELAY, ERROR_DELAY).batched();
    const LEFT_RUNNING: &'static str = "they stay active and the next start puts them back";

    async fn finish(&self, job: Claimed, outcome: Outcome, beat: &LoopBeat) {
        let outcome = Arc::new(outcome);
        for attempt in 1..=FINISH_TRIES {
            let (q, id, o, d) = (
                self.queue.clone(),
                job.id.clone(),
                outcome.clone(),
                self.defaults,
            );
            match self
                .store
                .write(&self.queue, move |c| finish::finish(c, &q, &id, &o, d))
                .await
            {
                Ok(ready) => {
                    beat.turned();
                    // A finished job of a group frees its slot: a job of that group held
                    // back by `group_concurrency` may start now.
                    if ready || self.groups.is_some() {
                        self.store.inner.ready.notify_waiters();
                    }
                    return;
                }
                Err(e) => {
                    beat.errored();
                    tracing::warn!(queue = %self.queue, job_id = %job.id, attempt, error = %e, "cannot store the job's outcome");
                    tokio::time::sleep(ERROR_DELAY * attempt).await;
                }
            }
        }
        tracing::error!(queue = %self.queue, job_id = %job.id, "the job's outcome was not stored; it stays active until the next start puts it back");
    }
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
        let grouped = opts.groups.is_some();
        self.write(queue, move |c| {
            super::producer::ensure_queue(c, &q)?;
            if grouped {
                super::groups::ensure(c)?;
            }
            Ok(())
        })
        .await?;
        let fetcher = Arc::new(EmbeddedFetcher {
            store: self.clone(),
            queue: queue.to_string(),
            worker: opts.worker_name.clone(),
            defaults: Defaults {
                on_complete: opts.remove_on_complete,
                on_fail: opts.remove_on_fail,
                metrics_points: opts.metrics_points,
            },
            watched: self.watch_file(),
            trimmed: Mutex::new(Instant::now()),
            groups: opts.groups.clone().map(Arc::new),
        });
        let handle = fetch_loop::start(fetcher, queue, opts.concurrency, processor);
        Ok(handle.into_consumer(queue))
    }
}
