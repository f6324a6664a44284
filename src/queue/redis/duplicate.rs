//! A job id present more than once in `wait` (a foreign producer's double `LPUSH`, a repair by
//! hand) is fetched once per copy, and BullMQ's `moveToActive` locks it each time, the second
//! lock overwriting the first: the job ran once per copy, concurrently, and came back later
//! through stalled recovery, since the first run's lock was no longer its own.
//!
//! So a fetched id that this consumer is already running is not run again. One script of ours
//! removes the second copy from `active` and gives the lock back to the first run's token
//! (only while it holds the second fetch's token: anything else means the lock moved on).
//! The second copy then waits, holding its slot, until the first run leaves `run_one`: the
//! engine keys its lock renewals by job id, and dropping the copy's entry early would stop the
//! first run's renewals too. Another daemon fetching the second copy is not caught here (each
//! consumer knows only its own runs): `run_claim.rs` catches it through a claim key in Redis.
//! Tests: `run_claim_tests.rs`.

use std::sync::LazyLock;

use super::keys::QueueKeys;
use super::RedisStore;

/// KEYS[1] active, KEYS[2] the job's lock. ARGV[1] the id, ARGV[2] the second fetch's token,
/// ARGV[3] the first run's token, ARGV[4] the lock duration (ms). Returns 1 when the copy was
/// removed from `active` (and the lock given back, if it was the second fetch's); 0, touching
/// nothing, when `active` holds the id once: the first run let the job go already (a fair
/// group parked it and it was put back), so this fetch holds its only copy.
const DROP: &str = r#"
if #redis.call("LPOS", KEYS[1], ARGV[1], "COUNT", 0) < 2 then return 0 end
redis.call("LREM", KEYS[1], 1, ARGV[1])
if redis.call("GET", KEYS[2]) == ARGV[2] then
  redis.call("SET", KEYS[2], ARGV[3], "PX", ARGV[4])
end
return 1
"#;

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(DROP));

impl RedisStore {
    /// Drops the second copy of job `id` of `queue` (fetched with `token`) while the first
    /// (fetched with `first`) runs here; logs it. `false` when it was no copy: the first run
    /// let the job go and this fetch holds its only copy (see [`DROP`]).
    pub(crate) async fn drop_duplicate(
        &self,
        queue: &str,
        id: &str,
        token: &str,
        first: &str,
        lock_ms: u64,
    ) -> bool {
        let k = QueueKeys::new(self.prefix(), queue);
        let mut conn = self.inner.conn.connection();
        let mut inv = k.script(&SCRIPT, &["active", &format!("{id}:lock")]);
        inv.arg(id).arg(token).arg(first).arg(lock_ms);
        let done: Result<i64, _> = inv.invoke_async(&mut conn).await;
        match done {
            Ok(0) => return false,
            Ok(_) => tracing::warn!(queue, job_id = %id.escape_debug(),
                "the job's id was in wait more than once and is already running here; \
                 the second copy is dropped, not run"),
            Err(e) => tracing::warn!(queue, job_id = %id.escape_debug(), error = %e,
                "a second copy of a running job was fetched and could not be dropped; not running it"),
        }
        true
    }
}
