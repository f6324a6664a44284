-- cronq: helpers shared by the scripts that make a job ready. Not a script of its own:
-- scripts.rs puts this file in front of add, promote, promote_one, retry_failed and requeue.
-- ready_list(wait, paused, flag) -> the list ready work goes to (the paused one while the
--   queue's meta-paused flag is set).
-- push_ready(list, prio, id, priority, push) -> places id for workers, which pop from the
--   right: no priority, `push` ("LPUSH": behind every ready job; "RPUSH": popped next); a
--   priority, after every job of a lower-or-equal number (kept in the `prio` zset).
-- ready_again(wait, paused, flag, prio, key, id, push) -> places a job that exists (hash `key`)
--   for workers again at its stored priority: the one rule for promote, retry and requeue.
local function ready_list(wait, paused, flag)
  if redis.call("EXISTS", flag) == 1 then return paused end
  return wait
end

local function push_ready(list, prio, id, priority, push)
  if priority == 0 then
    redis.call(push, list, id)
    return
  end
  redis.call("ZADD", prio, priority, id)
  local ahead = redis.call("ZCOUNT", prio, 0, priority)
  local len = redis.call("LLEN", list)
  local pivot = redis.call("LINDEX", list, len - (ahead - 1))
  if pivot then
    redis.call("LINSERT", list, "BEFORE", pivot, id)
  else
    redis.call("RPUSH", list, id)
  end
end

local function ready_again(wait, paused, flag, prio, key, id, push)
  local priority = tonumber(redis.call("HGET", key, "priority")) or 0
  push_ready(ready_list(wait, paused, flag), prio, id, priority, push)
end
