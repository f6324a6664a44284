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

#[cfg(test)]
mod tests {
    use redis::AsyncCommands;

    use super::super::keys::QueueKeys;
    use crate::queue::redis::test_server::{connect, Redis};

    #[tokio::test]
    async fn a_second_copy_is_dropped_but_a_refetch_of_a_job_let_go_is_not() {
        let redis = Redis::start();
        let store = connect(redis.1).await;
        let k = QueueKeys::new(store.prefix(), "q");
        let mut conn = store.inner.conn.connection();
        // Two copies in active, the second fetch's token over the lock: a copy.
        let _: () = conn.rpush(k.active(), &["5", "5"]).await.unwrap();
        let _: () = conn.set(k.lock("5"), "second").await.unwrap();
        assert!(
            store
                .drop_duplicate("q", "5", "second", "first", 30_000)
                .await
        );
        let active: Vec<String> = conn.lrange(k.active(), 0, -1).await.unwrap();
        assert_eq!(active, ["5"]);
        let lock: String = conn.get(k.lock("5")).await.unwrap();
        assert_eq!(lock, "first", "the lock is the first run's again");
        // One copy: the first run parked the job and it was fetched again (before, this
        // removed the job's only copy from active, and the job was in no list at all).
        let _: () = conn.rpush(k.active(), "6").await.unwrap();
        let _: () = conn.set(k.lock("6"), "second").await.unwrap();
        assert!(
            !store
                .drop_duplicate("q", "6", "second", "first", 30_000)
                .await
        );
        let active: Vec<String> = conn.lrange(k.active(), 0, -1).await.unwrap();
        assert_eq!(active, ["5", "6"], "the only copy stays");
        let lock: String = conn.get(k.lock("6")).await.unwrap();
        assert_eq!(lock, "second");
    }
}
