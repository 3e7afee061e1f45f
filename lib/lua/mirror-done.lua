-- mirror-done: after SQL committed, remove the outbox entries the lock holder took, and apply
-- retention to the tasks it wrote in a final state.
-- Only while the lock is ours. A task changed since it was read has a newer entry, which stays.
-- Retention applies only when the hash is still what was mirrored: a task retried or re-run since
-- keeps its hash for its next entry.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   outbox       list    ids of changed tasks (trimmed)
--   outboxDone   string  entries removed so far (incremented)
--   mirrorMarks  zset    lag samples (trimmed)
--   mirrorLock   string  lock token (read, renewed)
--   finished     zset    finished ids by finish time (ZREM of a task dropped here)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    token   the loop's lock token
--   6    lockMs  lock time (ms)
--   7    n       entries taken (removed from the head)
--   8... id, attempts, finished_at: per task written in a final state
-- Also touches: base .. 't:' .. id (task hashes: deleted, given an expiry, or field 'mirrored' set)
-- Returns: the count removed (0 when the lock is not ours).
local outbox, outboxDone, mirrorMarks, mirrorLock, finished = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
--!include context
local token, lockMs, n = ARGV[5], ARGV[6], tonumber(ARGV[7])
local FIRST_TASK = 8
--!include mirror-marks

if redis.call('GET', mirrorLock) ~= token then return int(0) end
redis.call('PEXPIRE', mirrorLock, lockMs)
if n > 0 then
  redis.call('LTRIM', outbox, n, -1)
  redis.call('INCRBY', outboxDone, n)
end
if redis.call('LLEN', outbox) > 0 then
  redis.call('ZREMRANGEBYSCORE', mirrorMarks, '-inf', '(' .. int(removed() + 1))
else
  redis.call('DEL', mirrorMarks)
end
for i = FIRST_TASK, #ARGV, 3 do
  local id, attempts, fin = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = tkey(id)
  local f = redis.pcall('HMGET', key, 'state', 'attempts', 'finished_at')
  local final = not f.err and (f[1] == 'succeeded' or f[1] == 'failed' or f[1] == 'cancelled')
  if final and (f[2] or '') == attempts and (f[3] or '') == fin then
    local at = (tonumber(fin) or now) + retention
    if retention == 0 or at <= now then
      redis.call('DEL', key)
      redis.call('ZREM', finished, id)
    else
      redis.call('PEXPIRE', key, int(at - now))
      -- Older entries of this task still in the outbox are skipped by mirror-read (no second write).
      redis.call('HSET', key, 'mirrored', attempts .. ':' .. fin)
    end
  end
end
return int(n)
