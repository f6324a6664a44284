//! The store contract, by role: what a store implements to hold cronq's queues. Each role is
//! one small trait, implemented in the store file that already does that work (the Redis
//! store's `producer.rs` implements [`Produce`], its `admin.rs` [`Admin`], …), and
//! [`Backend`] bundles them with a blanket impl, so a type that plays every role is a store
//! with no forwarding layer in between (the shape of apalis' `backend/expose.rs`).
//!
//! `Store` (store.rs) holds one `Arc<dyn Backend>` and never names a store's type, except in
//! the one constructor that opens a `StoreTarget`. A new store implements the roles
//! in its own module (plus [`ConsumerHandle`]/[`JobHandle`] from `consumer.rs` and
//! [`EventSource`] from `events.rs`) and adds one arm to `Store::open` (store.rs); the shared
//! behaviour suite (`tests/store_suite.rs`) then runs against it.
//!
//! Every method names the queue in its errors.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::cancel_request::CancelRequest;
use super::consumer::{Consumer, ConsumerOptions, Processor};
use super::error::{Error, JobOpError};
use super::events::{CatchUp, EventSource, EventStarts, QueueEvent};
use super::groups::{GroupCount, GroupPolicy};
use super::identity::Identity;
use super::info::{JobInfo, JobPage, JobWindow};
use super::job::JobCounts;
use super::layout::Layout;
use super::metrics::MinuteCounts;
use super::record::FinishedRun;
use super::spec::ValidJob;
use super::state::{CleanOrder, JobState};

/// The store as a whole: what it is, where, whether it answers, which queues it holds.
#[async_trait]
pub trait Connection: Send + Sync {
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
    async fn claim_identity(&self, _id: &Identity, _stop: CancellationToken) -> Result<(), Error> {
        Ok(())
    }
    /// Warnings about the store's own settings, logged once at the daemon's start (Redis: an
    /// eviction policy that deletes jobs when memory runs out). None by default.
    async fn settings_warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// Queues that have data.
    async fn discover_queues(&self) -> Result<Vec<String>, Error>;
}

/// Adding jobs.
#[async_trait]
pub trait Produce: Send + Sync {
    /// Adds a job; returns its id (the existing one for a duplicate custom id). Only
    /// [`JobSpec::validate`](super::job::JobSpec::validate) makes a [`ValidJob`], so no store
    /// is handed an unchecked job.
    async fn add(&self, queue: &str, spec: ValidJob) -> Result<String, Error>;
    /// Writes `run`, which already happened, as a finished job of `queue` unless a job with
    /// its id exists (`queue/record.rs`); `true` when written. The default writes nothing: a
    /// store that is a local file is never unreachable, so no run happens without it.
    async fn record_run(&self, _queue: &str, _run: &FinishedRun) -> Result<bool, Error> {
        Ok(false)
    }
}

/// Running jobs.
#[async_trait]
pub trait Consume: Send + Sync {
    /// Starts consuming `queue` with `processor`.
    async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error>;
}

/// Questions about one queue as a whole.
#[async_trait]
pub trait Inspect: Send + Sync {
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
    async fn metrics(&self, queue: &str, minutes: u32) -> Result<MinuteCounts, Error>;
    /// Whether `queue` is paused.
    async fn is_paused(&self, queue: &str) -> Result<bool, Error>;
    /// The Redis layout `queue`'s keys show, when they show one. `None` by default: a store
    /// with one layout of its own (the embedded file) never shows either.
    async fn layout_seen(&self, _queue: &str) -> Result<Option<Layout>, Error> {
        Ok(None)
    }
    /// Running and waiting jobs per group of `queue` under `policy` (its fair groups), the
    /// busiest [`super::groups::MAX_REPORTED_GROUPS`]. Empty for a store without groups.
    async fn group_counts(
        &self,
        _queue: &str,
        _policy: &GroupPolicy,
    ) -> Result<Vec<GroupCount>, Error> {
        Ok(Vec::new())
    }
}

/// Reading jobs, for people and tools.
#[async_trait]
pub trait Browse: Send + Sync {
    /// The state of a job, `None` when there is no such job.
    async fn state(&self, queue: &str, id: &str) -> Result<Option<JobState>, Error>;
    /// One page of jobs: `window` says which state, from where, how many.
    async fn jobs(&self, queue: &str, window: JobWindow) -> Result<JobPage, Error>;
    /// One job with state and logs.
    async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, Error>;
}

/// How a long admin operation reports `(done, total)` along the way (the CLI's progress bar):
/// named once, for the contract, every store and the Layouts router.
pub type Progress<'a> = &'a mut (dyn FnMut(u64, u64) + Send);

