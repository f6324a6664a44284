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
use super::contract::Backend;
use super::embedded::EmbeddedStore;
use super::error::Error;
use super::events::{EventReader, EventStarts};
use super::job::JobSpec;
use super::layout::Layout;
use super::redis::{Layouts, RedisStore, RedisTarget};
use super::state::{CleanOrder, JobState};

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
///
/// Every role of the contract is reached through `Deref` (bring the role's trait into scope:
/// `use crate::queue::contract::Inspect`), so no method is written here only to forward. What
/// is written here does more than forward: the checks made once for every store (`add`,
/// `clean`) and the write alarm.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    /// Fed by every add; read by `/health` ([`Store::write_refusal`]).
    alarm: Arc<WriteAlarm>,
}

impl std::ops::Deref for Store {
    type Target = dyn Backend;
    fn deref(&self) -> &(dyn Backend + 'static) {
        &*self.backend
    }
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

    /// Connects to Redis.
    pub async fn connect(target: &RedisTarget, prefix: &str) -> Result<Store, Error> {
        Store::open(&StoreTarget::Redis(target.clone()), prefix).await
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

    /// Every failed job → waiting; `progress(done, total)` along the way.
    pub async fn retry_all_failed(
        &self,
        queue: &str,
        mut progress: impl FnMut(u64, u64) + Send,
    ) -> Result<u64, Error> {
        self.backend.retry_all_failed(queue, &mut progress).await
    }

    /// Removes completed/failed jobs older than `older_than`; returns how many. Any other
    /// state is refused here, once for every store ([`CleanOrder::new`]).
    pub async fn clean(
        &self,
        queue: &str,
        state: JobState,
        older_than: Duration,
    ) -> Result<u64, Error> {
        let order = CleanOrder::new(state, older_than).map_err(|reason| Error::InvalidJob {
            queue: queue.into(),
            field: Some("state"),
            reason,
        })?;
        self.backend.clean(queue, order).await
    }

    /// Asks whichever daemon runs job `id` of `queue` to cancel it, without waiting for an
    /// answer (`overlap = "replace"`: a newer run replaced it).
    pub async fn cancel_replaced_run(&self, queue: &str, id: &str) -> Result<(), Error> {
        let req = super::cancel_request::CancelRequest::new(queue, id, "a newer run replaced it");
        self.backend.request_cancel(&req, None).await.map(drop)
    }

    /// Asks whichever daemon runs the job of `req` to cancel it and waits up to `wait` for its
    /// acknowledgement: the WORKER_ID of the daemon that stopped it, `None` when none answered.
    /// `queue::cancel::cancel` is the whole operation.
    pub async fn cancel_running(
        &self,
        req: &super::cancel_request::CancelRequest,
        wait: Duration,
    ) -> Result<Option<String>, Error> {
        self.backend.request_cancel(req, Some(wait)).await
    }

    /// A reader of the events of each queue in `starts`, after its cursor.
    pub async fn event_reader(&self, starts: EventStarts) -> Result<EventReader, Error> {
        Ok(EventReader(self.backend.event_reader(starts).await?))
    }
}
