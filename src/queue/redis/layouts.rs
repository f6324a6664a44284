//! [`Layouts`]: the Redis store as the rest of cronq sees it, with each queue in its own
//! layout. The layout is a per-queue setting (`[queues.NAME] layout = "bull"`), so this one
//! type plays every role of the store contract by picking, per queue, the BullMQ layout
//! ([`RedisStore`], through the engine) or the Bull 3/4 one ([`BullStore`], our own Lua),
//! both over the same connection. What is not about a layout (identity, discovery, cancels,
//! claims) is the BullMQ store's. No queue is ever read in both layouts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::RedisStore;
use crate::queue::bull::BullStore;
use crate::queue::consumer::{Consumer, ConsumerOptions, Processor};
use crate::queue::contract::{
    Admin, Browse, Cancels, Claims, Connection, Consume, Events, Inspect, Produce,
};
use crate::queue::error::{Error, JobOpError};
use crate::queue::events::{EventSource, QueueEvent};
use crate::queue::identity::Identity;
use crate::queue::info::{JobInfo, JobPage};
use crate::queue::job::JobCounts;
use crate::queue::layout::Layout;
use crate::queue::metrics::MinuteCounts;
use crate::queue::record::FinishedRun;
use crate::queue::spec::ValidJob;
use crate::queue::state::JobState;

/// The two layouts over one Redis, and which queues are Bull's. Cheap to clone.
#[derive(Clone)]
pub struct Layouts {
    bullmq: RedisStore,
    /// Always there (cheap, no connection of its own until a Bull queue is used): the layout
    /// check at start reads any queue's keys through it.
    bull: BullStore,
    bull_queues: Arc<BTreeSet<String>>,
}

impl Layouts {
    /// `redis`, with each queue in `layouts` in its layout (queues not named are BullMQ's).
    pub fn new(redis: RedisStore, layouts: &BTreeMap<String, Layout>) -> Layouts {
        let bull_queues = layouts
            .iter()
            .filter(|(_, l)| **l == Layout::Bull)
            .map(|(q, _)| q.clone())
            .collect();
        Layouts {
            bull: BullStore::new(Arc::new(redis.clone())),
            bullmq: redis,
            bull_queues: Arc::new(bull_queues),
        }
    }

    fn is_bull(&self, queue: &str) -> bool {
        self.bull_queues.contains(queue)
    }

    /// The layout that holds `queue`, as one role. A macro-free way to pick per call: each
    /// role below asks for the trait object it needs.
    fn pick<R: ?Sized>(
        &self,
        queue: &str,
        bull: impl FnOnce(&BullStore) -> &R,
        bullmq: impl FnOnce(&RedisStore) -> &R,
    ) -> &R {
        if self.is_bull(queue) {
            bull(&self.bull)
        } else {
            bullmq(&self.bullmq)
        }
    }

    fn produce(&self, queue: &str) -> &dyn Produce {
        self.pick(queue, |b| b as _, |r| r as _)
    }
    fn consumer(&self, queue: &str) -> &dyn Consume {
        self.pick(queue, |b| b as _, |r| r as _)
    }
    fn inspect(&self, queue: &str) -> &dyn Inspect {
        self.pick(queue, |b| b as _, |r| r as _)
    }
    fn browse(&self, queue: &str) -> &dyn Browse {
        self.pick(queue, |b| b as _, |r| r as _)
    }
    fn admin(&self, queue: &str) -> &dyn Admin {
        self.pick(queue, |b| b as _, |r| r as _)
    }
    fn events(&self, queue: &str) -> &dyn Events {
        self.pick(queue, |b| b as _, |r| r as _)
    }
}

#[async_trait]
impl Connection for Layouts {
    fn kind(&self) -> &'static str {
        self.bullmq.kind()
    }
    fn redacted_url(&self) -> String {
        Connection::redacted_url(&self.bullmq)
    }
    fn prefix(&self) -> &str {
        Connection::prefix(&self.bullmq)
    }
    async fn ping(&self) -> Result<Duration, Error> {
        self.bullmq.ping().await
    }
    async fn claim_identity(&self, id: &Identity, stop: CancellationToken) -> Result<(), Error> {
        self.bullmq.claim_identity(id, stop).await
    }
    async fn settings_warnings(&self) -> Vec<String> {
        self.bullmq.settings_warnings().await
    }
    async fn discover_queues(&self) -> Result<Vec<String>, Error> {
        self.bullmq.discover_queues().await
    }
}

#[async_trait]
impl Produce for Layouts {
    async fn add(&self, queue: &str, spec: ValidJob) -> Result<String, Error> {
        self.produce(queue).add(queue, spec).await
    }
    async fn record_run(&self, queue: &str, run: &FinishedRun) -> Result<bool, Error> {
        self.produce(queue).record_run(queue, run).await
    }
}

#[async_trait]
impl Consume for Layouts {
    async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        self.consumer(queue).consume(queue, opts, processor).await
    }
}

