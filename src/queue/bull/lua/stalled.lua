-- cronq: Bull's stalled-job check. Jobs marked at the previous check whose lock has expired
-- go back to the ready list (or fail after too many stalls); then every active job is marked
-- for the next check. A shared check key keeps every worker of the queue to one check per
-- interval, so cronq and Node Bull workers take turns.
-- KEYS[1] stalled set  KEYS[2] wait list  KEYS[3] active list  KEYS[4] failed zset
-- KEYS[5] stalled-check key  KEYS[6] meta-paused flag  KEYS[7] paused list
-- ARGV[1] max stalls  ARGV[2] job key base  ARGV[3] now (ms)  ARGV[4] check interval (ms)
-- ARGV[5] token for the stalled channel
-- Returns: {failed ids, requeued ids}.
if redis.call("EXISTS", KEYS[5]) == 1 then return {{}, {}} end
redis.call("SET", KEYS[5], ARGV[3], "PX", ARGV[4])
local failed, requeued = {}, {}
local marked = redis.call("SMEMBERS", KEYS[1])
redis.call("DEL", KEYS[1])
for _, id in ipairs(marked) do
  local key = ARGV[2] .. id
  if redis.call("EXISTS", key .. ":lock") == 0 and redis.call("LREM", KEYS[3], 1, id) > 0 then
    local stalls = redis.call("HINCRBY", key, "stalledCounter", 1)
    if stalls > tonumber(ARGV[1]) then
      redis.call("ZADD", KEYS[4], ARGV[3], id)
      redis.call("HSET", key, "failedReason", "job stalled more than allowable limit",
        "finishedOn", ARGV[3])
      redis.call("PUBLISH", KEYS[4], cjson.encode({jobId = id, val = "job stalled more than maxStalledCount"}))
      table.insert(failed, id)
    else
      local list = KEYS[2]
      if redis.call("EXISTS", KEYS[6]) == 1 then list = KEYS[7] end
      redis.call("RPUSH", list, id)
      redis.call("PUBLISH", KEYS[1] .. "@" .. ARGV[5], id)
      table.insert(requeued, id)
    end
  end
end
local active = redis.call("LRANGE", KEYS[3], 0, -1)
for i = 1, #active, 5000 do
  redis.call("SADD", KEYS[1], unpack(active, i, math.min(i + 4999, #active)))
end
return {failed, requeued}
