//! [`Store`]: the one handle the rest of cronq uses, over any store that implements the
//! [`Backend`] contract — Redis (each queue in BullMQ's or Bull 3/4's layout, picked per queue
//! by `redis/layouts.rs`), or the embedded SQLite file for running with no Redis. What is the
//! same for every store is done here once (job validation, the `clean` state check, the write
//! alarm); the rest is one call on the backend. [`Store::open`] is the only place outside a
//! store's own module that names a store type.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::alarm::WriteAlarm;
use super::consumer::{Consumer, ConsumerOptions, Processor};
use super::contract::Backend;
use super::embedded::EmbeddedStore;
use super::error::{Error, JobOpError};
use super::events::{EventReader, QueueEvent};
use super::info::{JobInfo, JobPage};
use super::job::{JobCounts, JobSpec};
use super::layout::Layout;
use super::metrics::MinuteCounts;
use super::redis::{Layouts, RedisStore, RedisTarget};
use super::state::JobState;

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
pub struct Store {
    backend: Arc<dyn Backend>,
    /// Fed by every add; read by `/health` ([`Store::write_refusal`]).
    alarm: Arc<WriteAlarm>,
}

impl Store {
    /// Opens the store: connects to Redis (failing fast when it does not answer; the daemon
    /// retries), or opens (creating) the embedded file, locked for this process.
    pub async fn open(target: &StoreTarget, prefix: &str) -> Result<Store, Error> {
        Store::open_with(target, prefix, &BTreeMap::new()).await
    }

    /// [`Store::open`], with each queue's Redis layout (queues not named are BullMQ's). The
    /// embedded store has one layout of its own and ignores `layouts`.
    pub async fn open_with(
        target: &StoreTarget,
        prefix: &str,
        layouts: &BTreeMap<String, Layout>,
    ) -> Result<Store, Error> {
        let backend: Arc<dyn Backend> = match target {
            // The engine's connection manager retries for ~40 s before it gives up (a wrong
            // password, a refused port): bound it, callers retry on their own terms.
            StoreTarget::Redis(t) => {
                match tokio::time::timeout(CONNECT_TIMEOUT, RedisStore::connect(t, prefix)).await {
                    Ok(r) => Arc::new(Layouts::new(r?, layouts)),
                    Err(_) => {
                        return Err(Error::Unreachable {
                            url: t.redacted(),
                            reason: format!("no connection within {}s", CONNECT_TIMEOUT.as_secs()),
                        })
                    }
                }
            }
            StoreTarget::Embedded(path) => Arc::new(EmbeddedStore::open(path).await?),
        };
        Ok(Store {
            backend,
            alarm: Arc::default(),
        })
    }

    /// One warning per queue whose Redis keys show the other layout than `layouts` sets
    /// (queues not named are BullMQ's); nothing on the embedded store.
    pub async fn layout_warnings(&self, layouts: &BTreeMap<String, Layout>) -> Vec<String> {
        let mut out = Vec::new();
        for (queue, configured) in layouts {
            match self.backend.layout_seen(queue).await {
                Ok(Some(seen)) => {
                    out.extend(super::bull::mismatch_message(queue, *configured, seen));
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(queue = %queue, error = %e, "layout check failed"),
            }
        }
        out
    }

    /// The layout `queue`'s Redis keys show, when they show one (never on the embedded store).
    pub async fn layout_seen(&self, queue: &str) -> Result<Option<Layout>, Error> {
        self.backend.layout_seen(queue).await
    }

    /// Warnings about the store's own settings, for the daemon's start: a Redis eviction
    /// policy that silently deletes jobs when memory runs out.
    pub async fn settings_warnings(&self) -> Vec<String> {
        self.backend.settings_warnings().await
    }

    /// Connects to Redis.
    pub async fn connect(target: &RedisTarget, prefix: &str) -> Result<Store, Error> {
        Store::open(&StoreTarget::Redis(target.clone()), prefix).await
    }

    /// `redis` or `embedded`.
    pub fn kind(&self) -> &'static str {
        self.backend.kind()
    }

    /// Where the store is, printable (passwords redacted).
    pub fn redacted_url(&self) -> String {
        self.backend.redacted_url()
    }

    /// The key prefix (BullMQ's `prefix`; the embedded store ignores it).
    pub fn prefix(&self) -> &str {
        self.backend.prefix()
    }

    /// Round trip of a no-op.
    pub async fn ping(&self) -> Result<Duration, Error> {
        self.backend.ping().await
    }

    /// Claims this daemon's identity until `stop` (see [`crate::queue::identity::Identity`]).
    pub async fn claim_identity(
        &self,
        id: &crate::queue::identity::Identity,
        stop: tokio_util::sync::CancellationToken,
    ) -> Result<(), Error> {
        self.backend.claim_identity(id, stop).await
    }

    /// Adds a job; returns its id (the existing one for a duplicate custom id).
    /// The job is checked here, once for every store and producer ([`JobSpec::validate`]).
    pub async fn add(&self, queue: &str, spec: JobSpec) -> Result<String, Error> {
        let spec = spec.validate().map_err(|e| Error::InvalidJob {
            queue: queue.to_string(),
            field: Some(e.field),
            reason: e.reason,
        })?;
        let added = self.backend.add(queue, spec).await;
        self.alarm.observe(&added);
        added
    }

    /// The last store-wide write refusal (Redis OOM, a full disk, a deleted file), when one
    /// came lately and no add worked since: `/health` reports it, PING cannot see it.
    pub fn write_refusal(&self) -> Option<String> {
        self.alarm.current()
    }

