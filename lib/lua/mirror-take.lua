-- mirror-take: take or renew the mirror lock and return the oldest outbox entries.
-- The outbox is a list the scripts append a task's id to on each change (changed() in the
-- includes); entries are appended at the tail and removed only from the head, by the lock's
-- holder (mirror-done), so the first n entries when it trims are the n it took.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   outbox       list    ids of changed tasks (read)
--   outboxDone   string  entries removed so far (read)
--   mirrorMarks  zset    lag samples (read, write)
--   mirrorLock   string  lock token (read, write)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    token   the loop's lock token
--   6    lockMs  lock time (ms)
--   7    max     entries to return at most
-- Also touches: nothing else (task hashes are read by mirror-read)
-- Returns: {'1', id, ...} (the `max` oldest entries; an id may repeat), or {'0'} when another loop holds the lock.
local outbox, outboxDone, mirrorMarks, mirrorLock = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
--!include context
local token, lockMs, max = ARGV[5], ARGV[6], tonumber(ARGV[7])
--!include mirror-marks

local holder = redis.call('GET', mirrorLock)
if holder and holder ~= token then return {'0'} end
redis.call('SET', mirrorLock, token, 'PX', lockMs)
mark()
return {'1', unpack(redis.call('LRANGE', outbox, 0, max - 1))}
