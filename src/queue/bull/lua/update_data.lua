-- cronq: replace a running job's data (Bull's `job.update(data)`; no event, as Bull's).
-- KEYS[1] job hash
-- ARGV[1] data (JSON)
-- Returns: 1 set, 0 no such job.
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
redis.call("HSET", KEYS[1], "data", ARGV[1])
return 1
