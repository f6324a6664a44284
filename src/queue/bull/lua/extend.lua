-- cronq: renew the lock of a job this worker runs, and clear it from the stalled set.
-- KEYS[1] lock key  KEYS[2] stalled set
-- ARGV[1] lock token  ARGV[2] lock duration (ms)  ARGV[3] id
-- Returns: 1 renewed, 0 the lock is gone or someone else's.
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
redis.call("SREM", KEYS[2], ARGV[3])
return 1
