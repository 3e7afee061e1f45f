-- recur-remove: remove a recurring schedule (its tasks already stored stay as they are).
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   recurring      hash  name -> definition JSON (write)
--   recurringNext  zset  name by next tick ms (write)
--   recurringLast  hash  name -> "lastTick:lastTaskId" (write)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    name     the schedule's name
--   6    channel  pub/sub channel that wakes every scheduler
--   7    queue    this queue's name (the message)
-- Also touches: nothing else (publishes on `channel`)
-- Returns: 1 when it was removed, 0 when there was none of that name.
local recurring, recurringNext, recurringLast = KEYS[1], KEYS[2], KEYS[3]
--!include context
local name, channel, queue = ARGV[5], ARGV[6], ARGV[7]

local had = redis.call('HDEL', recurring, name)
redis.call('ZREM', recurringNext, name)
redis.call('HDEL', recurringLast, name)
if had == 1 then redis.call('PUBLISH', channel, queue) end
return had
