//! Reading BullMQ's job metrics (`<prefix>:<queue>:metrics:<completed|failed>` hash and its
//! `:data` list), which the engine's worker writes when `ConsumerOptions::metrics_points` is
//! set (`maxMetricsSize` in `moveToFinished`).

use super::RedisStore;
use crate::queue::metrics::{from_bullmq, minute_of, MinuteCounts};
use crate::queue::Error;

impl RedisStore {
    /// Completed and failed counts per minute over the last `minutes` minutes.
    pub async fn metrics(&self, queue: &str, minutes: u32) -> Result<MinuteCounts, Error> {
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
