--!include common
-- Renews the leases of attempts a worker is still running.
-- ARGV from 5: lease (ms), then id, attempt pairs
-- Returns the ids whose attempt is no longer this worker's (comma-separated).
local lost = {}
for i = 6, #ARGV, 2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  local key = tkey(id)
  local f = key_type(key) == 'hash' and redis.call('HMGET', key, 'attempts', 'state') or {}
  if f[1] == attempt and f[2] == 'running' then
    redis.call('ZADD', running, now + tonumber(ARGV[5]), id)
  else
    lost[#lost + 1] = id
  end
end
return table.concat(lost, ',')
