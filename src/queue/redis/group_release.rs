//! Putting parked jobs of fair groups back (`groups.rs` parks them): when a job of the group
//! ends, and in each grouped consumer's sweep (at start, every `stalled_interval`, and when a
//! rate window a job was parked for ends); and the per-group counts `/metrics` and the API
//! read.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::groups::{cap, rate, GroupKeys, GroupRun};
use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::consumer::now_ms;
use crate::queue::error::Error;
use crate::queue::groups::{busiest, GroupCount, GroupPolicy};

/// Most groups whose counts are read per call (the busiest `MAX_REPORTED_GROUPS` of them are
/// reported): bounds one `/metrics` scrape's pipeline.
const SCANNED_GROUPS: usize = 1000;

/// KEYS[1] wait, KEYS[2] prioritized, KEYS[3] pc, KEYS[4] meta, KEYS[5] marker, KEYS[6] the
/// parked index, KEYS[7] the running index. ARGV[1] the groups' key base (`B cronq:groups`), ARGV[2] the job key base (`B`),
/// ARGV[3] now (ms), ARGV[4] the cap (0: none), ARGV[5] starts per window (0: no rate),
/// ARGV[6] the group whose job ended ("": sweep every group in the index), ARGV[7] the ended
/// job's id (""). Puts back as many parked jobs of each group as it has room for; returns how
/// many. (A group's keys are built here from its name: on a Cluster they share the prefix's
/// hash tag, so they live in the slot of the declared keys.)
const RELEASE: &str = r#"
local now, cap, rmax = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local groups
if ARGV[6] ~= "" then groups = {ARGV[6]} else groups = redis.call("SUNION", KEYS[6], KEYS[7]) end
local total = 0
for _, g in ipairs(groups) do
  local running = ARGV[1] .. ":" .. g .. ":running"
  local parked = ARGV[1] .. ":" .. g .. ":parked"
  if ARGV[7] ~= "" then redis.call("ZREM", running, ARGV[7]) end
  redis.call("ZREMRANGEBYSCORE", running, "-inf", now)
  local room = 1000
  if cap > 0 then room = cap - redis.call("ZCARD", running) end
  if rmax > 0 then
    local left = rmax - tonumber(redis.call("GET", ARGV[1] .. ":" .. g .. ":rate") or "0")
    if left < room then room = left end
  end
  while room > 0 do
    local id = redis.call("LPOP", parked)
    if not id then break end
    local job = ARGV[2] .. id
    if redis.call("EXISTS", job) == 1 then
      local prio = tonumber(redis.call("HGET", job, "priority")) or 0
      if prio > 0 then
        local pc = redis.call("INCR", KEYS[3])
        redis.call("ZADD", KEYS[2], prio * 4294967296 + (pc % 4294967296), id)
      else
        redis.call("LPUSH", KEYS[1], id)
      end
      room = room - 1
      total = total + 1
    end
  end
  if redis.call("LLEN", parked) == 0 then redis.call("SREM", KEYS[6], g) end
  if redis.call("ZCARD", running) == 0 then redis.call("SREM", KEYS[7], g) end
end
if total > 0 and redis.call("HEXISTS", KEYS[4], "paused") == 0 then
  redis.call("ZADD", KEYS[5], 0, "0")
end
return total
"#;

pub(super) static RELEASE_SCRIPT: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(RELEASE));

impl RedisStore {
    /// Puts back parked jobs: of `group` after job `id` ended, or of every group (`""`, `""`).
    pub(super) async fn release(
        &self,
        queue: &str,
        policy: &GroupPolicy,
        group: &str,
        id: &str,
    ) -> redis::RedisResult<i64> {
        let (k, g) = (
            QueueKeys::new(self.prefix(), queue),
            GroupKeys::new(self.prefix(), queue),
        );
        let (rmax, _) = rate(policy);
        let mut conn = self.inner.conn.connection();
        RELEASE_SCRIPT
            .key(k.wait())
            .key(k.prioritized())
            .key(k.key("pc"))
            .key(k.meta())
            .key(k.marker())
            .key(g.index())
            .key(g.running_index())
            .arg(g.base.as_str())
            .arg(k.job(""))
            .arg(now_ms())
            .arg(cap(policy))
            .arg(rmax)
            .arg(group)
            .arg(id)
            .invoke_async(&mut conn)
            .await
    }

