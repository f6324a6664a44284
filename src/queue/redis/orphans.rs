//! Jobs this consumer fetched without knowing it: a fetch (`moveToActive`, or the fetch chained
//! onto a finish) that Redis ran and made durable, but whose reply was lost because Redis died
//! before sending it. The job sits in `active` with a lock token of this engine worker that no
//! code in this process holds, so nobody runs it or renews the lock, and it waited for lock
//! expiry plus stalled checks (seen about once in 100 runs of the Redis-restart test).
//!
//! After an engine error, once Redis answers again, [`ORPHANS`] lists `active` jobs locked with
//! this worker's token prefix that this process does not hold (inside `run_one`, or handed back
//! with the engine's write pending), and whose lock is older
//! than [`MIN_AGE`] (a fetch whose reply is on its way is milliseconds from `run_one`; a lock
//! nobody renews only ages). Each goes back to `wait` with its token (`moveJobFromActiveToWait`,
//! token-checked, no attempt counted: it never ran).

use std::collections::HashSet;
use std::time::Duration;

use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::error::Error;
use crate::queue::script_keys;

/// How much older than a fresh fetch a lock must be to count as orphaned.
pub(crate) const MIN_AGE: Duration = Duration::from_secs(2);

/// Lists orphaned `active` jobs (read-only).
///
/// KEYS[1] active list
/// ARGV[1] the queue's key prefix (`<prefix>:<queue>:`), ARGV[2] this worker's token prefix
/// (`<engine worker id>:`), ARGV[3] the largest lock PTTL (ms) an orphan can have,
/// ARGV[4..] ids this process holds.
/// Returns id, token, id, token, …
const ORPHANS: &str = r#"
local running = {}
for i = 4, #ARGV do running[ARGV[i]] = true end
local out = {}
for _, id in ipairs(redis.call("LRANGE", KEYS[1], 0, -1)) do
  if not running[id] then
    local lock = ARGV[1] .. id .. ":lock"
    local token = redis.call("GET", lock)
    if token and string.sub(token, 1, #ARGV[2]) == ARGV[2] then
      local ttl = redis.call("PTTL", lock)
      if ttl >= 0 and ttl <= tonumber(ARGV[3]) then
        table.insert(out, id)
        table.insert(out, token)
      end
    end
  end
end
return out
"#;

/// Moves `queue`'s orphans of engine worker `engine_id` back to `wait`; returns their ids.
pub(crate) async fn release(
    store: &RedisStore,
    queue: &str,
    engine_id: &str,
    running: &HashSet<String>,
    lock_duration: Duration,
) -> Result<Vec<String>, Error> {
    let keys = QueueKeys::new(store.prefix(), queue);
    let max_ttl = lock_duration.saturating_sub(MIN_AGE).as_millis() as u64;
    static SCRIPT: std::sync::LazyLock<redis::Script> =
        std::sync::LazyLock::new(|| redis::Script::new(ORPHANS));
    let mut call = keys.script(&SCRIPT, &["active"]);
    call.arg(keys.key(""))
        .arg(format!("{engine_id}:"))
        .arg(max_ttl);
    for id in running {
        call.arg(id);
    }
    let mut conn = store.inner.conn.connection();
    let found: Vec<String> = script_keys::invoke(&call, &mut conn, queue).await?;
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let handle = store.queue(queue).await?;
    let mut moved = Vec::new();
    for pair in found.chunks_exact(2) {
        let (id, token) = (&pair[0], &pair[1]);
        let Some(job) = handle
            .get_job(id)
            .await
            .map_err(|e| Error::engine(queue, e))?
        else {
            continue;
        };
        // Token-checked: a lock that changed hands since the listing is left alone.
        if job.move_to_wait(Some(token)).await.is_ok() {
            moved.push(id.clone());
        }
    }
    Ok(moved)
}
