-- recur-upsert: store a recurring schedule by name; an unchanged definition keeps its next tick,
-- a changed one (pattern or any option) replaces it and takes the caller's next tick.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   recurring      hash  name -> definition JSON (read, write)
--   recurringNext  zset  name by next tick ms (write)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    name     the schedule's name
--   6    def      its definition JSON (lib/recurring/definition.ts)
--   7    nextAt   its first tick after now (ms; '' = the pattern has none)
--   8    channel  pub/sub channel that wakes every scheduler
--   9    queue    this queue's name (the message)
-- Also touches: nothing else (publishes on `channel`)
-- Returns: 1 when stored or replaced, 0 when it was stored like this already.
local recurring, recurringNext = KEYS[1], KEYS[2]
--!include context
local name, def, nextAt, channel, queue = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]

if redis.call('HGET', recurring, name) == def then return 0 end
redis.call('HSET', recurring, name, def)
if nextAt == '' then redis.call('ZREM', recurringNext, name) else redis.call('ZADD', recurringNext, nextAt, name) end
redis.call('PUBLISH', channel, queue)
return 1
