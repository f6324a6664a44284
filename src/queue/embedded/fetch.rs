//! Claiming ready jobs in BullMQ's order (the plain FIFO list first, then by priority, FIFO
//! within a priority), after moving due delayed jobs to ready; and recovering the jobs a dead
//! daemon left `active` (BullMQ's stalled-job check, done once, when the daemon lock is taken).

use rusqlite::{params, Connection, OptionalExtension};

use super::{events, groups, make_ready, End, Fault};
use crate::queue::consumer::now_ms;
use crate::queue::groups::GroupPolicy;

/// A claimed job, as the consumer needs it.
pub(super) struct Claimed {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) data: String,
    /// Its stored options (JSON text, as the producer wrote them).
    pub(super) opts: String,
    pub(super) attempts_made: u32,
    pub(super) max_attempts: u32,
    /// Added, plus its own delay (Unix ms).
    pub(super) ready_ms: i64,
}

/// What one claim found.
pub(super) struct Claim {
    pub(super) jobs: Vec<Claimed>,
    /// When the earliest delayed job is due (ms), when none was ready.
    pub(super) next_due: Option<i64>,
}

/// Delayed jobs moved per claim at most (the rest follow on the next turns).
const PROMOTE_BATCH: i64 = 1000;

/// One claim in progress: every step (pick, activate, the next due time) works on the same
/// connection and queue, for the same worker, at the same `now`, so they travel as one value.
#[derive(Clone, Copy)]
struct Turn<'a> {
    conn: &'a Connection,
    queue: &'a str,
    worker: &'a str,
    now: i64,
}

impl Turn<'_> {
    /// When the earliest delayed job of the queue is due (ms), if any.
    fn next_delayed(self) -> rusqlite::Result<Option<i64>> {
        self.conn
            .prepare_cached("SELECT MIN(run_at) FROM jobs WHERE queue = ?1 AND state = 'delayed'")?
            .query_row([self.queue], |r| r.get(0))
    }
}

/// Moves due delayed jobs of `queue` to ready, then claims up to `n` jobs for `worker`; with a
/// group policy, in the groups' turn and within their limits (`groups.rs`).
pub(super) fn claim(
    conn: &Connection,
    queue: &str,
    n: usize,
    worker: &str,
    policy: Option<&GroupPolicy>,
) -> Result<Claim, Fault> {
    let now = now_ms() as i64;
    let turn = Turn {
        conn,
        queue,
        worker,
        now,
    };
    promote_due(conn, queue, now)?;
    let paused: bool = conn
        .prepare_cached("SELECT paused FROM queues WHERE name = ?1")?
        .query_row([queue], |r| r.get::<_, i64>(0))
        .optional()?
        .is_some_and(|p| p != 0);
    if let Some(policy) = policy {
        return claim_grouped(turn, n, policy, paused);
    }
    let mut ids = Vec::new();
    if !paused {
        for state in ["waiting", "prioritized"] {
            let left = n.saturating_sub(ids.len()) as i64;
            if left == 0 {
                break;
            }
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM jobs WHERE queue = ?1 AND state = ?2
                 ORDER BY priority, seq LIMIT ?3",
            )?;
            let found = stmt.query_map(params![queue, state, left], |r| {
                Ok((r.get::<_, String>(0)?, state))
            })?;
            for row in found {
                ids.push(row?);
            }
        }
    }
    let mut jobs = Vec::with_capacity(ids.len());
    for (id, prev) in ids {
        jobs.push(activate(turn, &id, prev)?);
    }
    let next_due = if jobs.is_empty() {
        turn.next_delayed()?
    } else {
        None
    };
    Ok(Claim { jobs, next_due })
}

