//! Applying a run's [`Outcome`] in one transaction, as BullMQ's `moveToFinished` /
//! `moveToDelayed` / `retryJob` / `moveJobFromActiveToWait` do: attempts counted on completion
//! and on each failure (not on release), backoff before a retry, return value and failed
//! reason stored, events logged, then the retention of the finished state applied.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::{events, make_ready, opts, End, Fault};
use crate::queue::consumer::now_ms;
use crate::queue::retry::{AfterFailure, RetryPolicy};
use crate::queue::{job::Outcome, job::Retention};

/// Stack trace entries kept per job (BullMQ's default `stackTraceLimit` is 10).
const STACKTRACE_LIMIT: usize = 10;

/// The consumer's retention for jobs whose own options say nothing.
#[derive(Debug, Clone, Copy)]
pub(super) struct Defaults {
    pub(super) on_complete: Option<Retention>,
    pub(super) on_fail: Option<Retention>,
    /// Minutes of job metrics kept (0 = none recorded).
    pub(super) metrics_points: u32,
}

struct Running {
    opts: Value,
    attempts_made: u32,
    max_attempts: u32,
    stacktrace: Vec<String>,
}

/// Applies `outcome` to active job `id`; returns whether the job is ready again (to wake a
/// fetch loop). A job that is no longer active (removed meanwhile) is left alone.
pub(super) fn finish(
    conn: &Connection,
    queue: &str,
    id: &str,
    outcome: &Outcome,
    defaults: Defaults,
) -> Result<bool, Fault> {
    let now = now_ms() as i64;
    let Some(job) = running(conn, queue, id)? else {
        return Ok(false);
    };
    match outcome {
        Outcome::Completed(value) => {
            let rv = value.to_string();
            conn.prepare_cached(
                "UPDATE jobs SET state = 'completed', returnvalue = ?3, finished_on = ?4,
                        attempts_made = attempts_made + 1
                 WHERE queue = ?1 AND id = ?2",
            )?
            .execute(params![queue, id, rv, now])?;
            let fields = [
                ("jobId", id),
                ("returnvalue", rv.as_str()),
                ("prev", "active"),
            ];
            events::emit(conn, queue, "completed", &fields, now)?;
            super::metrics::record(conn, queue, "completed", now, defaults.metrics_points)?;
            let keep = opts::retention(&job.opts, "removeOnComplete").or(defaults.on_complete);
            retain(conn, queue, "completed", id, keep, now)?;
            Ok(false)
        }
        Outcome::Retry(reason) if job.policy().retries(job.attempts_made + 1) => {
            retry(conn, queue, id, &job, reason, now)
        }
        Outcome::Retry(reason) | Outcome::Fail(reason) => {
            let exhausted = matches!(outcome, Outcome::Retry(_));
            fail(conn, queue, id, &job, reason, exhausted, now)?;
            super::metrics::record(conn, queue, "failed", now, defaults.metrics_points)?;
            let keep = opts::retention(&job.opts, "removeOnFail").or(defaults.on_fail);
            retain(conn, queue, "failed", id, keep, now)?;
            Ok(false)
        }
        Outcome::Release => {
            make_ready(conn, queue, id, "active", End::Front, now)?;
            Ok(true)
        }
        Outcome::Defer(d) => {
            delay(conn, queue, id, now + d.as_millis() as i64, now)?;
            Ok(false)
        }
    }
}

impl Running {
    fn policy(&self) -> RetryPolicy {
        opts::retry(self.max_attempts, &self.opts)
    }
}

fn running(conn: &Connection, queue: &str, id: &str) -> rusqlite::Result<Option<Running>> {
    conn.prepare_cached(
        "SELECT opts, attempts_made, max_attempts, stacktrace FROM jobs
         WHERE queue = ?1 AND id = ?2 AND state = 'active'",
    )?
    .query_row([queue, id], |r| {
        Ok(Running {
            opts: serde_json::from_str(&r.get::<_, String>(0)?).unwrap_or(Value::Null),
            attempts_made: r.get(1)?,
            max_attempts: r.get(2)?,
            stacktrace: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
        })
    })
    .optional()
}

