//! Questions about a Bull queue as a whole: counts per state (Bull has no `prioritized` set nor
//! flows), whether it is paused (`meta-paused` exists), its per-minute metrics, and which
//! layout its keys show.

use async_trait::async_trait;

use super::BullStore;
use crate::queue::contract::Inspect;
use crate::queue::error::Error;
use crate::queue::job::JobCounts;
use crate::queue::layout::Layout;
use crate::queue::metrics::{from_bullmq, minute_of, MinuteCounts};

/// `count`, `prevTS`, `prevCount` as stored (absent when no job finished yet).
type Meta = (Option<String>, Option<String>, Option<String>);

#[async_trait]
impl Inspect for BullStore {
    async fn counts(&self, queue: &str) -> Result<JobCounts, Error> {
        let k = self.keys(queue);
        let mut p = redis::pipe();
        k.each(&mut p, "LLEN", &["wait", "paused", "active"]);
        k.each(&mut p, "ZCARD", &["delayed", "completed", "failed"]);
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
    /// Bull 4 keeps the same series as BullMQ (`<prefix>:<queue>:metrics:<completed|failed>`
    /// hash with `count`, `prevTS`, `prevCount`, and its `:data` list of closed minutes, newest
    /// first), so Node's `queue.getMetrics()` and cronq's charts read one series whichever
    /// side finished the jobs. finish.lua writes it when `[worker] metrics_points` > 0.
    async fn metrics(&self, queue: &str, minutes: u32) -> Result<MinuteCounts, Error> {
        let k = self.keys(queue);
        let since = minute_of(crate::queue::consumer::now_ms() as i64) - 60_000 * minutes as i64;
        let mut out = MinuteCounts::default();
        for kind in ["completed", "failed"] {
            let meta = k.key(&format!("metrics:{kind}"));
            let mut p = redis::pipe();
            p.cmd("HMGET")
                .arg(&meta)
                .arg("count")
                .arg("prevTS")
                .arg("prevCount")
                .cmd("LRANGE")
                .arg(format!("{meta}:data"))
                .arg(0)
                .arg(minutes as i64);
            let (meta, data): (Meta, Vec<String>) = p
                .query_async(&mut self.conn())
                .await
                .map_err(|e| Error::engine(queue, e))?;
            // Anything a foreign writer left unreadable counts as nothing.
            let num = |v: Option<String>| v.and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
            let (count, prev_ts, prev_count) = meta;
            let count = num(count);
            let data: Vec<u64> = data.iter().map(|s| s.parse().unwrap_or(0)).collect();
            let series = from_bullmq(count, num(prev_ts) as i64, num(prev_count), &data, since);
            if kind == "completed" {
                out.completed = series;
                out.completed_total = count;
            } else {
                out.failed = series;
                out.failed_total = count;
            }
        }
        Ok(out)
    }
    async fn layout_seen(&self, queue: &str) -> Result<Option<Layout>, Error> {
        self.keys_show(queue).await
    }
}
