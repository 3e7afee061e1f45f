-- release: hands attempts a stopping worker could not finish back to the queue, ahead of later
-- tasks (they keep their priority and scheduled time). Not counted as a failure or a stall. A task
-- cancelled while it ran ends as cancelled instead of running again.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   levels    zset  priorities that have due tasks (write)
--   running   zset  leases (write: the attempt leaves it)
--   finished  zset  final tasks by finish time (write: a cancelled one, trimmed)
--   marker    zset  wakes an idle worker (write)
--   outbox    list  changed ids, for the mirror (write)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5..  id, attempt pairs (from `pairs_from`)
-- Also touches: base .. 't:' .. id (task hashes), base .. 'due:' .. p (due index)
-- Returns: the number released.
local levels, running, finished, marker, outbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
--!include context
local pairs_from = 5
--!include due
--!include retire

local n, retired = 0, false
for i = pairs_from, #ARGV, 2 do
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
