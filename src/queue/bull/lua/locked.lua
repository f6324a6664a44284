-- cronq: the check that opens every script ending a locked run. Not a script of its own:
-- scripts.rs puts this file in front of finish and requeue.
-- release(key, active, stalled, id, token) -> 0 when this worker's run held the job's lock, now
--   released (lock deleted, id out of the stalled set and the active list); otherwise the code
--   the script returns: -1 no such job, -2 lock lost, -3 not active.
local function release(key, active, stalled, id, token)
  if redis.call("EXISTS", key) == 0 then return -1 end
  if redis.call("GET", key .. ":lock") ~= token then return -2 end
  redis.call("DEL", key .. ":lock")
  redis.call("SREM", stalled, id)
  if redis.call("LREM", active, -1, id) < 1 then return -3 end
  return 0
end
