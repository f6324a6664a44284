-- cronq: remove a job that is not running, from whichever set or list holds it.
-- KEYS[1] wait  KEYS[2] paused  KEYS[3] delayed  KEYS[4] priority  KEYS[5] completed
-- KEYS[6] failed  KEYS[7] job hash  KEYS[8] active list
-- ARGV[1] id
-- Returns: 0 removed, -1 no such job, -2 the job is active (locked or in the active list).
local key = KEYS[7]
if redis.call("EXISTS", key) == 0 then return -1 end
if redis.call("EXISTS", key .. ":lock") == 1 or redis.call("LPOS", KEYS[8], ARGV[1]) then
  return -2
end
redis.call("LREM", KEYS[1], 0, ARGV[1])
redis.call("LREM", KEYS[2], 0, ARGV[1])
for i = 3, 6 do redis.call("ZREM", KEYS[i], ARGV[1]) end
redis.call("DEL", key, key .. ":logs")
return 0
