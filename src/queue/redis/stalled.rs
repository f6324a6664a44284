//! Stalled-job recovery for every queue a store consumes, run by cronq instead of the engine
//! (issue 18).
//!
//! The engine's `Worker` runs BullMQ's stalled check (`moveStalledJobsToWait`) per queue every
//! stalled interval, a script call of about seven commands even when nothing is active: for 4
//! idle queues, 28 of the 77 commands an idle daemon sent in 30 s. Consumers now start the
//! engine with `skip_stalled_check`, and one task per store ([`Checker`]) does the same work:
//! each stalled interval it sends ONE `EXISTS` over every consumed queue's `active`, `stalled`
//! and `delayed` keys (on a Cluster too: the prefix's hash tag puts them all in one slot),
//! and only when that finds something does it look per queue and run [`STALLED`] (and the
//! quarantine sweep, `quarantine.rs`, which needs `active` or `delayed`) where there is work.
//!
//! [`STALLED`] is BullMQ's two-phase algorithm on the same keys, so Node workers sharing a queue
//! agree with it: the `stalled-check` throttle, the `stalled` set of ids marked last round (lock
//! renewal removes an id from it), a marked id whose lock is gone is stalled, `stc` and
//! `maxStalledCount` (past it the job gets BullMQ's deferred failure `defa`, which the next
//! fetch turns into `failed`), back to `wait` with the marker unless paused or maxed, and the
//! `waiting` and `stalled` events.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::error::Error;
use crate::queue::script_keys;

/// BullMQ's stalled check for one queue, with an early exit when there is nothing to check.
///
/// KEYS[1] stalled (set), KEYS[2] wait (list), KEYS[3] active (list), KEYS[4] stalled-check
/// (throttle string), KEYS[5] meta (hash), KEYS[6] marker (zset), KEYS[7] events (stream),
/// KEYS[8] repeat (zset of schedulers). Job keys are built from ARGV[2], as BullMQ's own
/// scripts do (they share the queue's hash tag on a Cluster).
/// ARGV[1] maxStalledCount, ARGV[2] the queue's key prefix (`bull:email:`), ARGV[3] now (ms),
/// ARGV[4] the throttle's lifetime (ms).
/// Returns a flat array `{id, stalls, deferred, …}` of the jobs moved back to `wait` (`stalls`
/// the new `stc`, `deferred` "1" when it got the deferred failure), plus `{id, "-1", "0"}` for an
/// id in `active` whose job hash is gone (removed from `active`, nothing to run).
///
/// Where it differs from BullMQ's script, only on data no BullMQ client writes: a job key that
/// is not a hash is left in `active` for the quarantine sweep (BullMQ's `HINCRBY` would abort
/// the whole check with WRONGTYPE), an `stc` that is not a number counts as 0, and an id whose
/// hash is gone is dropped from `active` instead of being pushed to `wait` as an empty job.
const STALLED: &str = r#"
local rcall = redis.call
local stalledKey, waitKey, activeKey, checkKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local metaKey, markerKey, eventsKey, repeatKey = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local maxStalled = tonumber(ARGV[1])
local prefix, now, ttl = ARGV[2], ARGV[3], ARGV[4]

-- Nothing running and nothing marked: nothing to do (the throttle stays free).
if rcall("EXISTS", activeKey, stalledKey) == 0 then return {} end
-- Someone (a Node worker, another daemon) checked within its interval.
if rcall("EXISTS", checkKey) == 1 then return {} end
rcall("SET", checkKey, now, "PX", ttl)

-- Trim before adding events, as BullMQ does (and records the default it used).
local maxEvents = rcall("HGET", metaKey, "opts.maxLenEvents")
if not maxEvents then
  maxEvents = 10000
  rcall("HSET", metaKey, "opts.maxLenEvents", maxEvents)
end
rcall("XTRIM", eventsKey, "MAXLEN", "~", tonumber(maxEvents) or 10000)

