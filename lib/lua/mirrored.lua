--!include common
-- The MySQL mirror's side of the outbox. One loop at a time owns a queue's outbox, by a lock
-- token (`mirror-lock`), so two loops never trim each other's events.
-- ARGV from 5: mode, then per mode:
--   'take', token, lock ms, max: take or renew the lock, return {'1', id...} (the first `max`
--           events), or {'0'} when another loop holds the lock.
--   'done', token, lock ms, count, then id, attempts, finished_at per task mirrored in a final
--           state: drop the `count` events read (only while the lock is ours), apply retention
--           to those tasks when their hash is still what was mirrored. Returns the count dropped.
--   'lag':  {events waiting, age in ms of the oldest ('' when none)}.
--   'release', token: give the lock up if it is ours.
-- Age of events: the outbox holds bare ids, so `mirror-marks` samples the cumulative number of
-- events ever pushed (dropped + waiting) with the time it was seen; the oldest waiting event was
-- pushed before the first sample that counts it.
local mode = ARGV[5]
local lock, trimmed_key, marks = base .. 'mirror-lock', base .. 'mirror-trimmed', base .. 'mirror-marks'

local function is_hash(key)
  local t = redis.call('TYPE', key)
  return (type(t) == 'table' and t.ok or t) == 'hash'
end

local function mark()
  local waiting = redis.call('LLEN', outbox)
  local trimmed = tonumber(redis.call('GET', trimmed_key) or '0') or 0
  if waiting == 0 then
    redis.call('DEL', marks)
    return waiting, trimmed
  end
  local total = trimmed + waiting
  local last = redis.call('ZREVRANGE', marks, 0, 0, 'WITHSCORES')
  if not last[2] or tonumber(last[2]) < total then
    redis.call('ZADD', marks, total, int(total) .. ':' .. int(now))
  end
  return waiting, trimmed
end

if mode == 'take' then
  local token, ms, max = ARGV[6], ARGV[7], tonumber(ARGV[8])
  local holder = redis.call('GET', lock)
  if holder and holder ~= token then return {'0'} end
  redis.call('SET', lock, token, 'PX', ms)
  mark()
  local ids = redis.call('LRANGE', outbox, 0, max - 1)
  local out = {'1'}
  for i = 1, #ids do out[#out + 1] = ids[i] end
  return {unpack(out)}
end

if mode == 'done' then
  local token, ms, count = ARGV[6], ARGV[7], tonumber(ARGV[8])
  if redis.call('GET', lock) ~= token then return int(0) end
  redis.call('PEXPIRE', lock, ms)
  redis.call('LTRIM', outbox, count, -1)
  local trimmed = redis.call('INCRBY', trimmed_key, count)
  redis.call('ZREMRANGEBYSCORE', marks, '-inf', trimmed)
  for i = 9, #ARGV, 3 do
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
  return int(count)
end

if mode == 'lag' then
  local waiting, trimmed = mark()
  if waiting == 0 then return {'0', ''} end
  local first = redis.call('ZRANGEBYSCORE', marks, trimmed + 1, '+inf', 'LIMIT', 0, 1)[1]
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
