-- cronq: set a job's progress and announce it.
-- KEYS[1] job hash  KEYS[2] progress channel
-- ARGV[1] progress (JSON)  ARGV[2] event payload
-- Returns: 1 set, 0 no such job.
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
redis.call("HSET", KEYS[1], "progress", ARGV[1])
redis.call("PUBLISH", KEYS[2], ARGV[2])
return 1
