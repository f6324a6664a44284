//! [`Store`]: the one handle the rest of cronq uses, over any store that implements the
//! [`Backend`] contract — Redis in BullMQ's layout (through the engine), or the embedded SQLite
//! file for running with no Redis. What is the same for every store is done here once (job
//! validation, the `clean` state check); the rest is forwarded. [`Store::open`] is the only
//! place outside a store's own module that names a store type.
//!
//! Bull 3/4 queues: the layout is a per-queue setting, so a Redis `Store` may hold a second
//! backend, the Bull store over the same connection, and the set of queue names laid out in
//! Bull's way; each per-queue call picks its backend by name ([`Store::pick`]). Calls that are
//! not about one queue (discovery, cancels, event readers) go to the main backend.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::collections::{BTreeMap, BTreeSet};

use super::alarm::WriteAlarm;
use super::bull::{BullStore, Layout};
use super::contract::Backend;
use super::embedded::EmbeddedStore;
use super::redis::RedisStore;
use super::{
    Consumer, ConsumerOptions, Error, EventReader, JobCounts, JobInfo, JobOpError, JobPage,
    JobSpec, Processor, QueueEvent, RedisTarget,
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
pub struct Store(Arc<dyn Backend>, Option<BullQueues>, Arc<WriteAlarm>);

/// The Bull 3/4 backend and the queues it holds.
#[derive(Clone)]
struct BullQueues {
    backend: BullStore,
    queues: Arc<BTreeSet<String>>,
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
        let bull_names: BTreeSet<String> = layouts
            .iter()
            .filter(|(_, l)| **l == Layout::Bull)
            .map(|(q, _)| q.clone())
            .collect();
        let mut bull = None;
        let backend: Arc<dyn Backend> = match target {
            // The engine's connection manager retries for ~40 s before it gives up (a wrong
            // password, a refused port): bound it, callers retry on their own terms.
            StoreTarget::Redis(t) => {
                match tokio::time::timeout(CONNECT_TIMEOUT, RedisStore::connect(t, prefix)).await {
                    Ok(r) => {
                        let redis = r?;
                        // Always there on Redis (cheap): the layout check at start uses it.
                        bull = Some(BullQueues {
                            backend: BullStore::new(redis.clone()),
                            queues: Arc::new(bull_names),
                        });
                        Arc::new(redis)
                    }
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
        Ok(Store(backend, bull, Arc::default()))
    }

    /// The backend that holds `queue`.
    fn pick(&self, queue: &str) -> &dyn Backend {
        match &self.1 {
            Some(b) if b.queues.contains(queue) => &b.backend,
            _ => self.0.as_ref(),
        }
    }

    /// One warning per queue whose Redis keys show the other layout than `layouts` sets
    /// (queues not named are BullMQ's); nothing on the embedded store.
    pub async fn layout_warnings(&self, layouts: &BTreeMap<String, Layout>) -> Vec<String> {
        let Some(b) = &self.1 else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (queue, configured) in layouts {
            match b.backend.layout_seen(queue).await {
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
        match &self.1 {
            Some(b) => b.backend.layout_seen(queue).await,
            None => Ok(None),
        }
    }

    /// Warnings about the store's own settings, for the daemon's start: a Redis eviction
    /// policy that silently deletes jobs when memory runs out.
    pub async fn settings_warnings(&self) -> Vec<String> {
        self.0.settings_warnings().await
    }

    /// Connects to Redis.
    pub async fn connect(target: &RedisTarget, prefix: &str) -> Result<Store, Error> {
        Store::open(&StoreTarget::Redis(target.clone()), prefix).await
    }

    /// `redis` or `embedded`.
    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }

    /// Where the store is, printable (passwords redacted).
    pub fn redacted_url(&self) -> String {
        self.0.redacted_url()
    }

    /// The key prefix (BullMQ's `prefix`; the embedded store ignores it).
    pub fn prefix(&self) -> &str {
        self.0.prefix()
    }

    /// Round trip of a no-op.
    pub async fn ping(&self) -> Result<Duration, Error> {
        self.0.ping().await
    }

    /// Claims this daemon's identity until `stop` (see [`crate::queue::Identity`]).
    pub async fn claim_identity(
        &self,
        id: &crate::queue::Identity,
        stop: tokio_util::sync::CancellationToken,
    ) -> Result<(), Error> {
        self.0.claim_identity(id, stop).await
    }

    /// Adds a job; returns its id (the existing one for a duplicate custom id).
    /// The job is checked here, once for every store and producer ([`JobSpec::validate`]).
    pub async fn add(&self, queue: &str, spec: JobSpec) -> Result<String, Error> {
        spec.validate().map_err(|e| Error::InvalidJob {
            queue: queue.to_string(),
            field: Some(e.field),
            reason: e.reason,
        })?;
        let added = self.pick(queue).add(queue, spec).await;
        self.2.observe(&added);
        added
    }

    /// The last store-wide write refusal (Redis OOM, a full disk, a deleted file), when one
    /// came lately and no add worked since: `/health` reports it, PING cannot see it.
    pub fn write_refusal(&self) -> Option<String> {
        self.2.current()
    }

    /// Starts consuming `queue` with `processor`.
    pub async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        self.pick(queue).consume(queue, opts, processor).await
    }

    /// Counts per state.
    pub async fn counts(&self, queue: &str) -> Result<JobCounts, Error> {
        self.pick(queue).counts(queue).await
    }

    /// Whether any of `queues` has a job ready to run (each store asked about its own).
    pub async fn any_ready(&self, queues: &[String]) -> Result<bool, Error> {
        let (bull, own): (Vec<String>, Vec<String>) = queues
            .iter()
            .cloned()
            .partition(|q| matches!(&self.1, Some(b) if b.queues.contains(q.as_str())));
        if !own.is_empty() && self.0.any_ready(&own).await? {
            return Ok(true);
        }
        match &self.1 {
            Some(b) if !bull.is_empty() => b.backend.any_ready(&bull).await,
            _ => Ok(false),
        }
    }

    /// Completed and failed counts per minute over the last `minutes` minutes (BullMQ's job
    /// metrics, recorded by workers with `metrics_points` > 0).
    pub async fn metrics(&self, queue: &str, minutes: u32) -> Result<super::MinuteCounts, Error> {
        self.0.metrics(queue, minutes).await
    }

    /// Whether `queue` is paused.
    pub async fn is_paused(&self, queue: &str) -> Result<bool, Error> {
        self.pick(queue).is_paused(queue).await
    }

    /// The state of a job, `None` when there is no such job.
    pub async fn state(&self, queue: &str, id: &str) -> Result<Option<String>, Error> {
        self.pick(queue).state(queue, id).await
    }

    /// One page of jobs in `state`.
    pub async fn jobs(
        &self,
        queue: &str,
        state: &str,
        offset: u64,
        limit: u64,
    ) -> Result<JobPage, Error> {
        self.pick(queue).jobs(queue, state, offset, limit).await
    }

    /// One job with state and logs.
    pub async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, Error> {
        self.pick(queue).job(queue, id).await
    }

    /// Queues that have data.
    pub async fn discover_queues(&self) -> Result<Vec<String>, Error> {
        self.0.discover_queues().await
    }

    /// Failed → waiting.
    pub async fn retry_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.pick(queue).retry_job(queue, id).await
    }

    /// Every failed job → waiting; `progress(done, total)` along the way.
    pub async fn retry_all_failed(
        &self,
        queue: &str,
        mut progress: impl FnMut(u64, u64) + Send,
    ) -> Result<u64, Error> {
        self.pick(queue)
            .retry_all_failed(queue, &mut progress)
            .await
    }

    /// Removes a job that is not active.
    pub async fn remove_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.pick(queue).remove_job(queue, id).await
    }

    /// Delayed → waiting.
    pub async fn promote_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.pick(queue).promote_job(queue, id).await
    }

    /// Pauses `queue` for every worker.
    pub async fn pause(&self, queue: &str) -> Result<(), Error> {
        self.pick(queue).pause(queue).await
    }

    /// Resumes `queue`.
    pub async fn resume(&self, queue: &str) -> Result<(), Error> {
        self.pick(queue).resume(queue).await
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
                field: None,
                reason: format!("clean applies to completed or failed jobs, not {state:?}"),
            });
        }
        self.pick(queue).clean(queue, state, older_than).await
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
        self.pick(queue)
            .advertise_entries(queue, holder, entries, ttl)
            .await
    }

    /// Whether a live daemon vouches for crontab entry `entry` of `queue`.
    pub async fn entry_claimed(&self, queue: &str, entry: &str) -> Result<bool, Error> {
        self.pick(queue).entry_claimed(queue, entry).await
    }

    /// Writes `run` (it already happened) as a finished job of `queue`, unless a job with its
    /// id exists; `true` when written (`queue/record.rs`).
    pub async fn record_run(&self, queue: &str, run: &super::FinishedRun) -> Result<bool, Error> {
        self.pick(queue).record_run(queue, run).await
    }

    /// Asks whichever daemon runs job `id` of `queue` to cancel it.
    pub async fn request_cancel(&self, queue: &str, id: &str) -> Result<(), Error> {
        self.pick(queue).request_cancel(queue, id).await
    }

    /// Delivers cancel requests `(queue, id)` to `out` until `stop` fires.
    pub async fn listen_cancels(
        &self,
        out: tokio::sync::mpsc::Sender<(String, String)>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        self.0.listen_cancels(out, stop).await
    }

    /// Up to `count` events of `queue` after `after` (a resume cursor), without blocking and
    /// without a connection of its own.
    pub async fn events_after(
        &self,
        queue: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<QueueEvent>, Error> {
        self.pick(queue).events_after(queue, after, count).await
    }

    /// A reader of `queues`' events after `cursors`.
    pub async fn event_reader(
        &self,
        queues: &[String],
        cursors: std::collections::BTreeMap<String, String>,
    ) -> Result<EventReader, Error> {
        // Bull queues' events come from pub/sub, BullMQ's from a stream: one reader reads one
        // kind (the SSE hub opens one reader per queue).
        let bull = queues
            .iter()
            .filter(|q| self.1.as_ref().is_some_and(|b| b.queues.contains(*q)))
            .count();
        let backend: &dyn Backend = match (&self.1, bull) {
            (_, 0) => self.0.as_ref(),
            (Some(b), n) if n == queues.len() => &b.backend,
            _ => {
                return Err(Error::Settings(
                    "follow queues with layout = \"bull\" in an event reader of their own".into(),
                ))
            }
        };
        Ok(EventReader(backend.event_reader(queues, cursors).await?))
    }
}
