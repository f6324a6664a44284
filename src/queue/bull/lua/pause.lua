-- cronq: pause or resume a Bull 3/4 queue for every worker: the ready list is renamed
-- (wait <-> paused) and the meta-paused flag set or cleared.
-- KEYS[1] list to move from  KEYS[2] list to move to  KEYS[3] meta-paused flag
-- KEYS[4] paused/resumed channel  KEYS[5] meta hash
-- ARGV[1] "paused" or "resumed"
-- Returns: 0.
if redis.call("EXISTS", KEYS[1]) == 1 then redis.call("RENAME", KEYS[1], KEYS[2]) end
if ARGV[1] == "paused" then
  redis.call("SET", KEYS[3], 1)
  redis.call("HSET", KEYS[5], "paused", 1)
else
  redis.call("DEL", KEYS[3])
  redis.call("HDEL", KEYS[5], "paused")
end
redis.call("PUBLISH", KEYS[4], ARGV[1])
return 0
