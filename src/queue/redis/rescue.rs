//! A job whose finishing script died half-way, put back into a state.
//!
//! BullMQ's `moveToFinished` deletes the job's lock and takes it out of `active` before it adds
//! it to `completed` (or `failed`); Redis does not roll a script back, so when that last write
//! fails — `completed` holds a string a foreign tool wrote (WRONGTYPE), Redis reached
//! `maxmemory` half-way — the job is left in no state with no lock: no stalled check sees it,
//! nobody retries or fails it, and it is lost even after the key is repaired.
//!
//! So when the hand-back repair (`handback.rs`) finds a suspect's lock gone, it asks this one
//! script whether the job is still anywhere. A job that exists and sits in no state is moved to
//! `failed` with a reason naming the queue and what failed (a retry of it from the dashboard or
//! `worker retry` runs it again once the key is repaired); when `failed` cannot take it either,
//! it goes back to `wait`, to run again: at least once, never lost. A job that is in a state,
//! or whose lock someone holds, is left alone. Runs only on that error path.

use std::sync::LazyLock;

use super::keys::{QueueKeys, STATE_KEYS};
use super::RedisStore;

/// KEYS[1] the job hash, [2] its lock, [3..=10] the [`STATE_KEYS`]: [3] wait, [4] paused,
/// [5] active (lists), [6] prioritized, [7] delayed, [8] completed, [9] failed,
/// [10] waiting-children (zsets); [11] events (stream), [12] marker (zset). ARGV[1] the id, ARGV[2] now (ms), ARGV[3] the reason.
/// Returns 0 (in a state, held, or gone: nothing done), 1 (moved to failed), 2 (back to wait).
/// Reads go through `pcall`: a wrong-typed key is exactly what may be there.
const RESCUE: &str = r#"
local id, now, reason = ARGV[1], ARGV[2], ARGV[3]
if redis.call("EXISTS", KEYS[1]) == 0 or redis.call("EXISTS", KEYS[2]) == 1 then return 0 end
for i = 3, 5 do
  local at = redis.pcall("LPOS", KEYS[i], id)
  if type(at) == "number" then return 0 end
end
for i = 6, 10 do
  local score = redis.pcall("ZSCORE", KEYS[i], id)
  if type(score) == "string" then return 0 end
end
local added = redis.pcall("ZADD", KEYS[9], now, id)
if type(added) == "number" then
  redis.call("HSET", KEYS[1], "failedReason", reason, "finishedOn", now)
  redis.pcall("XADD", KEYS[11], "*", "event", "failed", "jobId", id, "failedReason", reason, "prev", "active")
  return 1
end
local pushed = redis.pcall("RPUSH", KEYS[3], id)
if type(pushed) == "number" then
  redis.pcall("ZADD", KEYS[12], 0, "0")
  redis.pcall("XADD", KEYS[11], "*", "event", "waiting", "jobId", id, "prev", "active")
  return 2
end
return 0
"#;

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RESCUE));

impl RedisStore {
    /// Puts job `id` of `queue` back into a state if its finish died half-way (see the module
    /// doc); `written` is what cronq meant to write (`completed`, a retry, a failure). Logs
    /// what it did; a Redis that does not answer leaves it to the next repair round (`Err`).
    pub(crate) async fn rescue(&self, queue: &str, id: &str, written: &str) -> Result<(), ()> {
        let k = QueueKeys::new(self.prefix(), queue);
        let wrong = self.wrong_keys(queue).await;
        let culprit = match wrong.first() {
            Some((key, seen, want)) => format!(
                "key {key:?} is a {seen} where BullMQ keeps a {want}; rename or delete it, then retry the job"
            ),
            None => "Redis refused the write half-way (see the daemon's log)".to_string(),
        };
        let reason =
            format!("queue {queue}: the job ran but its {written} could not be written: {culprit}");
        let mut conn = self.inner.conn.connection();
        let lock = format!("{id}:lock");
        let keys = [&[id, &lock][..], &STATE_KEYS, &["events", "marker"]].concat();
        let mut inv = k.script(&SCRIPT, &keys);
        inv.arg(id)
            .arg(crate::queue::consumer::now_ms())
            .arg(&reason);
        let done: Result<i64, _> = inv.invoke_async(&mut conn).await;
        match done {
            Ok(0) => {}
            Ok(1) => tracing::error!(queue, job_id = %id.escape_debug(), %reason,
                "the job's finish failed half-way and left it in no state; moved to failed"),
            Ok(_) => tracing::error!(queue, job_id = %id.escape_debug(), %reason,
                "the job's finish failed half-way and left it in no state; failed is unwritable too, so it goes back to wait"),
            Err(e) => {
                tracing::debug!(queue, job_id = %id.escape_debug(), error = %e, "rescue check failed; retrying");
                return Err(());
            }
        }
        Ok(())
    }
}
