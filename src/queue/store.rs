//! [`Store`]: the one handle the rest of cronq uses, over either store — Redis in BullMQ's
//! layout (through the engine), or the embedded SQLite file for running with no Redis. Each
//! operation is a plain `match`: both stores implement the same inherent methods, so adding an
//! operation means adding it to both, and the shared behaviour suite runs against both.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::embedded::EmbeddedStore;
use super::redis::RedisStore;
use super::{
    Consumer, ConsumerOptions, Error, EventReader, JobCounts, JobInfo, JobOpError, JobPage,
    JobSpec, Processor, RedisTarget,
};

/// How long opening a Redis store may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which store to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreTarget {
    /// Redis, in BullMQ's layout.
    Redis(RedisTarget),
    /// The embedded store in one local file (`CRONQ_DATA`).
    Embedded(PathBuf),
}

impl StoreTarget {
    /// `redis` or `embedded`.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreTarget::Redis(_) => "redis",
            StoreTarget::Embedded(_) => "embedded",
        }
    }

    /// Where, printable (passwords redacted).
    pub fn describe(&self) -> String {
        match self {
            StoreTarget::Redis(t) => t.redacted(),
            StoreTarget::Embedded(p) => p.display().to_string(),
        }
    }
}

/// The queue store. Cheap to clone.
#[derive(Clone)]
pub struct Store(Backend);

#[derive(Clone)]
enum Backend {
    Redis(RedisStore),
    /// The embedded store, and its cancel requests: one daemon per file, so an in-process
    /// channel (sender: `request_cancel`; receivers: each `listen_cancels`).
    Embedded(Arc<EmbeddedStore>, broadcast::Sender<(String, String)>),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match &$self.0 {
            Backend::Redis($s) => $e,
            Backend::Embedded($s, _) => $e,
        }
    };
}

impl Store {
    /// Opens the store: connects to Redis (failing fast when it does not answer; the daemon
    /// retries), or opens (creating) the embedded file, locked for this process.
    pub async fn open(target: &StoreTarget, prefix: &str) -> Result<Store, Error> {
        Ok(Store(match target {
            // The engine's connection manager retries for ~40 s before it gives up (a wrong
            // password, a refused port): bound it, callers retry on their own terms.
            StoreTarget::Redis(t) => {
                match tokio::time::timeout(CONNECT_TIMEOUT, RedisStore::connect(t, prefix)).await {
                    Ok(r) => Backend::Redis(r?),
                    Err(_) => {
                        return Err(Error::Unreachable {
                            url: t.redacted(),
                            reason: format!("no connection within {}s", CONNECT_TIMEOUT.as_secs()),
                        })
                    }
                }
            }
            StoreTarget::Embedded(path) => Backend::Embedded(
                Arc::new(EmbeddedStore::open(path).await?),
                broadcast::channel(64).0,
            ),
        }))
    }

    /// Connects to Redis.
    pub async fn connect(target: &RedisTarget, prefix: &str) -> Result<Store, Error> {
        Store::open(&StoreTarget::Redis(target.clone()), prefix).await
    }

