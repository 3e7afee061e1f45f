-- flow-hold: a task's method threw RateLimitedError(ms): its attempt goes back to the queue at its
-- place without using up an attempt (like release.lua), with the tasks the worker held prefetched
-- for this queue, and the queue starts nothing until now + ms (include/flow.lua reads `hold`).
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   levels    zset  priorities that have due tasks (write)
--   running   zset  leases (write: the attempts leave it)
--   finished  zset  final tasks by finish time (write: a cancelled one, trimmed)
--   marker    zset  wakes an idle worker (write)
--   outbox    list  changed ids, for the mirror (write)
--   flow      hash  flow control (write: hold)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    queue    the queue's name (for the message)
--   6    channel  the flow channel (keys.ts flowChannel)
--   7    ms       how long the queue starts nothing
--   8..  id, attempt pairs (from `pairs_from`)
-- Also touches: base .. 't:' .. id (task hashes), base .. 'due:' .. p (due index)
-- Returns: the number put back.
local levels, running, finished, marker, outbox, flow = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
--!include context
local queue, channel, ms = ARGV[5], ARGV[6], tonumber(ARGV[7])
local pairs_from = 8
--!include due
--!include retire

local until_ms = now + (ms or 0)
if until_ms > (tonumber(redis.call('HGET', flow, 'hold')) or 0) then redis.call('HSET', flow, 'hold', int(until_ms)) end

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
      -- Counted as released: perform.ts does not count it as a failed attempt.
      redis.call('HSET', key, 'released', int(math.floor(tonumber(f[6]) or 0) + 1))
      requeue(id, f[3], f[4])
      n = n + 1
    end
  end
end
-- An idle worker wakes, finds the hold, and sleeps until it ends (the reply's next time).
if n > 0 then redis.call('ZADD', marker, 0, '0') end
if retired then trim_finished() end
redis.pcall('PUBLISH', channel, queue .. ' hold')
return int(n)
