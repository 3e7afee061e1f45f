-- flow-set: pauses or resumes a queue, or replaces its limits (queue.pause/resume/limit), and tells
-- the workers (pub/sub: a pause makes them hand back the tasks they hold prefetched at once).
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   levels     zset    priorities that have due tasks (read)
--   scheduled  zset    not yet due (read)
--   marker     zset    wakes an idle worker (write: on resume, or new limits, with work waiting)
--   flow       hash    flow control (write)
--   flowStarts zset    starts in the rate window (write: dropped with the rate)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    queue        the queue's name (for the message)
--   6    channel      the flow channel (keys.ts flowChannel)
--   7    op           'pause' | 'resume' | 'limit'
--   8    rate_max     (limit) starts per window, '' = no rate limit
--   9    rate_ms      (limit) the window (ms)
--   10   concurrency  (limit) running at once, '' = no cap
-- Also touches: nothing else (publishes "<queue> <op>" on the channel).
-- Returns: 'OK'.
local levels, scheduled, marker, flow, flowStarts = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
--!include context
local queue, channel, op, rate_max, rate_ms, concurrency = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]

if op == 'pause' then
  redis.call('HSET', flow, 'paused', '1')
else
  if op == 'resume' then
    redis.call('HDEL', flow, 'paused')
  else
    redis.call('HDEL', flow, 'rate_max', 'rate_ms', 'concurrency')
    -- The log of starts (and its count) stays while a rate is set: a new rate counts the recent starts.
    if rate_max ~= '' then redis.call('HSET', flow, 'rate_max', rate_max, 'rate_ms', rate_ms)
    else redis.call('DEL', flowStarts); redis.call('HDEL', flow, 'rate_n') end
    if concurrency ~= '' then redis.call('HSET', flow, 'concurrency', concurrency) end
  end
  -- Idle workers wait on the marker: wake them for the work that can start now.
  if redis.call('ZCARD', levels) > 0 or redis.call('ZCARD', scheduled) > 0 then redis.call('ZADD', marker, 0, '0') end
end
-- pcall: a client without pub/sub (ioredis-mock) must not abort the script after its write.
redis.pcall('PUBLISH', channel, queue .. ' ' .. op)
return 'OK'
