-- cronq: put a locked job back for another run: active -> delayed (a backoff) or the ready
-- list (no backoff, or released at shutdown).
-- KEYS[1] active list  KEYS[2] wait list  KEYS[3] paused list  KEYS[4] meta-paused flag
-- KEYS[5] priority zset  KEYS[6] delayed zset  KEYS[7] job hash  KEYS[8] stalled set
-- ARGV[1] id  ARGV[2] lock token  ARGV[3] due time (ms; 0 = ready now)
-- ARGV[4] counter for the delayed score  ARGV[5..] field, value pairs to set (the attempt)
-- Returns: 0 done, -1 no such job, -2 lock lost, -3 not active.
local key = KEYS[7]
local released = release(key, KEYS[1], KEYS[8], ARGV[1], ARGV[2])
if released ~= 0 then return released end
if #ARGV > 4 then redis.call("HSET", key, unpack(ARGV, 5)) end
local due = tonumber(ARGV[3])
if due > 0 then
  redis.call("ZADD", KEYS[6], due * 4096 + (tonumber(ARGV[4]) % 4096), ARGV[1])
  redis.call("PUBLISH", KEYS[6], due)
  return 0
end
-- Bull retries go to the tail that is popped next.
ready_again(KEYS[2], KEYS[3], KEYS[4], KEYS[5], key, ARGV[1], "RPUSH")
return 0