    /// Starts consuming `queue` with `processor`.
    pub async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        self.backend.consume(queue, opts, processor).await
    }

    /// Counts per state.
    pub async fn counts(&self, queue: &str) -> Result<JobCounts, Error> {
        self.backend.counts(queue).await
    }

    /// Whether any of `queues` has a job ready to run (each store asked about its own).
    pub async fn any_ready(&self, queues: &[String]) -> Result<bool, Error> {
        self.backend.any_ready(queues).await
    }

    /// Completed and failed counts per minute over the last `minutes` minutes (BullMQ's job
    /// metrics, recorded by workers with `metrics_points` > 0).
    pub async fn metrics(&self, queue: &str, minutes: u32) -> Result<MinuteCounts, Error> {
        self.backend.metrics(queue, minutes).await
    }

    /// Whether `queue` is paused.
    pub async fn is_paused(&self, queue: &str) -> Result<bool, Error> {
        self.backend.is_paused(queue).await
    }

    /// The state of a job, `None` when there is no such job.
    pub async fn state(&self, queue: &str, id: &str) -> Result<Option<JobState>, Error> {
        self.backend.state(queue, id).await
    }

    /// One page of jobs in `state`.
    pub async fn jobs(
        &self,
        queue: &str,
        state: JobState,
        offset: u64,
        limit: u64,
    ) -> Result<JobPage, Error> {
        self.backend.jobs(queue, state, offset, limit).await
    }

    /// One job with state and logs.
    pub async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, Error> {
        self.backend.job(queue, id).await
    }

    /// Queues that have data.
    pub async fn discover_queues(&self) -> Result<Vec<String>, Error> {
        self.backend.discover_queues().await
    }

    /// Failed → waiting.
    pub async fn retry_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.backend.retry_job(queue, id).await
    }

    /// Every failed job → waiting; `progress(done, total)` along the way.
    pub async fn retry_all_failed(
        &self,
        queue: &str,
        mut progress: impl FnMut(u64, u64) + Send,
    ) -> Result<u64, Error> {
        self.backend.retry_all_failed(queue, &mut progress).await
    }

    /// Removes a job that is not active.
    pub async fn remove_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.backend.remove_job(queue, id).await
    }

    /// Delayed → waiting.
    pub async fn promote_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.backend.promote_job(queue, id).await
    }

    /// Pauses `queue` for every worker.
    pub async fn pause(&self, queue: &str) -> Result<(), Error> {
        self.backend.pause(queue).await
    }

    /// Resumes `queue`.
    pub async fn resume(&self, queue: &str) -> Result<(), Error> {
        self.backend.resume(queue).await
    }

    /// Removes completed/failed jobs older than `older_than`; returns how many. Any other
    /// state is refused here, once for every store ([`JobState::cleanable`]).
    pub async fn clean(
        &self,
        queue: &str,
        state: JobState,
        older_than: Duration,
    ) -> Result<u64, Error> {
        let state = state.cleanable().map_err(|reason| Error::InvalidJob {
            queue: queue.into(),
            field: Some("state"),
            reason,
        })?;
        self.backend.clean(queue, state, older_than).await
    }

    /// Vouches for `ttl` that this daemon (`holder`) runs crontab entries `entries` through
    /// `queue`; returns those of `entries` another live daemon vouches for too.
    pub async fn advertise_entries(
        &self,
        queue: &str,
        holder: &str,
        entries: &[String],
        ttl: Duration,
    ) -> Result<Vec<String>, Error> {
        self.backend
            .advertise_entries(queue, holder, entries, ttl)
            .await
    }

    /// Whether a live daemon vouches for crontab entry `entry` of `queue`.
    pub async fn entry_claimed(&self, queue: &str, entry: &str) -> Result<bool, Error> {
        self.backend.entry_claimed(queue, entry).await
    }

    /// Schedule entries an operator paused (every daemon on this store reads the same).
    pub async fn schedule_pauses(
        &self,
    ) -> Result<Vec<crate::queue::contract::SchedulePause>, Error> {
        self.backend.schedule_pauses().await
    }

    /// Pauses (`Some`) or resumes (`None`) schedule entry `entry` for every daemon.
    pub async fn set_schedule_pause(
        &self,
        entry: &str,
        pause: Option<&crate::queue::contract::SchedulePause>,
    ) -> Result<(), Error> {
        self.backend.set_schedule_pause(entry, pause).await
    }

    /// Writes `run` (it already happened) as a finished job of `queue`, unless a job with its
    /// id exists; `true` when written (`queue/record.rs`).
    pub async fn record_run(
        &self,
        queue: &str,
        run: &super::record::FinishedRun,
    ) -> Result<bool, Error> {
        self.backend.record_run(queue, run).await
    }

    /// Asks whichever daemon runs job `id` of `queue` to cancel it.
    pub async fn request_cancel(&self, queue: &str, id: &str) -> Result<(), Error> {
        self.backend.request_cancel(queue, id).await
    }

    /// Delivers cancel requests `(queue, id)` to `out` until `stop` fires.
    pub async fn listen_cancels(
        &self,
        out: tokio::sync::mpsc::Sender<(String, String)>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        self.backend.listen_cancels(out, stop).await
    }

    /// Up to `count` events of `queue` after `after` (a resume cursor), without blocking and
    /// without a connection of its own.
    pub async fn events_after(
        &self,
        queue: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<QueueEvent>, Error> {
        self.backend.events_after(queue, after, count).await
    }

    /// A reader of `queues`' events after `cursors`.
    pub async fn event_reader(
        &self,
        queues: &[String],
        cursors: std::collections::BTreeMap<String, String>,
    ) -> Result<EventReader, Error> {
        Ok(EventReader(
            self.backend.event_reader(queues, cursors).await?,
        ))
    }
}
