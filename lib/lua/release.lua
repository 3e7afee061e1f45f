--!include common
-- Hands attempts a stopping worker could not finish back to the queue, ahead of later tasks
-- (they keep their priority and scheduled time). Not counted as a failure or a stall.
-- ARGV from 5: id, attempt pairs
-- Returns the number released.
local n = 0
for i = 5, #ARGV, 2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  local key = tkey(id)
  local f = redis.call('HMGET', key, 'attempts', 'state', 'priority', 'scheduled_at')
  if f[1] == attempt and f[2] == 'running' then
    redis.call('ZREM', running, id)
    redis.call('HINCRBY', key, 'released', 1)
    redis.call('HSET', key, 'state', 'queued')
    push_due(id, f[3], f[4])
    changed(id)
    n = n + 1
  end
end
if n > 0 then redis.call('ZADD', marker, 0, '0') end
return int(n)
