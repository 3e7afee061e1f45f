-- cancel: cancels a task. A queued or scheduled task will never run; a running one is only marked
-- (it is not interrupted); a finished one is left as it is.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   scheduled  zset  not yet due, by time (write: the task leaves it)
--   finished   zset  final tasks by finish time (write)
--   outbox     list  changed ids, for the mirror (write)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    id    the task
-- Also touches: base .. 't:' .. id (the task hash), base .. 'due:' .. p and base .. 'fifo:' .. p
--   (its due entry, p = its priority). `levels` is left alone: a claim drops a level found empty.
-- Returns: the state after the call ('cancelled', 'running', 'succeeded', 'failed'), '' when there
--   is no such task, or 'corrupt' when its key is not a hash.
local scheduled, finished, outbox = KEYS[1], KEYS[2], KEYS[3]
--!include context
local id = ARGV[5]
--!include entry
--!include retire

local key = tkey(id)
local kt = key_type(key)
if kt == 'none' then return '' end
if kt ~= 'hash' then return 'corrupt' end
local f = redis.call('HMGET', key, 'state', 'priority', 'scheduled_at')
local state = f[1]
if not state then return '' end
if state == 'running' then
  redis.call('HSET', key, 'cancelled', '1')
  changed(id)
  return 'running'
end
if state ~= 'queued' and state ~= 'scheduled' then return state end
unqueue(id, f[2], state == 'queued' and f[3] or nil)
redis.call('ZREM', scheduled, id)
redis.call('HSET', key, 'state', 'cancelled', 'cancelled', '1', 'finished_at', now_text)
retire(id)
return 'cancelled'
