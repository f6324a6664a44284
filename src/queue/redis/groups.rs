//! Fair groups on BullMQ's layout (issue 30 point 3; the policy is `queue/groups.rs`).
//!
//! The engine fetches with BullMQ's own scripts, and cronq writes no copy of BullMQ's
//! transitions, so a group is checked after the fetch, before the handler runs, by one script
//! of ours ([`ADMIT`]). Our keys live under the queue's prefix (BullMQ never reads them):
//! - `B cronq:groups:<g>:running`: ZSET of the group's running job ids → lease expiry (ms).
//!   A crashed daemon's entries expire with the lease (the lock duration), which the run renews
//!   while it lasts ([`Slot`]); the run removes its entry when it ends.
//! - `B cronq:groups:<g>:parked`: LIST (FIFO) of the group's jobs set aside while it was full.
//! - `B cronq:groups:<g>:rate`: the group's starts in its current rate window (expires with it).
//! - `B cronq:group-index:parked` and `…:running`: SETs of the groups with parked / running
//!   jobs (for the sweep and the counts).
//!
//! A fetched job whose group has room (and a rate token) is added to its running set and runs.
//! One whose group is full is *parked*: removed from `active`, its lock dropped (only while it
//! is still this fetch's token), its id pushed on the group's parked list; the run ends without
//! finishing the job and without counting an attempt (`attemptsMade` is untouched, as for
//! `run_claim.rs`'s dropped copies). A job is thus always in `wait`, `active` or parked: a crash
//! between two steps cannot lose it (each step is one atomic script).
//!
//! Put back (`group_release.rs`): when a job of group g ends, any outcome, its entry goes and as many
//! of g's parked jobs as g has room for return to the *back* of `wait` (LPUSH, where producers
//! add; a prioritized job to `prioritized` with its priority), with the marker so an idle queue
//! wakes. The back, not the front: the freed slot goes to whatever waits already (another
//! group's job), and g's next job takes its turn behind it. That is the round-robin: one
//! group's backlog never runs ahead of another group's single job. Every consumer of a grouped
//! queue also sweeps every parked group at start, every `stalled_interval`, and when a rate
//! window it parked a job for is over (`group_release.rs`): nothing stays parked after the daemon that
//! would have put it back died.
//!
//! What this costs: nothing for a queue with no group setting (`run_one` calls none of this).
//! A grouped job: one script before it runs, one after (and a lease renewal per half lock
//! duration of a long run). A parked job: one fetch and one script, then one put-back.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::consumer::now_ms;
use crate::queue::groups::GroupPolicy;

/// The keys of one queue's groups (the one place they are named).
pub(crate) struct GroupKeys {
    /// `B cronq:groups`: each group's keys are `<base>:<g>:<what>` (the release script builds
    /// them from it too).
    pub(super) base: String,
    /// `B cronq:group-index:`: outside `<base>:`, so no group's name can make an index's key.
    index: String,
}

impl GroupKeys {
    pub(crate) fn new(prefix: &str, queue: &str) -> GroupKeys {
        let k = QueueKeys::new(prefix, queue);
        GroupKeys {
            base: k.key("cronq:groups"),
            index: k.key("cronq:group-index:"),
        }
    }

    /// SET of groups with parked jobs.
    pub(crate) fn index(&self) -> String {
        format!("{}parked", self.index)
    }

    /// SET of groups with running jobs (for the counts and the sweep).
    pub(crate) fn running_index(&self) -> String {
        format!("{}running", self.index)
    }

    fn group(&self, g: &str, what: &str) -> String {
        format!("{}:{g}:{what}", self.base)
    }

    /// ZSET of group `g`'s running ids → lease expiry (ms).
    pub(crate) fn running(&self, g: &str) -> String {
        self.group(g, "running")
    }

    /// LIST of group `g`'s parked ids, oldest first.
    pub(crate) fn parked(&self, g: &str) -> String {
        self.group(g, "parked")
    }

    /// Group `g`'s starts in its rate window.
    pub(crate) fn rate(&self, g: &str) -> String {
        self.group(g, "rate")
    }
}

