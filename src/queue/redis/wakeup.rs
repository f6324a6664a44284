//! What an idle consumer costs Redis, and how it is kept low (issue 18).
//!
//! The engine's fetch loop, on an empty queue, blocks on the queue's marker (`BZPOPMIN`) for
//! the drain delay, then runs `moveToActive` (one script call, six commands inside it) and
//! blocks again. At a 2 s block that was 4 commands a second for 4 queues, 2.4× BullMQ's Node
//! Workers (5 s). A marker wakes the block at once, so a longer block costs no start latency
//! (a job a producer adds starts within milliseconds, a delayed job's marker carries its due
//! time); it only delayed `close`, which waited for the block to end. So:
//! - the block is [`IDLE_BLOCK`], and `close` ends it at once with [`wake`];
//! - the quarantine sweep runs its script only when the queue has something in `active` or
//!   `delayed` ([`nothing_to_sweep`], one `EXISTS`).

use std::time::Duration;

use super::keys::QueueKeys;
use super::RedisStore;

/// How long an idle fetch loop blocks on the marker before it looks again. A producer's marker
/// ends the block early, so this bounds only the fetch a lost marker would need (a producer
/// that wrote a job without one), like Node's `drainDelay` (5 s) does.
pub(crate) const IDLE_BLOCK: Duration = Duration::from_secs(30);

/// Ends the idle block of every fetch loop of `queue` (this process's, and any other worker's
/// once: its fetch then finds nothing and blocks again) with a marker, as a producer's job
/// would. Called after `close` set its closing flag, so the loop exits instead of blocking
/// again. Best effort: without Redis the block fails on its own.
pub(crate) async fn wake(store: &RedisStore, queue: &str) {
    let marker = QueueKeys::new(store.prefix(), queue).marker();
    let res: Result<i64, _> = store
        .inner
        .conn
        .cmd(redis::cmd("ZADD").arg(&marker).arg(0).arg("0"))
        .await;
    if let Err(e) = res {
        tracing::debug!(queue, error = %e, "could not wake the idle fetch loop");
    }
}

/// Whether `queue` has nothing the quarantine sweep could find (`active` and `delayed` both
/// empty): one `EXISTS` instead of a script call. An error answers false (sweep as before).
pub(crate) async fn nothing_to_sweep(store: &RedisStore, queue: &str) -> bool {
    let keys = QueueKeys::new(store.prefix(), queue);
    let res: Result<i64, _> = store
        .inner
        .conn
        .cmd(redis::cmd("EXISTS").arg(keys.active()).arg(keys.delayed()))
        .await;
    matches!(res, Ok(0))
}
