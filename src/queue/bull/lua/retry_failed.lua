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
ready_again(KEYS[2], KEYS[3], KEYS[4], KEYS[5], key, ARGV[1], "LPUSH")
redis.call("PUBLISH", KEYS[7], ARGV[1])
return 0
