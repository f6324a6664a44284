-- cronq: move delayed jobs whose time has come to the ready list.
-- KEYS[1] delayed zset  KEYS[2] wait list  KEYS[3] paused list  KEYS[4] meta-paused flag
-- KEYS[5] priority zset
-- ARGV[1] job key base  ARGV[2] now (ms)  ARGV[3] token for the waiting channel
-- Returns: the due time (ms) of the next delayed job, or nil when none is left.
local due = redis.call("ZRANGEBYSCORE", KEYS[1], 0, tonumber(ARGV[2]) * 4096 + 4095, "LIMIT", 0, 1000)
if #due > 0 then
  redis.call("ZREM", KEYS[1], unpack(due))
  local list = KEYS[2]
  if redis.call("EXISTS", KEYS[4]) == 1 then list = KEYS[3] end
  for _, id in ipairs(due) do
    local key = ARGV[1] .. id
    if redis.call("EXISTS", key) == 1 then
      local priority = tonumber(redis.call("HGET", key, "priority")) or 0
      if priority == 0 then
        redis.call("LPUSH", list, id)
      else
        redis.call("ZADD", KEYS[5], priority, id)
        local ahead = redis.call("ZCOUNT", KEYS[5], 0, priority)
        local len = redis.call("LLEN", list)
        local pivot = redis.call("LINDEX", list, len - (ahead - 1))
        if pivot then
          redis.call("LINSERT", list, "BEFORE", pivot, id)
        else
          redis.call("RPUSH", list, id)
        end
      end
      redis.call("HSET", key, "delay", 0)
      redis.call("PUBLISH", KEYS[2] .. "ing@" .. ARGV[3], id)
    end
  end
end
local next = redis.call("ZRANGE", KEYS[1], 0, 0, "WITHSCORES")[2]
if next then return math.floor(tonumber(next) / 4096) end
return nil
