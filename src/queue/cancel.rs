//! Cancelling a job from anywhere (issue 30): what `POST /api/queues/{q}/jobs/{id}/cancel`,
//! `worker cancel` and the dashboard's button do, whichever store.
//!
//! - A job not started yet (waiting, prioritized, delayed, waiting for children) is removed,
//!   as BullMQ's `Job.remove` would: it never ran, so there is no run to fail. (Sidekiq's
//!   "delete" on a scheduled job does the same.)
//! - An active job is asked to stop through the store's cancel channel ([`Cancels`]): the
//!   daemon running it stops its handler (process group TERM then KILL, HTTP request
//!   dropped, builtin dropped), fails the job with [`CancelRequest::reason`] and does not
//!   retry it; it acknowledges within [`ACK_WAIT`], naming itself. No acknowledgement means
//!   no cronq daemon runs it (a Node BullMQ worker holds it, which cronq cannot reach): the
//!   answer says so instead of pretending.
//! - A finished job has nothing to cancel.
//!
//! [`Cancels`]: super::contract::Cancels

use std::time::Duration;

use super::error::JobOpError;
use super::state::JobState;
use super::store::Store;

// The request type lives in a leaf module the stores import (no circle through the facade).
pub use super::cancel_request::{reason, CancelRequest};

/// How long a requester waits for the running daemon's acknowledgement. A daemon answers as
/// soon as its cancel router reads the request (one pub/sub hop on Redis); a second covers a
/// loaded host, and keeps an operator's click answered quickly.
pub const ACK_WAIT: Duration = Duration::from_secs(2);

/// How long [`cancel`] then waits for the job to leave `active`: the handler's kill grace
/// (exec: TERM, then KILL after 5 s) and the failure's write.
const END_WAIT: Duration = Duration::from_secs(10);

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// The job had not started: removed. Carries the state it was in.
    Removed(JobState),
    /// The job was running: the daemon `holder` (its WORKER_ID) stopped it; `state` is the
    /// job's state once it ended (`failed`), or `active` when it still winds down.
    Stopped {
        /// WORKER_ID of the daemon that ran it.
        holder: String,
        /// The job's state after the stop.
        state: JobState,
    },
}

/// Cancels job `id` of `queue` on behalf of `by` (see the module doc).
pub async fn cancel(
    store: &Store,
    queue: &str,
    id: &str,
    by: &str,
) -> Result<Cancelled, JobOpError> {
    let not_found = || JobOpError::NotFound {
        queue: queue.to_string(),
        id: id.to_string(),
    };
    let state = store.state(queue, id).await?.ok_or_else(not_found)?;
    if state.is_finished() {
        return Err(wrong(
            queue,
            id,
            state,
            "it has finished; there is nothing to cancel",
        ));
    }
    if state != JobState::Active {
        match store.remove_job(queue, id).await {
            Ok(()) => return Ok(Cancelled::Removed(state)),
            // It started between the two reads: stop the run instead.
            Err(JobOpError::WrongState { state, .. }) if state == JobState::Active.as_str() => {}
            Err(e) => return Err(e),
        }
    }
    let req = CancelRequest::new(queue, id, by);
    // A run registers its cancel handle a moment after the store marks it active: a request
    // falling in between reaches no run. So it is sent twice, half the wait each, before the
    // job counts as held elsewhere (a daemon that stopped it answers the first; the second
    // finds no run and stays silent).
    let mut holder = store.cancel_running(&req, ACK_WAIT / 2).await?;
    if holder.is_none() && store.state(queue, id).await? == Some(JobState::Active) {
        holder = store.cancel_running(&req, ACK_WAIT / 2).await?;
    }
    match holder {
        Some(holder) => Ok(Cancelled::Stopped {
            state: ended(store, queue, id).await,
            holder,
        }),
        None => match store.state(queue, id).await? {
            Some(JobState::Active) => Err(wrong(
                queue,
                id,
                JobState::Active,
                &format!(
                    "no cronq daemon runs it (none acknowledged the cancel within {}): a worker \
                     outside cronq holds it, such as a Node BullMQ worker, which cronq cannot \
                     stop; stop it there, or let it end",
                    humantime::format_duration(ACK_WAIT)
                ),
            )),
            Some(now) => Err(wrong(
                queue,
                id,
                now,
                "it ended before the cancel reached it",
            )),
            None => Err(not_found()),
        },
    }
}

/// The job's state once it leaves `active`, polled until [`END_WAIT`] passes.
async fn ended(store: &Store, queue: &str, id: &str) -> JobState {
    let deadline = tokio::time::Instant::now() + END_WAIT;
    loop {
        match store.state(queue, id).await {
            Ok(Some(JobState::Active)) | Err(_) if tokio::time::Instant::now() < deadline => {}
            Ok(Some(s)) => return s,
            // Removed at once by its retention (`remove_on_fail`).
            Ok(None) => return JobState::Unknown,
            Err(_) => return JobState::Active,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn wrong(queue: &str, id: &str, state: JobState, hint: &str) -> JobOpError {
    JobOpError::WrongState {
        queue: queue.to_string(),
        id: id.to_string(),
        state: state.to_string(),
        hint: hint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_unique_tickets_and_name_who_asked() {
        let a = CancelRequest::new("q", "1", "by the API of worker w1");
        let b = CancelRequest::new("q", "1", "by the API of worker w1");
        assert_ne!(a.ticket, b.ticket);
        assert_eq!(a.reason(), "cancelled on request (by the API of worker w1)");
        let wire = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<CancelRequest>(&wire).unwrap(), a);
        assert!(
            reason(&"x".repeat(10_000)).len() < 230,
            "a forged request's text is cut"
        );
    }
}
