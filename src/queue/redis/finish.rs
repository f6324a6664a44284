//! Finishing survives a reconnect. The engine writes a job's completion or failure once, on its
//! own connection; when Redis restarted while the job ran, that connection is dead and the first
//! command on it fails ("broken pipe"). The engine then drops the result and stops renewing the
//! lock: the job sat `active` until the lock expired and two stalled checks passed (about 87 s),
//! then ran a second time although cronq still had its result and its lock token.
//!
//! So before handing an outcome back, cronq extends the job's lock with its token on the
//! engine's connection. That one command reconnects a dead connection (so the engine's write
//! goes out on a fresh one) and proves the lock is still ours. While Redis does not answer it is
//! retried, as long as the lock can still be ours; when the lock is lost (another worker's
//! stalled check took the job), nothing is written and stalled recovery owns the job.

use std::time::Duration;

use bullmq::Job;
use tokio::time::Instant;

use crate::backoff::Backoff;

/// Whether `job`'s outcome may be handed to the engine (`false`: the lock is lost, write
/// nothing). Retries while Redis does not answer, until `lock_duration` after the first
/// failure (the lock cannot outlive that without a renewal).
pub(crate) async fn lock_still_ours(job: &Job, queue: &str, lock_duration: Duration) -> bool {
    let Some(token) = job.token() else {
        return true;
    };
    let ms = lock_duration.as_millis() as u64;
    let mut delay = Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
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
