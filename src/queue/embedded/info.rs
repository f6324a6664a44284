//! Reading jobs for people and tools (API, CLI, dashboard): counts, one state, pages in the
//! Redis store's orders (`redis/info.rs`), one job with its logs, the queues that exist.

use std::collections::BTreeMap;

use rusqlite::types::FromSql;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::{EmbeddedStore, Fault};
use crate::queue::consumer::now_ms;
use crate::queue::contract::Browse;
use crate::queue::contract::Inspect;
use crate::queue::groups::{GroupCount, GroupPolicy};
use crate::queue::metrics::{minute_of, MinuteCounts};
use crate::queue::state::JobState;
use crate::queue::{error::Error, info::JobInfo, info::JobPage, info::JobWindow, job::JobCounts};
use async_trait::async_trait;

/// The columns [`from_row`] reads, in order.
const COLUMNS: &str = "id, name, data, opts, progress, attempts_made, attempts_started,
    returnvalue, failed_reason, stacktrace, timestamp, processed_on, finished_on, delay,
    priority, processed_by, state";

fn from_row(queue: &str, r: &Row<'_>) -> rusqlite::Result<JobInfo> {
    // Stored JSON, shown as the raw text when it is not JSON (as the Redis store does).
    let json = |i: usize| -> rusqlite::Result<Value> {
        Ok(match r.get::<_, Option<String>>(i)? {
            None => Value::Null,
            Some(t) => serde_json::from_str(&t).unwrap_or(Value::String(t)),
        })
    };
    let stacktrace = crate::queue::info::stacktrace_lines(json(9)?);
    Ok(JobInfo {
        id: r.get(0)?,
        queue: queue.to_string(),
        name: r.get(1)?,
        state: Some(stored_state(&r.get::<_, String>(16)?)),
        data: json(2)?,
        opts: json(3)?,
        progress: json(4)?,
        attempts_made: num(r, 5)?,
        attempts_started: num(r, 6)?,
        returnvalue: json(7)?,
        failed_reason: r.get(8)?,
        stacktrace,
        timestamp: r.get::<_, Option<i64>>(10)?.map(|v| v.max(0) as u64),
        processed_on: r.get::<_, Option<i64>>(11)?.map(|v| v.max(0) as u64),
        finished_on: r.get::<_, Option<i64>>(12)?.map(|v| v.max(0) as u64),
        delay: num(r, 13)?,
        priority: num(r, 14)?,
        processed_by: r.get(15)?,
        logs: None,
    })
}

/// The first three columns of a row, typed by the caller: the shape of the event and metrics
/// reads (`events.rs`, [`Inspect::metrics`]), which map each row to a tuple first.
pub(super) fn three<A: FromSql, B: FromSql, C: FromSql>(
    r: &Row<'_>,
) -> rusqlite::Result<(A, B, C)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

/// A non-negative integer column (SQLite integers are signed).
pub(super) fn num(r: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(r.get::<_, i64>(i)?.max(0) as u64)
}

/// (stored state, ORDER BY) of a listable state: newest first for waiting (the head of BullMQ's
/// list), active, completed and failed; next-to-run first for prioritized and delayed.
/// `None` for [`JobState::Unknown`]. The `state` column holds [`JobState::as_str`].
fn listing(state: JobState) -> Option<(&'static str, &'static str)> {
    let order = match state {
        JobState::Waiting => "seq DESC",
        JobState::Active => "processed_on DESC, seq DESC",
        JobState::Prioritized => "priority, seq",
        JobState::Delayed => "run_at, seq",
        JobState::Completed | JobState::Failed => "finished_on DESC, seq DESC",
        JobState::WaitingChildren => "seq",
        JobState::Unknown => return None,
    };
    Some((state.as_str(), order))
}

/// A `state` column's text as a state; a value this version does not know reads as unknown.
fn stored_state(text: &str) -> JobState {
    text.parse().unwrap_or(JobState::Unknown)
}

/// The stored state of a job.
pub(super) fn state_of(c: &Connection, queue: &str, id: &str) -> rusqlite::Result<Option<String>> {
    c.prepare_cached("SELECT state FROM jobs WHERE queue = ?1 AND id = ?2")?
        .query_row([queue, id], |r| r.get(0))
        .optional()
}

#[async_trait]
impl Browse for EmbeddedStore {
    /// The state of job `id`, or `None` when there is no such job.
    async fn state(&self, queue: &str, id: &str) -> Result<Option<JobState>, Error> {
        let (q, id) = (queue.to_string(), id.to_string());
        let stored = self.read(queue, move |c| Ok(state_of(c, &q, &id)?)).await?;
        Ok(stored.as_deref().map(stored_state))
    }

