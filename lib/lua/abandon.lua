-- abandon: a worker is known dead (its supervisor saw it exit): expire the leases of its running
-- tasks now, so the sweep that follows recovers them as stalls at once, not when they run out; and
-- take it out of the idle workers, so no enqueue hands it a task (include/handoff.lua).
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   running   zset    id by lease deadline (read, write)
--   sweeper   string  the sweep's throttle lock (deleted when a lease was expired, so a sweep can run now)
--   idlers    zset    idle workers waiting for a hand-off, "leaseMs:metricsFlag:name" (write: its entry goes)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    worker  the dead worker's name, as claim.lua wrote it in the task hash's `worker` field
-- Also touches: base .. 't:' .. id (task hashes: reads `worker`, writes `stalled_by`), base .. 'handoff:' .. worker (deleted)
-- Returns: the number of leases expired (as a string).
local running, sweeper, idlers = KEYS[1], KEYS[2], KEYS[3]
--!include context
local worker = ARGV[5]
--!include handoff

local ids = redis.call('ZRANGE', running, 0, -1)
local expired = int(now - 1)
local n = 0
for i = 1, #ids do
  local key = tkey(ids[i])
  -- A damaged key (not a hash) is not read here: the sweep fails it as corrupt when its lease ends.
  if key_type(key) == 'hash' and redis.call('HGET', key, 'worker') == worker then
    redis.call('ZADD', running, expired, ids[i])
    -- Why it runs again: `status`/`inspect` say "recovered after its worker died".
    redis.call('HSET', key, 'stalled_by', worker)
    n = n + 1
  end
end
if n > 0 then redis.call('DEL', sweeper) end
-- Out of the idle workers; what was handed to it is leased to it, so the leases expired above cover it.
for _, m in ipairs(redis.call('ZRANGE', idlers, 0, -1)) do
  if select(3, idler_parse(m)) == worker then redis.call('ZREM', idlers, m) end
end
redis.call('DEL', handoff_key(worker))
return int(n)
