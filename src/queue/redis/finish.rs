//! Finishing survives a reconnect. The engine writes a job's completion or failure once, on its
//! own connection; when Redis restarted while the job ran, that connection is dead and the first
//! command on it fails ("broken pipe"). The engine then drops the result and stops renewing the
//! lock: the job sat `active` until the lock expired and two stalled checks passed (about 87 s),
//! then ran a second time although cronq still had its result and its lock token.
//!
//! So while the engine has reported an error within the last lock duration (an outage, a
//! failover: `HandedBack::troubled`), before handing an outcome back cronq extends the job's
//! lock with its token on the engine's connection (in steady state it does not: a script call
//! per job, measured in issue 18, and `handback.rs` repairs a write that fails anyway). That one command reconnects a dead connection (so the engine's write
//! goes out on a fresh one) and proves the lock is still ours. While Redis does not answer it is
//! retried, as long as the lock can still be ours; when the lock is lost (another worker's
//! stalled check took the job), nothing is written and stalled recovery owns the job.
//!
//! Redis can still die between this check and the engine's write: `handback.rs` then writes the
//! outcome with [`write`] (the engine job's own methods, with the token).

use std::time::Duration;

use bullmq::Job;
use tokio::time::Instant;

use crate::backoff::Doubling;
use crate::queue::job::Backoff;
use crate::queue::retry::{AfterFailure, Curve, RetryPolicy};

/// Whether `job`'s outcome may be handed to the engine (`false`: the lock is lost, write
/// nothing). Retries while Redis does not answer, until `lock_duration` after the first
/// failure (the lock cannot outlive that without a renewal).
pub(crate) async fn lock_still_ours(job: &Job, queue: &str, lock_duration: Duration) -> bool {
    let Some(token) = job.token() else {
        return true;
    };
    let ms = lock_duration.as_millis() as u64;
    let mut delay = Doubling::new(Duration::from_millis(50), Duration::from_secs(1));
    let mut deadline: Option<Instant> = None;
    loop {
        // Bounded per try: a Redis that hangs answers nothing, not even an error.
        let tried = tokio::time::timeout(Duration::from_secs(2), job.extend_lock(token, ms)).await;
        match tried.unwrap_or_else(|_| Err(bullmq::Error::ConnectionClosed)) {
            Ok(()) => {
                if deadline.is_some() {
                    tracing::info!(queue, job_id = %job.id().escape_debug(),
                        "Redis answers again; writing the job's outcome with its lock");
                }
                return true;
            }
            Err(bullmq::Error::JobLocked(_)) => {
                tracing::warn!(queue, job_id = %job.id().escape_debug(),
                    "the job's lock was lost while Redis was away; stalled recovery owns it");
                return false;
            }
            Err(e) => {
                let until = *deadline.get_or_insert_with(|| {
                    tracing::warn!(queue, job_id = %job.id().escape_debug(), error = %e,
                        "cannot write the job's outcome yet; keeping it and retrying");
                    Instant::now() + lock_duration
                });
                if Instant::now() >= until {
                    tracing::warn!(queue, job_id = %job.id().escape_debug(),
                        "Redis did not answer within the lock duration; stalled recovery owns the job");
                    return false;
                }
                tokio::time::sleep(delay.next_delay()).await;
            }
        }
    }
}

/// An outcome handed to the engine, kept in case its write fails (`handback.rs`).
#[derive(Clone)]
pub(crate) enum Unwritten {
    /// `moveToFinished` to `completed` with this return value.
    Completed(serde_json::Value),
    /// Another attempt if any is left (after the job's backoff), else `failed`.
    Retry(String),
    /// `failed` for good.
    Fail(String),
}

impl Unwritten {
    /// What the outcome writes, for messages: `completion`, `retry`, `failure`.
    pub(crate) fn what(&self) -> &'static str {
        match self {
            Unwritten::Completed(_) => "completion",
            Unwritten::Retry(_) => "retry",
            Unwritten::Fail(_) => "failure",
        }
    }
}