#[async_trait]
impl Inspect for Layouts {
    async fn counts(&self, queue: &str) -> Result<JobCounts, Error> {
        self.inspect(queue).counts(queue).await
    }
    /// Each layout asked about its own queues (the BullMQ side in one command).
    async fn any_ready(&self, queues: &[String]) -> Result<bool, Error> {
        let (bull, own): (Vec<String>, Vec<String>) =
            queues.iter().cloned().partition(|q| self.is_bull(q));
        if !own.is_empty() && self.bullmq.any_ready(&own).await? {
            return Ok(true);
        }
        if bull.is_empty() {
            return Ok(false);
        }
        self.bull.any_ready(&bull).await
    }
    async fn metrics(&self, queue: &str, minutes: u32) -> Result<MinuteCounts, Error> {
        self.inspect(queue).metrics(queue, minutes).await
    }
    async fn is_paused(&self, queue: &str) -> Result<bool, Error> {
        self.inspect(queue).is_paused(queue).await
    }
    /// Read through the Bull store whatever the queue's setting: it knows both layouts' keys.
    async fn layout_seen(&self, queue: &str) -> Result<Option<Layout>, Error> {
        self.bull.layout_seen(queue).await
    }
}

#[async_trait]
impl Browse for Layouts {
    async fn state(&self, queue: &str, id: &str) -> Result<Option<JobState>, Error> {
        self.browse(queue).state(queue, id).await
    }
    async fn jobs(
        &self,
        queue: &str,
        state: JobState,
        offset: u64,
        limit: u64,
    ) -> Result<JobPage, Error> {
        self.browse(queue).jobs(queue, state, offset, limit).await
    }
    async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, Error> {
        self.browse(queue).job(queue, id).await
    }
}

#[async_trait]
impl Admin for Layouts {
    async fn retry_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.admin(queue).retry_job(queue, id).await
    }
    async fn retry_all_failed(
        &self,
        queue: &str,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<u64, Error> {
        self.admin(queue).retry_all_failed(queue, progress).await
    }
    async fn remove_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.admin(queue).remove_job(queue, id).await
    }
    async fn promote_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.admin(queue).promote_job(queue, id).await
    }
    async fn pause(&self, queue: &str) -> Result<(), Error> {
        self.admin(queue).pause(queue).await
    }
    async fn resume(&self, queue: &str) -> Result<(), Error> {
        self.admin(queue).resume(queue).await
    }
    async fn clean(
        &self,
        queue: &str,
        state: JobState,
        older_than: Duration,
    ) -> Result<u64, Error> {
        self.admin(queue).clean(queue, state, older_than).await
    }
}

/// Cancels and claims are not about a layout: the BullMQ store's keys serve both.
#[async_trait]
impl Cancels for Layouts {
    async fn request_cancel(&self, queue: &str, id: &str) -> Result<(), Error> {
        self.bullmq.request_cancel(queue, id).await
    }
    async fn listen_cancels(&self, out: mpsc::Sender<(String, String)>, stop: CancellationToken) {
        self.bullmq.listen_cancels(out, stop).await
    }
}

#[async_trait]
impl Claims for Layouts {
    async fn advertise_entries(
        &self,
        queue: &str,
        holder: &str,
        entries: &[String],
        ttl: Duration,
    ) -> Result<Vec<String>, Error> {
        self.bullmq
            .advertise_entries(queue, holder, entries, ttl)
            .await
    }
    async fn entry_claimed(&self, queue: &str, entry: &str) -> Result<bool, Error> {
        self.bullmq.entry_claimed(queue, entry).await
    }
    async fn schedule_pauses(&self) -> Result<Vec<crate::queue::contract::SchedulePause>, Error> {
        self.bullmq.schedule_pauses().await
    }
    async fn set_schedule_pause(
        &self,
        entry: &str,
        pause: Option<&crate::queue::contract::SchedulePause>,
    ) -> Result<(), Error> {
        self.bullmq.set_schedule_pause(entry, pause).await
    }
}

#[async_trait]
impl Events for Layouts {
    async fn events_after(
        &self,
        queue: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<QueueEvent>, Error> {
        self.events(queue).events_after(queue, after, count).await
    }
    /// Bull queues' events come from pub/sub, BullMQ's from a stream: one reader reads one
    /// kind (the SSE hub opens one reader per queue).
    async fn event_reader(
        &self,
        queues: &[String],
        cursors: BTreeMap<String, String>,
    ) -> Result<Box<dyn EventSource>, Error> {
        let bull = queues.iter().filter(|q| self.is_bull(q)).count();
        if bull == 0 {
            self.bullmq.event_reader(queues, cursors).await
        } else if bull == queues.len() {
            self.bull.event_reader(queues, cursors).await
        } else {
            Err(Error::Settings(
                "follow queues with layout = \"bull\" in an event reader of their own".into(),
            ))
        }
    }
}
