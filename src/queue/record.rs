//! A run that already happened, written into the store as a finished job: a crontab command
//! run in the daemon while the store was down (`worker/local_backlog.rs`), recorded when the
//! store answers again so the dashboard's timeline, `worker status`, the entry's `last` and
//! Bull Board / `QueueEvents` learn of it. Nothing in the store ever runs it again: it is
//! written straight into `completed` or `failed`, never into a state a worker takes from.

use super::job::Retention;

/// A finished run to record as job `id` of a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedRun {
    /// The tick's deterministic job id (`cron-<entry>-<tick seconds>`): the id a daemon that
    /// reached the store would have added the tick under, so a tick is recorded once.
    pub id: String,
    /// The job name (the entry id).
    pub name: String,
    /// The job data; a local run's carries `"local": true`.
    pub data: serde_json::Value,
    /// When it started (ms since the epoch).
    pub processed_on: u64,
    /// When it ended (ms since the epoch).
    pub finished_on: u64,
    /// `Ok(returnvalue)` for a completed run, `Err(failedReason)` for a failed one.
    pub result: Result<serde_json::Value, String>,
    /// The retention of its finished state (the crontab queue's removeOnComplete/Fail), applied
    /// when it is written, as BullMQ applies it when a job finishes.
    pub keep: Retention,
}
