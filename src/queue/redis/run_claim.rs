//! An id present twice in `wait` can be fetched by two daemons, one copy each. BullMQ's
//! `moveToActive` then locks the job twice, the second lock overwriting the first, and both
//! daemons run it (`duplicate.rs` only catches the second copy in the daemon running the
//! first). The engine's scripts stay the only implementation of BullMQ's transitions; this file
//! adds one key of ours beside them: `<job key>:claim`, holding `<attemptsMade>:<token>` of the
//! run that owns the job's current attempt, or `copy:<token>` (below).
//!
//! **The common case writes nothing.** A run fetched first in its attempt (BullMQ's
//! `moveToActive` counts fetches in `ats`, finishes in `atm`: `ats == atm + 1` and no
//! `finishedOn`) cannot be a second copy of that attempt, so it starts at once and claims
//! nothing: an awaited claim was a round trip before every job, and no-op jobs ran a third
//! slower for it at concurrency 1 (BENCHMARKS.md). A later copy of that attempt finds the id twice in `active` and
//! no claim of the attempt ([`CLAIM`]): it removes itself from `active` and, since its
//! `moveToActive` overwrote the owner's lock, marks the claim `copy:<its token>`: the lock
//! holds the token of a run that will never run. The owner takes its lock back from a marked
//! copy ([`OWN`]), either
//! - when its finish fails on the lock (a short run): the hand-back repair (`handback.rs`)
//!   runs [`OWN`], then writes the outcome with the owner's token; or
//! - after [`LATE`] of the lock duration still running (a long run), before the engine's first
//!   lock renewal: it then also writes its claim and renews it, so a copy fetched later gives
//!   the lock back at once, as below.
//!
//! [`OWN`] only takes a lock back from a marked copy, never from a run that took the attempt
//! over (a stalled job's restart, a hand-back's refetch): claiming late cannot steal a job.
//!
//! **Every other fetch waits for [`CLAIM`]** (one script, so two daemons cannot both win): a
//! stalled job's restart, a refetch after a hand-back, a copy. Finding a live claim of the same
//! attempt by another token while `active` holds the id more than once, it is a duplicate copy:
//! it removes itself from `active`, gives the job's lock back to the claim's owner and is
//! dropped without finishing or failing the job; no attempt is counted. With a single copy in
//! `active` any claim is stale (its owner died or handed the job back): the run takes it over,
//! so a claim can never lose the only copy of a job. A copy fetched after the job finished
//! (it is in `completed` or `failed`) is dropped the same way.
//!
//! A claim is renewed with the lock duration while its run lasts ([`RunClaim`]); when the run
//! ends it is left to expire, not removed: the engine writes the finish after `run_one`
//! returns, and a copy fetched in between must still find it.

use std::convert::Infallible;
use std::sync::LazyLock;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::keys::QueueKeys;
use super::RedisStore;

/// A first-fetched run still running claims after `lock / LATE` (a quarter of its lock; see the
/// module's note): before the engine's first lock renewal, at half the lock, which would fail
/// while a copy's token holds the lock.
const LATE: u32 = 4;

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
if cur ~= mine and #redis.call("LPOS", KEYS[2], ARGV[1], "COUNT", 0) > 1 then
  redis.call("LREM", KEYS[2], 1, ARGV[1])
  if redis.call("GET", KEYS[3]) == ARGV[3] then
    local atm, owner = string.match(cur or "", "^(%d+):(.*)$")
    if atm == ARGV[2] then
      -- The owner's claim names it: its lock back at once.
      redis.call("SET", KEYS[3], owner, "PX", ARGV[4])
    else
      -- The owner runs unclaimed (its attempt's first fetch): it takes the lock back (OWN).
      redis.call("SET", KEYS[1], "copy:" .. ARGV[3], "PX", ARGV[4])
    end
  end
  return 0
end
redis.call("SET", KEYS[1], mine, "PX", ARGV[4])
return 1
"#;

/// An unclaimed owner's claim. KEYS[1] the claim, KEYS[2] the job's lock. ARGV[1]
/// `<attemptsMade>:<token>`, ARGV[2] the token, ARGV[3] the lock duration (ms). Takes the lock
/// back from a marked copy only; returns 1 with the lock and the claim this run's, 0 when the
/// lock is another's (the job was taken over, finished, or lost to stalled recovery).
const OWN: &str = r#"
local cur = redis.call("GET", KEYS[1])
local lock = redis.call("GET", KEYS[2])
if cur and cur ~= ARGV[1] and lock and cur == "copy:" .. lock then
  redis.call("SET", KEYS[2], ARGV[2], "PX", ARGV[3])
  lock = ARGV[2]
end
if lock ~= ARGV[2] then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[3])
return 1
"#;

/// KEYS[1] the claim. ARGV[1] `<attemptsMade>:<token>`, ARGV[2] ms: renews the claim while it
/// is still this run's.
const KEEP: &str = r#"
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call("PEXPIRE", KEYS[1], ARGV[2])
"#;

static CLAIM_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(CLAIM));
static OWN_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(OWN));
static KEEP_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(KEEP));

