-- cronq: take the next ready job (wait -> active) and lock it, as a Bull 3/4 worker does.
-- KEYS[1] wait list  KEYS[2] active list  KEYS[3] priority zset  KEYS[4] active channel
-- KEYS[5] meta-paused flag
-- ARGV[1] job key base  ARGV[2] lock token  ARGV[3] lock duration (ms)  ARGV[4] now (ms)
-- Returns: {id, flat hash of the job} or nil when nothing is ready (or the queue is paused).
if redis.call("EXISTS", KEYS[5]) == 1 then return nil end
while true do
  local id = redis.call("RPOPLPUSH", KEYS[1], KEYS[2])
  if not id then return nil end
  local key = ARGV[1] .. id
  redis.call("ZREM", KEYS[3], id)
  if redis.call("EXISTS", key) == 1 then
    redis.call("SET", key .. ":lock", ARGV[2], "PX", ARGV[3])
    redis.call("HSET", key, "processedOn", ARGV[4])
    redis.call("PUBLISH", KEYS[4], id)
    return {id, redis.call("HGETALL", key)}
  end
  -- An id without its hash (removed under us): drop it rather than run nothing.
  redis.call("LREM", KEYS[2], -1, id)
end