    /// One page of `queue`'s jobs in `window.state`.
    async fn jobs(&self, queue: &str, window: JobWindow) -> Result<JobPage, Error> {
        let (stored, order) =
            listing(window.state).ok_or_else(|| window.state.not_listed(queue))?;
        let q = queue.to_string();
        let (total, jobs) = self
            .read(queue, move |c| {
                let total: u64 = c
                    .prepare_cached("SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = ?2")?
                    .query_row([&q, stored], |r| num(r, 0))?;
                let sql = format!(
                    "SELECT {COLUMNS} FROM jobs WHERE queue = ?1 AND state = ?2
                     ORDER BY {order} LIMIT ?3 OFFSET ?4"
                );
                let mut stmt = c.prepare_cached(&sql)?;
                let page = window.limit.max(1) as i64;
                let rows = stmt.query_map(
                    rusqlite::params![q, stored, page, window.offset as i64],
                    |r| from_row(&q, r),
                )?;
                let jobs = rows.collect::<rusqlite::Result<Vec<_>>>()?;
                Ok::<_, Fault>((total, jobs))
            })
            .await?;
        Ok(JobPage::new(window, total, jobs))
    }

    /// One job with its state and logs, or `None`.
    async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, Error> {
        let (q, id) = (queue.to_string(), id.to_string());
        self.read(queue, move |c| {
            let sql = format!("SELECT {COLUMNS} FROM jobs WHERE queue = ?1 AND id = ?2");
            let Some(mut info) = c
                .prepare_cached(&sql)?
                .query_row([&q, &id], |r| from_row(&q, r))
                .optional()?
            else {
                return Ok(None);
            };
            let logs = c
                .prepare_cached(
                    "SELECT line FROM logs WHERE queue = ?1 AND job_id = ?2 ORDER BY n",
                )?
                .query_map([&q, &id], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            info.logs = Some(logs);
            Ok(Some(info))
        })
        .await
    }
}

#[async_trait]
impl Inspect for EmbeddedStore {
    /// Per group, computed from the rows (`groups.rs`).
    async fn group_counts(
        &self,
        queue: &str,
        policy: &GroupPolicy,
    ) -> Result<Vec<GroupCount>, Error> {
        let (q, p) = (queue.to_string(), policy.clone());
        self.read(queue, move |c| Ok(super::groups::counts(c, &q, &p)?))
            .await
    }

    /// Counts per state of `queue`.
    async fn counts(&self, queue: &str) -> Result<JobCounts, Error> {
        let q = queue.to_string();
        self.read(queue, move |c| {
            let mut counts = JobCounts::default();
            let mut stmt = c.prepare_cached(
                "SELECT state, COUNT(*) FROM jobs WHERE queue = ?1 GROUP BY state",
            )?;
            let rows = stmt.query_map([&q], |r| Ok((r.get::<_, String>(0)?, num(r, 1)?)))?;
            for row in rows {
                let (state, n) = row?;
                match state.as_str() {
                    "waiting" => counts.waiting = n,
                    "prioritized" => counts.prioritized = n,
                    "active" => counts.active = n,
                    "delayed" => counts.delayed = n,
                    "completed" => counts.completed = n,
                    "failed" => counts.failed = n,
                    _ => {}
                }
            }
            Ok(counts)
        })
        .await
    }

    /// Whether `queue` is paused.
    async fn is_paused(&self, queue: &str) -> Result<bool, Error> {
        let q = queue.to_string();
        self.read(queue, move |c| {
            let paused = c
                .prepare_cached("SELECT paused FROM queues WHERE name = ?1")?
                .query_row([&q], |r| r.get::<_, i64>(0))
                .optional()?;
            Ok(paused.is_some_and(|p| p != 0))
        })
        .await
    }

    /// Completed and failed counts per minute over the last `minutes` minutes.
    async fn metrics(&self, queue: &str, minutes: u32) -> Result<MinuteCounts, Error> {
        let q = queue.to_string();
        let since = minute_of(now_ms() as i64) - 60_000 * minutes as i64;
        self.read(queue, move |c| {
            let mut out = MinuteCounts::default();
            let mut stmt = c.prepare_cached(
                "SELECT kind, minute, count FROM metrics
                 WHERE queue = ?1 AND (minute >= ?2 OR minute = -1)",
            )?;
            let rows = stmt.query_map(params![q, since], three)?;
            for row in rows {
                let (kind, minute, n): (String, i64, i64) = row?;
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
