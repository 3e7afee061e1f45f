-- retry: queues a failed task again as a new attempt (`retry ID` of the CLI). It keeps its
-- priority, its error history and its first scheduled time (first_scheduled_at); it becomes due
-- now, and keeps no expiry while it waits.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   levels    zset  priorities that have due tasks (write)
--   finished  zset  final tasks by finish time (write: the task leaves it)
--   marker    zset  wakes an idle worker (write)
--   outbox    list  changed ids, for the mirror (write)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    id    the task
-- Also touches: base .. 't:' .. id (the task hash), base .. 'due:' .. p (due index)
-- Returns: 'queued', or the task's state when it is not failed (nothing changes), or '' when
--   there is no such task.
local levels, finished, marker, outbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
--!include context
local id = ARGV[5]
--!include due

local key = tkey(id)
if key_type(key) ~= 'hash' then return '' end
local f = redis.call('HMGET', key, 'state', 'priority', 'attempts', 'error', 'scheduled_at')
local state = f[1]
if not state then return '' end
if state ~= 'failed' then return state end
-- The error of a single-attempt task lives only in `error`: keep it as that attempt's.
local attempts = tonumber(f[3]) or 0
if f[4] and attempts > 0 and redis.call('HEXISTS', key, 'error:' .. int(attempts)) == 0 then
  redis.call('HSET', key, 'error:' .. int(attempts), f[4])
end
-- The first scheduled time stays known (the mirror's history reads it) once scheduled_at moves.
if f[5] then redis.call('HSETNX', key, 'first_scheduled_at', f[5]) end
redis.call('ZREM', finished, id)
redis.call('PERSIST', key)
redis.call('HDEL', key, 'success', 'finished_at', 'result', 'cancelled')
redis.call('HSET', key, 'state', 'queued', 'scheduled_at', now_text)
push_due(id, f[2], now)
redis.call('ZADD', marker, 0, '0')
changed(id)
return 'queued'