local function isRepeatable(jobKey)
  local rjk = rcall("HGET", jobKey, "rjk")
  if not rjk then return false end
  return rcall("EXISTS", repeatKey .. ":" .. rjk) == 1 or rcall("ZSCORE", repeatKey, rjk) ~= false
end

local out = {}
local marked = rcall("SMEMBERS", stalledKey)
if #marked > 0 then
  rcall("DEL", stalledKey)
  local attrs = rcall("HMGET", metaKey, "paused", "concurrency")
  for _, id in ipairs(marked) do
    local jobKey = prefix .. id
    if string.sub(id, 1, 2) == "0:" then
      -- A delay marker of BullMQ < 5, not a job.
      rcall("LREM", activeKey, 1, id)
    elseif rcall("EXISTS", jobKey .. ":lock") == 0 then
      local kind = rcall("TYPE", jobKey)
      kind = type(kind) == "table" and kind["ok"] or kind
      if kind == "none" then
        if rcall("LREM", activeKey, 1, id) > 0 then
          table.insert(out, id); table.insert(out, "-1"); table.insert(out, "0")
        end
      elseif kind == "hash" and rcall("LREM", activeKey, 1, id) > 0 then
        local stalls = (tonumber(rcall("HGET", jobKey, "stc")) or 0) + 1
        rcall("HSET", jobKey, "stc", stalls)
        local deferred = "0"
        if stalls > maxStalled and not isRepeatable(jobKey) then
          rcall("HSET", jobKey, "defa", "job stalled more than allowable limit")
          deferred = "1"
        end
        -- To the end workers take from: a recovered job runs next.
        rcall("RPUSH", waitKey, id)
        local cap = tonumber(attrs[2])
        local held = attrs[1] or (cap and rcall("LLEN", activeKey) >= cap)
        if not held then rcall("ZADD", markerKey, 0, "0") end
        rcall("XADD", eventsKey, "*", "event", "waiting", "jobId", id, "prev", "active")
        rcall("XADD", eventsKey, "*", "event", "stalled", "jobId", id)
        table.insert(out, id); table.insert(out, tostring(stalls)); table.insert(out, deferred)
      end
    end
  end
end

-- Mark what is active now; a lock renewal or a finish takes an id out again.
local active = rcall("LRANGE", activeKey, 0, -1)
for i = 1, #active, 5000 do
  rcall("SADD", stalledKey, unpack(active, i, math.min(i + 4999, #active)))
end
return out
"#;

/// How one consumed queue is checked (its consumer's options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CheckOpts {
    /// How often: the consumer's stalled interval.
    pub(crate) interval: Duration,
    /// Stalls allowed before the deferred failure.
    pub(crate) max_stalled: u32,
}

/// One job [`STALLED`] moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Moved {
    /// The id as stored (not necessarily UTF-8).
    pub(crate) raw_id: Vec<u8>,
    /// Its stall count now (`stc`); `None` when its job hash was gone.
    pub(crate) stalls: Option<u32>,
    /// Whether it got the deferred failure (the next fetch fails it).
    pub(crate) deferred: bool,
}

struct Entry {
    opts: CheckOpts,
    /// When it was last checked; `None` until its first check (at once).
    last: Option<Instant>,
    /// Consumers of this queue registered (one per `consume`).
    holders: usize,
}

#[derive(Default)]
struct Registry {
    queues: BTreeMap<String, Entry>,
    /// Whether the task runs. Set by `register` when it spawns it; cleared by the task itself,
    /// under the same lock, when it finds no queue left and ends.
    running: bool,
}

/// The store's stalled checker: the queues consumed, and the one task that checks them.
#[derive(Default)]
pub(crate) struct Checker {
    registry: Mutex<Registry>,
    /// Rung by `register` and by [`Registration`]'s drop; the task waits on it between ticks.
    changed: Notify,
}

/// A queue's place in the store's stalled checks; dropping it (the consumer closing) takes the
/// queue out, and the task ends when no queue is left.
pub(crate) struct Registration {
    store: RedisStore,
    queue: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let checker = &self.store.inner.stalled;
        let mut reg = checker.lock();
        if let Some(e) = reg.queues.get_mut(&self.queue) {
            e.holders -= 1;
            if e.holders == 0 {
                reg.queues.remove(&self.queue);
            }
        }
        drop(reg);
        checker.changed.notify_one();
    }
}

