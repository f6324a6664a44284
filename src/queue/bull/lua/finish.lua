-- cronq: end a run of a locked job for good: active -> completed or failed.
-- KEYS[1] active list  KEYS[2] completed/failed zset (also its event channel)
-- KEYS[3] job hash     KEYS[4] stalled set
-- KEYS[5] metrics hash (`metrics:completed|failed`)  KEYS[6] its per-minute `:data` list
-- ARGV[1] id  ARGV[2] lock token  ARGV[3] now (ms)
-- ARGV[4] keep count (-1 all, 0 none)  ARGV[5] keep age in seconds (-1 = no age limit)
-- ARGV[6] event payload  ARGV[7] job key base  ARGV[8] metrics minutes kept (0 = none)
-- ARGV[9..] field, value pairs to set
-- Returns: 0 done, -1 no such job, -2 lock lost, -3 not active.
local key = KEYS[3]
local released = release(key, KEYS[1], KEYS[4], ARGV[1], ARGV[2])
if released ~= 0 then return released end
local now = tonumber(ARGV[3])
local keep = tonumber(ARGV[4])
local age = tonumber(ARGV[5])
if #ARGV > 8 then redis.call("HSET", key, unpack(ARGV, 9)) end
redis.call("HSET", key, "finishedOn", ARGV[3])
if keep == 0 then
  redis.call("DEL", key, key .. ":logs")
else
  redis.call("ZADD", KEYS[2], now, ARGV[1])
  local function drop(ids)
    for _, old in ipairs(ids) do
      redis.call("DEL", ARGV[7] .. old, ARGV[7] .. old .. ":logs")
    end
  end
  if age >= 0 then
    local cut = now - age * 1000
    drop(redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", cut))
    redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", cut)
  end
  if keep > 0 then
    drop(redis.call("ZRANGE", KEYS[2], 0, -(keep + 1)))
    redis.call("ZREMRANGEBYRANK", KEYS[2], 0, -(keep + 1))
  end
end
-- Per-minute counts in the series Bull 4 (and BullMQ) keep: `count` in all, `prevCount` of
-- them before the open minute `prevTS`, and one `:data` entry per closed minute, newest first.
local points = tonumber(ARGV[8]) or 0
if points > 0 then
  local before = redis.call("HINCRBY", KEYS[5], "count", 1) - 1
  local prev_ts = tonumber(redis.call("HGET", KEYS[5], "prevTS"))
  if not prev_ts then
    redis.call("HSET", KEYS[5], "prevTS", now, "prevCount", 0)
  else
    local closed = math.min(math.floor(now / 60000) - math.floor(prev_ts / 60000), points)
    if closed > 0 then
      local delta = before - (tonumber(redis.call("HGET", KEYS[5], "prevCount")) or 0)
      -- The minute that closed, then an empty entry for each minute without a finish.
      redis.call("LPUSH", KEYS[6], delta)
      for _ = 2, closed do redis.call("LPUSH", KEYS[6], 0) end
      redis.call("LTRIM", KEYS[6], 0, points - 1)
      redis.call("HSET", KEYS[5], "prevCount", before, "prevTS", now)
    end
  end
end
redis.call("PUBLISH", KEYS[2], ARGV[6])
return 0
