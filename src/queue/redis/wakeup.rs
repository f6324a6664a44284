//! What an idle consumer costs Redis, and how it is kept low (issue 18).
//!
//! The engine's fetch loop, on an empty queue, blocks on the queue's marker (`BZPOPMIN`) for
//! the drain delay, then runs `moveToActive` (one script call, six commands inside it) and
//! blocks again. At a 2 s block that was 4 commands a second for 4 queues, 2.4× BullMQ's Node
//! Workers (5 s). A marker wakes the block at once, so a longer block costs no start latency
//! (a job a producer adds starts within milliseconds, a delayed job's marker carries its due
//! time); it only delayed `close`, which waited for the block to end. So:
//! - the block is [`IDLE_BLOCK`], and `close` ends it at once with [`wake`];
//! - the quarantine sweep and the stalled check run their scripts only when a queue has
//!   something in `active`, `stalled` or `delayed` (`stalled.rs`: one `EXISTS` for every queue).

use std::time::Duration;

use super::keys::QueueKeys;
use super::RedisStore;

/// How long an idle fetch loop blocks on the marker before it looks again. A producer's marker
/// ends the block early (a delayed job's marker too, and the engine caps the wait for a known
/// delayed job at 5 s; pause/resume write or remove the marker), so this bounds only:
/// - the fetch a lost marker would need (a producer that wrote a job without one), like Node's
///   `drainDelay` (5 s) does;
/// - how long a blocking connection that died silently (no reset) goes unnoticed: the engine's
///   watchdog rebuilds it after the block plus 1 s;
/// - how long the connection sends nothing: managed Redis proxies and NAT gateways drop
///   connections idle for 5 min or more (350 s on AWS), so it stays well under that.
///
/// Each idle wake costs a queue about ten commands (`BZPOPMIN`, the `moveToActive` script and
/// what runs inside it, the engine's `CLIENT SETNAME` check). At 30 s that was 40 of an idle
/// 4-queue daemon's commands per 30 s; at 4 min it is 5.
pub(crate) const IDLE_BLOCK: Duration = Duration::from_secs(240);

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
