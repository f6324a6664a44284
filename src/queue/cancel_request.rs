//! One cancel request as it travels between daemons, and the failed reason it gives the job
//! it stops. A leaf of the queue room: the contract and each store's cancel channel name it,
//! and `cancel.rs` (which goes through the `Store` facade) builds on it, never the reverse.

use serde::{Deserialize, Serialize};

/// One cancel request, as it travels between daemons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    /// The job's queue.
    pub queue: String,
    /// The job's id.
    pub id: String,
    /// Who asks, as the failed reason tells it (`by the API of worker web-1`).
    pub by: String,
    /// Unique per request: names the acknowledgement's way back to the requester.
    pub ticket: String,
}

impl CancelRequest {
    /// A request from `by` for job `id` of `queue`, with a fresh ticket.
    pub fn new(queue: &str, id: &str, by: &str) -> CancelRequest {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let now = super::consumer::now_ms();
        CancelRequest {
            queue: queue.to_string(),
            id: id.to_string(),
            by: by.to_string(),
            ticket: format!("{:x}-{now:x}-{n:x}", std::process::id()),
        }
    }

    /// The failed reason of the job it stops.
    pub fn reason(&self) -> String {
        reason(&self.by)
    }
}

/// Longest `by` a reason quotes: a request read from Redis may come from anyone who can
/// publish, and its text ends up in the job's hash and the logs.
const MAX_BY: usize = 200;

/// The failed reason of a job stopped on a request from `by` (cut to [`MAX_BY`] characters).
pub fn reason(by: &str) -> String {
    let by: String = by.chars().take(MAX_BY).collect();
    format!("cancelled on request ({by})")
}
