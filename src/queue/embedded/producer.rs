//! Adding jobs: one committed transaction per add (batched with others by the writer), so a job
//! whose id was returned is on disk. Ids, duplicates and events as BullMQ's `addStandardJob` /
//! `addDelayedJob` / `addPrioritizedJob`.

use rusqlite::{params, Connection, OptionalExtension};

use super::{events, next_seq, opts, EmbeddedStore, Fault};
use crate::queue::consumer::now_ms;
use crate::queue::contract::Produce;
use crate::queue::spec::ValidJob;
use crate::queue::{error::Error, job::JobSpec};
use async_trait::async_trait;

/// Makes sure `queue` has its row (pause flag, id counter).
pub(super) fn ensure_queue(conn: &Connection, queue: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO queues (name) VALUES (?1)")?
        .execute([queue])?;
    Ok(())
}

/// Inserts the job; returns its id and whether it is ready now.
fn insert(conn: &Connection, queue: &str, spec: &JobSpec) -> Result<(String, bool), Fault> {
    ensure_queue(conn, queue)?;
    let now = now_ms() as i64;
    let id = match &spec.job_id {
        Some(id) => {
            let exists = conn
                .prepare_cached("SELECT 1 FROM jobs WHERE queue = ?1 AND id = ?2")?
                .query_row([queue, id], |_| Ok(()))
                .optional()?
                .is_some();
            if exists {
                events::emit(conn, queue, "duplicated", &[("jobId", id)], now)?;
                return Ok((id.clone(), false));
            }
            id.clone()
        }
        None => conn
            .prepare_cached(
                "UPDATE queues SET last_id = last_id + 1 WHERE name = ?1 RETURNING last_id",
            )?
            .query_row([queue], |r| r.get::<_, i64>(0))?
            .to_string(),
    };
    let delay = spec.delay.map(|d| d.as_millis() as i64).unwrap_or(0);
    let priority = i64::from(spec.priority.unwrap_or(0));
    let state = if delay > 0 {
        "delayed"
    } else {
        super::ready_state(priority)
    };
    let run_at = if delay > 0 { now + delay } else { 0 };
    let seq = next_seq(conn, 1)?;
    conn.prepare_cached(
        "INSERT INTO jobs (queue, id, name, data, opts, state, priority, seq, run_at, delay,
                           max_attempts, timestamp)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        queue,
        id,
        spec.name,
        spec.data.to_string(),
        opts::to_json(spec).to_string(),
        state,
        priority,
        seq,
        run_at,
        delay,
        i64::from(spec.attempts.unwrap_or(0)),
        now,
    ])?;
    events::emit(
        conn,
        queue,
        "added",
        &[("jobId", &id), ("name", &spec.name)],
        now,
    )?;
    if delay > 0 {
        let due = run_at.to_string();
        events::emit(
            conn,
            queue,
            "delayed",
            &[("jobId", &id), ("delay", &due)],
            now,
        )?;
    } else {
        events::emit(conn, queue, "waiting", &[("jobId", &id)], now)?;
    }
    Ok((id, delay == 0))
}

#[async_trait]
impl Produce for EmbeddedStore {
    /// Adds a job to `queue` and returns its id (the existing id when a job with the same
    /// custom id is already there: then nothing is added). The facade validated `spec`.
    async fn add(&self, queue: &str, spec: ValidJob) -> Result<String, Error> {
        let q = queue.to_string();
        let (id, ready) = self.write(queue, move |c| insert(c, &q, &spec)).await?;
        if ready {
            self.inner.ready.notify_waiters();
        }
        Ok(id)
    }
}