/// KEYS[1] running, KEYS[2] parked, KEYS[3] the index, KEYS[4] active, KEYS[5] the job's lock,
/// KEYS[6] rate, KEYS[7] stalled, KEYS[8] the run's claim (`run_claim.rs`), KEYS[9] the
/// running index, KEYS[10] the job hash.
/// ARGV[1] id, ARGV[2] the fetch's token, ARGV[3] now (ms), ARGV[4] lease (ms), ARGV[5] the
/// group cap (0: none), ARGV[6] starts per window (0: no rate), ARGV[7] the window (ms),
/// ARGV[8] the group, ARGV[9] the claim's value.
/// Returns {1, 0}: run it; {0, ms}: parked (ms > 0: the rate window ends in ms); {-1, 0}: the
/// lock is not this fetch's any more (do not run it, touch nothing).
const ADMIT: &str = r#"
local now = tonumber(ARGV[3])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
if redis.call("ZSCORE", KEYS[1], ARGV[1]) then
  -- Counted already (fetched again after a stall): keep its place.
  redis.call("ZADD", KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
  return {1, 0}
end
local cap, rmax = tonumber(ARGV[5]), tonumber(ARGV[6])
local room = cap == 0 or redis.call("ZCARD", KEYS[1]) < cap
local wait = 0
if room and rmax > 0 and tonumber(redis.call("GET", KEYS[6]) or "0") >= rmax then
  room = false
  wait = redis.call("PTTL", KEYS[6])
  if wait <= 0 then wait = tonumber(ARGV[7]) end
end
if room then
  redis.call("ZADD", KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
  redis.call("SADD", KEYS[9], ARGV[8])
  if rmax > 0 and redis.call("INCR", KEYS[6]) == 1 then
    redis.call("PEXPIRE", KEYS[6], ARGV[7])
  end
  return {1, 0}
end
if redis.call("GET", KEYS[5]) ~= ARGV[2] then return {-1, 0} end
redis.call("LREM", KEYS[4], -1, ARGV[1])
redis.call("DEL", KEYS[5])
redis.call("SREM", KEYS[7], ARGV[1])
if redis.call("GET", KEYS[8]) == ARGV[9] then redis.call("DEL", KEYS[8]) end
-- The fetch counted a start (`ats`); a parked job did not start.
if (tonumber(redis.call("HGET", KEYS[10], "ats")) or 0) > 0 then
  redis.call("HINCRBY", KEYS[10], "ats", -1)
end
redis.call("RPUSH", KEYS[2], ARGV[1])
redis.call("SADD", KEYS[3], ARGV[8])
return {0, wait}
"#;

/// KEYS[1] running. ARGV[1] id, ARGV[2] the new expiry (ms): renews a running job's lease.
const RENEW: &str = r#"return redis.call("ZADD", KEYS[1], "XX", "CH", ARGV[2], ARGV[1])"#;

static ADMIT_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(ADMIT));
static RENEW_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RENEW));

/// What [`RedisStore::admit`] decided.
pub(crate) enum Admission {
    /// Run it; the slot is held until dropped/ended.
    Run(Slot),
    /// Parked (or no longer this fetch's): do not run it, the engine touches it no further.
    SetAside,
}

/// A running job's place in its group. Held by `run_one` for the run; its renewal task is the
/// other end, aborted on drop. `RedisStore::end_slot` frees the place and puts parked jobs back; a
/// slot dropped without it (a panic) leaves its entry to expire with the lease.
pub(crate) struct Slot {
    group: String,
    renew: JoinHandle<()>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.renew.abort();
    }
}

/// A grouped queue's consumer-wide state: its policy and the sweep's wake-up (`group_release.rs`). Shared by
/// `run_one` (every job) and the sweep task (`consumer.rs`).
pub(crate) struct GroupRun {
    pub(crate) policy: GroupPolicy,
    /// Earliest end of a rate window a job was parked for; the sweep task sleeps until it.
    pub(super) next: Mutex<Option<Instant>>,
    /// Notified when `next` moves earlier; awaited by the sweep task only.
    pub(super) wake: Notify,
}

impl GroupRun {
    pub(crate) fn new(policy: GroupPolicy) -> Arc<GroupRun> {
        Arc::new(GroupRun {
            policy,
            next: Mutex::new(None),
            wake: Notify::new(),
        })
    }

