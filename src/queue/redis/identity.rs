//! The daemon's identity on Redis (`WORKER_ID`), for instant recovery of its own jobs after a
//! crash, and for refusing a second live daemon with the same identity.
//!
//! The engine makes its lock tokens itself (`<engine worker uuid>:<n>`, no hook to change
//! them), so the identity is not spelled inside the token: each consumer records its engine
//! uuid under the identity and the daemon's run (`<prefix>:<queue>:cronq:runs`, field = engine
//! uuid, value = `<worker id> <run id>`). Tokens stay exactly what BullMQ expects. At start,
//! a lock whose uuid belongs to this identity but to another run is one of our cut-off jobs:
//! [`RECOVER`] moves it back to `wait` at once, counted as a stall as the engine's stalled
//! checker would (`stc` + 1, deferred failure past the limit, `stalled` event) instead of
//! after lock expiry plus two stalled checks (about 60 s with the defaults).
//!
//! Liveness: `<prefix>:cronq:worker:<id>` holds the run id (TTL [`HEARTBEAT_TTL`], refreshed),
//! and the store's connection is named `cronq:<prefix>:worker:<id>:<run>`. A kill -9 closes the
//! old run's sockets, so its name is gone from `CLIENT LIST` at once: a restart takes over
//! without waiting for the TTL, while a live daemon's name is still listed and the newcomer is
//! refused. Where `CLIENT LIST` is not allowed (some managed services), the newcomer waits for
//! the heartbeat to expire instead.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::error::Error;
use crate::queue::identity::Identity;
use crate::queue::script_keys;

/// Lifetime of the heartbeat key; refreshed every third of it. Each refresh is two commands
/// (the key and the connection's name); at 9 s that was 20 of an idle daemon's ~100 commands
/// per 30 s (issue 18). 30 s costs 6. What it bounds: only where `CLIENT LIST` is refused does
/// a restart after a crash wait for the key to expire (up to this long); where it is allowed
/// the name is checked and a restart takes over at once. Renaming after a reconnect is at
/// most a third of it late (a newcomer with the same id could take over in that window only
/// if it also started in it).
const HEARTBEAT_TTL: Duration = Duration::from_secs(30);

impl RedisStore {
    fn heartbeat_key(&self, id: &Identity) -> String {
        format!("{}:cronq:worker:{}", self.prefix(), id.worker_id)
    }

    fn client_name(&self, id: &Identity, run: &str) -> String {
        format!("cronq:{}:worker:{}:{run}", self.prefix(), id.worker_id)
    }

    /// Claims `id` on this Redis, or refuses (a settings error: exit 2) when a live daemon holds
    /// it; keeps the heartbeat until `stop` fires. The consumers started afterwards recover the
    /// earlier runs' jobs.
    pub(super) async fn claim(&self, id: &Identity, stop: CancellationToken) -> Result<(), Error> {
        let key = self.heartbeat_key(id);
        let mut conn = self.inner.conn.connection();
        let unreachable = |e: redis::RedisError| Error::engine("-", e);
        let ttl = HEARTBEAT_TTL.as_millis() as u64;
        loop {
            let set: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&id.run_id)
                .arg("NX")
                .arg("PX")
                .arg(ttl)
                .query_async(&mut conn)
                .await
                .map_err(unreachable)?;
            if set.is_some() {
                break;
            }
            let holder: Option<String> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .map_err(unreachable)?;
            let Some(holder) = holder else { continue };
            let listed: Result<String, _> = redis::cmd("CLIENT")
                .arg("LIST")
                .query_async(&mut conn)
                .await;
            match listed {
                Ok(list) => {
                    let name = format!(" name={} ", self.client_name(id, &holder));
                    if list.lines().any(|l| format!("{l} ").contains(&name)) {
                        return Err(Error::Settings(format!(
                            "WORKER_ID {:?} is in use by a live daemon on this Redis (run \
                             {holder}); give each daemon its own WORKER_ID ([worker] id)",
                            id.worker_id
                        )));
                    }
                    // Its connections are gone: it died. Take over.
                    let _: () = redis::cmd("SET")
                        .arg(&key)
                        .arg(&id.run_id)
                        .arg("PX")
                        .arg(ttl)
                        .query_async(&mut conn)
                        .await
                        .map_err(unreachable)?;
                    tracing::info!(worker_id = %id.worker_id, previous_run = %holder,
                        "the previous run of this WORKER_ID is gone; recovering its jobs");
                    break;
                }
                Err(e) => {
                    tracing::warn!(worker_id = %id.worker_id, error = %e,
                        "CLIENT LIST is not allowed; waiting for the previous heartbeat to expire");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = stop.cancelled() => return Ok(()),
                    }
                }
            }
        }
        let _ = self.inner.owner.set(id.clone());
        self.name_connection(id).await;
        tokio::spawn(heartbeat(self.clone(), id.clone(), stop));
        Ok(())
    }

    /// Names the shared connection after this run (again after a reconnect lost the name).
    async fn name_connection(&self, id: &Identity) {
        let mut conn = self.inner.conn.connection();
        let named: Result<(), _> = redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(self.client_name(id, &id.run_id))
            .query_async(&mut conn)
            .await;
        if let Err(e) = named {
            tracing::debug!(error = %e, "CLIENT SETNAME refused");
        }
    }

    /// Moves `queue`'s jobs locked by earlier runs of this identity back to `wait`, and records
    /// `engine_id` (the new consumer's token prefix) as this run's. Returns the ids moved.
    pub(crate) async fn recover_own(
        &self,
        queue: &str,
        id: &Identity,
        engine_id: &str,
        max_stalled: u32,
    ) -> Result<Vec<String>, Error> {
        let keys = QueueKeys::new(self.prefix(), queue);
        let mut conn = self.inner.conn.connection();
        static SCRIPT: std::sync::LazyLock<redis::Script> =
            std::sync::LazyLock::new(|| redis::Script::new(RECOVER));
        let names = [
            "active",
            "wait",
            "meta",
            "marker",
            "events",
            "cronq:runs",
            "repeat",
        ];
        let mut inv = keys.script(&SCRIPT, &names);
        inv.arg(keys.key("")).arg(&id.worker_id).arg(&id.run_id);
        inv.arg(engine_id).arg(max_stalled);
        script_keys::invoke(&inv, &mut conn, queue).await
    }
}

