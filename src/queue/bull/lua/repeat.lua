-- cronq: add the next iteration of a Bull 3/4 repeatable job, as Bull's worker does when it
-- takes one: only while the repeatable is still registered (`repeat` zset), and only once per
-- iteration whichever worker gets there first (the iteration's id is fixed by its time).
-- KEYS[1] repeat zset  KEYS[2] delayed zset  KEYS[3] wait list  KEYS[4] paused list
-- KEYS[5] meta-paused flag  KEYS[6] id counter
-- ARGV[1] repeat key  ARGV[2] next iteration (ms)  ARGV[3] its job id  ARGV[4] job key base
-- ARGV[5] name  ARGV[6] data  ARGV[7] opts (JSON)  ARGV[8] now (ms)  ARGV[9] delay (ms)
-- ARGV[10] token for the waiting channel  ARGV[11] the taken iteration's time (ms)
-- Returns: 1 added, 0 already there, -1 the repeatable was removed (nothing added).
local score = redis.call("ZSCORE", KEYS[1], ARGV[1])
if not score then return -1 end
-- The chain is already past the taken iteration (it is a retry or a stalled job taken again):
-- its next was added when it was first taken. Computing one again from a later "now" would
-- start a second chain beside the first.
if tonumber(score) > tonumber(ARGV[11]) then return 0 end
redis.call("ZADD", KEYS[1], ARGV[2], ARGV[1])
local key = ARGV[4] .. ARGV[3]
if redis.call("EXISTS", key) == 1 then return 0 end
local seq = redis.call("INCR", KEYS[6])
redis.call("HSET", key, "name", ARGV[5], "data", ARGV[6], "opts", ARGV[7],
  "timestamp", ARGV[8], "delay", ARGV[9], "priority", 0)
local delay = tonumber(ARGV[9])
if delay > 0 then
  -- Bull's delayed score: due time in ms shifted by 12 bits, the low bits a counter.
  local due = tonumber(ARGV[8]) + delay
  redis.call("ZADD", KEYS[2], due * 4096 + (seq % 4096), ARGV[3])
  redis.call("PUBLISH", KEYS[2], due)
  return 1
end
local list = KEYS[3]
if redis.call("EXISTS", KEYS[5]) == 1 then list = KEYS[4] end
redis.call("LPUSH", list, ARGV[3])
redis.call("PUBLISH", KEYS[3] .. "ing@" .. ARGV[10], ARGV[3])
return 1