/// Makes the engine's `Job` methods finish a job the way its worker would have. Only where they
/// differ does this add a command; this path runs only after the engine's own write failed.
///
/// `job` carries the engine's script context: its connection and the job's lock token, which
/// every script checks (a lock that is not ours fails with a script error, writing nothing).
pub(crate) async fn write(
    store: &super::RedisStore,
    queue: &str,
    job: &Job,
    outcome: &Unwritten,
) -> Result<(), bullmq::Error> {
    let mut job = job.clone();
    match outcome {
        Unwritten::Completed(value) => {
            // `move_to_completed` stores its argument as a JSON string; the worker stores the
            // value's own JSON. A string argument matches; any other value is set right after.
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match job.move_to_completed(&text).await {
                Ok(()) => {}
                // The worker fails a job the script refuses to complete (pending or failed
                // children); lock and state refusals mean the job is not ours to finish.
                Err(bullmq::Error::Script { code, message }) if !lost(code) => {
                    return job.move_to_failed(&message).await;
                }
                Err(e) => return Err(e),
            }
            if !value.is_string() {
                set_return_value(store, queue, job.id(), &value.to_string()).await;
            }
            Ok(())
        }
        Unwritten::Fail(reason) => job.move_to_failed(reason).await,
        Unwritten::Retry(reason) => {
            // A custom backoff type (guard.rs fails those it cannot compute) retries at once,
            // as the worker does without a function.
            let delay = match retry_policy(&job).after_failure(job.attempts_made() + 1) {
                AfterFailure::GiveUp => return job.move_to_failed(reason).await,
                AfterFailure::RetryIn(d) => d.as_millis() as u64,
            };
            if delay > 0 {
                job.move_to_delayed(crate::queue::consumer::now_ms() + delay)
                    .await?;
            } else {
                job.move_to_wait(None).await?;
            }
            // Both moves skip the attempt count the worker's retry scripts add.
            count_attempt(store, queue, job.id()).await;
            Ok(())
        }
    }
}

/// The retry policy the engine read from a job's `opts` (a custom backoff type counts as none).
pub(crate) fn retry_policy(job: &Job) -> RetryPolicy {
    use bullmq::types::BackoffStrategy;
    let backoff = match &job.opts().backoff {
        Some(BackoffStrategy::Fixed(ms)) => Some(Backoff::Fixed(Duration::from_millis(*ms))),
        Some(BackoffStrategy::Exponential(ms)) => {
            Some(Backoff::Exponential(Duration::from_millis(*ms)))
        }
        _ => None,
    };
    let attempts = job.opts().attempts.unwrap_or(0);
    RetryPolicy::new(attempts, backoff, Curve::BullMq)
}

/// Script codes meaning the job is not ours to finish: gone, lock missing or someone else's,
/// not in `active`.
fn lost(code: i64) -> bool {
    use bullmq::error::error_code::*;
    matches!(
        code,
        JOB_NOT_EXIST | JOB_LOCK_NOT_EXIST | JOB_NOT_IN_STATE | JOB_LOCK_MISMATCH
    )
}

/// Writes one field of job `id`'s hash after the engine finished with it: only while the hash
/// exists, since retention (or a remove) may have taken it meanwhile and a write would leave a
/// stray hash behind. `write` is `HSET` or `HINCRBY` with its field and value.
async fn write_if_exists(
    store: &super::RedisStore,
    queue: &str,
    id: &str,
    write: [&str; 3],
) -> redis::RedisResult<i64> {
    const WRITE: &str = r#"
-- KEYS[1] the job hash; ARGV[1] HSET or HINCRBY, ARGV[2] the field, ARGV[3] the value.
-- Returns 1.
if redis.call("EXISTS", KEYS[1]) == 1 then redis.call(ARGV[1], KEYS[1], ARGV[2], ARGV[3]) end
return 1
"#;
    static SCRIPT: std::sync::LazyLock<redis::Script> =
        std::sync::LazyLock::new(|| redis::Script::new(WRITE));
    let keys = super::keys::QueueKeys::new(store.prefix(), queue);
    let mut inv = keys.script(&SCRIPT, &[id]);
    inv.arg(&write[..]);
    inv.invoke_async(&mut store.inner.conn.connection()).await
}

/// The job's `returnvalue` as the worker writes it (the value's JSON), if the job still exists.
async fn set_return_value(store: &super::RedisStore, queue: &str, id: &str, json: &str) {
    let done = write_if_exists(store, queue, id, ["HSET", "returnvalue", json]).await;
    if let Err(e) = done {
        // The job is completed either way; only its stored result is a JSON string.
        tracing::warn!(queue, job_id = %id.escape_debug(), error = %e,
            "the job's return value was stored as text");
    }
}

/// `atm + 1` (BullMQ 6's attempts made; `attemptsMade` is Bull's and BullMQ 4's name, which
/// the engine does not read) on a job moved back for a retry, if the job still exists.
pub(super) async fn count_attempt(store: &super::RedisStore, queue: &str, id: &str) {
    let done = write_if_exists(store, queue, id, ["HINCRBY", "atm", "1"]).await;
    if let Err(e) = done {
        // At worst the job gets one attempt more than configured.
        tracing::warn!(queue, job_id = %id.escape_debug(), error = %e,
            "the retried job's attempt was not counted");
    }
}
