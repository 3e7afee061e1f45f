-- mirror-release: give the mirror lock up if it is ours (a loop that stops).
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   mirrorLock   string  lock token (read, deleted)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    token   the loop's lock token
-- Also touches: nothing else
-- Returns: 0.
local mirrorLock = KEYS[1]
--!include context
local token = ARGV[5]

if redis.call('GET', mirrorLock) == token then redis.call('DEL', mirrorLock) end
return int(0)