/// Changing jobs and queues by hand (API, CLI, dashboard).
#[async_trait]
pub trait Admin: Send + Sync {
    /// Failed → waiting.
    async fn retry_job(&self, queue: &str, id: &str) -> Result<(), JobOpError>;
    /// Every failed job → waiting; `progress(done, total)` along the way.
    async fn retry_all_failed(&self, queue: &str, progress: Progress<'_>) -> Result<u64, Error>;
    /// Removes a job that is not active.
    async fn remove_job(&self, queue: &str, id: &str) -> Result<(), JobOpError>;
    /// Delayed → waiting.
    async fn promote_job(&self, queue: &str, id: &str) -> Result<(), JobOpError>;
    /// Pauses `queue` for every worker.
    async fn pause(&self, queue: &str) -> Result<(), Error>;
    /// Resumes `queue`.
    async fn resume(&self, queue: &str) -> Result<(), Error>;
    /// Removes the jobs `order` names (completed or failed, finished long enough ago);
    /// returns how many.
    async fn clean(&self, queue: &str, order: CleanOrder) -> Result<u64, Error>;
}

/// Cancel requests between daemons (`queue/cancel.rs` says what a cancel does).
#[async_trait]
pub trait Cancels: Send + Sync {
    /// Asks whichever daemon runs job `req.id` of `req.queue` to cancel it. With `wait`, waits
    /// that long for the acknowledgement ([`Cancels::ack_cancel`]) and returns the WORKER_ID
    /// of the daemon that sent it; `None` when none did (or without `wait`).
    async fn request_cancel(
        &self,
        req: &CancelRequest,
        wait: Option<Duration>,
    ) -> Result<Option<String>, Error>;
    /// Delivers cancel requests to `out` until `stop` fires. `out`'s receiver is the caller's
    /// cancel router; the store only sends.
    async fn listen_cancels(&self, out: mpsc::Sender<CancelRequest>, stop: CancellationToken);
    /// Tells the requester of `req` that daemon `holder` (its WORKER_ID) stopped the job.
    async fn ack_cancel(&self, req: &CancelRequest, holder: &str) -> Result<(), Error>;
}

/// One voucher: daemon `holder` (its WORKER_ID) runs crontab entries `entries` through
/// `queue`, for `ttl` from now. What the claims refresher (`worker/claims.rs`) writes each
/// turn, as one value.
#[derive(Debug, Clone, Copy)]
pub struct Advert<'a> {
    /// The queue the entries' jobs go through.
    pub queue: &'a str,
    /// This daemon's WORKER_ID.
    pub holder: &'a str,
    /// The crontab entry ids it runs.
    pub entries: &'a [String],
    /// How long the voucher lasts.
    pub ttl: Duration,
}

/// Which daemon runs which crontab entries, where several share a store.
#[async_trait]
pub trait Claims: Send + Sync {
    /// Writes `advert`, so other daemons on the store hand its entries' jobs back rather than
    /// fail them. A store that admits one daemon (the embedded file) has nobody to tell.
    /// Returns those of the entries another live daemon vouches for too.
    async fn advertise_entries(&self, _advert: Advert<'_>) -> Result<Vec<String>, Error> {
        Ok(Vec::new())
    }
    /// Whether a live daemon vouches for crontab entry `entry` of `queue`.
    async fn entry_claimed(&self, _queue: &str, _entry: &str) -> Result<bool, Error> {
        Ok(false)
    }
    /// Schedule entries an operator paused, kept in the store so that every daemon on it
    /// agrees (`cron::pauses`). A store that keeps none has none paused.
    async fn schedule_pauses(&self) -> Result<Vec<SchedulePause>, Error> {
        Ok(Vec::new())
    }
    /// Pauses (`Some`) or resumes (`None`) schedule entry `entry`.
    async fn set_schedule_pause(
        &self,
        entry: &str,
        _pause: Option<&SchedulePause>,
    ) -> Result<(), Error> {
        Err(Error::Settings(format!(
            "this store cannot keep schedule pauses (entry {entry:?})"
        )))
    }
}

/// One paused schedule entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SchedulePause {
    /// Entry id.
    pub entry: String,
    /// Since when, Unix ms.
    pub since_ms: i64,
    /// The operator's note, if any.
    pub note: Option<String>,
}

/// Reading queues' event logs.
#[async_trait]
pub trait Events: Send + Sync {
    /// Up to `page.count` events of `queue` after `page.after`, without blocking.
    async fn events_after(&self, queue: &str, page: CatchUp<'_>) -> Result<Vec<QueueEvent>, Error>;
    /// A reader of the events of each queue in `starts`, after its cursor.
    async fn event_reader(&self, starts: EventStarts) -> Result<Box<dyn EventSource>, Error>;
}

/// One store: every role. Nothing implements it by hand; the blanket impl below makes any
/// type that plays every role a `Backend`.
pub trait Backend:
    Connection + Produce + Consume + Inspect + Browse + Admin + Cancels + Claims + Events
{
}

impl<T> Backend for T where
    T: Connection + Produce + Consume + Inspect + Browse + Admin + Cancels + Claims + Events
{
}