/// One fetched run of a job: the attempt it runs, as every claim script takes it.
pub(crate) struct Attempt<'a> {
    pub(crate) queue: &'a str,
    pub(crate) id: &'a str,
    /// The fetch's lock token.
    pub(crate) token: &'a str,
    /// Attempts finished before this one (`atm`).
    pub(crate) made: u64,
}

impl Attempt<'_> {
    fn claim_key(&self, store: &RedisStore) -> String {
        format!(
            "{}:claim",
            QueueKeys::new(store.prefix(), self.queue).job(self.id)
        )
    }

    /// The claim's value: `<attemptsMade>:<token>` (the group script drops it with a parked job).
    pub(crate) fn value(&self) -> String {
        format!("{}:{}", self.made, self.token)
    }
}

/// A run's claim on its job's attempt. Held by `run_one` for the run; its renewal task is the
/// other end, aborted on drop (the claim then expires within the lock duration).
pub(crate) struct RunClaim {
    renew: JoinHandle<Infallible>,
}

impl Drop for RunClaim {
    fn drop(&mut self) {
        self.renew.abort();
    }
}

/// Renews `key` while it holds `value`, twice per lock duration (as the engine renews locks).
async fn renew(store: RedisStore, key: String, value: String, ms: u64) -> Infallible {
    loop {
        tokio::time::sleep(Duration::from_millis(ms / 2)).await;
        let _ = keep(&store, &key, &value, ms).await;
    }
}

/// Whether the engine's fetch was the first of its attempt (see the module's note).
pub(crate) fn first_fetch(job: &bullmq::Job) -> bool {
    job.finished_on().is_none() && job.attempts_started() == job.attempts_made().saturating_add(1)
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
    /// Claims `run` (a fetch other than its attempt's first). `Ok(Some)`: this run owns the
    /// attempt; `Ok(None)`: it was a duplicate copy another daemon runs, already removed from
    /// `active`, not to run. A Redis error is returned for the caller to run the job anyway
    /// (as before this guard).
    pub(crate) async fn claim_run(
        &self,
        run: &Attempt<'_>,
        lock: Duration,
    ) -> redis::RedisResult<Option<RunClaim>> {
        let k = QueueKeys::new(self.prefix(), run.queue);
        let (key, value) = (run.claim_key(self), run.value());
        let ms = lock.as_millis().max(1) as u64;
        let mut conn = self.inner.conn.connection();
        let won: i64 = CLAIM_SCRIPT
            .key(&key)
            .key(k.active())
            .key(k.lock(run.id))
            .key(k.completed())
            .key(k.failed())
            .arg(run.id)
            .arg(run.made)
            .arg(run.token)
            .arg(ms)
            .invoke_async(&mut conn)
            .await?;
        if won == 0 {
            tracing::warn!(queue = run.queue, job_id = %run.id.escape_debug(),
                "the job's id was in wait more than once and another daemon runs this attempt; \
                 this copy is dropped, not run");
            return Ok(None);
        }
        let renew = tokio::spawn(renew(self.clone(), key, value, ms));
        Ok(Some(RunClaim { renew }))
    }

    /// The claim of an unclaimed owner (its attempt's first fetch): [`OWN`]. `Ok(true)`: the
    /// lock and the claim are this run's (taken back from a marked copy if need be).
    pub(crate) async fn own_run(
        &self,
        run: &Attempt<'_>,
        lock: Duration,
    ) -> redis::RedisResult<bool> {
        let k = QueueKeys::new(self.prefix(), run.queue);
        let mut conn = self.inner.conn.connection();
        let owned: i64 = OWN_SCRIPT
            .key(run.claim_key(self))
            .key(k.lock(run.id))
            .arg(run.value())
            .arg(run.token)
            .arg(lock.as_millis().max(1) as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(owned == 1)
    }

    /// For a first-fetched run, polled beside it by `run_one` and dropped when it ends: after
    /// a quarter of the lock, [`OWN`], then the claim's renewal. Never returns (`Infallible`).
    pub(crate) async fn own_late(&self, run: &Attempt<'_>, lock: Duration) -> Infallible {
        tokio::time::sleep(lock / LATE).await;
        let (queue, id) = (run.queue, run.id);
        match self.own_run(run, lock).await {
            Ok(true) => {}
            Ok(false) => {
                // Not ours any more: the engine's finish will fail on the lock and the hand-back
                // repair decides (handback.rs); nothing to renew.
                tracing::debug!(queue, job_id = %id.escape_debug(), "the run's lock is another's");
                return std::future::pending().await;
            }
            Err(e) => {
                // As when CLAIM fails: the run goes on unguarded against copies.
                tracing::debug!(queue, job_id = %id.escape_debug(), error = %e, "run not claimed");
                return std::future::pending().await;
            }
        }
        let ms = lock.as_millis().max(1) as u64;
        renew(self.clone(), run.claim_key(self), run.value(), ms).await
    }
}

#[cfg(test)]
#[path = "run_claim_tests.rs"]
mod tests;
