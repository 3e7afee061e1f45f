--!include common
-- Queues a failed task again as a new attempt (`retry ID` of the CLI). It keeps its priority and
-- its error history; it becomes due now, and keeps no expiry while it waits.
-- ARGV from 5: id
-- Returns 'queued', or the task's state when it is not failed (nothing changes), or '' when there is no such task.
local id = ARGV[5]
local key = tkey(id)
if key_type(key) ~= 'hash' then return '' end
local f = redis.call('HMGET', key, 'state', 'priority', 'attempts', 'error')
local state = f[1]
if not state then return '' end
if state ~= 'failed' then return state end
-- The error of a single-attempt task lives only in `error`: keep it as that attempt's.
local attempts = tonumber(f[3]) or 0
if f[4] and attempts > 0 and redis.call('HEXISTS', key, 'error:' .. int(attempts)) == 0 then
  redis.call('HSET', key, 'error:' .. int(attempts), f[4])
end
redis.call('ZREM', finished, id)
redis.call('PERSIST', key)
redis.call('HDEL', key, 'success', 'finished_at', 'result', 'cancelled')
redis.call('HSET', key, 'state', 'queued', 'scheduled_at', ARGV[2])
push_due(id, f[2], now)
redis.call('ZADD', marker, 0, '0')
changed(id)
return 'queued'
