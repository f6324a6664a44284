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
use crate::queue::cancel_request::CancelRequest;
use crate::queue::consumer::{Consumer, ConsumerOptions, Processor};
use crate::queue::contract::{
    Admin, Advert, Browse, Cancels, Claims, Connection, Consume, Events, Inspect, Produce, Progress,
};
use crate::queue::error::{Error, JobOpError};
use crate::queue::events::{CatchUp, EventSource, EventStarts, QueueEvent};
use crate::queue::groups::{GroupCount, GroupPolicy};
use crate::queue::identity::Identity;
use crate::queue::info::{JobInfo, JobPage, JobWindow};
use crate::queue::job::JobCounts;
use crate::queue::layout::Layout;
use crate::queue::metrics::MinuteCounts;
use crate::queue::record::FinishedRun;
use crate::queue::spec::ValidJob;
use crate::queue::state::{CleanOrder, JobState};

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

    /// The layout that holds `queue`, as one role: each forwarded method (`by_queue!` below)
    /// asks for the trait object its role needs.
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

/// One role of the contract played by forwarding each method to the layout that holds the
/// queue ([`Layouts::pick`], as that role's trait object). Only the signatures are written
/// here: the bodies are all `pick(queue).method(queue, args…)`, and a hand-written copy per
/// method (then a picker per role) was the room's longest repeated code. Methods that do more
/// than forward are written out below.
macro_rules! by_queue {
    ($role:ident { $(fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)* }
     $($extra:item)*) => {
        #[async_trait]
        impl $role for Layouts {
            $(async fn $name(&self, queue: &str, $($arg: $ty),*) -> $ret {
                let role = self.pick::<dyn $role>(queue, |b| b as _, |r| r as _);
                role.$name(queue, $($arg),*).await
            })*
            $($extra)*
        }
    };
}

by_queue!(Produce {
    fn add(spec: ValidJob) -> Result<String, Error>;
    fn record_run(run: &FinishedRun) -> Result<bool, Error>;
});

by_queue!(Consume {
    fn consume(opts: ConsumerOptions, processor: Arc<dyn Processor>) -> Result<Consumer, Error>;
});

by_queue!(Inspect {
    fn counts() -> Result<JobCounts, Error>;
    fn metrics(minutes: u32) -> Result<MinuteCounts, Error>;
    fn is_paused() -> Result<bool, Error>;
    fn group_counts(policy: &GroupPolicy) -> Result<Vec<GroupCount>, Error>;
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
    /// Read through the Bull store whatever the queue's setting: it knows both layouts' keys.
    async fn layout_seen(&self, queue: &str) -> Result<Option<Layout>, Error> {
        self.bull.layout_seen(queue).await
    }
);

by_queue!(Browse {
    fn state(id: &str) -> Result<Option<JobState>, Error>;
    fn jobs(window: JobWindow) -> Result<JobPage, Error>;
    fn job(id: &str) -> Result<Option<JobInfo>, Error>;
});

by_queue!(Admin {
    fn retry_job(id: &str) -> Result<(), JobOpError>;
    fn retry_all_failed(progress: Progress<'_>) -> Result<u64, Error>;
    fn remove_job(id: &str) -> Result<(), JobOpError>;
    fn promote_job(id: &str) -> Result<(), JobOpError>;
    fn pause() -> Result<(), Error>;
    fn resume() -> Result<(), Error>;
    fn clean(order: CleanOrder) -> Result<u64, Error>;
});

/// Cancels and claims are not about a layout: the BullMQ store's keys serve both.
#[async_trait]
impl Cancels for Layouts {
    async fn request_cancel(
        &self,
        req: &CancelRequest,
        wait: Option<Duration>,
    ) -> Result<Option<String>, Error> {
        self.bullmq.request_cancel(req, wait).await
    }
    async fn listen_cancels(&self, out: mpsc::Sender<CancelRequest>, stop: CancellationToken) {
        self.bullmq.listen_cancels(out, stop).await
    }
    async fn ack_cancel(&self, req: &CancelRequest, holder: &str) -> Result<(), Error> {
        self.bullmq.ack_cancel(req, holder).await
    }
}

#[async_trait]
impl Claims for Layouts {
    async fn advertise_entries(&self, advert: Advert<'_>) -> Result<Vec<String>, Error> {
        self.bullmq.advertise_entries(advert).await
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

by_queue!(Events {
    fn events_after(page: CatchUp<'_>) -> Result<Vec<QueueEvent>, Error>;
}
    /// Bull queues' events come from pub/sub, BullMQ's from a stream: one reader reads one
    /// kind (the SSE hub opens one reader per queue).
    async fn event_reader(&self, starts: EventStarts) -> Result<Box<dyn EventSource>, Error> {
        let bull = starts.keys().filter(|q| self.is_bull(q)).count();
        if bull == 0 {
            self.bullmq.event_reader(starts).await
        } else if bull == starts.len() {
            self.bull.event_reader(starts).await
        } else {
            Err(Error::Settings(
                "follow queues with layout = \"bull\" in an event reader of their own".into(),
            ))
        }
    }
);