/// Refreshes the heartbeat (and the connection's name) every third of its TTL until `stop`.
async fn heartbeat(store: RedisStore, id: Identity, stop: CancellationToken) {
    let key = store.heartbeat_key(&id);
    let mut ticker = tokio::time::interval(HEARTBEAT_TTL / 3);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.cancelled() => return,
        }
        let mut conn = store.inner.conn.connection();
        let refreshed: Result<(), _> = redis::cmd("SET")
            .arg(&key)
            .arg(&id.run_id)
            .arg("PX")
            .arg(HEARTBEAT_TTL.as_millis() as u64)
            .query_async(&mut conn)
            .await;
        // Redis away: the fetch loops report it; the next tick tries again.
        if refreshed.is_ok() {
            store.name_connection(&id).await;
        }
    }
}

/// Requeues the active jobs locked by earlier runs of one identity, as a stall.
/// KEYS: 1 active, 2 wait, 3 meta, 4 marker, 5 events, 6 runs (HASH engine uuid → "<worker id>
/// <run id>"), 7 repeat. ARGV: 1 queue key prefix, 2 worker id, 3 run id, 4 this consumer's
/// engine uuid, 5 max stalled count. Returns the ids moved.
const RECOVER: &str = r#"
local rcall = redis.call
local mine = ARGV[2] .. " "
local stale = {}
local any = false
local runs = rcall("HGETALL", KEYS[6])
for i = 1, #runs, 2 do
  local v = runs[i + 1]
  if string.sub(v, 1, #mine) == mine and v ~= mine .. ARGV[3] then
    stale[runs[i]] = true
    any = true
    rcall("HDEL", KEYS[6], runs[i])
  end
end
rcall("HSET", KEYS[6], ARGV[4], mine .. ARGV[3])
local moved = {}
if not any then return moved end
local maxEvents = rcall("HGET", KEYS[3], "opts.maxLenEvents") or "10000"
local attrs = rcall("HMGET", KEYS[3], "paused", "concurrency")
for _, jobId in ipairs(rcall("LRANGE", KEYS[1], 0, -1)) do
  local jobKey = ARGV[1] .. jobId
  local lock = rcall("GET", jobKey .. ":lock")
  local owner = lock and string.match(lock, "^(.*):[^:]*$")
  if owner and stale[owner] and rcall("LREM", KEYS[1], 1, jobId) > 0 then
    rcall("DEL", jobKey .. ":lock")
    local count = rcall("HINCRBY", jobKey, "stc", 1)
    local rjk = rcall("HGET", jobKey, "rjk")
    local repeatable = rjk and (rcall("EXISTS", KEYS[7] .. ":" .. rjk) == 1 or rcall("ZSCORE", KEYS[7], rjk))
    if count > tonumber(ARGV[5]) and not repeatable then
      rcall("HSET", jobKey, "defa", "job stalled more than allowable limit")
    end
    rcall("RPUSH", KEYS[2], jobId)
    local held = attrs[1] or (attrs[2] and rcall("LLEN", KEYS[1]) >= tonumber(attrs[2]))
    if not held then rcall("ZADD", KEYS[4], 0, "0") end
    rcall("XADD", KEYS[5], "MAXLEN", "~", maxEvents, "*", "event", "waiting", "jobId", jobId, "prev", "active")
    rcall("XADD", KEYS[5], "MAXLEN", "~", maxEvents, "*", "event", "stalled", "jobId", jobId)
    moved[#moved + 1] = jobId
  end
end
return moved
"#;
