//! The Bull 3/4 store behind the store contract: each method is the store's own operation
//! (in `admin`, `info`, `consumer`), or the Redis store's where nothing is per layout.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::bus::{lock, order};
use super::events::BullEventSource;
use super::{now_ms, opts, scripts, BullStore};
use crate::queue::contract::{Backend, EventSource};
use crate::queue::{
    Consumer, ConsumerOptions, Error, JobCounts, JobInfo, JobOpError, JobPage, JobSpec, Processor,
    QueueEvent,
};

/// How long an event reader waits for its queue's subscription to be in place.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(5);

#[async_trait]
impl Backend for BullStore {
    fn kind(&self) -> &'static str {
        "redis"
    }
    fn redacted_url(&self) -> String {
        self.redis.redacted_url()
    }
    fn prefix(&self) -> &str {
        self.redis.prefix()
    }
    async fn ping(&self) -> Result<Duration, Error> {
        self.redis.ping().await
    }
    async fn add(&self, queue: &str, spec: JobSpec) -> Result<String, Error> {
        let k = self.keys(queue);
        let now = now_ms();
        let opts = opts::opts_json(&spec, now);
        let (id, _added): (String, i64) = scripts::ADD
            .key(k.key("wait"))
            .key(k.key("paused"))
            .key(k.key("meta-paused"))
            .key(k.key("id"))
            .key(k.key("delayed"))
            .key(k.key("priority"))
            .arg(k.base())
            .arg(spec.job_id.clone().unwrap_or_default())
            .arg(&spec.name)
            .arg(spec.data.to_string())
            .arg(opts.to_string())
            .arg(now)
            .arg(spec.delay.map(|d| d.as_millis() as u64).unwrap_or(0))
            .arg(spec.priority.unwrap_or(0))
            .arg(&self.token)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(id)
    }
    async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        self.start(queue, opts, processor).await
    }
    /// Bull 4 keeps the same per-minute series as BullMQ (`metrics:completed|failed` and
    /// `:data`), which cronq's finish script writes when `[worker] metrics_points` > 0.
    async fn metrics(
        &self,
        queue: &str,
        minutes: u32,
    ) -> Result<crate::queue::MinuteCounts, Error> {
        self.minute_counts(queue, minutes).await
    }
    async fn counts(&self, queue: &str) -> Result<JobCounts, Error> {
        let k = self.keys(queue);
        let mut p = redis::pipe();
        p.cmd("LLEN")
            .arg(k.key("wait"))
            .cmd("LLEN")
            .arg(k.key("paused"))
            .cmd("LLEN")
            .arg(k.key("active"))
            .cmd("ZCARD")
            .arg(k.key("delayed"))
            .cmd("ZCARD")
            .arg(k.key("completed"))
            .cmd("ZCARD")
            .arg(k.key("failed"));
        let (w, pa, a, d, c, f): (u64, u64, u64, u64, u64, u64) = p
            .query_async(&mut self.conn())
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(JobCounts {
            waiting: w + pa,
            prioritized: 0,
            active: a,
            delayed: d,
            completed: c,
            failed: f,
            waiting_children: 0,
        })
    }
    async fn is_paused(&self, queue: &str) -> Result<bool, Error> {
        self.cmd(
            queue,
            redis::cmd("EXISTS").arg(self.keys(queue).key("meta-paused")),
        )
        .await
    }
    async fn state(&self, queue: &str, id: &str) -> Result<Option<String>, Error> {
        self.state_of(queue, id).await
    }
    async fn jobs(
        &self,
        queue: &str,
        state: &str,
        offset: u64,
        limit: u64,
    ) -> Result<JobPage, Error> {
        let k = self.keys(queue);
        let end = (offset + limit).saturating_sub(1) as i64;
        let (ids, total): (Vec<String>, u64) = match state {
            "waiting" | "wait" => {
                let paused = self.is_paused(queue).await?;
                let list = k.key(if paused { "paused" } else { "wait" });
                let ids = self
                    .cmd(queue, redis::cmd("LRANGE").arg(&list).arg(offset).arg(end))
                    .await?;
                (ids, self.cmd(queue, redis::cmd("LLEN").arg(&list)).await?)
            }
            "active" => (
                self.cmd(
                    queue,
                    redis::cmd("LRANGE")
                        .arg(k.key("active"))
                        .arg(offset)
                        .arg(end),
                )
                .await?,
                self.cmd(queue, redis::cmd("LLEN").arg(k.key("active")))
                    .await?,
            ),
            "delayed" => (
                self.cmd(
                    queue,
                    redis::cmd("ZRANGE")
                        .arg(k.key("delayed"))
                        .arg(offset)
                        .arg(end),
                )
                .await?,
                self.cmd(queue, redis::cmd("ZCARD").arg(k.key("delayed")))
                    .await?,
            ),
            "completed" | "failed" => (
                self.cmd(
                    queue,
                    redis::cmd("ZREVRANGE")
                        .arg(k.key(state))
                        .arg(offset)
                        .arg(end),
                )
                .await?,
                self.cmd(queue, redis::cmd("ZCARD").arg(k.key(state)))
                    .await?,
            ),
            _ => (Vec::new(), 0),
        };
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(j) = self.info(queue, &id, None, false).await? {
                jobs.push(j);
            }
        }
        Ok(JobPage {
            total,
            offset,
            limit,
            jobs,
        })
    }
    async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, Error> {
        let state = self.state_of(queue, id).await?;
        if state.is_none() {
            return Ok(None);
        }
        self.info(queue, id, state, true).await
    }
    async fn discover_queues(&self) -> Result<Vec<String>, Error> {
        self.redis.discover_queues().await
    }
    async fn retry_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.retry_failed(queue, id).await
    }
    async fn retry_all_failed(
        &self,
        queue: &str,
        p: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<u64, Error> {
        self.retry_all(queue, p).await
    }
    async fn remove_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.remove(queue, id).await
    }
    async fn promote_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.promote_now(queue, id).await
    }
    async fn pause(&self, queue: &str) -> Result<(), Error> {
        self.pause_or_resume(queue, true).await
    }
    async fn resume(&self, queue: &str) -> Result<(), Error> {
        self.pause_or_resume(queue, false).await
    }
    async fn clean(&self, queue: &str, state: &str, older: Duration) -> Result<u64, Error> {
        self.clean_finished(queue, state, older).await
    }
    async fn request_cancel(&self, queue: &str, id: &str) -> Result<(), Error> {
        self.redis.request_cancel(queue, id).await
    }
    async fn advertise_entries(
        &self,
        queue: &str,
        holder: &str,
        entries: &[String],
        ttl: std::time::Duration,
    ) -> Result<Vec<String>, Error> {
        self.redis
            .advertise_entries(queue, holder, entries, ttl)
            .await
    }
    async fn entry_claimed(&self, queue: &str, entry: &str) -> Result<bool, Error> {
        self.redis.entry_claimed(queue, entry).await
    }
    async fn listen_cancels(&self, out: mpsc::Sender<(String, String)>, stop: CancellationToken) {
        self.redis.listen_cancels(out, stop).await
    }
    async fn events_after(
        &self,
        queue: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<QueueEvent>, Error> {
        // Bull's events are pub/sub: only what this daemon's subscription kept can be read back.
        Ok(lock(&self.buses)
            .get(queue)
            .map(|bus| bus.shared.after(order(after), count))
            .unwrap_or_default())
    }
    async fn event_reader(
        &self,
        queues: &[String],
        cursors: BTreeMap<String, String>,
    ) -> Result<Box<dyn EventSource>, Error> {
        let mut buses = Vec::with_capacity(queues.len());
        for queue in queues {
            let bus = self.bus(queue).ok_or_else(|| {
                Error::engine(
                    queue,
                    "the events of a Bull queue need a subscription, and Redis Cluster connections offer none here",
                )
            })?;
            // Subscribed before the client is told it is live: nothing it triggers next is lost.
            if !bus.shared.subscribed(SUBSCRIBE_WAIT).await {
                return Err(Error::engine(
                    queue,
                    format!(
                        "could not subscribe to the Bull queue's event channels within {}s",
                        SUBSCRIBE_WAIT.as_secs()
                    ),
                ));
            }
            buses.push(bus);
        }
        Ok(Box::new(BullEventSource::new(buses, &cursors)))
    }
}