    /// `redis` or `embedded`.
    pub fn kind(&self) -> &'static str {
        match &self.0 {
            Backend::Redis(_) => "redis",
            Backend::Embedded(..) => "embedded",
        }
    }

    /// Where the store is, printable (passwords redacted).
    pub fn redacted_url(&self) -> String {
        each!(self, s => s.redacted_url())
    }

    /// The key prefix (BullMQ's `prefix`; the embedded store ignores it).
    pub fn prefix(&self) -> &str {
        each!(self, s => s.prefix())
    }

    /// Round trip of a no-op.
    pub async fn ping(&self) -> Result<Duration, Error> {
        each!(self, s => s.ping().await)
    }

    /// Adds a job; returns its id (the existing one for a duplicate custom id).
    pub async fn add(&self, queue: &str, spec: JobSpec) -> Result<String, Error> {
        each!(self, s => s.add(queue, spec).await)
    }

    /// Starts consuming `queue` with `processor`.
    pub async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        each!(self, s => s.consume(queue, opts, processor).await)
    }

    /// Counts per state.
    pub async fn counts(&self, queue: &str) -> Result<JobCounts, Error> {
        each!(self, s => s.counts(queue).await)
    }

    /// Completed and failed counts per minute over the last `minutes` minutes (BullMQ's job
    /// metrics, recorded by workers with `metrics_points` > 0).
    pub async fn metrics(&self, queue: &str, minutes: u32) -> Result<super::MinuteCounts, Error> {
        each!(self, s => s.metrics(queue, minutes).await)
    }

    /// Whether `queue` is paused.
    pub async fn is_paused(&self, queue: &str) -> Result<bool, Error> {
        each!(self, s => s.is_paused(queue).await)
    }

    /// The state of a job, `None` when there is no such job.
    pub async fn state(&self, queue: &str, id: &str) -> Result<Option<String>, Error> {
        each!(self, s => s.state(queue, id).await)
    }

    /// One page of jobs in `state`.
    pub async fn jobs(
        &self,
        queue: &str,
        state: &str,
        offset: u64,
        limit: u64,
    ) -> Result<JobPage, Error> {
        each!(self, s => s.jobs(queue, state, offset, limit).await)
    }

    /// One job with state and logs.
    pub async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, Error> {
        each!(self, s => s.job(queue, id).await)
    }

    /// Queues that have data.
    pub async fn discover_queues(&self) -> Result<Vec<String>, Error> {
        each!(self, s => s.discover_queues().await)
    }

    /// Failed → waiting.
    pub async fn retry_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        each!(self, s => s.retry_job(queue, id).await)
    }

    /// Every failed job → waiting; `progress(done, total)` along the way.
    pub async fn retry_all_failed(
        &self,
        queue: &str,
        progress: impl FnMut(u64, u64),
    ) -> Result<u64, Error> {
        each!(self, s => s.retry_all_failed(queue, progress).await)
    }

    /// Removes a job that is not active.
    pub async fn remove_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        each!(self, s => s.remove_job(queue, id).await)
    }

    /// Delayed → waiting.
    pub async fn promote_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        each!(self, s => s.promote_job(queue, id).await)
    }

    /// Pauses `queue` for every worker.
    pub async fn pause(&self, queue: &str) -> Result<(), Error> {
        each!(self, s => s.pause(queue).await)
    }

    /// Resumes `queue`.
    pub async fn resume(&self, queue: &str) -> Result<(), Error> {
        each!(self, s => s.resume(queue).await)
    }

    /// Removes completed/failed jobs older than `older_than`; returns how many.
    pub async fn clean(
        &self,
        queue: &str,
        state: &str,
        older_than: Duration,
    ) -> Result<u64, Error> {
        if state != "completed" && state != "failed" {
            return Err(Error::InvalidJob {
                queue: queue.into(),
                reason: format!("clean applies to completed or failed jobs, not {state:?}"),
            });
        }
        each!(self, s => s.clean(queue, state, older_than).await)
    }

    /// Asks whichever daemon runs job `id` of `queue` to cancel it.
    pub async fn request_cancel(&self, queue: &str, id: &str) -> Result<(), Error> {
        match &self.0 {
            Backend::Redis(s) => s.request_cancel(queue, id).await,
            Backend::Embedded(_, cancels) => {
                let _ = cancels.send((queue.to_string(), id.to_string()));
                Ok(())
            }
        }
    }

    /// Delivers cancel requests `(queue, id)` to `out` until `stop` fires.
    pub async fn listen_cancels(
        &self,
        out: tokio::sync::mpsc::Sender<(String, String)>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let cancels = match &self.0 {
            Backend::Redis(s) => return s.listen_cancels(out, stop).await,
            Backend::Embedded(_, cancels) => cancels,
        };
        let mut rx = cancels.subscribe();
        loop {
            let req = tokio::select! {
                _ = stop.cancelled() => return,
                r = rx.recv() => r,
            };
            match req {
                Ok(r) => {
                    if out.send(r).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Up to `count` events of `queue` after `after` (a resume cursor), without blocking and
    /// without a connection of its own.
    pub async fn events_after(
        &self,
        queue: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<super::QueueEvent>, Error> {
        each!(self, s => s.events_after(queue, after, count).await)
    }

    /// A reader of `queues`' events after `cursors`.
    pub async fn event_reader(
        &self,
        queues: &[String],
        cursors: std::collections::BTreeMap<String, String>,
    ) -> Result<EventReader, Error> {
        match &self.0 {
            Backend::Redis(s) => Ok(EventReader::Redis(s.event_reader(queues, cursors).await?)),
            Backend::Embedded(s, _) => Ok(EventReader::Embedded(
                s.event_reader(queues, cursors).await?,
            )),
        }
    }
}
