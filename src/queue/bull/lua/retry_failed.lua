-- cronq: put a failed job back to run again (API/CLI retry): failed -> ready list.
-- KEYS[1] failed zset  KEYS[2] wait list  KEYS[3] paused list  KEYS[4] meta-paused flag
-- KEYS[5] priority zset  KEYS[6] job hash  KEYS[7] waiting channel
-- ARGV[1] id
-- Returns: 0 done, -1 no such job, -3 not failed.
local key = KEYS[6]
if redis.call("EXISTS", key) == 0 then return -1 end
if redis.call("ZREM", KEYS[1], ARGV[1]) == 0 then return -3 end
redis.call("HDEL", key, "finishedOn", "processedOn", "failedReason")
redis.call("HSET", key, "attemptsMade", 0)
local list = KEYS[2]
if redis.call("EXISTS", KEYS[4]) == 1 then list = KEYS[3] end
local priority = tonumber(redis.call("HGET", key, "priority")) or 0
if priority == 0 then
  redis.call("LPUSH", list, ARGV[1])
else
  redis.call("ZADD", KEYS[5], priority, ARGV[1])
  local ahead = redis.call("ZCOUNT", KEYS[5], 0, priority)
  local len = redis.call("LLEN", list)
  local pivot = redis.call("LINDEX", list, len - (ahead - 1))
  if pivot then
    redis.call("LINSERT", list, "BEFORE", pivot, ARGV[1])
  else
    redis.call("RPUSH", list, ARGV[1])
  end
end
redis.call("PUBLISH", KEYS[7], ARGV[1])
return 0
