//! Entries no worker can ever finish, moved to `failed` with a reason instead of looping.
//!
//! Two kinds of foreign entries defeat every BullMQ client, the engine included:
//! - an id that is not valid UTF-8 (`LPUSH bull:email:wait $'f-\xff-id'`): the engine decodes
//!   it lossily (U+FFFD), runs the job, then addresses `bull:email:f-\u{fffd}-id`, which does not
//!   exist, so finishing fails with "Job does not exist"; the lock expires, stalled recovery
//!   puts the real id back in `wait`, and it runs again, forever;
//! - an id whose job key is not a hash (a string, a list…): `moveToActive` moves it to `active`
//!   and then fails with WRONGTYPE, and the next stalled check removes it from `active`, fails
//!   with WRONGTYPE itself (skipping the other stalled jobs of that pass) and leaves it in no
//!   state at all.
//!
//! One script of ours finds such entries in `active` (and, when asked, among the ids of
//! `delayed` due soon: `moveToActive` promotes due ids first and fails with WRONGTYPE on a
//! non-hash one after it took it out of `delayed`, dropping it) and moves each to `failed`
//! atomically, with a `failedReason` that names the job and the fix. A non-hash id that is
//! already due when it is written can still be dropped by the engine's promotion before a sweep
//! sees it (the queue keeps serving; the entry is gone): a foreign producer's delayed entry is
//! caught only when it is due later than the next sweep.
//! It is run by the consumer before it runs a job whose id came back lossy (see `guard.rs`),
//! when a fetch fails with WRONGTYPE, and on a timer shorter than the stalled interval (see
//! `consumer.rs`), so the engine's stalled check never meets one.

use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::error::Error;
use crate::queue::script_keys;

/// Moves unprocessable entries of one queue to `failed`.
///
/// KEYS[1] active (list), KEYS[2] failed (zset), KEYS[3] events (stream), KEYS[4] stalled (set),
/// KEYS[5] delayed (zset). Job keys are built from ARGV[1] like BullMQ's own scripts do (they
/// share the queue's hash tag in a cluster).
/// ARGV[1] the queue's key prefix (`bull:email:`), ARGV[2] the queue name (for reasons),
/// ARGV[3] now in ms, ARGV[4] the lock token we hold ("" for none), ARGV[5] how far ahead (ms)
/// to look at the ids of `delayed`, "" for not at all.
/// Returns a flat array `{id, reason, id, reason, …}` of the entries moved.
///
/// A non-UTF-8 id is moved only while no one else holds its lock (its lock is absent or is
/// ARGV[4]): a job someone is running is left to them. A non-hash key is moved whatever its
/// lock says: no client can run it, the lock is only what a failed `moveToActive` left behind.
/// The non-hash value itself is not destroyed: it is renamed to `<job key>:foreign`, and the job
/// key becomes a hash holding the reason, so listings of `failed` (ours, Bull Board) can read it.
const SWEEP: &str = r#"
local rcall = redis.call
local prefix, queue, now, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local moved = {}

-- Bytes a reader can see: control bytes, quotes, backslashes and non-ASCII as \xNN.
local function shown(s)
  return (string.gsub(s, '[%c"\\\128-\255]', function(c)
    return string.format("\\x%02x", string.byte(c))
  end))
end

local function isUtf8(s)
  if not string.find(s, "[\128-\255]") then return true end
  local i, n = 1, #s
  while i <= n do
    local c = string.byte(s, i)
    local len
    if c < 0x80 then len = 1
    elseif c >= 0xC2 and c <= 0xDF then len = 2
    elseif c >= 0xE0 and c <= 0xEF then len = 3
    elseif c >= 0xF0 and c <= 0xF4 then len = 4
    else return false end
    if i + len - 1 > n then return false end
    for j = i + 1, i + len - 1 do
      local cc = string.byte(s, j)
      if cc < 0x80 or cc > 0xBF then return false end
    end
    local c2 = string.byte(s, i + 1)
    -- Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    if (c == 0xE0 and c2 < 0xA0) or (c == 0xED and c2 > 0x9F)
      or (c == 0xF0 and c2 < 0x90) or (c == 0xF4 and c2 > 0x8F) then return false end
    i = i + len
  end
  return true
end