    /// Runs the sweep of `queue`'s parked groups until `stop`: at once, every `every`, and
    /// when a rate window a job was parked for ends. Spawned by a grouped queue's consumer.
    pub(crate) fn sweep_groups(
        &self,
        queue: &str,
        run: Arc<GroupRun>,
        every: Duration,
        stop: CancellationToken,
    ) -> JoinHandle<()> {
        let (store, queue) = (self.clone(), queue.to_string());
        tokio::spawn(async move {
            let mut sweep = true;
            loop {
                if sweep {
                    match store.release(&queue, &run.policy, "", "").await {
                        Ok(n) if n > 0 => tracing::info!(queue = %queue, jobs = n,
                            "parked jobs of groups with room put back"),
                        Ok(_) => {}
                        Err(e) => tracing::debug!(queue = %queue, error = %e,
                            "group sweep failed; the next one retries"),
                    }
                }
                let deadline = {
                    let mut next = run.next.lock().unwrap_or_else(|p| p.into_inner());
                    let now = Instant::now();
                    // A window that ended was swept just now.
                    if sweep && next.is_some_and(|n| n <= now) {
                        *next = None;
                    }
                    next.map_or(now + every, |n| n.min(now + every))
                };
                sweep = tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep_until(deadline) => true,
                    // An earlier window end was asked for: only the deadline changes.
                    _ = run.wake.notified() => false,
                };
            }
        })
    }

    /// Running and parked jobs per group of `queue`: the groups in the two indexes (at most
    /// [`SCANNED_GROUPS`] of them), two counts each, in one pipelined round trip after the
    /// index read.
    pub(crate) async fn groups_now(&self, queue: &str) -> Result<Vec<GroupCount>, Error> {
        let g = GroupKeys::new(self.prefix(), queue);
        let conn = &self.inner.conn;
        let mut names: Vec<String> = conn
            .cmd(redis::cmd("SUNION").arg(g.index()).arg(g.running_index()))
            .await
            .map_err(|e| Error::engine(queue, e))?;
        names.truncate(SCANNED_GROUPS);
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for name in &names {
            pipe.cmd("ZCOUNT")
                .arg(g.running(name))
                .arg(now_ms())
                .arg("+inf");
            pipe.cmd("LLEN").arg(g.parked(name));
        }
        let n: Vec<u64> = conn
            .pipe(&pipe)
            .await
            .map_err(|e| Error::engine(queue, e))?;
        let counts = names
            .into_iter()
            .zip(n.chunks(2))
            .map(|(group, c)| GroupCount {
                group,
                running: c[0],
                parked: c.get(1).copied().unwrap_or(0),
            })
            .filter(|c| c.running + c.parked > 0)
            .collect();
        Ok(busiest(counts))
    }

    /// Whether job `id` of `queue` is parked by its group (the state of a job in none of
    /// BullMQ's sets). Only asked about a job the engine found in no state: one index read,
    /// then one `LPOS` per parked group (at most [`SCANNED_GROUPS`]).
    pub(crate) async fn is_parked(&self, queue: &str, id: &str) -> bool {
        let g = GroupKeys::new(self.prefix(), queue);
        let conn = &self.inner.conn;
        let Ok(mut groups) = conn
            .cmd::<Vec<String>>(redis::cmd("SMEMBERS").arg(g.index()))
            .await
        else {
            return false;
        };
        groups.truncate(SCANNED_GROUPS);
        if groups.is_empty() {
            return false;
        }
        let mut pipe = redis::pipe();
        for name in &groups {
            pipe.cmd("LPOS").arg(g.parked(name)).arg(id);
        }
        let found: Vec<Option<i64>> = conn.pipe(&pipe).await.unwrap_or_default();
        found.iter().any(Option::is_some)
    }
}
