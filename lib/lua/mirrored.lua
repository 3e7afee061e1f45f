-- mirrored: the SQL mirror's side of the outbox (a list: the scripts append a task's id on each
-- change, see include/outbox.lua). One loop at a time owns a queue's outbox, by a lock token
-- (`mirrorLock`). Entries are appended at the tail and removed only from the head, by the lock's
-- holder, so the first n entries when it trims are the n it took. Five operations by `mode`.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   outbox       list    ids of changed tasks (read, write: trimmed by 'done')
--   finished     zset    final tasks (write: 'done' drops those it deletes)
--   outboxDone   string  count of entries ever removed (read, write)
--   mirrorMarks  zset    samples of the count ever appended, with their time (read, write)
--   mirrorLock   string  the loop's lock token (read, write)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    mode, then per mode:
--   'take', token, lock ms, max: take or renew the lock, return {'1', id, ...} (the `max` oldest
--           entries; an id may repeat), or {'0'} when another loop holds the lock.
--   'done', token, lock ms, n, then id, attempts, finished_at per task mirrored in a final state
--           (from `finals_from`): remove the n entries taken (only while the lock is ours; a task
--           changed since has a newer entry, which stays), and apply retention to those tasks when
--           their hash is still what was mirrored. Returns the count removed.
--   'read', n, n field names, then task ids (from `ids_from`): the fields of each task hash, n
--           values per id (nil for a missing field; all nil for a missing key, a key that is not a
--           hash, or a final task the mirror already wrote as it is: an older entry of it).
--   'lag':  {entries waiting, age in ms of the oldest ('' when none)}.
--   'release', token: give the lock up if it is ours.
-- Also touches: base .. 't:' .. id (task hashes: read, expired or deleted, field 'mirrored')
-- Returns: per mode, as above; an error reply for an unknown mode.
-- Age: `outboxDone` counts the entries ever removed, so the oldest waiting one is number done + 1
-- of all ever appended. `mirrorMarks` samples that count (done + LLEN) with the time it was seen;
-- the oldest waiting entry was appended before the first sample at or above done + 1.
local outbox, finished, outboxDone, mirrorMarks, mirrorLock = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
--!include context
local mode = ARGV[5]

local function removed() return tonumber(redis.call('GET', outboxDone) or '0') or 0 end

local function mark()
  local waiting = redis.call('LLEN', outbox)
  if waiting == 0 then
    redis.call('DEL', mirrorMarks)
    return waiting
  end
  local seq = removed() + waiting
  local last = redis.call('ZREVRANGE', mirrorMarks, 0, 0, 'WITHSCORES')
  if not last[2] or tonumber(last[2]) < seq then
    redis.call('ZADD', mirrorMarks, seq, int(seq) .. ':' .. int(now))
  end
  return waiting
end

if mode == 'take' then
  local token, ms, max = ARGV[6], ARGV[7], tonumber(ARGV[8])
  local holder = redis.call('GET', mirrorLock)
  if holder and holder ~= token then return {'0'} end
  redis.call('SET', mirrorLock, token, 'PX', ms)
  mark()
  return {'1', unpack(redis.call('LRANGE', outbox, 0, max - 1))}
end

if mode == 'done' then
  local token, ms, n, finals_from = ARGV[6], ARGV[7], tonumber(ARGV[8]), 9
  if redis.call('GET', mirrorLock) ~= token then return int(0) end
  redis.call('PEXPIRE', mirrorLock, ms)
  if n > 0 then
    redis.call('LTRIM', outbox, n, -1)
    redis.call('INCRBY', outboxDone, n)
  end
  if redis.call('LLEN', outbox) > 0 then
    redis.call('ZREMRANGEBYSCORE', mirrorMarks, '-inf', '(' .. int(removed() + 1))
  else
    redis.call('DEL', mirrorMarks)
  end
  for i = finals_from, #ARGV, 3 do
    local id, attempts, fin = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    local key = tkey(id)
    local f = redis.pcall('HMGET', key, 'state', 'attempts', 'finished_at')
    -- Only what was mirrored: a task retried or re-run since keeps its hash for the next entry.
    local final = not f.err and (f[1] == 'succeeded' or f[1] == 'failed' or f[1] == 'cancelled')
    if final and (f[2] or '') == attempts and (f[3] or '') == fin then
      local at = (tonumber(fin) or now) + retention
      if retention == 0 or at <= now then
        redis.call('DEL', key)
        redis.call('ZREM', finished, id)
      else
        redis.call('PEXPIRE', key, int(at - now))
        -- Older entries of this task still in the outbox are skipped by 'read' (no second write).
        redis.call('HSET', key, 'mirrored', attempts .. ':' .. fin)
      end
    end
  end
  return int(n)
end

if mode == 'read' then
  local nf = tonumber(ARGV[6])
  local fields_from = 7
  local fields, ids_from = {unpack(ARGV, fields_from, fields_from + nf - 1)}, fields_from + nf
  local out, k = {}, 0
  for i = ids_from, #ARGV do
    local r = redis.pcall('HMGET', tkey(ARGV[i]), 'mirrored', 'attempts', 'finished_at', unpack(fields))
    -- (Strings only: ioredis-mock hands binary values to Lua as objects; there nothing is skipped.)
    local m, a, f = r[1], r[2] or '', r[3] or ''
    local skip = r.err ~= nil or (type(m) == 'string' and type(a) == 'string' and type(f) == 'string' and m == a .. ':' .. f)
    for j = 1, nf do
      k = k + 1
      out[k] = not skip and r[j + 3] or false
    end
  end
  return {unpack(out)}
end

if mode == 'lag' then
  local waiting = mark()
  if waiting == 0 then return {'0', ''} end
  local first = redis.call('ZRANGEBYSCORE', mirrorMarks, int(removed() + 1), '+inf', 'LIMIT', 0, 1)[1]
  local age = ''
  if first then
    local t = tonumber(string.match(first, ':(%d+)$'))
    if t then age = int(math.max(0, now - t)) end
  end
  return {int(waiting), age}
end

if mode == 'release' then
  local token = ARGV[6]
  if redis.call('GET', mirrorLock) == token then redis.call('DEL', mirrorLock) end
  return int(0)
end

return redis.error_reply('mirrored: unknown mode ' .. tostring(mode))
