-- cronq: remove finished jobs (completed or failed) that finished before a cut-off.
-- KEYS[1] completed/failed zset (scored by finishedOn)
-- ARGV[1] job key base  ARGV[2] cut-off (ms)  ARGV[3] most to remove in this call
-- Returns: how many were removed (call again while it returns ARGV[3]).
local ids = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[2], "LIMIT", 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call("DEL", ARGV[1] .. id, ARGV[1] .. id .. ":logs")
  redis.call("ZREM", KEYS[1], id)
end
return #ids