-- Why `id` can never be finished, or nil when it can.
local function verdict(id, checkLock)
  local jobKey = prefix .. id
  local kind = rcall("TYPE", jobKey)
  kind = type(kind) == "table" and kind["ok"] or kind
  if kind ~= "hash" and kind ~= "none" then
    return "job " .. shown(id) .. " in queue " .. queue .. ": key " .. shown(jobKey) ..
      " holds a " .. kind .. ", not a job hash (not written by a BullMQ producer?); moved to failed" ..
      " without running; its value was kept at " .. shown(jobKey) .. ":foreign", kind
  end
  if not isUtf8(id) then
    if checkLock then
      local lock = rcall("GET", jobKey .. ":lock")
      if lock and lock ~= token then return nil end
    end
    return "job id \"" .. shown(id) .. "\" in queue " .. queue .. " is not valid UTF-8: no client" ..
      " can address its key, so it was moved to failed without running; give jobs UTF-8 ids", kind
  end
  return nil
end

local function toFailed(id, reason, kind, prev)
  local jobKey = prefix .. id
  if kind ~= "hash" and kind ~= "none" then
    rcall("RENAME", jobKey, jobKey .. ":foreign")
    rcall("HSET", jobKey, "timestamp", now)
  end
  rcall("SREM", KEYS[4], id)
  rcall("DEL", jobKey .. ":lock")
  rcall("HSET", jobKey, "failedReason", reason, "finishedOn", now)
  rcall("ZADD", KEYS[2], now, id)
  rcall("XADD", KEYS[3], "*", "event", "failed", "jobId", id, "failedReason", reason, "prev", prev)
  table.insert(moved, id)
  table.insert(moved, reason)
end

for _, id in ipairs(rcall("LRANGE", KEYS[1], 0, -1)) do
  local reason, kind = verdict(id, true)
  if reason and rcall("LREM", KEYS[1], 1, id) > 0 then
    toFailed(id, reason, kind, "active")
  end
end

if ARGV[5] ~= "" then
  local horizon = tonumber(now) + tonumber(ARGV[5])
  local due = rcall("ZRANGEBYSCORE", KEYS[5], 0, (horizon + 1) * 0x1000 - 1, "LIMIT", 0, 1000)
  for _, id in ipairs(due) do
    local reason, kind = verdict(id, false)
    -- Only non-hash keys break promotion; a non-UTF-8 id is caught once it is fetched.
    if reason and kind ~= "hash" and kind ~= "none" then
      rcall("ZREM", KEYS[5], id)
      toFailed(id, reason, kind, "delayed")
    end
  end
end
return moved
"#;

/// One entry moved to `failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quarantined {
    /// The id as stored (not necessarily UTF-8).
    pub(crate) raw_id: Vec<u8>,
    /// The `failedReason` written.
    pub(crate) reason: String,
}

impl RedisStore {
    /// Moves the unprocessable entries of `queue`'s `active` list (and, with `delayed`, its
    /// delayed ids due within that long) to `failed`. `token` is the lock token the caller
    /// holds, if any.
    pub(crate) async fn quarantine(
        &self,
        queue: &str,
        token: Option<&str>,
        delayed: Option<std::time::Duration>,
    ) -> Result<Vec<Quarantined>, Error> {
        let keys = QueueKeys::new(self.prefix(), queue);
        let now = crate::queue::consumer::now_ms();
        let mut conn = self.inner.conn.connection();
        // Hashed once: `invoke_async` sends EVALSHA and loads the source only on NOSCRIPT.
        static SCRIPT: std::sync::LazyLock<redis::Script> =
            std::sync::LazyLock::new(|| redis::Script::new(SWEEP));
        let mut inv = keys.script(
            &SCRIPT,
            &["active", "failed", "events", "stalled", "delayed"],
        );
        let delayed = delayed.map(|d| d.as_millis().to_string());
        inv.arg(keys.key("")).arg(queue).arg(now);
        inv.arg(token.unwrap_or(""))
            .arg(delayed.unwrap_or_default());
        let flat: Vec<Vec<u8>> = script_keys::invoke(&inv, &mut conn, queue).await?;
        let moved: Vec<Quarantined> = flat
            .chunks_exact(2)
            .map(|pair| Quarantined {
                raw_id: pair[0].clone(),
                reason: String::from_utf8_lossy(&pair[1]).into_owned(),
            })
            .collect();
        for q in &moved {
            tracing::warn!(queue, reason = %q.reason, "unprocessable job moved to failed");
        }
        Ok(moved)
    }
}
