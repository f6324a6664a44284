//! The worker's side of dead letters (`queue/dead_letter.rs` holds the format): after a run
//! that failed for the last time, the dispatch adds the job's dead letter to the queue's
//! `dead_letter` target before the store writes the failure. Done here, once for every store
//! (BullMQ and Bull layouts, the embedded file), through the store's own add: one atomic add
//! per letter, and its fixed id makes a replay (the daemon died before the failure was written,
//! and stalled recovery ran the job again) add nothing.
//!
//! Not dead-lettered: a run cancelled on request (an operator stopped it: not a failure to
//! keep) and a run released at shutdown (it runs again).

use crate::metrics::queue_ops::DeadLetterOutcome;
use crate::metrics::Metrics;
use crate::queue::dead_letter::{self, Failure};
use crate::queue::{ActiveJob, Store};

/// Where a queue's last failures go.
pub struct DeadLetter {
    /// The target queue (checked by the config: declared, not the queue itself).
    target: String,
    /// The store both queues are in.
    store: Store,
    /// This daemon's WORKER_ID, written into each letter.
    worker: String,
}

impl DeadLetter {
    /// Letters to `target` in `store`, signed `worker`.
    pub fn new(target: &str, store: Store, worker: &str) -> DeadLetter {
        DeadLetter {
            target: target.to_string(),
            store,
            worker: worker.to_string(),
        }
    }

    /// Adds the dead letter of `job`, which failed for good with `reason`; `data` is its data
    /// as read (its error when it could not be read: the letter then carries `null`). A letter
    /// the target does not take is logged and counted, and the job stays in its failed set:
    /// nothing is lost, `worker retry` still reaches it.
    pub(super) async fn send(
        &self,
        job: &ActiveJob,
        data: Result<serde_json::Value, String>,
        reason: &str,
        metrics: &Metrics,
    ) {
        // The errors of earlier attempts, as the store keeps them (a read only on a last failure).
        let stacktrace = match self.store.job(&job.queue, &job.id).await {
            Ok(Some(info)) => info.stacktrace,
            _ => Vec::new(),
        };
        let failure = Failure {
            queue: job.queue.clone(),
            id: job.id.clone(),
            name: job.name.clone(),
            failed_reason: reason.to_string(),
            attempts_made: u64::from(job.attempt),
            attempts: u64::from(job.max_attempts),
            stacktrace,
            failed_on: crate::queue::consumer::now_ms(),
            worker: self.worker.clone(),
        };
        let data = data.unwrap_or(serde_json::Value::Null);
        let (q, id, target) = (&job.queue, job.id.escape_debug(), &self.target);
        match dead_letter::add(&self.store, target, &failure, data).await {
            Ok(letter) => {
                tracing::info!(queue = %q, job_id = %id, dead_letter = %target, letter_id = %letter.escape_debug(), "job failed for good; dead letter added");
                metrics
                    .ops
                    .dead_lettered(q, target, DeadLetterOutcome::Added);
            }
            Err(e) => {
                tracing::warn!(queue = %q, job_id = %id, dead_letter = %target, error = %e, "dead letter not added; the job stays in the failed set");
                metrics
                    .ops
                    .dead_lettered(q, target, DeadLetterOutcome::Error);
            }
        }
    }
}
