-- cronq: move delayed jobs whose time has come to the ready list.
-- KEYS[1] delayed zset  KEYS[2] wait list  KEYS[3] paused list  KEYS[4] meta-paused flag
-- KEYS[5] priority zset
-- ARGV[1] job key base  ARGV[2] now (ms)  ARGV[3] token for the waiting channel
-- Returns: the due time (ms) of the next delayed job, or nil when none is left.
local due = redis.call("ZRANGEBYSCORE", KEYS[1], 0, tonumber(ARGV[2]) * 4096 + 4095, "LIMIT", 0, 1000)
if #due > 0 then
  redis.call("ZREM", KEYS[1], unpack(due))
  for _, id in ipairs(due) do
    local key = ARGV[1] .. id
    if redis.call("EXISTS", key) == 1 then
      ready_again(KEYS[2], KEYS[3], KEYS[4], KEYS[5], key, id, "LPUSH")
      redis.call("HSET", key, "delay", 0)
      redis.call("PUBLISH", KEYS[2] .. "ing@" .. ARGV[3], id)
    end
  end
end
local next = redis.call("ZRANGE", KEYS[1], 0, 0, "WITHSCORES")[2]
if next then return math.floor(tonumber(next) / 4096) end
return nil