    /// Asks for a sweep in `ms` (a rate window ends then).
    fn sweep_in(&self, ms: u64) {
        let at = Instant::now() + Duration::from_millis(ms);
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        if next.is_none_or(|n| at < n) {
            *next = Some(at);
            self.wake.notify_one();
        }
    }
}

pub(super) fn cap(p: &GroupPolicy) -> u32 {
    p.concurrency.map_or(0, |c| c.get())
}

pub(super) fn rate(p: &GroupPolicy) -> (u32, u64) {
    p.rate
        .map_or((0, 0), |r| (r.max.get(), r.window.as_millis() as u64))
}

impl RedisStore {
    /// Checks job `id` (fetched with `token` and claimed as `claim`) of `queue` against its
    /// group `group` before it runs. A Redis error runs the job (as before groups): a limit
    /// is not worth a job stuck on an outage.
    pub(crate) async fn admit(
        &self,
        queue: &str,
        run: &Arc<GroupRun>,
        group: &str,
        id: &str,
        (token, claim): (&str, &str),
        lease: Duration,
    ) -> Admission {
        let (k, g) = (
            QueueKeys::new(self.prefix(), queue),
            GroupKeys::new(self.prefix(), queue),
        );
        let lease_ms = lease.as_millis().max(2) as u64;
        let (rmax, window) = rate(&run.policy);
        let mut conn = self.inner.conn.connection();
        let res: redis::RedisResult<(i64, i64)> = ADMIT_SCRIPT
            .key(g.running(group))
            .key(g.parked(group))
            .key(g.index())
            .key(k.active())
            .key(k.lock(id))
            .key(g.rate(group))
            .key(k.key("stalled"))
            .key(format!("{}:claim", k.job(id)))
            .key(g.running_index())
            .key(k.job(id))
            .arg(id)
            .arg(token)
            .arg(now_ms())
            .arg(lease_ms)
            .arg(cap(&run.policy))
            .arg(rmax)
            .arg(window)
            .arg(group)
            .arg(claim)
            .invoke_async(&mut conn)
            .await;
        match res {
            Ok((1, _)) | Err(_) => {
                if let Err(e) = &res {
                    tracing::warn!(queue, job_id = %id.escape_debug(), error = %e,
                        "could not check the job's group; running it");
                }
                Admission::Run(self.slot(queue, group, id, lease_ms))
            }
            Ok((0, wait)) => {
                tracing::debug!(queue, job_id = %id.escape_debug(), group = %group.escape_debug(),
                    "group full; job parked until one of its jobs ends");
                if wait > 0 {
                    // A few ms past the window's end, so the window is surely over then.
                    run.sweep_in(wait as u64 + 5);
                }
                Admission::SetAside
            }
            Ok(_) => Admission::SetAside,
        }
    }

    /// A running job's slot, its lease renewed twice per lease.
    fn slot(&self, queue: &str, group: &str, id: &str, lease_ms: u64) -> Slot {
        let key = GroupKeys::new(self.prefix(), queue).running(group);
        let (store, id) = (self.clone(), id.to_string());
        let renew = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(lease_ms / 2)).await;
                let mut conn = store.inner.conn.connection();
                let _: redis::RedisResult<i64> = RENEW_SCRIPT
                    .key(&key)
                    .arg(&id)
                    .arg(now_ms() + lease_ms)
                    .invoke_async(&mut conn)
                    .await;
            }
        });
        Slot {
            group: group.to_string(),
            renew,
        }
    }

    /// Ends job `id`'s run in its group (any outcome) and puts back the group's parked jobs
    /// it has room for. A Redis error leaves the entry to expire and the sweep to put back.
    pub(crate) async fn end_slot(&self, queue: &str, run: &GroupRun, slot: Slot, id: &str) {
        let group = slot.group.clone();
        drop(slot);
        if let Err(e) = self.release(queue, &run.policy, &group, id).await {
            tracing::debug!(queue, job_id = %id.escape_debug(), error = %e,
                "group slot not freed; its lease expires and the sweep puts parked jobs back");
        }
    }
}

#[cfg(test)]
#[path = "groups_tests.rs"]
mod tests;
