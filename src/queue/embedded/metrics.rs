//! The embedded store's job metrics: the same per-minute series as BullMQ's `metrics` keys, one
//! row per (queue, outcome, minute) in the `metrics` table, written in the transaction that
//! finishes the job and trimmed to the consumer's `metrics_points` minutes.

use std::collections::BTreeMap;

use rusqlite::{params, Connection};

use super::{now_ms, EmbeddedStore};
use crate::queue::metrics::{minute_of, MinuteCounts};
use crate::queue::Error;

/// Counts one finished job (`kind`: `completed` or `failed`) in the current minute and drops
/// minutes older than `points` minutes. `points` 0 records nothing (as in BullMQ).
pub(super) fn record(
    conn: &Connection,
    queue: &str,
    kind: &str,
    now: i64,
    points: u32,
) -> rusqlite::Result<()> {
    if points == 0 {
        return Ok(());
    }
    let minute = minute_of(now);
    conn.prepare_cached(
        "INSERT INTO metrics (queue, kind, minute, count) VALUES (?1, ?2, ?3, 1)
         ON CONFLICT (queue, kind, minute) DO UPDATE SET count = count + 1",
    )?
    .execute(params![queue, kind, minute])?;
    // The running total lives in the row of minute -1, which trimming never reaches.
    conn.prepare_cached(
        "INSERT INTO metrics (queue, kind, minute, count) VALUES (?1, ?2, -1, 1)
         ON CONFLICT (queue, kind, minute) DO UPDATE SET count = count + 1",
    )?
    .execute(params![queue, kind])?;
    let oldest = minute - 60_000 * (points as i64 - 1);
    conn.prepare_cached(
        "DELETE FROM metrics WHERE queue = ?1 AND kind = ?2 AND minute >= 0 AND minute < ?3",
    )?
    .execute(params![queue, kind, oldest])?;
    Ok(())
}

impl EmbeddedStore {
    /// Completed and failed counts per minute over the last `minutes` minutes.
    pub async fn metrics(&self, queue: &str, minutes: u32) -> Result<MinuteCounts, Error> {
        let q = queue.to_string();
        let since = minute_of(now_ms()) - 60_000 * minutes as i64;
        self.read(queue, move |c| {
            let mut out = MinuteCounts::default();
            let mut stmt = c.prepare_cached(
                "SELECT kind, minute, count FROM metrics
                 WHERE queue = ?1 AND (minute >= ?2 OR minute = -1)",
            )?;
            let rows = stmt.query_map(params![q, since], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (kind, minute, n) = row?;
                let n = n.max(0) as u64;
                let (series, total): (&mut BTreeMap<_, _>, &mut u64) = match kind.as_str() {
                    "completed" => (&mut out.completed, &mut out.completed_total),
                    _ => (&mut out.failed, &mut out.failed_total),
                };
                if minute == -1 {
                    *total = n;
                } else {
                    series.insert(minute, n);
                }
            }
            Ok(out)
        })
        .await
    }
}
