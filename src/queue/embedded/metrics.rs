//! The embedded store's job metrics: the same per-minute series as BullMQ's `metrics` keys, one
//! row per (queue, outcome, minute) in the `metrics` table, written in the transaction that
//! finishes the job and trimmed to the consumer's `metrics_points` minutes.

use rusqlite::{params, Connection};

use crate::queue::metrics::minute_of;

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
