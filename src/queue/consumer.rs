//! Consuming a queue, whatever the store: the [`Processor`] a pool plugs in, the
//! [`ActiveJob`] it receives, the [`Consumer`] handle it drains, and the [`LoopBeat`] that
//! `/health` reads. Each store runs its own fetch loop behind these, through the
//! [`ConsumerHandle`] and [`JobHandle`] seams defined here (the store contract,
//! `contract.rs`, builds on this file, never the other way); nothing here names a store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::error::Error;
use super::job::{Outcome, Retention};
use super::job_opts::JobOpts;

/// Runs one job. Implemented by the worker pool; called concurrently up to the concurrency.
#[async_trait]
pub trait Processor: Send + Sync + 'static {
    /// Runs `job` to an [`Outcome`]. Must not panic on any job data.
    async fn process(&self, job: ActiveJob) -> Outcome;

    /// Whether a job named `name` needs its options as the producer stored them
    /// ([`ActiveJob::opts`]). A store that reads them with a command of its own (Redis: one
    /// `HGET`, a round trip before the run) skips it when no: most handlers never look, and
    /// the round trip was a third of a short job's time. Without it `opts` is empty.
    fn wants_opts(&self, _name: &str) -> bool {
        true
    }
}

/// A store's running consumer of one queue, held by [`Consumer`].
#[async_trait]
pub trait ConsumerHandle: Send {
    /// Stops fetching at once, waits up to `wait` for running jobs, then stops the loop.
    async fn close(self: Box<Self>, queue: &str, wait: Duration);
}

/// A store's handle on one running job, held by [`ActiveJob`]; `queue` is the job's.
#[async_trait]
pub trait JobHandle: Send + Sync {
    /// Appends a line to the job's log.
    async fn log(&self, queue: &str, line: &str) -> Result<(), Error>;
    /// Sets the job's progress and emits a `progress` event.
    async fn progress(&self, queue: &str, value: serde_json::Value) -> Result<(), Error>;
    /// Replaces the job's stored data (BullMQ `job.updateData`; no event, as BullMQ emits none).
    async fn update_data(&self, queue: &str, data: serde_json::Value) -> Result<(), Error>;
    /// Return values of a flow parent's finished children (empty where there are no flows).
    async fn children_values(
        &self,
        queue: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error>;
}

/// How one queue is consumed.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Jobs run at once by this process.
    pub concurrency: usize,
    /// Lock TTL; renewed every half of it while the job runs.
    pub lock_duration: Duration,
    /// How often this process looks for stalled jobs (locks that expired).
    pub stalled_interval: Duration,
    /// Stalls allowed before a job is failed.
    pub max_stalled_count: u32,
    /// Longest idle block on the marker; also bounds how long `close` waits for an idle loop.
    pub drain_delay: Duration,
    /// How long a queue with no job stays ready with its own fetch loop (on Redis: an engine
    /// worker and two connections) before it lets it go and waits with the other idle queues.
    pub idle_release: Duration,
    /// Written to each job's `pb` (processedBy) and to the worker's client name.
    pub worker_name: String,
    /// Default retention for completed jobs whose own options say nothing.
    pub remove_on_complete: Option<Retention>,
    /// Default retention for failed jobs whose own options say nothing.
    pub remove_on_fail: Option<Retention>,
    /// Minutes of completed/failed counts kept (BullMQ's Worker `metrics.maxDataPoints`);
    /// 0 records none.
    pub metrics_points: u32,
    /// Fair groups (`[queues.NAME] group_*`, `groups.rs`); `None`: no group limit, and no
    /// group work on the job path at all.
    pub groups: Option<super::groups::GroupPolicy>,
}

/// A job handed to a [`Processor`]: our own view, with the store's handle for its log.
pub struct ActiveJob {
    /// The queue it came from.
    pub queue: String,
    /// Its id.
    pub id: String,
    /// Its name (selects the handler).
    pub name: String,
    /// Its data, or why the stored data is unusable (not JSON).
    pub data: Result<serde_json::Value, String>,
    /// Its options as the producer stored them (BullMQ's `job.opts`; untrusted: an object,
    /// empty when the stored text was not one; see `job_opts.rs`).
    pub opts: JobOpts,
    /// This attempt, 1-based.
    pub attempt: u32,
    /// Attempts allowed in all (0 or 1 = a single attempt).
    pub max_attempts: u32,
    /// When it could first run, Unix ms: added, plus its own delay (its wait is measured from
    /// here to the start of this attempt).
    pub ready_ms: i64,
    /// The store's handle on this job (log, progress, children).
    pub(crate) log: Box<dyn JobHandle>,
}

/// A job's attempt counts and ready time, as a store read them (for [`ActiveJob::new`]).
pub(crate) struct Attempts {
    /// Attempts already made (this one not counted).
    pub(crate) made: u32,
    /// Attempts allowed in all (0 or 1 = a single attempt).
    pub(crate) max: u32,
    /// When it could first run, Unix ms: added, plus its own delay.
    pub(crate) ready_ms: i64,
}

