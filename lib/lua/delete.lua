-- delete: removes one task for good (the dashboard's Delete): its hash and its entry in every
-- index (the due zset or in-order list of its priority, scheduled, finished), in one step. A
-- running task is refused: its worker holds it and would finish a task that no longer exists.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   scheduled  zset  not yet due, by time (write: the task leaves it)
--   running    zset  running tasks by lease deadline (read: a running task is refused)
--   finished   zset  final tasks by finish time (write)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    id    the task
-- Also touches: base .. 't:' .. id (the task hash) and its ':corrupt' copy, base .. 'due:' .. p and
--   base .. 'fifo:' .. p (its due entry, p = its priority). `levels` is left alone: a claim drops a
--   level found empty (as after cancel).
-- Returns: 'deleted', 'running' (refused: nothing changed), or '' when there is no such task.
--   The SQL history row, if any, is deleted by the caller (lib/web/actions.ts). No outbox entry:
--   the mirror skips an id whose hash is gone.
local scheduled, running, finished = KEYS[1], KEYS[2], KEYS[3]
--!include context
local id = ARGV[5]
--!include entry

local key = tkey(id)
local kt = key_type(key)
local lease = redis.call('ZSCORE', running, id)
if kt == 'none' and not lease and not redis.call('ZSCORE', scheduled, id) and not redis.call('ZSCORE', finished, id) then return '' end

local f = {}
if kt == 'hash' then f = redis.call('HMGET', key, 'state', 'priority', 'scheduled_at') end
if lease or f[1] == 'running' then return 'running' end

if f[1] == 'queued' then unqueue(id, f[2], f[3]) end
redis.call('ZREM', scheduled, id)
redis.call('ZREM', finished, id)
redis.call('DEL', key, key .. ':corrupt')
return 'deleted'
