//! Operations on queues and jobs for people and tools (API, CLI, dashboard), each one
//! transaction that checks the job's state and moves it, with the same refusals and events as
//! the Redis store: retry only failed, remove anything but active, promote only delayed,
//! pause/resume, clean finished jobs older than an age.

use rusqlite::{params, Connection};

use super::finish::delete_job;
use super::info::state_of;
use super::producer::ensure_queue;
use super::{events, make_ready, EmbeddedStore, End, Fault};
use crate::queue::consumer::now_ms;
use crate::queue::contract::{Admin, Progress};
use crate::queue::state::CleanOrder;
use crate::queue::{error::Error, error::JobOpError};
use async_trait::async_trait;

/// Failed jobs moved per transaction by `retry_all_failed` (progress is reported between).
const RETRY_BATCH: i64 = 500;

/// Checks job `id` is in one of `wanted`; returns its state.
fn require(
    c: &Connection,
    queue: &str,
    id: &str,
    wanted: &[&str],
    hint: &str,
) -> Result<String, Fault> {
    match state_of(c, queue, id)? {
        None => Err(Fault::Op(JobOpError::NotFound {
            queue: queue.into(),
            id: id.into(),
        })),
        Some(s) if wanted.contains(&s.as_str()) => Ok(s),
        Some(s) => Err(Fault::Op(JobOpError::WrongState {
            queue: queue.into(),
            id: id.into(),
            state: s,
            hint: hint.into(),
        })),
    }
}

/// Failed → ready, attempts kept (as Bull Board's retry); its last run's marks cleared.
fn reprocess(c: &Connection, queue: &str, id: &str, now: i64) -> rusqlite::Result<()> {
    c.prepare_cached(
        "UPDATE jobs SET finished_on = NULL, processed_on = NULL, failed_reason = NULL,
                returnvalue = NULL
         WHERE queue = ?1 AND id = ?2",
    )?
    .execute([queue, id])?;
    make_ready(c, queue, id, "failed", End::Back, now)
}

impl EmbeddedStore {
    /// Runs a job operation; wakes this process's fetch loops when it made jobs ready.
    async fn job_op<F>(&self, queue: &str, wakes: bool, f: F) -> Result<(), JobOpError>
    where
        F: FnOnce(&Connection) -> Result<(), Fault> + Send + 'static,
    {
        self.inner
            .writer
            .write(f)
            .await
            .map_err(|e| e.into_op(queue))?;
        if wakes {
            self.inner.ready.notify_waiters();
        }
        Ok(())
    }

    async fn set_paused(&self, queue: &str, paused: bool) -> Result<(), Error> {
        let q = queue.to_string();
        self.write(queue, move |c| {
            ensure_queue(c, &q)?;
            c.prepare_cached("UPDATE queues SET paused = ?2 WHERE name = ?1")?
                .execute(params![q, paused as i64])?;
            let event = if paused { "paused" } else { "resumed" };
            Ok(events::emit(c, &q, event, &[], now_ms() as i64)?)
        })
        .await
    }
}

#[async_trait]
impl Admin for EmbeddedStore {
    /// Moves one failed job back to ready (its attempt count is kept).
    async fn retry_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        let (q, id) = (queue.to_string(), id.to_string());
        self.job_op(queue, true, move |c| {
            require(c, &q, &id, &["failed"], "only failed jobs can be retried")?;
            Ok(reprocess(c, &q, &id, now_ms() as i64)?)
        })
        .await
    }

    /// Moves every job of `queue` that failed before the call back to ready, in batches;
    /// `progress(done, total)` after each. Returns how many were moved.
    async fn retry_all_failed(&self, queue: &str, progress: Progress<'_>) -> Result<u64, Error> {
        let before = now_ms() as i64;
        let q = queue.to_string();
        let total: u64 = self
            .read(queue, move |c| {
                Ok(c.prepare_cached(
                    "SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'failed' AND finished_on <= ?2",
                )?
                .query_row(params![q, before], |r| super::info::num(r, 0))?)
            })
            .await?;
        let mut done = 0u64;
        loop {
            let q = queue.to_string();
            let moved = self
                .write(queue, move |c| {
                    let ids: Vec<String> = c
                        .prepare_cached(
                            "SELECT id FROM jobs WHERE queue = ?1 AND state = 'failed'
                             AND finished_on <= ?2 ORDER BY finished_on, seq LIMIT ?3",
                        )?
                        .query_map(params![q, before, RETRY_BATCH], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?;
                    let now = now_ms() as i64;
                    for id in &ids {
                        reprocess(c, &q, id, now)?;
                    }
                    Ok(ids.len() as u64)
                })
                .await?;
            done += moved;
            if moved > 0 {
                self.inner.ready.notify_waiters();
            }
            progress(done.min(total), total);
            if moved < RETRY_BATCH as u64 {
                return Ok(done);
            }
        }
    }

    /// Removes a job that is not active (with its logs).
    async fn remove_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        let (q, id) = (queue.to_string(), id.to_string());
        self.job_op(queue, false, move |c| {
            let prev = require(
                c,
                &q,
                &id,
                &["waiting", "prioritized", "delayed", "completed", "failed"],
                "an active job cannot be removed; wait for it to finish",
            )?;
            delete_job(c, &q, &id)?;
            Ok(events::emit(
                c,
                &q,
                "removed",
                &[("jobId", &id), ("prev", &prev)],
                now_ms() as i64,
            )?)
        })
        .await
    }

    /// Makes a delayed job ready now.
    async fn promote_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        let (q, id) = (queue.to_string(), id.to_string());
        self.job_op(queue, true, move |c| {
            require(
                c,
                &q,
                &id,
                &["delayed"],
                "only delayed jobs can be promoted",
            )?;
            Ok(make_ready(
                c,
                &q,
                &id,
                "delayed",
                End::Back,
                now_ms() as i64,
            )?)
        })
        .await
    }

    /// Pauses `queue`: no consumer fetches from it; adds still land in waiting.
    async fn pause(&self, queue: &str) -> Result<(), Error> {
        self.set_paused(queue, true).await
    }

    /// Resumes `queue`.
    async fn resume(&self, queue: &str) -> Result<(), Error> {
        self.set_paused(queue, false).await?;
        self.inner.ready.notify_waiters();
        Ok(())
    }

    /// Removes `completed` or `failed` jobs finished longer than `older_than` ago; returns how
    /// many.
    async fn clean(&self, queue: &str, order: CleanOrder) -> Result<u64, Error> {
        let (q, state) = (queue.to_string(), order.state().as_str());
        let cutoff = order.cutoff_ms(now_ms()) as i64;
        self.write(queue, move |c| {
            c.prepare_cached(
                "DELETE FROM logs WHERE queue = ?1 AND job_id IN
                    (SELECT id FROM jobs WHERE queue = ?1 AND state = ?2 AND finished_on <= ?3)",
            )?
            .execute(params![q, state, cutoff])?;
            let n = c
                .prepare_cached(
                    "DELETE FROM jobs WHERE queue = ?1 AND state = ?2 AND finished_on <= ?3",
                )?
                .execute(params![q, state, cutoff])? as u64;
            let count = n.to_string();
            events::emit(c, &q, "cleaned", &[("count", &count)], now_ms() as i64)?;
            Ok(n)
        })
        .await
    }
}