/// Counts the failed attempt and records its reason (shared by retry and fail).
fn record_failure(
    conn: &Connection,
    queue: &str,
    id: &str,
    job: &Running,
    reason: &str,
) -> rusqlite::Result<u32> {
    let mut trace = job.stacktrace.clone();
    trace.push(reason.to_string());
    let skip = trace.len().saturating_sub(STACKTRACE_LIMIT);
    let trace = Value::from(trace[skip..].to_vec()).to_string();
    let made = job.attempts_made + 1;
    conn.prepare_cached(
        "UPDATE jobs SET attempts_made = ?3, failed_reason = ?4, stacktrace = ?5
         WHERE queue = ?1 AND id = ?2",
    )?
    .execute(params![queue, id, made, reason, trace])?;
    Ok(made)
}

/// A failed attempt with attempts left: after the backoff (delayed), or at once (ready).
fn retry(
    conn: &Connection,
    queue: &str,
    id: &str,
    job: &Running,
    reason: &str,
    now: i64,
) -> Result<bool, Fault> {
    let made = record_failure(conn, queue, id, job, reason)?;
    let delay = match job.policy().after_failure(made) {
        AfterFailure::RetryIn(d) => d.as_millis() as i64,
        // Not reached: `finish` retries only while attempts remain.
        AfterFailure::GiveUp => 0,
    };
    if delay == 0 {
        make_ready(conn, queue, id, "failed", End::Back, now)?;
        return Ok(true);
    }
    self::delay(conn, queue, id, now + delay, now)?;
    Ok(false)
}

/// Moves the job to `delayed` until `due` (Unix ms), counting nothing.
fn delay(conn: &Connection, queue: &str, id: &str, due: i64, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET state = 'delayed', run_at = ?3 WHERE queue = ?1 AND id = ?2",
    )?
    .execute(params![queue, id, due])?;
    events::emit(
        conn,
        queue,
        "delayed",
        &[("jobId", id), ("delay", &due.to_string())],
        now,
    )
}

/// Fails the job for good.
fn fail(
    conn: &Connection,
    queue: &str,
    id: &str,
    job: &Running,
    reason: &str,
    exhausted: bool,
    now: i64,
) -> rusqlite::Result<()> {
    let made = record_failure(conn, queue, id, job, reason)?;
    conn.prepare_cached(
        "UPDATE jobs SET state = 'failed', finished_on = ?3 WHERE queue = ?1 AND id = ?2",
    )?
    .execute(params![queue, id, now])?;
    let fields = [("jobId", id), ("failedReason", reason), ("prev", "active")];
    events::emit(conn, queue, "failed", &fields, now)?;
    if exhausted {
        let made = made.to_string();
        let fields = [("jobId", id), ("attemptsMade", made.as_str())];
        events::emit(conn, queue, "retries-exhausted", &fields, now)?;
    }
    Ok(())
}

/// Applies `keep` to the finished jobs of `queue` in `state`, `id` having just arrived there.
fn retain(
    conn: &Connection,
    queue: &str,
    state: &str,
    id: &str,
    keep: Option<Retention>,
    now: i64,
) -> rusqlite::Result<()> {
    let (count, age) = match keep {
        None | Some(Retention::KeepAll) => return Ok(()),
        Some(Retention::RemoveAll) => return delete_job(conn, queue, id),
        Some(Retention::Keep { count, age }) => (count, age),
    };
    let mut doomed: Vec<String> = Vec::new();
    if let Some(age) = age {
        let before = now - age.as_millis() as i64;
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM jobs WHERE queue = ?1 AND state = ?2 AND finished_on < ?3",
        )?;
        for row in stmt.query_map(params![queue, state, before], |r| r.get(0))? {
            doomed.push(row?);
        }
    }
    if let Some(count) = count {
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM jobs WHERE queue = ?1 AND state = ?2
             ORDER BY finished_on DESC, seq DESC LIMIT -1 OFFSET ?3",
        )?;
        for row in stmt.query_map(params![queue, state, count as i64], |r| r.get(0))? {
            doomed.push(row?);
        }
    }
    for id in doomed {
        delete_job(conn, queue, &id)?;
    }
    Ok(())
}

/// Deletes a job and its log lines (a no-op when already gone).
pub(super) fn delete_job(conn: &Connection, queue: &str, id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM jobs WHERE queue = ?1 AND id = ?2")?
        .execute([queue, id])?;
    conn.prepare_cached("DELETE FROM logs WHERE queue = ?1 AND job_id = ?2")?
        .execute([queue, id])?;
    Ok(())
}
