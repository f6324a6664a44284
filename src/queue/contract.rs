//! The store contract: what a store implements to hold cronq's queues. The [`super::Store`]
//! facade holds one `Arc<dyn Backend>` and never names a store's type, except in the one
//! constructor that opens a [`super::StoreTarget`]; the shared consumer holds a
//! [`ConsumerHandle`], a running job a [`JobHandle`], an event reader an [`EventSource`]. A new
//! store implements these four traits in its own module and adds one arm to
//! [`super::Store::open`]; the shared behaviour suite (`tests/store_suite.rs`) then runs
//! against it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    Consumer, ConsumerOptions, Error, JobCounts, JobInfo, JobOpError, JobPage, JobSpec, Processor,
    QueueEvent,
};

/// One store. Every method names the queue in its errors; `add` receives a job the facade
/// already validated ([`JobSpec::validate`]); `clean` receives only `completed` or `failed`.
#[async_trait]
pub trait Backend: Send + Sync {
    /// `redis`, `embedded`, …: shown in `/health`, `worker status` and reasons.
    fn kind(&self) -> &'static str;
    /// Where the store is, printable (passwords redacted).
    fn redacted_url(&self) -> String;
    /// The key prefix (BullMQ's `prefix`; a store without one returns a fixed name).
    fn prefix(&self) -> &str;
    /// Round trip of a no-op.
    async fn ping(&self) -> Result<Duration, Error>;
    /// Claims the daemon's identity (`WORKER_ID`) until `stop`: a [`Error::Settings`] when a
    /// live daemon holds it. A store that admits one daemon anyway (the embedded store's file
    /// lock) has nothing to do.
    async fn claim_identity(
        &self,
        _id: &super::Identity,
        _stop: CancellationToken,
    ) -> Result<(), Error> {
        Ok(())
    }
    /// Warnings about the store's own settings, logged once at the daemon's start (Redis: an
    /// eviction policy that deletes jobs when memory runs out). None by default.
    async fn settings_warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// Adds a job; returns its id (the existing one for a duplicate custom id).
    async fn add(&self, queue: &str, spec: JobSpec) -> Result<String, Error>;
    /// Starts consuming `queue` with `processor`.
    async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error>;
    /// Counts per state.
    async fn counts(&self, queue: &str) -> Result<JobCounts, Error>;
    /// Whether any of `queues` has a job ready to run (waiting or prioritized): `/health`'s
    /// one question before it counts queues that could be stuck. The default counts each
    /// queue; a store that can answer in one command overrides it.
    async fn any_ready(&self, queues: &[String]) -> Result<bool, Error> {
        for queue in queues {
            if self.counts(queue).await?.ready() > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }
    /// Completed and failed counts per minute over the last `minutes` minutes (BullMQ's job
    /// metrics; a store keeps the same series).
    async fn metrics(&self, queue: &str, minutes: u32) -> Result<super::MinuteCounts, Error>;
    /// Whether `queue` is paused.
    async fn is_paused(&self, queue: &str) -> Result<bool, Error>;
    /// The state of a job, `None` when there is no such job.
    async fn state(&self, queue: &str, id: &str) -> Result<Option<String>, Error>;
    /// One page of jobs in `state`.
    async fn jobs(
        &self,
        queue: &str,
        state: &str,
        offset: u64,
        limit: u64,
    ) -> Result<JobPage, Error>;
    /// One job with state and logs.
    async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, Error>;
    /// Queues that have data.
    async fn discover_queues(&self) -> Result<Vec<String>, Error>;
    /// Failed → waiting.
    async fn retry_job(&self, queue: &str, id: &str) -> Result<(), JobOpError>;
    /// Every failed job → waiting; `progress(done, total)` along the way.
    async fn retry_all_failed(
        &self,
        queue: &str,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<u64, Error>;
    /// Removes a job that is not active.
    async fn remove_job(&self, queue: &str, id: &str) -> Result<(), JobOpError>;
    /// Delayed → waiting.
    async fn promote_job(&self, queue: &str, id: &str) -> Result<(), JobOpError>;
    /// Pauses `queue` for every worker.
    async fn pause(&self, queue: &str) -> Result<(), Error>;
    /// Resumes `queue`.
    async fn resume(&self, queue: &str) -> Result<(), Error>;
    /// Removes `state` (completed or failed) jobs older than `older_than`; returns how many.
    async fn clean(&self, queue: &str, state: &str, older_than: Duration) -> Result<u64, Error>;
    /// Vouches for `ttl` that this daemon runs crontab entries `entries` through `queue`, so
    /// other daemons on the store hand those jobs back rather than fail them. A store that
    /// admits one daemon (the embedded file) has nobody to tell. `holder` is this daemon's
    /// WORKER_ID; returns those of `entries` another live daemon vouches for too.
    async fn advertise_entries(
        &self,
        _queue: &str,
        _holder: &str,
        _entries: &[String],
        _ttl: Duration,
    ) -> Result<Vec<String>, Error> {
        Ok(Vec::new())
    }
    /// Whether a live daemon vouches for crontab entry `entry` of `queue`.
    async fn entry_claimed(&self, _queue: &str, _entry: &str) -> Result<bool, Error> {
        Ok(false)
    }
    /// Writes `run`, which already happened, as a finished job of `queue` unless a job with
    /// its id exists (`queue/record.rs`); `true` when written. The default writes nothing: a
    /// store that is a local file is never unreachable, so no run happens without it.
    async fn record_run(&self, _queue: &str, _run: &super::FinishedRun) -> Result<bool, Error> {
        Ok(false)
    }
    /// Asks whichever daemon runs job `id` of `queue` to cancel it.
    async fn request_cancel(&self, queue: &str, id: &str) -> Result<(), Error>;
    /// Delivers cancel requests `(queue, id)` to `out` until `stop` fires.
    async fn listen_cancels(&self, out: mpsc::Sender<(String, String)>, stop: CancellationToken);
    /// Up to `count` events of `queue` after `after`, without blocking.
    async fn events_after(
        &self,
        queue: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<QueueEvent>, Error>;
    /// A reader of `queues`' events after `cursors`.
    async fn event_reader(
        &self,
        queues: &[String],
        cursors: BTreeMap<String, String>,
    ) -> Result<Box<dyn EventSource>, Error>;
}

/// A store's running consumer of one queue, held by [`Consumer`].
#[async_trait]
pub trait ConsumerHandle: Send {
    /// Stops fetching at once, waits up to `wait` for running jobs, then stops the loop.
    async fn close(self: Box<Self>, queue: &str, wait: Duration);
}

/// A store's handle on one running job, held by [`super::ActiveJob`]; `queue` is the job's.
#[async_trait]
pub trait JobHandle: Send + Sync {
    /// Appends a line to the job's log.
    async fn log(&self, queue: &str, line: &str) -> Result<(), Error>;
    /// Sets the job's progress and emits a `progress` event.
    async fn progress(&self, queue: &str, value: serde_json::Value) -> Result<(), Error>;
    /// Return values of a flow parent's finished children (empty where there are no flows).
    async fn children_values(
        &self,
        queue: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error>;
}

/// A store's reader of several queues' events, held by [`super::EventReader`].
#[async_trait]
pub trait EventSource: Send {
    /// Queue → the position reading started after.
    fn start_cursors(&self) -> BTreeMap<String, String>;
    /// Waits up to `block` for events; returns those that arrived (possibly none).
    async fn next_batch(&mut self, block: Duration) -> Result<Vec<QueueEvent>, Error>;
}
