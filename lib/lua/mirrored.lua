--!include common
-- The MySQL mirror's side of the outbox (a zset: task id scored by its latest change counter, see
-- changed() in common.lua). One loop at a time owns a queue's outbox, by a lock token
-- (`mirror-lock`), so two loops never remove each other's entries.
-- ARGV from 5: mode, then per mode:
--   'take', token, lock ms, max: take or renew the lock, return {'1', id, score, ...} (the `max`
--           oldest changes), or {'0'} when another loop holds the lock.
--   'done', token, lock ms, n, then n id/score pairs as taken, then id, attempts, finished_at per
--           task mirrored in a final state: remove each entry whose score is unchanged (a task
--           changed since stays for the next pass; only while the lock is ours), apply retention
--           to those tasks when their hash is still what was mirrored. Returns the count removed.
--   'read', n, n field names, then task ids: the fields of each task hash, n values per id (nil for a
--           missing field; all nil for a missing key or a key that is not a hash).
--   'lag':  {tasks waiting, age in ms of the oldest change ('' when none)}.
--   'release', token: give the lock up if it is ours.
-- Age: `mirror-marks` samples the change counter with the time it was seen; the oldest waiting
-- change happened before the first sample at or above its score (a lower bound on its age).
local mode = ARGV[5]
local lock, seq_key, marks = base .. 'mirror-lock', base .. 'outbox-seq', base .. 'mirror-marks'

local function is_hash(key)
  local t = redis.call('TYPE', key)
  return (type(t) == 'table' and t.ok or t) == 'hash'
end

local function mark()
  local waiting = redis.call('ZCARD', outbox)
  if waiting == 0 then
    redis.call('DEL', marks)
    return waiting
  end
  local seq = tonumber(redis.call('GET', seq_key) or '0') or 0
  local last = redis.call('ZREVRANGE', marks, 0, 0, 'WITHSCORES')
  if not last[2] or tonumber(last[2]) < seq then
    redis.call('ZADD', marks, seq, int(seq) .. ':' .. int(now))
  end
  return waiting
end

local function oldest()
  local o = redis.call('ZRANGE', outbox, 0, 0, 'WITHSCORES')[2]
  return o and tonumber(o)
end

if mode == 'take' then
  local token, ms, max = ARGV[6], ARGV[7], tonumber(ARGV[8])
  local holder = redis.call('GET', lock)
  if holder and holder ~= token then return {'0'} end
  redis.call('SET', lock, token, 'PX', ms)
  mark()
  local got = redis.call('ZRANGE', outbox, 0, max - 1, 'WITHSCORES')
  local out = {'1'}
  for i = 1, #got, 2 do
    out[#out + 1] = got[i]
    out[#out + 1] = int(tonumber(got[i + 1]))
  end
  return {unpack(out)}
end

if mode == 'done' then
  local token, ms, n = ARGV[6], ARGV[7], tonumber(ARGV[8])
  if redis.call('GET', lock) ~= token then return int(0) end
  redis.call('PEXPIRE', lock, ms)
  local removed = 0
  for i = 9, 8 + 2 * n, 2 do
    local z = redis.call('ZSCORE', outbox, ARGV[i])
    if z and tonumber(z) == tonumber(ARGV[i + 1]) then
      redis.call('ZREM', outbox, ARGV[i])
      removed = removed + 1
    end
  end
  local o = oldest()
  if o then redis.call('ZREMRANGEBYSCORE', marks, '-inf', '(' .. int(o)) else redis.call('DEL', marks) end
  for i = 9 + 2 * n, #ARGV, 3 do
    local id, attempts, fin = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    local key = tkey(id)
    if is_hash(key) then
      local f = redis.call('HMGET', key, 'state', 'attempts', 'finished_at')
      -- Only what was mirrored: a task retried or re-run since keeps its hash for the next event.
      local final = f[1] == 'succeeded' or f[1] == 'failed' or f[1] == 'cancelled'
      if final and (f[2] or '') == attempts and (f[3] or '') == fin then
        local at = (tonumber(fin) or now) + retention
        if retention == 0 or at <= now then
          redis.call('DEL', key)
          redis.call('ZREM', finished, id)
        else
          redis.call('PEXPIRE', key, int(at - now))
        end
      end
    end
  end
  return int(removed)
end

if mode == 'read' then
  local nf = tonumber(ARGV[6])
  local fields = {unpack(ARGV, 7, 6 + nf)}
  local out, k = {}, 0
  for i = 7 + nf, #ARGV do
    local r = redis.pcall('HMGET', tkey(ARGV[i]), unpack(fields))
    local bad = r.err ~= nil
    for j = 1, nf do
      k = k + 1
      out[k] = not bad and r[j] or false
    end
  end
  return {unpack(out)}
end

if mode == 'lag' then
  local waiting = mark()
  if waiting == 0 then return {'0', ''} end
  local first = redis.call('ZRANGEBYSCORE', marks, oldest(), '+inf', 'LIMIT', 0, 1)[1]
  local age = ''
  if first then
    local t = tonumber(string.match(first, ':(%d+)$'))
    if t then age = int(math.max(0, now - t)) end
  end
  return {int(waiting), age}
end

if mode == 'release' then
  if redis.call('GET', lock) == ARGV[6] then redis.call('DEL', lock) end
  return int(0)
end

return redis.error_reply('mirrored: unknown mode ' .. tostring(mode))
