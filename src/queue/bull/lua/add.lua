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
local list = ready_list(KEYS[1], KEYS[2], KEYS[3])
-- Workers pop from the right: a priority goes after every job of a lower-or-equal number.
push_ready(list, KEYS[6], id, priority, "LPUSH")
redis.call("PUBLISH", KEYS[1] .. "ing@" .. ARGV[9], id)
return {id, 1}