impl ActiveJob {
    /// The one place a store builds the job it hands its processor (every store, so the
    /// attempt numbering cannot drift between them).
    pub(crate) fn new(
        queue: &str,
        id: &str,
        name: &str,
        data: Result<serde_json::Value, String>,
        opts: JobOpts,
        attempts: Attempts,
        log: Box<dyn JobHandle>,
    ) -> Self {
        ActiveJob {
            queue: queue.to_string(),
            id: id.to_string(),
            name: name.to_string(),
            data,
            opts,
            attempt: attempts.made + 1,
            max_attempts: attempts.max,
            ready_ms: attempts.ready_ms,
            log,
        }
    }

    /// Appends a line to the job's log list (`B+id+":logs"`, read by Bull Board / `getJobLogs`).
    pub async fn log(&self, line: &str) -> Result<(), Error> {
        self.log.log(&self.queue, line).await
    }

    /// Sets the job's progress (BullMQ `job.updateProgress`: the hash's `progress` field and a
    /// `progress` event that `QueueEvents` listeners receive).
    pub async fn progress(&self, value: serde_json::Value) -> Result<(), Error> {
        self.log.progress(&self.queue, value).await
    }

    /// Replaces the job's data in the store (BullMQ `job.updateData`): a Node `Job.fromId`,
    /// Bull Board and the next attempt see the new data.
    pub async fn update_data(&self, data: serde_json::Value) -> Result<(), Error> {
        self.log.update_data(&self.queue, data).await
    }

    /// The return values of this job's finished children (a flow parent), keyed by the
    /// child's full key as in BullMQ's `getChildrenValues()`; empty for other jobs. One Redis
    /// round trip: callers ask only for handlers that cost far more (exec).
    pub async fn children_values(
        &self,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        self.log.children_values(&self.queue).await
    }
}

/// Liveness of a consumer's fetch loop, shared with `/health`.
#[derive(Debug, Default)]
pub struct LoopBeat {
    /// Unix ms of the last time the fetch loop turned (fetched a job, found the queue empty,
    /// or finished a job). Written by the consumer's event task, read by health.
    last_turn_ms: AtomicU64,
    /// Unix ms of the last fetch error (0 = none since the last turn).
    last_error_ms: AtomicU64,
    /// Times the loop started failing (an outage), for `/metrics`.
    outages: AtomicU64,
}

impl LoopBeat {
    /// Milliseconds since the loop last turned.
    pub fn since_turn(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.last_turn_ms.load(Ordering::Relaxed)))
    }

    /// Whether the most recent thing the loop reported was an error.
    pub fn failing(&self) -> bool {
        self.last_error_ms.load(Ordering::Relaxed) > self.last_turn_ms.load(Ordering::Relaxed)
    }

    /// Records a failed fetch; returns true when this starts an outage (log once, not per try).
    pub(crate) fn errored(&self) -> bool {
        let first = !self.failing();
        self.last_error_ms.store(now_ms(), Ordering::Relaxed);
        if first {
            self.outages.fetch_add(1, Ordering::Relaxed);
        }
        first
    }

    /// Times the loop started failing.
    pub fn outages(&self) -> u64 {
        self.outages.load(Ordering::Relaxed)
    }

    /// Records a turn of the fetch loop.
    pub(crate) fn turned(&self) {
        self.last_turn_ms.store(now_ms(), Ordering::Relaxed);
    }
}

/// Parses a job's stored `data` text; when it is not JSON, says so in the one wording every
/// store uses (the handler fails the job with it rather than run on a guess).
pub(crate) fn parse_data(raw: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(raw).map_err(|e| not_json(raw, &e))
}

/// Why a job's stored `data` is unusable: the parse error, the start of the text (control
/// characters escaped by `{:?}`) and the fix.
pub(crate) fn not_json(raw: &str, err: &serde_json::Error) -> String {
    let shown: String = raw.chars().take(80).collect();
    format!("job data is not valid JSON ({err}): {shown:?}; producers must store JSON text in the `data` field")
}

/// Unix ms now: the one clock every store reads (0 before 1970, never a panic).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A running consumer of one queue. Dropping it stops fetching; call [`Consumer::close`] to
/// drain properly.
pub struct Consumer {
    pub(crate) queue: String,
    pub(crate) beat: Arc<LoopBeat>,
    /// The store's fetch loop.
    pub(crate) inner: Box<dyn ConsumerHandle>,
}

impl Consumer {
    /// The queue consumed.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// Liveness of the fetch loop.
    pub fn beat(&self) -> Arc<LoopBeat> {
        self.beat.clone()
    }

    /// Stops fetching at once, waits up to `wait` for running jobs (which the processor
    /// releases at the drain deadline), then stops the loop.
    pub async fn close(self, wait: Duration) {
        self.inner.close(&self.queue, wait).await
    }
}
