-- cronq: take the next ready job (wait -> active) and lock it, as a Bull 3/4 worker does.
-- KEYS[1] wait list  KEYS[2] active list  KEYS[3] priority zset  KEYS[4] active channel
-- KEYS[5] meta-paused flag  KEYS[6] failed zset (also its event channel)
-- ARGV[1] job key base  ARGV[2] lock token  ARGV[3] lock duration (ms)  ARGV[4] now (ms)
-- Returns: {id, flat hash of the job, ids failed on the way, duplicate copies dropped on the
-- way}; id is "" when nothing is ready (or the queue is paused).
local dropped = {}
local duplicates = {}
if redis.call("EXISTS", KEYS[5]) == 1 then return {"", {}, dropped, duplicates} end
while true do
  local id = redis.call("RPOPLPUSH", KEYS[1], KEYS[2])
  if not id then return {"", {}, dropped, duplicates} end
  local key = ARGV[1] .. id
  redis.call("ZREM", KEYS[3], id)
  if redis.call("EXISTS", key) == 0 then
    -- An id without its hash (removed under us, or a producer that pushed only the id):
    -- nothing can run, but dropping it silently would lose the trace of a job someone meant
    -- to add. It fails, as the BullMQ layout's does, with a reason on a hash of its own so
    -- that Bull's getFailed() and the dashboard show it.
    local reason = "job hash " .. key .. " does not exist: the id was in wait with no job " ..
      "data (removed while waiting, or pushed by a producer that did not write the hash); " ..
      "nothing ran"
    redis.call("LREM", KEYS[2], -1, id)
    redis.call("HSET", key, "name", "__default__", "data", "{}", "opts", "{}",
      "timestamp", ARGV[4], "processedOn", ARGV[4], "finishedOn", ARGV[4],
      "attemptsMade", 0, "failedReason", reason, "stacktrace", "[]")
    redis.call("ZADD", KEYS[6], ARGV[4], id)
    redis.call("PUBLISH", KEYS[6], cjson.encode({jobId = id, val = reason}))
    dropped[#dropped + 1] = id
  elseif redis.call("EXISTS", key .. ":lock") == 1 then
    -- The id was in wait more than once (a producer's double LPUSH, a repair by hand) and
    -- another copy runs now, here or in another worker: the lock is only ever set here and
    -- deleted when a run finishes or is put back, so a live lock means a run holds it (or
    -- held it until a crash: that copy is still in active, for the stalled check). Taking
    -- this copy would overwrite that run's lock and run the job twice at once. This copy,
    -- the one RPOPLPUSH just put at the head of active, goes; the running one is untouched.
    redis.call("LREM", KEYS[2], 1, id)
    duplicates[#duplicates + 1] = id
  else
    redis.call("SET", key .. ":lock", ARGV[2], "PX", ARGV[3])
    redis.call("HSET", key, "processedOn", ARGV[4])
    redis.call("PUBLISH", KEYS[4], id)
    return {id, redis.call("HGETALL", key), dropped, duplicates}
  end
end
