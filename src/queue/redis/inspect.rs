//! Read-only questions about queues: counts per state, whether a queue is paused.

use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::{Error, JobCounts};

impl RedisStore {
    /// Counts per state of `queue`, in one pipelined round trip.
    pub async fn counts(&self, queue: &str) -> Result<JobCounts, Error> {
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
    pub async fn any_ready(&self, queues: &[String]) -> Result<bool, Error> {
        let Some(first) = queues.first() else {
            return Ok(false);
        };
        let mut cmd = redis::cmd("EXISTS");
        for queue in queues {
            let k = QueueKeys::new(self.prefix(), queue);
            cmd.arg(k.wait()).arg(k.prioritized());
        }
        let found: u64 = self
            .inner
            .conn
            .cmd(&mut cmd)
            .await
            .map_err(|e| Error::engine(first, e))?;
        Ok(found > 0)
    }

    /// Whether `queue` is paused (BullMQ 6: `meta.paused` is set).
    pub async fn is_paused(&self, queue: &str) -> Result<bool, Error> {
        let k = QueueKeys::new(self.prefix(), queue);
        let paused: Option<String> = self
            .inner
            .conn
            .cmd(redis::cmd("HGET").arg(k.meta()).arg("paused"))
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(paused.is_some())
    }
}

impl RedisStore {
    /// The state of job `id` in `queue` (`waiting`, `active`, `delayed`, `prioritized`,
    /// `completed`, `failed`, `waiting-children`), or `None` when there is no such job.
    pub async fn state(&self, queue: &str, id: &str) -> Result<Option<String>, Error> {
        let q = self.queue(queue).await?;
        let state = q
            .get_job_state(id)
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(match state.as_str() {
            "unknown" => None,
            // The engine says `wait` where BullMQ's getState says `waiting`; callers (overlap
            // policy, API) use BullMQ's word.
            "wait" => Some("waiting".to_string()),
            s => Some(s.to_string()),
        })
    }
}