/// [`claim`] under a group policy: one pick at a time, each seeing the previous one active.
fn claim_grouped(
    turn: Turn<'_>,
    n: usize,
    policy: &GroupPolicy,
    paused: bool,
) -> Result<Claim, Fault> {
    let Turn {
        conn, queue, now, ..
    } = turn;
    let mut jobs = Vec::new();
    while !paused && jobs.len() < n {
        let Some(pick) = groups::pick(conn, queue, policy, now)? else {
            break;
        };
        groups::started(conn, queue, &pick.group, policy, now)?;
        jobs.push(activate(turn, &pick.id, pick.state)?);
    }
    let next_due = if jobs.is_empty() {
        let delayed = turn.next_delayed()?;
        let window = groups::next_window(conn, queue, policy, now)?;
        [delayed, window].into_iter().flatten().min()
    } else {
        None
    };
    Ok(Claim { jobs, next_due })
}

/// Job `id` of the turn's queue, found in state `prev`, → active for the turn's worker.
fn activate(turn: Turn<'_>, id: &str, prev: &str) -> Result<Claimed, Fault> {
    let Turn {
        conn,
        queue,
        worker,
        now,
    } = turn;
    let job = conn
        .prepare_cached(
            "UPDATE jobs SET state = 'active', attempts_started = attempts_started + 1,
                    processed_on = ?3, processed_by = ?4
             WHERE queue = ?1 AND id = ?2
             RETURNING name, data, attempts_made, max_attempts, timestamp + delay, opts",
        )?
        .query_row(params![queue, id, now, worker], |r| {
            Ok(Claimed {
                id: id.to_string(),
                name: r.get(0)?,
                data: r.get(1)?,
                attempts_made: r.get(2)?,
                max_attempts: r.get(3)?,
                ready_ms: r.get(4)?,
                opts: r.get(5)?,
            })
        })?;
    events::emit(conn, queue, "active", &[("jobId", id), ("prev", prev)], now)?;
    Ok(job)
}

/// Delayed jobs whose time has come → ready, in the order they were due.
fn promote_due(conn: &Connection, queue: &str, now: i64) -> rusqlite::Result<()> {
    let due: Vec<String> = conn
        .prepare_cached(
            "SELECT id FROM jobs WHERE queue = ?1 AND state = 'delayed' AND run_at <= ?2
             ORDER BY run_at, seq LIMIT ?3",
        )?
        .query_map(params![queue, now, PROMOTE_BATCH], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in due {
        make_ready(conn, queue, &id, "delayed", End::Back, now)?;
    }
    Ok(())
}

/// What recovery did.
#[derive(Debug, Default)]
pub(super) struct Recovered {
    /// (queue, id) moved back to ready.
    pub(super) requeued: Vec<(String, String)>,
    /// (queue, id) failed: stalled more than `max_stalled` times.
    pub(super) failed: Vec<(String, String)>,
}

/// BullMQ's message for a job failed by stalled recovery.
const STALLED_TOO_OFTEN: &str = "job stalled more than allowable limit";

/// Every `active` job (of every queue: the lock holder is the only consumer, so these were left
/// by a daemon that died) counts a stall and goes back to ready, or fails past `max_stalled`.
pub(super) fn recover(conn: &Connection, max_stalled: u32) -> Result<Recovered, Fault> {
    let now = now_ms() as i64;
    let active: Vec<(String, String, u32)> = conn
        .prepare_cached(
            "UPDATE jobs SET stalled = stalled + 1 WHERE state = 'active'
             RETURNING queue, id, stalled",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Recovered::default();
    for (queue, id, stalled) in active {
        events::emit(conn, &queue, "stalled", &[("jobId", &id)], now)?;
        if stalled > max_stalled {
            conn.prepare_cached(
                "UPDATE jobs SET state = 'failed', failed_reason = ?3, finished_on = ?4
                 WHERE queue = ?1 AND id = ?2",
            )?
            .execute(params![queue, id, STALLED_TOO_OFTEN, now])?;
            let fields = [
                ("jobId", id.as_str()),
                ("failedReason", STALLED_TOO_OFTEN),
                ("prev", "active"),
            ];
            events::emit(conn, &queue, "failed", &fields, now)?;
            out.failed.push((queue, id));
        } else {
            make_ready(conn, &queue, &id, "active", End::Front, now)?;
            out.requeued.push((queue, id));
        }
    }
    Ok(out)
}
