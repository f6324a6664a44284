//! An id present twice in `wait` can be fetched by two daemons, one copy each. BullMQ's
//! `moveToActive` then locks the job twice, the second lock overwriting the first, and both
//! daemons run it (`duplicate.rs` only catches the second copy in the daemon running the
//! first). The engine's scripts stay the only implementation of BullMQ's transitions; this file
//! adds one key of ours beside them: `<job key>:claim`, holding `<attemptsMade>:<token>` of the
//! run that owns the job's current attempt.
//!
//! Each fetched run claims it (one script, so two daemons cannot both win). A run finding a
//! live claim of the same attempt by another token, while `active` holds the id more than once,
//! is a duplicate copy: the script removes that copy from `active`, gives the job's lock back
//! to the owner's token (the second `moveToActive` overwrote it) and the daemon drops the run
//! without finishing or failing the job; no attempt is counted (`attemptsMade` is untouched).
//! With a single copy in `active` the claim is stale (its owner died and stalled recovery moved
//! the job back): the run takes it over, so a claim can never lose the only copy of a job. A
//! claim of an earlier attempt (a retry) is taken over too.
//!
//! A copy fetched after the job finished (it is in `completed` or `failed`) is dropped the same
//! way. The owner renews the claim with the lock duration while it runs ([`RunClaim`]'s task);
//! when the run ends the claim is left to expire, not removed: the engine writes the finish
//! after `run_one` returns, and a copy fetched in between must still find the claim. A crashed
//! owner's claim expires with its lock.

use std::sync::LazyLock;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::keys::QueueKeys;
use super::RedisStore;

/// KEYS[1] the claim, KEYS[2] active, KEYS[3] the job's lock, KEYS[4] completed, KEYS[5]
/// failed. ARGV[1] the id, ARGV[2] attemptsMade, ARGV[3] this run's token, ARGV[4] the lock
/// duration (ms). Returns 1 when this run owns the attempt, 0 when it was a duplicate copy
/// (removed from `active`).
const CLAIM: &str = r#"
local mine = ARGV[2] .. ":" .. ARGV[3]
if redis.call("ZSCORE", KEYS[4], ARGV[1]) or redis.call("ZSCORE", KEYS[5], ARGV[1]) then
  -- Finished already: this copy is what is left of a duplicate id.
  redis.call("LREM", KEYS[2], 1, ARGV[1])
  if redis.call("GET", KEYS[3]) == ARGV[3] then redis.call("DEL", KEYS[3]) end
  return 0
end
local cur = redis.call("GET", KEYS[1])
if cur and cur ~= mine then
  local atm, owner = string.match(cur, "^(%d+):(.*)$")
  if atm == ARGV[2] and #redis.call("LPOS", KEYS[2], ARGV[1], "COUNT", 0) > 1 then
    redis.call("LREM", KEYS[2], 1, ARGV[1])
    if redis.call("GET", KEYS[3]) == ARGV[3] then
      redis.call("SET", KEYS[3], owner, "PX", ARGV[4])
    end
    return 0
  end
end
redis.call("SET", KEYS[1], mine, "PX", ARGV[4])
return 1
"#;

/// KEYS[1] the claim. ARGV[1] `<attemptsMade>:<token>`, ARGV[2] ms: renews the claim while it
/// is still this run's.
const KEEP: &str = r#"
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call("PEXPIRE", KEYS[1], ARGV[2])
"#;

static CLAIM_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(CLAIM));
static KEEP_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(KEEP));

/// A run's claim on its job's attempt. Held by `run_one` for the run; its renewal task is the
/// other end, aborted on drop (the claim then expires within the lock duration).
pub(crate) struct RunClaim {
    renew: JoinHandle<()>,
}

impl Drop for RunClaim {
    fn drop(&mut self) {
        self.renew.abort();
    }
}

async fn keep(store: &RedisStore, key: &str, value: &str, ms: u64) -> redis::RedisResult<i64> {
    let mut conn = store.inner.conn.connection();
    KEEP_SCRIPT
        .key(key)
        .arg(value)
        .arg(ms)
        .invoke_async(&mut conn)
        .await
}

impl RedisStore {
    /// Claims the run of job `id` (fetched with `token`, `attempts_made` finished attempts).
    /// `Ok(Some)`: this run owns the attempt; `Ok(None)`: it was a duplicate copy another
    /// daemon runs, already removed from `active`, not to run. A Redis error is returned for
    /// the caller to run the job anyway (as before this guard).
    pub(crate) async fn claim_run(
        &self,
        queue: &str,
        id: &str,
        token: &str,
        attempts_made: u64,
        lock: Duration,
    ) -> redis::RedisResult<Option<RunClaim>> {
        let k = QueueKeys::new(self.prefix(), queue);
        let key = format!("{}:claim", k.job(id));
        let value = format!("{attempts_made}:{token}");
        let ms = lock.as_millis().max(1) as u64;
        let mut conn = self.inner.conn.connection();
        let won: i64 = CLAIM_SCRIPT
            .key(&key)
            .key(k.active())
            .key(k.lock(id))
            .key(k.completed())
            .key(k.failed())
            .arg(id)
            .arg(attempts_made)
            .arg(token)
            .arg(ms)
            .invoke_async(&mut conn)
            .await?;
        if won == 0 {
            tracing::warn!(queue, job_id = %id.escape_debug(),
                "the job's id was in wait more than once and another daemon runs this attempt; \
                 this copy is dropped, not run");
            return Ok(None);
        }
        // Renewed like the engine renews the lock, twice per duration.
        let renew = tokio::spawn({
            let store = self.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(ms / 2)).await;
                    let _ = keep(&store, &key, &value, ms).await;
                }
            }
        });
        Ok(Some(RunClaim { renew }))
    }
}
