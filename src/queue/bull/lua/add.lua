-- cronq: add one job to a queue kept in Bull 3/4's layout.
-- KEYS[1] wait list      KEYS[2] paused list    KEYS[3] meta-paused flag
-- KEYS[4] id counter     KEYS[5] delayed zset   KEYS[6] priority zset
-- ARGV[1] job key base ("<prefix>:<queue>:")   ARGV[2] custom id or ""
-- ARGV[3] name  ARGV[4] data (JSON)  ARGV[5] opts (JSON)  ARGV[6] now (ms)
-- ARGV[7] delay (ms)  ARGV[8] priority (0 = none)  ARGV[9] token for the waiting channel
-- Returns: {id, 1} when added, {id, 0} when a job with that custom id already exists.
local seq = redis.call("INCR", KEYS[4])
local id = ARGV[2]
if id == "" then
  id = tostring(seq)
elseif redis.call("EXISTS", ARGV[1] .. id) == 1 then
  return {id, 0}
end
local key = ARGV[1] .. id
local delay = tonumber(ARGV[7])
local priority = tonumber(ARGV[8])
redis.call("HSET", key, "name", ARGV[3], "data", ARGV[4], "opts", ARGV[5],
  "timestamp", ARGV[6], "delay", ARGV[7], "priority", ARGV[8])
if delay > 0 then
  -- Bull's delayed score: due time in ms shifted by 12 bits, the low bits a counter.
  local due = tonumber(ARGV[6]) + delay
  redis.call("ZADD", KEYS[5], due * 4096 + (seq % 4096), id)
  redis.call("PUBLISH", KEYS[5], due)
  return {id, 1}
end
local list = KEYS[1]
if redis.call("EXISTS", KEYS[3]) == 1 then list = KEYS[2] end
if priority == 0 then
  redis.call("LPUSH", list, id)
else
  -- Workers pop from the right: place the job after every job of a lower-or-equal number.
  redis.call("ZADD", KEYS[6], priority, id)
  local ahead = redis.call("ZCOUNT", KEYS[6], 0, priority)
  local len = redis.call("LLEN", list)
  local pivot = redis.call("LINDEX", list, len - (ahead - 1))
  if pivot then
    redis.call("LINSERT", list, "BEFORE", pivot, id)
  else
    redis.call("RPUSH", list, id)
  end
end
redis.call("PUBLISH", KEYS[1] .. "ing@" .. ARGV[9], id)
return {id, 1}
