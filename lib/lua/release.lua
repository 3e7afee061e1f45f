--!include common
-- Hands attempts a stopping worker could not finish back to the queue, ahead of later tasks
-- (they keep their priority and scheduled time). Not counted as a failure or a stall. A task
-- cancelled while it ran ends as cancelled instead of running again.
-- ARGV from 5: id, attempt pairs
-- Returns the number released.
local n, retired = 0, false
for i = 5, #ARGV, 2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  local key = tkey(id)
  local f = key_type(key) == 'hash' and redis.call('HMGET', key, 'attempts', 'state', 'priority', 'scheduled_at', 'cancelled', 'released') or {}
  if f[1] == attempt and f[2] == 'running' then
    redis.call('ZREM', running, id)
    if f[5] == '1' then
      end_cancelled(id)
      retired = true
    else
      redis.call('HSET', key, 'released', int(math.floor(tonumber(f[6]) or 0) + 1))
      requeue(id, f[3], f[4])
      n = n + 1
    end
  end
end
if n > 0 then redis.call('ZADD', marker, 0, '0') end
if retired then trim_finished() end
return int(n)
