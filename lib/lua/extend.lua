-- extend: renews the leases of attempts a worker is still running.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   running  zset  leases: id by deadline (write)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    lease  lease time (ms)
--   6..  id, attempt pairs (from `pairs_from`)
-- Also touches: base .. 't:' .. id (read: attempts, state)
-- Returns: the ids whose attempt is no longer this worker's (comma-separated).
local running = KEYS[1]
--!include context
local lease, pairs_from = tonumber(ARGV[5]), 6

local lost = {}
for i = pairs_from, #ARGV, 2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  local key = tkey(id)
  local f = key_type(key) == 'hash' and redis.call('HMGET', key, 'attempts', 'state') or {}
  if f[1] == attempt and f[2] == 'running' then
    redis.call('ZADD', running, now + lease, id)
  else
    lost[#lost + 1] = id
  end
end
return table.concat(lost, ',')
