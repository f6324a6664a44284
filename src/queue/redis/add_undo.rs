//! An add whose script failed midway (a wrong-typed `events` or `wait` key, OOM after the
//! `HSET`) leaves what it wrote: Redis keeps a script's writes up to the failing command. The
//! job hash is then in Redis but in no state list: invisible to every list, never run, and,
//! with a custom id, it makes every retry of the add a silent no-op (BullMQ sees the id taken).
//!
//! So after a failed add with a custom id, one script of ours removes the hash it left, and
//! only that: the hash must be in no state list (a job anywhere in the queue is kept, whatever
//! the error said) and its `timestamp` must be no older than the add's start (a hash written
//! before this add, e.g. by a foreign producer between its `HSET` and its `LPUSH`, is not ours
//! to remove). One script, so no fetch or move can slip between the check and the `DEL`. An
//! add without a custom id cannot be undone: its id is not known (the 503 says so).

use std::sync::LazyLock;

use super::keys::{QueueKeys, STATE_KEYS};
use super::RedisStore;

/// KEYS[1] the job hash, KEYS[2..=9] the [`STATE_KEYS`]: KEYS[2..=4] wait, paused, active
/// (lists), KEYS[5..=9] prioritized, delayed, completed, failed, waiting-children (sorted
/// sets). ARGV[1] the id, ARGV[2] the add's start (ms). Returns 1 when the hash was removed, 0 when it was kept or absent.
const UNDO: &str = r#"
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
for i = 2, 4 do
  if redis.call("TYPE", KEYS[i]).ok == "list" and redis.call("LPOS", KEYS[i], ARGV[1]) then
    return 0
  end
end
for i = 5, 9 do
  if redis.call("TYPE", KEYS[i]).ok == "zset" and redis.call("ZSCORE", KEYS[i], ARGV[1]) then
    return 0
  end
end
local ts = tonumber(redis.call("HGET", KEYS[1], "timestamp"))
if not ts or ts < tonumber(ARGV[2]) then return 0 end
redis.call("DEL", KEYS[1])
return 1
"#;

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(UNDO));

impl RedisStore {
    /// Removes the hash of job `id` of `queue` that a failed add started at `started_ms` left
    /// in no state list. Best effort: when this fails too, the hash stays (the API's answer
    /// still says the job is not in the queue) and the failure is logged.
    pub(crate) async fn undo_failed_add(&self, queue: &str, id: &str, started_ms: u64) {
        let k = QueueKeys::new(self.prefix(), queue);
        let mut conn = self.inner.conn.connection();
        let mut inv = k.script(&SCRIPT, &[&[id][..], &STATE_KEYS].concat());
        let done: Result<i64, _> = inv.arg(id).arg(started_ms).invoke_async(&mut conn).await;
        match done {
            Ok(1) => tracing::warn!(queue, job_id = %id.escape_debug(),
                "the add failed after writing the job's hash; the hash, in no list, is removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(queue, job_id = %id.escape_debug(), error = %e,
                "the add failed after writing the job's hash, and removing that hash failed too; \
                 it stays in Redis in no list until removed by hand"),
        }
    }
}