impl Checker {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // Poisoned only if a task panicked while holding it; the map is still consistent.
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl RedisStore {
    /// Adds `queue` to this store's stalled checks (its first check runs at once).
    pub(crate) fn watch_stalled(&self, queue: &str, opts: CheckOpts) -> Registration {
        let checker = &self.inner.stalled;
        let mut reg = checker.lock();
        let e = reg.queues.entry(queue.to_string()).or_insert(Entry {
            opts,
            last: None,
            holders: 0,
        });
        e.holders += 1;
        e.opts = opts;
        if !reg.running {
            reg.running = true;
            tokio::spawn(run(self.clone()));
        }
        drop(reg);
        checker.changed.notify_one();
        Registration {
            store: self.clone(),
            queue: queue.to_string(),
        }
    }

    /// Runs [`STALLED`] on `queue` now; returns what it moved.
    pub(crate) async fn check_stalled(
        &self,
        queue: &str,
        opts: CheckOpts,
    ) -> Result<Vec<Moved>, Error> {
        let keys = QueueKeys::new(self.prefix(), queue);
        let mut conn = self.inner.conn.connection();
        // Hashed once: `invoke_async` sends EVALSHA and loads the source only on NOSCRIPT.
        static SCRIPT: std::sync::LazyLock<redis::Script> =
            std::sync::LazyLock::new(|| redis::Script::new(STALLED));
        let names = [
            "stalled",
            "wait",
            "active",
            "stalled-check",
            "meta",
            "marker",
            "events",
            "repeat",
        ];
        let mut inv = keys.script(&SCRIPT, &names);
        inv.arg(opts.max_stalled).arg(keys.key(""));
        inv.arg(crate::queue::consumer::now_ms());
        inv.arg(throttle(opts.interval).as_millis() as u64);
        let flat: Vec<Vec<u8>> = script_keys::invoke(&inv, &mut conn, queue).await?;
        let moved: Vec<Moved> = flat
            .chunks_exact(3)
            .map(|t| Moved {
                raw_id: t[0].clone(),
                stalls: std::str::from_utf8(&t[1]).ok().and_then(|s| s.parse().ok()),
                deferred: t[2] == b"1",
            })
            .collect();
        for m in &moved {
            let id = String::from_utf8_lossy(&m.raw_id);
            let id = id.escape_debug();
            match m.stalls {
                None => tracing::warn!(queue, job_id = %id,
                    "an id in active had no job hash (removed while running?); dropped from active"),
                Some(stalls) if m.deferred => tracing::warn!(queue, job_id = %id, stalls,
                    "stalled job moved back to wait; stalled more than max_stalled_count, so its next fetch fails it"),
                Some(stalls) => tracing::warn!(queue, job_id = %id, stalls,
                    "stalled job moved back to wait"),
            }
        }
        Ok(moved)
    }
}

/// The throttle key's lifetime for a check every `interval`: a little shorter, so that our
/// own next tick (one interval after the key was set, less the script's latency) does not find
/// it still there and skip a round. BullMQ sets exactly the interval, which makes a worker
/// whose timer fires a fixed interval apart skip every other check; other workers may now
/// check a tenth sooner, which only shortens detection (a job is moved only once its lock is
/// gone).
fn throttle(interval: Duration) -> Duration {
    (interval - interval / 10).max(Duration::from_millis(1))
}

#[path = "stalled_run.rs"]
mod task;
use task::run;

#[cfg(test)]
#[path = "stalled_tests.rs"]
mod tests;
