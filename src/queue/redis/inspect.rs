//! Read-only questions about queues: counts per state, whether a queue is paused.

use super::client::on;
use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::contract::Inspect;
use crate::queue::groups::{GroupCount, GroupPolicy};
use crate::queue::metrics::{from_bullmq, minute_of, MinuteCounts};
use crate::queue::{error::Error, job::JobCounts};
use async_trait::async_trait;

#[async_trait]
impl Inspect for RedisStore {
    /// Per group, from our own keys (`groups.rs`).
    async fn group_counts(
        &self,
        queue: &str,
        _policy: &GroupPolicy,
    ) -> Result<Vec<GroupCount>, Error> {
        self.groups_now(queue).await
    }

    /// Counts per state of `queue`, in one pipelined round trip.
    async fn counts(&self, queue: &str) -> Result<JobCounts, Error> {
        let k = QueueKeys::new(self.prefix(), queue);
        let mut pipe = redis::pipe();
        pipe.cmd("LLEN").arg(k.wait());
        pipe.cmd("ZCARD").arg(k.prioritized());
        pipe.cmd("LLEN").arg(k.active());
        pipe.cmd("ZCARD").arg(k.delayed());
        pipe.cmd("ZCARD").arg(k.completed());
        pipe.cmd("ZCARD").arg(k.failed());
        pipe.cmd("ZCARD").arg(k.key("waiting-children"));
        let v: Vec<u64> = match self.inner.conn.pipe(&pipe).await {
            Ok(v) => v,
            Err(e) => return Err(self.name_wrong_keys(queue, Error::engine(queue, e)).await),
        };
        Ok(JobCounts {
            waiting: v[0],
            prioritized: v[1],
            active: v[2],
            delayed: v[3],
            completed: v[4],
            failed: v[5],
            waiting_children: v[6],
        })
    }

    /// Whether any of `queues` has a job in `wait` or `prioritized`: one `EXISTS` over both
    /// keys of every queue (on a Cluster they share the prefix's hash tag, so one slot).
    async fn any_ready(&self, queues: &[String]) -> Result<bool, Error> {
        let Some(first) = queues.first() else {
            return Ok(false);
        };
        let mut cmd = redis::cmd("EXISTS");
        for queue in queues {
            let k = QueueKeys::new(self.prefix(), queue);
            cmd.arg(k.wait()).arg(k.prioritized());
        }
        let found: u64 = on(first, self.inner.conn.cmd(&mut cmd)).await?;
        Ok(found > 0)
    }

    /// Whether `queue` is paused (BullMQ 6: `meta.paused` is set).
    async fn is_paused(&self, queue: &str) -> Result<bool, Error> {
        let k = QueueKeys::new(self.prefix(), queue);
        let paused: Option<String> = on(
            queue,
            self.inner
                .conn
                .cmd(redis::cmd("HGET").arg(k.meta()).arg("paused")),
        )
        .await?;
        Ok(paused.is_some())
    }

    /// Completed and failed counts per minute over the last `minutes` minutes.
    async fn metrics(&self, queue: &str, minutes: u32) -> Result<MinuteCounts, Error> {
        let q = self.queue(queue).await?;
        let since = minute_of(crate::queue::consumer::now_ms() as i64) - 60_000 * minutes as i64;
        let mut out = MinuteCounts::default();
        for kind in ["completed", "failed"] {
            // The list is read from its head: `minutes` entries reach back far enough, since
            // each entry is one minute before the open one.
            let m = q
                .get_metrics(kind, 0, minutes as i64)
                .await
                .map_err(|e| Error::engine(queue, e))?;
            let series = from_bullmq(
                m.meta.count,
                m.meta.prev_ts as i64,
                m.meta.prev_count,
                &m.data,
                since,
            );
            if kind == "completed" {
                out.completed = series;
                out.completed_total = m.meta.count;
            } else {
                out.failed = series;
                out.failed_total = m.meta.count;
            }
        }
        Ok(out)
    }
}
